"""One test per rule R1-R9 (at least), and the three cases of DOMAIN.md."""

from __future__ import annotations

import datetime

import msgspec
import pytest

from gongji import Credential, Fen, OwnCardViolation, UseViolation
from gongji.model import Refusal
from gongji.policy import PolicyPack, get_policy
from gongji.rules.assess import assess
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


def refused(quote: Quote, rule: str) -> list[Refusal]:
    return [r for r in quote.refusals if r.rule == rule]


def pack_with(pack: PolicyPack, **mutual_aid: object) -> PolicyPack:
    """``pack`` with some ``[mutual_aid]`` settings changed, as a region's pack would."""
    return msgspec.structs.replace(
        pack, mutual_aid=msgspec.structs.replace(pack.mutual_aid, **mutual_aid)
    )


def mutual_aid_paid(quote: Quote) -> int:
    return sum(int(leg.amount) for leg in quote.legs if leg.source == "mutual_aid")


# ------------------------------------------------------------------ the three cases


def test_case1_own_credential_presented_by_an_agent_is_allowed_and_agent_recorded() -> None:
    buy = purchase(PATIENT, agent_id=OWNER)
    quote = assess(context(holder=MOTHER, buy=buy, bindings=[binding()], owners=[SON]))
    assert not quote.refusals
    assert buy.agent_id == OWNER


def test_case2_mutual_aid_pays_the_patients_self_pay_share() -> None:
    quote = assess(context(holder=MOTHER, bindings=[binding()], owners=[SON], fund=4_000))
    assert [leg.source for leg in quote.legs] == ["mutual_aid"]
    assert quote.legs[0].payer_id == OWNER and quote.legs[0].amount == 6_000
    assert quote.cash == 0


def test_case3_r1_someone_elses_credential_for_the_patient_is_refused() -> None:
    # The mother is treated; her son's card is presented.
    buy = purchase(OWNER, patient_id=PATIENT)
    with pytest.raises(OwnCardViolation) as caught:
        assess(context(holder=SON, buy=buy, bindings=[binding()], owners=[SON]))
    error = caught.value
    assert error.rule == "R1"
    assert "own" in error.next_step and "mutual aid" in error.next_step
    assert OWNER not in str(error) and PATIENT not in str(error)


# ------------------------------------------------------------------ R1


@pytest.mark.parametrize(
    "credential",
    [
        Credential.e_voucher("son-token"),
        Credential.id_card(OWNER),
        Credential.social_card("21000001", card_sn="SN123", region="210200", holder=OWNER),
    ],
    ids=["e_voucher", "id_card", "social_card"],
)
def test_r1_impersonation_is_refused_for_every_credential_kind(credential: Credential) -> None:
    buy = purchase(PATIENT, patient_id=PATIENT)
    buy = type(buy)(credential=credential, items=buy.items, patient_id=PATIENT)
    with pytest.raises(OwnCardViolation):
        assess(context(holder=SON, buy=buy))


def test_r1_card_resolved_to_another_person_by_the_gateway_is_refused() -> None:
    # The ID card names the mother but the centre answered with the son: never settle that.
    with pytest.raises(OwnCardViolation, match="resolved it"):
        assess(context(holder=SON, buy=purchase(PATIENT)))


def test_r1_refusal_stops_the_purchase_before_any_account_is_planned() -> None:
    with pytest.raises(OwnCardViolation):
        assess(context(holder=SON, buy=purchase(OWNER, patient_id=PATIENT), owners=[SON]))


# ------------------------------------------------------------------ R2


@pytest.mark.parametrize(
    "owner",
    [person(OWNER, "resident"), person(OWNER, "none")],
    ids=["resident-owner", "uninsured-owner"],
)
def test_r2_owner_must_be_active_employee_with_account(owner: object) -> None:
    quote = assess(context(holder=MOTHER, bindings=[binding()], owners=[owner]))  # type: ignore[list-item]
    assert refused(quote, "R2") and mutual_aid_paid(quote) == 0


def test_r2_owner_who_left_a_job_still_funds_relatives_where_the_pack_says_so() -> None:
    # Seed 000 l.98: after leaving a job contributions pause, and the account stays usable.
    suspended = person(OWNER, status="suspended", balance=50_000)
    quote = assess(context(holder=MOTHER, bindings=[binding()], owners=[suspended]))
    assert not refused(quote, "R2") and mutual_aid_paid(quote) > 0
    strict = pack_with(get_policy("national-2025"), suspended_owner_may_pay=False)
    quote = assess(context(holder=MOTHER, bindings=[binding()], owners=[suspended], policy=strict))
    assert "suspended" in refused(quote, "R2")[0].reason and mutual_aid_paid(quote) == 0


