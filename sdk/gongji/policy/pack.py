"""A region policy pack: the rules of one region and period, as data.

Packs are TOML files decoded into these ``msgspec`` structs; unknown keys are
refused so a misspelt setting fails at load instead of silently meaning nothing.
Amounts are yuan strings in the file and ``Fen`` here.

No number lives here as a default: a value the sources do not give is absent, and
the check or estimate that needs it is not made. Every value a pack sets names its
source in ``cite`` (see ``gongji.policy.loader``), unless the pack is ``illustrative``.
"""

from __future__ import annotations

import datetime
from typing import Annotated

import msgspec

from gongji.model import Category, InsuranceKind, Purpose, Relation, Setting
from gongji.money import Fen, Rounding

#: A 2-digit province code: the first two digits of an administrative-division code.
Province = Annotated[str, msgspec.Meta(pattern=r"^[0-9]{2}$")]


class Widening(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A wider relation set that a region switches on from a date, without a code change.

    Dalian's own article names spouse, parents and children (seed 000); the national
    articles widen mutual aid to close relatives (seeds 001, 002). A region that follows
    the wider set from a day of its own sets ``since``; without it the widening is off.
    """

    relations: frozenset[Relation]
    since: datetime.date | None = None


class MutualAid(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """R2 owners, R4 relations, R6 purposes, R7 regions."""

    relations: frozenset[Relation]
    purposes: frozenset[Purpose]
    #: Another pooling region of the same province may pay.
    same_province: bool
    #: Partner provinces: a pair of provinces passes when both are listed here.
    cross_province: frozenset[Province] = frozenset()
    #: Declared pairings: a pair passes when it is listed here, in either order.
    cross_province_pairs: frozenset[tuple[Province, Province]] = frozenset()
    #: An owner whose insurance is suspended (contributions paused after leaving a job)
    #: may still fund relatives. Off unless the pack says so, with its source.
    suspended_owner_may_pay: bool = False
    widening: Widening | None = None

    def relations_on(self, day: datetime.date) -> frozenset[Relation]:
        """The relations allowed on ``day``: the widened set once it is switched on."""
        widening = self.widening
        if widening is not None and widening.since is not None and day >= widening.since:
            return self.relations | widening.relations
        return self.relations

    def provinces_paired(self, first: str, second: str) -> bool:
        """Whether two different provinces may share accounts under this pack."""
        if first in self.cross_province and second in self.cross_province:
            return True
        return (first, second) in self.cross_province_pairs or (
            second,
            first,
        ) in self.cross_province_pairs


class Plausibility(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """R4 warnings: ages that are possible but unusual for a relation. Never a refusal.

    Each threshold is optional: no source gives a minimum age gap between a parent and
    a child, so a pack without one warns about none.
    """

    parent_min_years: int | None = None
    grandparent_min_years: int | None = None
    marriage_age_male: int | None = None
    marriage_age_female: int | None = None


class Use(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """R6: lines of these categories are payable in cash only, by anyone."""

    cash_only_categories: frozenset[Category]


class FundRule(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The pooled fund's share for one insurance kind (an estimate; the centre decides)."""

    settings: frozenset[Setting]
    deductible: Fen  # 起付线, per year
    ratio_percent: int  # 报销比例 above the deductible
    annual_cap: Fen  # 封顶线 for these settings
    rounding: Rounding = Rounding.DOWN


class Catalogue(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """How the catalogue classes A/B/C enter the eligible amount."""

    class_b_self_first_percent: int  # 乙类先行自付


class Premium(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Resident-insurance premium per person and year (居民医保个人缴费)."""

    adult: Fen
    child: Fen
    #: The oldest age that pays the child's premium; absent when no source says.
    child_max_age: int | None = None


class Traceability(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Drug traceability codes (追溯码): from ``required_from``, a pharmacy drug sale settles
    with the fund only with its packs' codes (无码不结算)."""

    required_from: datetime.date
    #: A rehearsal whose tills scan no packs (the illustrative demo): nothing is required.
    waived: bool = False

    def required_on(self, day: datetime.date) -> bool:
        return not self.waived and day >= self.required_from


class PolicyPack(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    id: str
    name: str
    version: str
    #: The first day the pack is in force, and the last (None: until a later pack of its line).
    effective: datetime.date
    until: datetime.date | None = None
    sources: tuple[str, ...]
    personal_account_kinds: frozenset[InsuranceKind]
    mutual_aid: MutualAid
    use: Use
    plausibility: Plausibility = msgspec.field(default_factory=Plausibility)
    catalogue: Catalogue | None = None
    fund: dict[InsuranceKind, FundRule] = msgspec.field(default_factory=dict)
    premium: Premium | None = None
    traceability: Traceability | None = None
    extends: str | None = None
    region: str | None = None  # the pooling region this pack is written for, if any
    #: The packs of one line follow each other in time; the sale's date picks one.
    #: A pack without a line is a line of its own.
    line: str | None = None
    #: Made-up values for demonstrations and tests; never for a real till.
    illustrative: bool = False
    #: Each value's source, by dotted key ("premium.adult"): seed and line, or a public document.
    cite: dict[str, str] = msgspec.field(default_factory=dict)

    @property
    def line_name(self) -> str:
        return self.line or self.id

    def in_force(self, day: datetime.date) -> bool:
        return self.effective <= day and (self.until is None or day <= self.until)

    def fund_rule(self, kind: InsuranceKind, setting: Setting) -> FundRule | None:
        rule = self.fund.get(kind)
        return rule if rule is not None and setting in rule.settings else None

    def source_of(self, key: str) -> str:
        """Where the value at ``key`` comes from, for ``gongji policy show``."""
        found = self.cite.get(key)
        if found is not None:
            return found
        return "illustrative: no source" if self.illustrative else "not set by the pack"
