"""Edges of rules R1-R9 that a deliberate bug once slipped past (issue 19, mutation testing).

Each rule walks the bindings a gateway returned; a refusal must not depend on where in
that list the bad binding stands, so here a good binding, or one another rule handles,
comes first. Boundaries sit exactly on the figure a rule compares with.
"""

from __future__ import annotations

import pluggy
import pytest

from gongji import ConfigError, Fen
from gongji.hookspecs import hookimpl
from gongji.model import Person, Refusal
from gongji.plugins import make_plugin_manager
from gongji.policy import PolicyPack
from gongji.rules.assess import assess
from gongji.rules.context import CheckContext
from gongji.rules.quote import Quote
from tests.conftest import (
    BROTHER_BEIJING,
    CHILD,
    COUSIN_GANSU,
    FATHER,
    OWNER,
    OWNER_WIFE,
    PATIENT,
    SISTER_BENXI,
    STRANGER,
    binding,
    context,
    drug,
    make_id,
    person,
    purchase,
)

SON = person(OWNER, balance=50_000)
MOTHER = person(PATIENT, "resident")


def refused_owners(quote: Quote, rule: str) -> list[str]:
    return [r.owner_id.number for r in quote.refusals if r.rule == rule and r.owner_id]


def payers(quote: Quote) -> list[str]:
    return [leg.payer_id.number for leg in quote.legs]


# ------------------------------------------------------------------ order of bindings


def test_r9_a_binding_for_someone_else_after_a_good_one_is_still_refused() -> None:
    stranger = person(STRANGER, balance=50_000)
    quote = assess(
        context(
            holder=MOTHER,
            bindings=[binding(), binding(owner=STRANGER, beneficiary=FATHER, priority=2)],
            owners=[SON, stranger],
        )
    )
    assert refused_owners(quote, "R9") == [STRANGER]
    assert payers(quote) == [OWNER]


def test_r9_an_owner_duplicated_after_a_good_binding_is_still_refused() -> None:
    sister = person(SISTER_BENXI, region="210502", balance=50_000)
    quote = assess(
        context(
            holder=MOTHER,
            bindings=[
                binding(priority=1),
                binding(owner=SISTER_BENXI, priority=2),
                binding(owner=SISTER_BENXI, priority=3),
            ],
            owners=[SON, sister],
            buy=purchase(PATIENT, items=[drug(200_000)]),
        )
    )
    assert refused_owners(quote, "R9") == [SISTER_BENXI, SISTER_BENXI]
    assert payers(quote) == [OWNER]


def test_r7_an_owner_the_centre_did_not_describe_does_not_stop_the_region_check() -> None:
    beijing = person(BROTHER_BEIJING, region="110101", balance=50_000)
    quote = assess(
        context(
            holder=MOTHER,
            bindings=[binding(owner=STRANGER), binding(owner=BROTHER_BEIJING, priority=2)],
            owners=[beijing],
        )
    )
    assert refused_owners(quote, "R7") == [BROTHER_BEIJING]
    assert payers(quote) == []


def test_r8_an_owner_without_an_account_does_not_stop_the_limit_check() -> None:
    no_account = person(STRANGER, "resident")
    empty = person(OWNER, balance=0)
    quote = assess(
        context(
            holder=MOTHER,
            bindings=[binding(owner=STRANGER), binding(priority=2)],
            owners=[no_account, empty],
        )
    )
    assert refused_owners(quote, "R8") == [OWNER]


def test_r8_a_good_account_first_does_not_hide_a_zero_limit_after_it() -> None:
    sister = person(SISTER_BENXI, region="210502", balance=50_000)
    quote = assess(
        context(
            holder=MOTHER,
            bindings=[
                binding(),
                binding(owner=SISTER_BENXI, priority=2, per_transaction_limit=Fen(0)),
            ],
            owners=[SON, sister],
        )
    )
    assert refused_owners(quote, "R8") == [SISTER_BENXI]


def test_r5_an_approved_binding_first_does_not_hide_a_pending_one_after_it() -> None:
    sister = person(SISTER_BENXI, region="210502", balance=50_000)
    quote = assess(
        context(
            holder=MOTHER,
            bindings=[binding(), binding(owner=SISTER_BENXI, priority=2, status="pending")],
            owners=[SON, sister],
        )
    )
    assert refused_owners(quote, "R5") == [SISTER_BENXI]