def test_r2_owner_missing_from_the_gateways_answer_does_not_pay() -> None:
    quote = assess(context(holder=MOTHER, bindings=[binding()], owners=[]))
    assert refused(quote, "R2")[0].owner_id == OWNER
    assert quote.cash == quote.total


# ------------------------------------------------------------------ R3


@pytest.mark.parametrize(
    "patient", [person(PATIENT, "none"), person(PATIENT, "resident", status="suspended")]
)
def test_r3_uninsured_or_suspended_beneficiary_gets_no_mutual_aid(patient: object) -> None:
    quote = assess(context(holder=patient, bindings=[binding()], owners=[SON]))  # type: ignore[arg-type]
    assert refused(quote, "R3") and mutual_aid_paid(quote) == 0


def test_r3_resident_insured_beneficiary_may_receive_mutual_aid() -> None:
    quote = assess(context(holder=MOTHER, bindings=[binding()], owners=[SON]))
    assert not refused(quote, "R3") and mutual_aid_paid(quote) > 0


# ------------------------------------------------------------------ R4


def test_r4_relation_outside_the_regions_set_is_refused() -> None:
    # A sibling is a close relative nationally, but Dalian 2025 allows spouse, parents, children.
    sister = person(SISTER_BENXI, "resident", region="210202")
    ctx = dict(
        holder=sister,
        bindings=[binding(beneficiary=SISTER_BENXI, relation="sibling")],
        owners=[SON],
    )
    assert not refused(assess(context(**ctx, policy="national-2025")), "R4")  # type: ignore[arg-type]
    quote = assess(context(**ctx, policy="liaoning-dalian-2025"))  # type: ignore[arg-type]
    assert refused(quote, "R4") and mutual_aid_paid(quote) == 0


def test_r4_legacy_pack_refuses_grandparents() -> None:
    grandma = make_id("210202", "19320101", "002")
    ctx = dict(
        holder=person(grandma, "resident"),
        bindings=[binding(beneficiary=grandma, relation="paternal_grandparent")],
        owners=[SON],
    )
    assert not refused(assess(context(**ctx)), "R4")  # type: ignore[arg-type]
    assert refused(assess(context(**ctx, policy="legacy-2021")), "R4")  # type: ignore[arg-type]


def test_r4_parent_born_after_the_child_is_refused_as_impossible() -> None:
    # The child (born 2015) is recorded as the 1985-born owner's parent.
    quote = assess(
        context(
            holder=person(CHILD, "resident"),
            bindings=[binding(beneficiary=CHILD, relation="parent")],
            owners=[SON],
        )
    )
    assert "born after the owner" in refused(quote, "R4")[0].reason
    assert mutual_aid_paid(quote) == 0


def test_r4_child_born_before_the_owner_is_refused_as_impossible() -> None:
    # The 1958-born mother is recorded as her 1985-born son's child.
    quote = assess(context(holder=MOTHER, bindings=[binding(relation="child")], owners=[SON]))
    assert "born before the owner" in refused(quote, "R4")[0].reason
    assert mutual_aid_paid(quote) == 0


def test_r4_young_parent_is_a_warning_never_a_refusal() -> None:
    # Ten years older: a step-parent can be; the centre approved the binding.
    young_parent = make_id("210202", "19750317", "004")
    ctx = dict(
        holder=person(young_parent, "resident"),
        bindings=[binding(beneficiary=young_parent, relation="parent")],
        owners=[SON],
    )
    national = assess(context(**ctx))  # type: ignore[arg-type]
    assert not national.refusals and not national.warnings  # no source gives an age gap
    demo = assess(context(**ctx, policy="demo-dalian"))  # type: ignore[arg-type]
    assert not refused(demo, "R4") and mutual_aid_paid(demo) > 0
    (warning,) = demo.warnings
    assert warning.rule == "R4" and "10 years apart" in warning.reason
    assert any(warning.reason_zh in line for line in demo.explain("zh"))


def test_r4_spouse_under_marriageable_age_is_a_warning() -> None:
    young = make_id("210202", "20100101", "024")  # female, 16 in 2026
    quote = assess(
        context(
            holder=person(young, "resident"),
            bindings=[binding(beneficiary=young, relation="spouse")],
            owners=[SON],
        )
    )
    assert not quote.refusals and mutual_aid_paid(quote) > 0
    assert "marriageable" in quote.warnings[0].reason


