"""The rules for a premium paid on behalf (``gongji.rules.premium``): the same plugins as a
sale decide, the payer's account alone pays, and the whole premium or nothing."""

from __future__ import annotations

import pytest

from gongji import Fen, KinshipViolation, LimitExceeded, UseViolation
from gongji.model import Binding, Person, Purpose
from gongji.policy import get_policy
from gongji.rules.premium import assess_premium, no_binding, premium_context, short_of_premium
from gongji.rules.quote import Quote
from tests.conftest import (
    FATHER,
    OWNER,
    OWNER_WIFE,
    PATIENT,
    TODAY,
    binding,
    person,
)

SON = person(OWNER, balance=50_000)
MOTHER = person(PATIENT, "resident")
# A flexibly employed father on employee insurance, with an account of his own.
FLEXIBLE_FATHER = person(FATHER, balance=90_000)


def verdict(
    *,
    insured: Person = MOTHER,
    payer: Person = SON,
    kind: Purpose = Purpose.RESIDENT_PREMIUM,
    amount: int = 38_000,
    bindings: tuple[Binding, ...] = (binding(),),
    policy: str = "liaoning-dalian-2025",
) -> Quote:
    context = premium_context(
        payer=payer,
        insured=insured,
        kind=kind,
        amount=Fen(amount),
        bindings=bindings,
        policy=get_policy(policy),
        today=TODAY,
    )
    return assess_premium(context)


def test_seed_000_the_sons_account_pays_his_mothers_resident_premium_whole() -> None:
    quote = verdict()
    assert [(leg.source, leg.payer_id, leg.amount) for leg in quote.legs] == [
        ("mutual_aid", OWNER, Fen(38_000))
    ]
    assert quote.cash == 0 and quote.fund == 0


def test_seed_000_l52_a_flexibly_employed_fathers_premium_is_paid_by_the_son_not_by_his_own_account() -> (
    None
):
    quote = verdict(
        insured=FLEXIBLE_FATHER,
        kind=Purpose.FLEXIBLE_EMPLOYMENT_PREMIUM,
        amount=45_000,
        bindings=(binding(beneficiary=FATHER),),
    )
    assert [(leg.payer_id, leg.amount) for leg in quote.legs] == [(OWNER, Fen(45_000))]


def test_r6_the_flexible_employment_premium_only_where_the_pack_allows_it() -> None:
    # national-2025 names resident premiums among the uses, not this one (seed 002 l.8).
    with pytest.raises(UseViolation, match="does not allow mutual aid"):
        verdict(
            insured=FLEXIBLE_FATHER,
            kind=Purpose.FLEXIBLE_EMPLOYMENT_PREMIUM,
            bindings=(binding(beneficiary=FATHER),),
            policy="national-2025",
        )


def test_r6_no_premium_of_any_kind_under_the_2021_pack() -> None:
    with pytest.raises(UseViolation):
        verdict(policy="legacy-2021")


def test_r5_only_the_payers_own_binding_counts() -> None:
    # The wife has no binding with the mother; the son's does not lend itself to her.
    with pytest.raises(KinshipViolation, match="no mutual-aid binding") as refused:
        verdict(payer=person(OWNER_WIFE, balance=80_000))
    assert refused.value.rule == "R5"
    with pytest.raises(KinshipViolation):
        verdict(bindings=(binding(status="pending"),))


def test_r8_a_limit_below_the_premium_refuses_it_rather_than_splitting_it() -> None:
    with pytest.raises(LimitExceeded, match="paid whole"):
        verdict(bindings=(binding(per_transaction_limit=Fen(30_000)),))
    with pytest.raises(LimitExceeded, match="paid whole"):
        verdict(payer=person(OWNER, balance=10_000))


# ---------------------------------------------------------------- issue 19: what a mutant changed


def test_the_rules_see_a_premium_as_one_line_for_the_insured_bought_by_the_payer() -> None:
    context = premium_context(
        payer=SON,
        insured=MOTHER,
        kind=Purpose.RESIDENT_PREMIUM,
        amount=Fen(38_000),
        bindings=(binding(), binding(owner=OWNER_WIFE)),
        policy=get_policy("liaoning-dalian-2025"),
        today=TODAY,
    )
    buy = context.purchase
    assert (buy.patient_id, buy.agent_id, buy.purpose) == (MOTHER.id, SON.id, "resident_premium")
    ((line,),) = [buy.items]
    assert (line.code, line.name, line.category, line.coverage, line.amount) == (
        "PREMIUM",
        "居民医保缴费",
        "premium",
        "C",
        Fen(38_000),
    )
    assert context.today == TODAY
    assert [b.owner for b in context.bindings] == [SON.id]  # the payer's binding alone
    assert context.holder.account is None  # on behalf: the insured's own account is left out


def test_r8_a_premium_the_account_cannot_cover_says_so_and_what_to_do_in_both_languages() -> None:
    with pytest.raises(LimitExceeded) as refused:
        verdict(payer=person(OWNER, balance=30_000))
    masked = SON.id.masked
    assert refused.value.message == (
        f"R8: The account of {masked} can pay ¥300.00 of the ¥380.00 for a "
        "resident-insurance premium, and a premium is paid whole."
    )
    assert refused.value.reason_zh == (
        f"{masked} 的账户只能支付 ¥380.00 中的 ¥300.00，居民医保缴费须一次足额缴纳。"
    )
    assert refused.value.next_step == (
        "Pay it from another relative's account, or to the collector directly "
        "(the tax app or counter); nothing was charged."
    )


def test_r5_a_payer_without_a_binding_is_told_so_in_both_languages() -> None:
    with pytest.raises(KinshipViolation) as refused:
        verdict(bindings=(), kind=Purpose.FLEXIBLE_EMPLOYMENT_PREMIUM, insured=FLEXIBLE_FATHER)
    payer, insured = SON.id.masked, FLEXIBLE_FATHER.id.masked
    assert refused.value.message == (
        f"R5: There is no mutual-aid binding between the payer {payer} and {insured}, so the "
        "payer's account cannot pay a flexibly employed worker's employee-insurance premium."
    )
    assert refused.value.reason_zh == (
        f"付款人 {payer} 与 {insured} 之间没有家庭共济绑定，"
        "不能用付款人的账户支付灵活就业人员职工医保缴费。"
    )


def test_the_premium_refusals_name_their_rules_r5_no_binding_and_r8_short() -> None:
    for kind in (Purpose.RESIDENT_PREMIUM, Purpose.FLEXIBLE_EMPLOYMENT_PREMIUM):
        assert no_binding(SON, MOTHER, kind).rule == "R5"
        assert short_of_premium(SON, Fen(38_000), Fen(30_000), kind).rule == "R8"
        assert short_of_premium(SON, Fen(38_000), Fen(30_000), kind).owner_id == SON.id