def test_r4_a_relation_outside_the_set_does_not_stop_the_plausibility_check() -> None:
    # Dalian 2025 has no siblings; the second binding claims the 1985-born son is the
    # 1958-born patient's child... of a 2015-born "parent": implausible.
    sibling = person(SISTER_BENXI, region="210202", balance=50_000)
    child_holder = person(CHILD, "resident")
    quote = assess(
        context(
            holder=child_holder,
            bindings=[
                binding(owner=SISTER_BENXI, beneficiary=CHILD, relation="sibling"),
                binding(beneficiary=CHILD, relation="parent", priority=2),
            ],
            owners=[sibling, SON],
            policy="liaoning-dalian-2025",
            buy=purchase(CHILD),
        )
    )
    assert refused_owners(quote, "R4") == [SISTER_BENXI, OWNER]


def test_r2_each_owner_is_checked_not_only_the_first() -> None:
    resident_sister = person(SISTER_BENXI, "resident", region="210502")
    quote = assess(
        context(
            holder=MOTHER,
            bindings=[binding(), binding(owner=SISTER_BENXI, priority=2)],
            owners=[SON, resident_sister],
        )
    )
    assert refused_owners(quote, "R2") == [SISTER_BENXI]


# ------------------------------------------------------------------ R7 region digits


def test_r7_another_district_of_the_same_city_is_one_pooling_region_even_under_legacy() -> None:
    # 210203 and 210202 are two districts of Dalian: the pooling region is the city (2102).
    neighbour = person(OWNER, region="210203", balance=50_000)
    quote = assess(
        context(holder=MOTHER, bindings=[binding()], owners=[neighbour], policy="legacy-2021")
    )
    assert refused_owners(quote, "R7") == []
    assert payers(quote) == [OWNER]


def test_r7_the_province_is_the_first_two_digits_of_the_region() -> None:
    # Liaoyang (2110) and Dalian (2102) share only "21": same province, other city.
    liaoyang = person(OWNER, region="211002", balance=50_000)
    allowed = assess(context(holder=MOTHER, bindings=[binding()], owners=[liaoyang]))
    assert payers(allowed) == [OWNER]
    legacy = assess(
        context(holder=MOTHER, bindings=[binding()], owners=[liaoyang], policy="legacy-2021")
    )
    assert refused_owners(legacy, "R7") == [OWNER]


def test_r7_cross_province_needs_both_provinces_switched_on_not_just_one() -> None:
    # The national pack switches on Gansu (62) only: a Gansu owner paying for a Gansu
    # patient is one province; for a Liaoning patient it is refused, in both directions.
    gansu_owner = person(COUSIN_GANSU, region="620102", balance=50_000)
    quote = assess(
        context(holder=MOTHER, bindings=[binding(owner=COUSIN_GANSU)], owners=[gansu_owner])
    )
    assert refused_owners(quote, "R7") == [COUSIN_GANSU]
    gansu_patient = person(PATIENT, "resident", region="620102")
    quote = assess(context(holder=gansu_patient, bindings=[binding()], owners=[SON]))
    assert refused_owners(quote, "R7") == [OWNER]


# ------------------------------------------------------------------ assess


@pytest.mark.parametrize("fund", [-1, 10_001])
def test_a_fund_share_outside_zero_to_the_total_is_refused_before_anything_is_charged(
    fund: int,
) -> None:
    with pytest.raises(ConfigError) as raised:
        assess(context(holder=MOTHER, fund=fund, buy=purchase(PATIENT, items=[drug(10_000)])))
    assert raised.value.message == f"The fund share ¥{Fen(fund).to_yuan()} is outside 0..¥100.00."
    assert raised.value.next_step == (
        "The gateway's pre-settlement is inconsistent; do not settle, and report it."
    )


@pytest.mark.parametrize("fund", [0, 10_000])
def test_a_fund_share_of_exactly_zero_or_the_whole_total_is_accepted(fund: int) -> None:
    quote = assess(context(holder=MOTHER, fund=fund, buy=purchase(PATIENT, items=[drug(10_000)])))
    assert quote.fund == fund
    assert quote.cash == 10_000 - fund


class _RefuseOwnAccount:
    """A region plugin that refuses the patient's own account (say, frozen by the centre)."""

    @hookimpl
    def gongji_check(self, context: CheckContext) -> list[Refusal]:
        return [Refusal(rule="X1", reason="Frozen.", owner_id=context.patient.id)]


def _with(plugin: object) -> pluggy.PluginManager:
    plugins = make_plugin_manager()
    plugins.register(plugin, name="test.refuse-own")
    return plugins