def test_r4_widening_switches_on_from_its_date() -> None:
    # Dalian follows seed 000's nuclear family until the pack dates the national widening.
    dalian = get_policy("liaoning-dalian-2025")
    assert dalian.mutual_aid.widening is not None and dalian.mutual_aid.widening.since is None
    widened = pack_with(
        dalian,
        widening=msgspec.structs.replace(
            dalian.mutual_aid.widening, since=datetime.date(2026, 7, 1)
        ),
    )
    sister = person(SISTER_BENXI, "resident", region="210202")
    ctx = dict(
        holder=sister,
        bindings=[binding(beneficiary=SISTER_BENXI, relation="sibling")],
        owners=[SON],
        policy=widened,
    )
    before = assess(context(**ctx, today=datetime.date(2026, 6, 30)))  # type: ignore[arg-type]
    after = assess(context(**ctx, today=datetime.date(2026, 7, 1)))  # type: ignore[arg-type]
    assert refused(before, "R4") and mutual_aid_paid(before) == 0
    assert not refused(after, "R4") and mutual_aid_paid(after) > 0


def test_r4_plausible_spouse_and_child_are_allowed() -> None:
    wife = person(OWNER_WIFE, "resident")
    child = person(CHILD, "resident")
    for holder, relation in ((wife, "spouse"), (child, "child")):
        quote = assess(
            context(
                holder=holder,
                bindings=[binding(beneficiary=holder.id, relation=relation)],
                owners=[SON],
            )
        )
        assert not refused(quote, "R4"), quote.refusals


def test_r4_account_bound_to_its_own_owner_is_refused() -> None:
    quote = assess(
        context(
            holder=SON, buy=purchase(OWNER), bindings=[binding(beneficiary=OWNER)], owners=[SON]
        )
    )
    assert refused(quote, "R4")


# ------------------------------------------------------------------ R5


@pytest.mark.parametrize("status", ["pending", "rejected", "revoked"])
def test_r5_binding_not_approved_does_not_pay(status: str) -> None:
    quote = assess(context(holder=MOTHER, bindings=[binding(status=status)], owners=[SON]))
    assert refused(quote, "R5")[0].owner_id == OWNER
    assert mutual_aid_paid(quote) == 0


def test_r5_pending_binding_is_skipped_and_the_next_account_pays() -> None:
    daughter = person(SISTER_BENXI, region="210502", balance=50_000)
    quote = assess(
        context(
            holder=MOTHER,
            bindings=[
                binding(status="pending", priority=1),
                binding(owner=SISTER_BENXI, priority=2),
            ],
            owners=[SON, daughter],
        )
    )
    assert [leg.payer_id for leg in quote.legs] == [SISTER_BENXI]


# ------------------------------------------------------------------ R6


def test_r6_cosmetics_are_cash_only_without_refusing_the_purchase() -> None:
    lipstick = drug(8_800, code="C01", category="cosmetic", coverage="C")
    buy = purchase(PATIENT, items=[drug(5_000), lipstick])
    quote = assess(context(holder=MOTHER, buy=buy, bindings=[binding()], owners=[SON]))
    assert quote.cash_only == (lipstick,)
    assert mutual_aid_paid(quote) == 5_000 and quote.cash == 8_800
    assert any("cannot be paid from any insurance account" in line for line in quote.explain())


@pytest.mark.parametrize("category", ["cosmetic", "supplement", "fitness", "daily_goods"])
def test_r6_prohibited_categories_never_reach_an_account(category: str) -> None:
    buy = purchase(OWNER, items=[drug(3_000, category=category, coverage="C")])
    quote = assess(context(holder=SON, buy=buy))
    assert quote.legs == () and quote.cash == 3_000


def test_r6_purpose_the_region_does_not_allow_is_refused_for_mutual_aid() -> None:
    buy = purchase(
        PATIENT, items=[drug(12_800, category="vaccine", coverage="C")], purpose="vaccine"
    )
    national = assess(context(holder=MOTHER, buy=buy, bindings=[binding()], owners=[SON]))
    dalian = assess(
        context(
            holder=MOTHER,
            buy=buy,
            bindings=[binding()],
            owners=[SON],
            policy="liaoning-dalian-2025",
        )
    )
    assert mutual_aid_paid(national) == 12_800
    assert refused(dalian, "R6") and mutual_aid_paid(dalian) == 0


def test_r6_resident_premium_for_someone_on_employee_insurance_is_refused() -> None:
    buy = purchase(FATHER, items=[drug(38_000, category="premium")], purpose="resident_premium")
    with pytest.raises(UseViolation, match="employee insurance"):
        assess(context(holder=person(FATHER), buy=buy))


