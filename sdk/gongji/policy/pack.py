"""A region policy pack: the rules of one region and year, as data.

Packs are TOML files decoded into these ``msgspec`` structs; unknown keys are
refused so a misspelt setting fails at load instead of silently meaning nothing.
Amounts are yuan strings in the file and ``Fen`` here.
"""

from __future__ import annotations

import datetime

import msgspec

from gongji.model import Category, InsuranceKind, Purpose, Relation, Setting
from gongji.money import Fen, Rounding


class MutualAid(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """R4 relations, R6 purposes, R7 regions."""

    relations: frozenset[Relation]
    purposes: frozenset[Purpose]
    #: Another pooling region of the same province may pay (nationwide since 2025, seed 002).
    same_province: bool
    #: 2-digit province codes with cross-province mutual aid switched on; both ends must be listed.
    cross_province: frozenset[str] = frozenset()


class Plausibility(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """R4: what the birth dates in two ID numbers must show for a relation to be believable."""

    parent_min_years: int = msgspec.field(default=15)
    grandparent_min_years: int = msgspec.field(default=30)
    marriage_age_male: int = msgspec.field(default=22)
    marriage_age_female: int = msgspec.field(default=20)


class Use(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """R6: lines of these categories are payable in cash only, by anyone."""

    cash_only_categories: frozenset[Category]


class FundRule(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The pooled fund's share for one insurance kind (an estimate; the centre decides)."""

    settings: frozenset[Setting]
    deductible: Fen  # 起付线, per year
    ratio_percent: int = msgspec.field(default=0)  # 报销比例 above the deductible
    annual_cap: Fen = msgspec.field(default_factory=lambda: Fen(0))  # 封顶线 for these settings
    rounding: Rounding = Rounding.DOWN


class Catalogue(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """How the catalogue classes A/B/C enter the eligible amount."""

    class_b_self_first_percent: int = 10  # 乙类先行自付


class Premium(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Resident-insurance premium per person and year (居民医保个人缴费)."""

    adult: Fen
    child: Fen
    child_max_age: int = 17


class PolicyPack(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    id: str
    name: str
    version: str
    effective: datetime.date
    sources: tuple[str, ...]
    mutual_aid: MutualAid
    plausibility: Plausibility
    use: Use
    catalogue: Catalogue = msgspec.field(default_factory=Catalogue)
    fund: dict[InsuranceKind, FundRule] = msgspec.field(default_factory=dict)
    premium: Premium | None = None
    #: Insurance kinds that carry a personal account here (Dalian 2025: employee only, seed 000).
    personal_account_kinds: frozenset[InsuranceKind] = frozenset({InsuranceKind.EMPLOYEE})
    extends: str | None = None
    region: str | None = None  # the pooling region this pack is written for, if any

    def fund_rule(self, kind: InsuranceKind, setting: Setting) -> FundRule | None:
        rule = self.fund.get(kind)
        return rule if rule is not None and setting in rule.settings else None