def test_refusing_the_patients_own_id_removes_their_own_account_from_the_chain() -> None:
    father = person(FATHER, balance=3_000)
    ctx = context(holder=father, buy=purchase(FATHER, items=[drug(10_000)]))
    assert [leg.source for leg in assess(ctx).legs] == ["own_account"]
    quote = assess(ctx, _with(_RefuseOwnAccount()))
    assert quote.legs == ()
    assert quote.cash == 10_000


def test_the_cash_share_is_what_the_fund_and_the_accounts_leave() -> None:
    father = person(FATHER, balance=3_000)
    quote = assess(
        context(
            holder=father,
            buy=purchase(FATHER, items=[drug(10_000)]),
            bindings=[binding(beneficiary=FATHER, per_transaction_limit=Fen(2_500))],
            owners=[SON],
            fund=4_000,
        )
    )
    assert [int(leg.amount) for leg in quote.legs] == [3_000, 2_500]
    assert quote.cash == 500


def test_a_spouse_binding_is_plausible_for_the_wife_of_the_owner() -> None:
    wife = person(OWNER_WIFE, "resident")
    quote = assess(
        context(
            holder=wife,
            buy=purchase(OWNER_WIFE),
            bindings=[binding(beneficiary=OWNER_WIFE, relation="spouse")],
            owners=[SON],
        )
    )
    assert payers(quote) == [OWNER]


# ------------------------------------------------------------------ R4 impossible or unusual
# The son (the owner) was born on 1985-03-17. A pack of our own holds the thresholds, so
# these edges do not move when a region's figures do: parents 15 years, grandparents 30.


def _thresholds() -> PolicyPack:
    import msgspec

    from gongji.policy import Plausibility, get_policy

    return msgspec.structs.replace(
        get_policy("national-2025"),
        plausibility=Plausibility(
            parent_min_years=15,
            grandparent_min_years=30,
            marriage_age_male=22,
            marriage_age_female=20,
        ),
    )


def _r4(beneficiary: str, relation: str, owner: Person = SON) -> list[tuple[str, str]]:
    """R4's findings for one binding of ``owner`` to ``beneficiary``: (kind, English)."""
    quote_or_findings = make_plugin_manager().hook.gongji_check(
        context=context(
            holder=person(beneficiary, "resident"),
            buy=purchase(beneficiary),
            bindings=[binding(owner=owner.id.number, beneficiary=beneficiary, relation=relation)],
            owners=[owner],
            policy=_thresholds(),
        )
    )
    return [
        (type(found).__name__, found.reason)
        for result in quote_or_findings
        if result
        for found in result
        if found.rule == "R4"
    ]


def test_r4_a_parent_exactly_the_packs_minimum_older_is_not_warned_a_day_less_is() -> None:
    assert _r4(make_id("210202", "19700317", "004"), "parent") == []
    ((kind, reason),) = _r4(make_id("210202", "19700318", "004"), "parent")
    assert kind == "RuleWarning" and "births are 14 years apart" in reason


@pytest.mark.parametrize("relation", ["paternal_grandparent", "maternal_grandparent"])
def test_r4_a_grandparent_is_held_to_the_grandparent_threshold_not_the_parents(
    relation: str,
) -> None:
    twenty_five_years_older = make_id("210202", "19600317", "004")
    assert _r4(twenty_five_years_older, "parent") == []  # 25 >= 15
    ((kind, reason),) = _r4(twenty_five_years_older, relation)  # 25 < 30
    assert kind == "RuleWarning" and "births are 25 years apart" in reason


def test_r4_a_parent_born_on_the_owners_birthday_is_warned_not_refused_as_born_after() -> None:
    # Only a parent born *after* the owner is impossible (a step-parent may be any age).
    ((kind, reason),) = _r4(make_id("210202", "19850317", "004"), "parent")
    assert kind == "RuleWarning" and "births are 0 years apart" in reason
    ((kind, reason),) = _r4(make_id("210202", "19850318", "004"), "parent")
    assert kind == "Refusal" and "born after the owner" in reason


def test_r4_a_child_born_on_the_owners_birthday_is_warned_not_refused_as_born_before() -> None:
    ((kind, _),) = _r4(make_id("210202", "19850317", "004"), "child")
    assert kind == "RuleWarning"
    ((kind, reason),) = _r4(make_id("210202", "19850316", "004"), "child")
    assert kind == "Refusal" and "born before the owner" in reason