def test_r6_resident_premium_on_behalf_is_paid_by_the_sons_account() -> None:
    # Seed 000: the son's account pays his mother's resident premium.
    buy = purchase(
        PATIENT, items=[drug(38_000, category="premium", coverage="C")], purpose="resident_premium"
    )
    quote = assess(
        context(
            holder=MOTHER,
            buy=buy,
            bindings=[binding()],
            owners=[SON],
            policy="liaoning-dalian-2025",
        )
    )
    assert [(leg.payer_id, leg.amount) for leg in quote.legs] == [(OWNER, Fen(38_000))]


# ------------------------------------------------------------------ R7


def test_r7_same_province_other_city_is_allowed_since_2025() -> None:
    sister = person(SISTER_BENXI, region="210502", balance=50_000)  # Benxi, Liaoning
    quote = assess(
        context(
            holder=MOTHER,
            bindings=[binding(owner=SISTER_BENXI, relation="parent")],
            owners=[sister],
        )
    )
    assert not refused(quote, "R7") and mutual_aid_paid(quote) > 0


def test_r7_legacy_pack_keeps_mutual_aid_within_one_pooling_region() -> None:
    sister = person(SISTER_BENXI, region="210502", balance=50_000)
    quote = assess(
        context(
            holder=MOTHER,
            bindings=[binding(owner=SISTER_BENXI, relation="parent")],
            owners=[sister],
            policy="legacy-2021",
        )
    )
    assert refused(quote, "R7")


def test_r7_other_province_is_refused_while_the_national_pack_names_no_partner() -> None:
    gansu_owner = person(COUSIN_GANSU, region="620102", balance=50_000)
    beijing_owner = person(BROTHER_BEIJING, region="110101", balance=50_000)
    gansu_patient = person(PATIENT, "resident", region="620102")
    assert get_policy("national-2025").mutual_aid.cross_province == frozenset()
    for patient, owner in ((MOTHER, gansu_owner), (gansu_patient, beijing_owner)):
        quote = assess(
            context(
                holder=patient,
                bindings=[binding(owner=owner.id, relation="parent")],
                owners=[owner],
            )
        )
        assert refused(quote, "R7") and mutual_aid_paid(quote) == 0


def test_r7_cross_province_passes_when_both_provinces_are_listed() -> None:
    both_on = pack_with(get_policy("national-2025"), cross_province=frozenset({"21", "62"}))
    gansu_owner = person(COUSIN_GANSU, region="620102", balance=50_000)
    quote = assess(
        context(
            holder=MOTHER,
            bindings=[binding(owner=COUSIN_GANSU, relation="parent")],
            owners=[gansu_owner],
            policy=both_on,
        )
    )
    assert not refused(quote, "R7") and mutual_aid_paid(quote) > 0


def test_r7_cross_province_passes_for_a_declared_pair_only() -> None:
    paired = pack_with(get_policy("national-2025"), cross_province_pairs=frozenset({("62", "21")}))
    gansu_owner = person(COUSIN_GANSU, region="620102", balance=50_000)
    beijing_owner = person(BROTHER_BEIJING, region="110101", balance=50_000)
    liaoning_gansu = assess(
        context(
            holder=MOTHER,
            bindings=[binding(owner=COUSIN_GANSU, relation="parent")],
            owners=[gansu_owner],
            policy=paired,
        )
    )
    liaoning_beijing = assess(
        context(
            holder=MOTHER,
            bindings=[binding(owner=BROTHER_BEIJING, relation="parent")],
            owners=[beijing_owner],
            policy=paired,
        )
    )
    assert not refused(liaoning_gansu, "R7") and mutual_aid_paid(liaoning_gansu) > 0
    assert refused(liaoning_beijing, "R7")


# ------------------------------------------------------------------ R8


def test_r8_per_transaction_limit_caps_the_leg() -> None:
    quote = assess(
        context(holder=MOTHER, bindings=[binding(per_transaction_limit=Fen(2_000))], owners=[SON])
    )
    assert quote.legs[0].amount == 2_000 and quote.cash == quote.total - 2_000


def test_r8_balance_caps_the_leg() -> None:
    poor_son = person(OWNER, balance=1_234)
    quote = assess(context(holder=MOTHER, bindings=[binding()], owners=[poor_son]))
    assert quote.legs[0].amount == 1_234


def test_r8_empty_account_or_zero_limit_is_refused_with_a_reason() -> None:
    empty = assess(context(holder=MOTHER, bindings=[binding()], owners=[person(OWNER, balance=0)]))
    zero_limit = assess(
        context(holder=MOTHER, bindings=[binding(per_transaction_limit=Fen(0))], owners=[SON])
    )
    assert "no balance" in refused(empty, "R8")[0].reason
    assert "limit of zero" in refused(zero_limit, "R8")[0].reason


