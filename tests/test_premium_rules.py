"""The rules for a premium paid on behalf (``gongji.rules.premium``): the same plugins as a
sale decide, the payer's account alone pays, and the whole premium or nothing."""

from __future__ import annotations

import pytest

from gongji import Fen, KinshipViolation, LimitExceeded, UseViolation
from gongji.model import Binding, Person, Purpose
from gongji.policy import get_policy
from gongji.rules.premium import assess_premium, premium_context
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