def test_r4_a_husband_below_the_mens_marriage_age_is_warned_though_above_the_womens() -> None:
    husband = person(make_id("210202", "20050601", "013"), balance=50_000)  # 21 on the day
    ((kind, reason),) = _r4(OWNER_WIFE, "spouse", owner=husband)
    assert kind == "RuleWarning"
    assert f"The spouse {husband.id.masked} is 21, under the marriageable age of 22" in reason
    wife_of_21 = make_id("210202", "20050601", "024")
    assert _r4(wife_of_21, "spouse") == []  # 21 >= 20 for a woman


def test_r4_a_spouse_not_a_year_old_is_under_any_marriage_age() -> None:
    ((kind, reason),) = _r4(make_id("210202", "20260101", "024"), "spouse")
    assert kind == "RuleWarning" and " is 0, under the marriageable age of 20" in reason


def test_r4_a_warning_names_the_account_it_is_about_and_refuses_nothing() -> None:
    young_parent = make_id("210202", "19750317", "004")
    quote = assess(
        context(
            holder=person(young_parent, "resident"),
            buy=purchase(young_parent),
            bindings=[binding(beneficiary=young_parent)],
            owners=[SON],
            policy=_thresholds(),
        )
    )
    assert [(w.rule, w.owner_id) for w in quote.warnings] == [("R4", SON.id)]
    assert quote.refusals == () and payers(quote) == [OWNER]


# ------------------------------------------------------------------ R8 exact limits


def test_r8_an_account_holding_exactly_one_fen_is_not_refused_and_pays_it() -> None:
    quote = assess(context(holder=MOTHER, bindings=[binding()], owners=[person(OWNER, balance=1)]))
    assert refused_owners(quote, "R8") == []
    assert [int(leg.amount) for leg in quote.legs] == [1]


def test_r8_a_limit_of_exactly_one_fen_is_not_refused_and_caps_at_it() -> None:
    quote = assess(
        context(holder=MOTHER, bindings=[binding(per_transaction_limit=Fen(1))], owners=[SON])
    )
    assert refused_owners(quote, "R8") == []
    assert [int(leg.amount) for leg in quote.legs] == [1]


# ------------------------------------------------------------------ R6 purposes


# Each purpose as the cashier hears it, (en, zh): every purpose, so a new one needs words.
PURPOSE_WORDS = {
    "medical": ("medical costs", "医疗费用"),
    "resident_premium": ("a resident-insurance premium", "居民医保缴费"),
    "vaccine": ("a self-paid vaccine", "自费疫苗"),
    "physical_exam": ("a physical exam", "体检"),
    "supplementary_insurance": ("government-guided supplementary insurance", "惠民保等补充保险"),
    "flexible_employment_premium": (
        "a flexibly employed worker's employee-insurance premium",
        "灵活就业人员职工医保缴费",
    ),
    "long_term_care": ("long-term-care contributions", "长期护理保险缴费"),
    "commercial_insurance": ("commercial health insurance", "商业健康保险"),
}


def test_every_purpose_has_words_for_the_cashier() -> None:
    from gongji.model import Purpose

    assert set(PURPOSE_WORDS) == {purpose.value for purpose in Purpose}


@pytest.mark.parametrize("purpose", list(PURPOSE_WORDS))
def test_r6_a_purpose_the_pack_does_not_allow_is_named_in_both_languages(purpose: str) -> None:
    import msgspec

    from gongji.policy import get_policy

    pack = get_policy("national-2025")
    none_allowed = msgspec.structs.replace(
        pack, mutual_aid=msgspec.structs.replace(pack.mutual_aid, purposes=frozenset())
    )
    # A flexibly employed worker's premium is for the employee-insured: the son's own.
    patient, relation = (
        (OWNER, "child") if purpose == "flexible_employment_premium" else (PATIENT, "parent")
    )
    holder = SON if patient == OWNER else MOTHER
    quote = assess(
        context(
            holder=holder,
            buy=purchase(patient, purpose=purpose),
            bindings=[binding(owner=FATHER, beneficiary=patient, relation=relation)],
            owners=[person(FATHER, balance=50_000)],
            policy=none_allowed,
        )
    )
    (refusal,) = [r for r in quote.refusals if r.rule == "R6"]
    en, zh = PURPOSE_WORDS[purpose]
    assert f" does not allow mutual aid for {en}, so the account of " in refusal.reason
    assert f"不允许家庭共济资金用于{zh}，" in refusal.reason_zh
    assert FATHER not in payers(quote)


# ------------------------------------------------------------------ registration


def test_the_builtin_rules_are_plugins_named_after_their_rule() -> None:
    names = {name for name, _ in make_plugin_manager().list_name_plugin()}
    assert {f"gongji.rules.R{n}" for n in range(1, 10)} <= names