# ------------------------------------------------------------------ R9


def test_r9_own_account_first_then_priority_order_then_cash() -> None:
    father = person(FATHER, balance=3_000)  # the patient here, with his own account
    son = person(OWNER, balance=2_000)
    sister = person(SISTER_BENXI, region="210502", balance=50_000)
    buy = purchase(FATHER, items=[drug(10_000)])
    quote = assess(
        context(
            holder=father,
            buy=buy,
            bindings=[
                binding(
                    owner=SISTER_BENXI,
                    beneficiary=FATHER,
                    relation="parent",
                    priority=2,
                    per_transaction_limit=Fen(4_000),
                ),
                binding(owner=OWNER, beneficiary=FATHER, relation="parent", priority=1),
            ],
            owners=[son, sister],
        )
    )
    assert [(leg.source, leg.payer_id, int(leg.amount)) for leg in quote.legs] == [
        ("own_account", FATHER, 3_000),
        ("mutual_aid", OWNER, 2_000),
        ("mutual_aid", SISTER_BENXI, 4_000),
    ]
    assert quote.cash == 1_000
    assert quote.total == quote.fund + quote.accounts + quote.cash


def test_r9_binding_for_another_beneficiary_never_pays() -> None:
    # A gateway (or an attacker) slips in a binding meant for someone else.
    quote = assess(context(holder=MOTHER, bindings=[binding(beneficiary=STRANGER)], owners=[SON]))
    assert refused(quote, "R9") and mutual_aid_paid(quote) == 0


def test_r9_duplicate_bindings_of_one_owner_pay_nothing() -> None:
    quote = assess(
        context(holder=MOTHER, bindings=[binding(priority=1), binding(priority=2)], owners=[SON])
    )
    assert refused(quote, "R9") and mutual_aid_paid(quote) == 0


def test_mutual_aid_never_changes_the_fund_share() -> None:
    # Seed 002: using mutual aid does not change anyone's reimbursement.
    with_aid = assess(context(holder=MOTHER, bindings=[binding()], owners=[SON], fund=3_000))
    without = assess(context(holder=MOTHER, fund=3_000))
    assert with_aid.fund == without.fund == 3_000


def test_refusal_reasons_are_bilingual_sentences_with_masked_ids() -> None:
    quote = assess(context(holder=MOTHER, bindings=[binding(status="pending")], owners=[SON]))
    (refusal,) = quote.refusals
    assert refusal.reason[0].isupper() and refusal.reason.endswith(".")
    assert "审核" in refusal.reason_zh
    assert OWNER not in refusal.reason and OWNER[-4:] in refusal.reason
    assert "son" in refusal.reason  # the owner is the patient's son (male, one generation down)


def test_age_rules_use_the_purchase_date() -> None:
    young = make_id("210202", "20040601", "024")  # female: 20 on 2024-06-01
    ctx = dict(
        holder=person(young, "resident"),
        bindings=[binding(beneficiary=young, relation="spouse")],
        owners=[SON],
    )
    before = assess(context(**ctx, today=datetime.date(2024, 5, 31)))  # type: ignore[arg-type]
    after = assess(context(**ctx, today=datetime.date(2024, 6, 1)))  # type: ignore[arg-type]
    assert before.warnings and not after.warnings
    assert not before.refusals and not after.refusals


def test_patient_who_did_not_ask_for_mutual_aid_draws_on_no_relative() -> None:
    # Seed 002 l.19: the patient tells the cashier to use the mutual-aid account.
    declined = purchase(PATIENT, use_mutual_aid=False)
    quote = assess(
        context(holder=MOTHER, buy=declined, bindings=[binding(status="pending")], owners=[SON])
    )
    assert quote.legs == () and quote.cash == quote.total
    assert not quote.refusals  # no sentence about a binding nobody asked for
    asked = assess(context(holder=MOTHER, bindings=[binding()], owners=[SON]))
    assert mutual_aid_paid(asked) == asked.total


def test_patient_who_declines_mutual_aid_still_pays_from_their_own_account() -> None:
    father = person(FATHER, balance=3_000)
    buy = purchase(FATHER, items=[drug(10_000)], use_mutual_aid=False)
    quote = assess(
        context(
            holder=father,
            buy=buy,
            bindings=[binding(owner=OWNER, beneficiary=FATHER, relation="parent")],
            owners=[SON],
        )
    )
    assert [(leg.source, int(leg.amount)) for leg in quote.legs] == [("own_account", 3_000)]
    assert quote.cash == 7_000
