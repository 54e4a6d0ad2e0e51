"""The mock centre decides on its own data: a client that skips the local rules still cannot
impersonate, overdraw, exceed a limit, use a pending binding, or replay a token."""

from __future__ import annotations

import datetime
from collections.abc import Sequence

import pluggy
import pytest

import gongji_mock.centre.decisions
from gongji import Credential, Fen, LineItem, Purchase
from gongji.clock import BEIJING
from gongji.hookspecs import hookimpl
from gongji.model import Refusal
from gongji.plugins import get_plugin_manager
from gongji.rules.assess import assess
from gongji.rules.context import CheckContext
from gongji.rules.quote import Quote
from gongji_mock.centre.dataset import demo_dataset
from gongji_mock.centre.decisions import Centre, CentreRefusal

SON = "210202198503170036"
MOTHER = "210202195809120046"
FATHER = "210202195601010112"
DAUGHTER = "210202201506010227"
SISTER = "210502198802200422"
WIFE = "210202198605050289"
NOW = datetime.datetime(2026, 11, 23, 9, 0, tzinfo=BEIJING)


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime.datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def centre(clock: Clock) -> Centre:
    return Centre(demo_dataset(), clock=clock)


def drug(yuan: str, quantity: int = 1, **kwargs: str) -> LineItem:
    return LineItem(
        code="X01", name="药", unit_price=Fen.from_yuan(yuan), quantity=quantity, **kwargs
    )  # type: ignore[arg-type]


def buy(credential: Credential, *items: LineItem, **kwargs: object) -> Purchase:
    kwargs.setdefault("use_mutual_aid", True)  # the patient asks for mutual aid
    return Purchase(credential=credential, items=list(items or [drug("100.00")]), **kwargs)  # type: ignore[arg-type]


def test_mutual_aid_settlement_debits_the_sons_ledger_account(centre: Centre) -> None:
    before = centre.ledger.balance(SON)
    settled = centre.settle(buy(Credential.id_card(MOTHER)), msgid="M1")
    (leg,) = settled.quote.legs
    assert leg.payer_id == SON
    assert centre.ledger.balance(SON) == before - leg.amount
    assert centre.ledger.check() == []


def test_impersonation_is_refused_by_the_centre_and_nothing_is_posted(centre: Centre) -> None:
    with pytest.raises(CentreRefusal) as caught:
        centre.settle(buy(Credential.id_card(SON), patient_id=MOTHER), msgid="M1")
    assert caught.value.rule == "R1"
    assert "冒名" in caught.value.err_msg
    assert centre.ledger.transactions == ()


def test_per_transaction_limit_holds_whatever_the_client_asks(centre: Centre) -> None:
    settled = centre.settle(buy(Credential.id_card(MOTHER), drug("1200.00")), msgid="M1")
    son_leg = next(leg for leg in settled.quote.legs if leg.payer_id == SON)
    assert son_leg.amount == Fen(40_000)
    assert settled.quote.cash > 0


def test_no_account_is_ever_overdrawn(centre: Centre) -> None:
    for n in range(8):
        centre.settle(buy(Credential.id_card(MOTHER), drug("700.00")), msgid=f"M{n}")
    assert centre.ledger.balance(SISTER) == 0
    assert centre.ledger.balance(SON) >= 0
    assert centre.ledger.check() == []


def test_pending_binding_never_pays(centre: Centre) -> None:
    wife_before = centre.ledger.balance(WIFE)
    settled = centre.settle(buy(Credential.id_card(DAUGHTER), drug("50.00")), msgid="M1")
    assert all(leg.payer_id != WIFE for leg in settled.quote.legs)
    assert centre.ledger.balance(WIFE) == wife_before


def test_issued_e_voucher_cannot_be_replayed_after_settlement(centre: Centre) -> None:
    token = centre.issue_e_voucher(MOTHER)
    centre.settle(buy(Credential.e_voucher(token)), msgid="M1")
    with pytest.raises(CentreRefusal, match="already used"):
        centre.settle(buy(Credential.e_voucher(token)), msgid="M2")
    assert len(centre.ledger.transactions) == 1


def test_issued_e_voucher_expires_after_five_minutes(centre: Centre, clock: Clock) -> None:
    token = centre.issue_e_voucher(MOTHER)
    clock.now = NOW + datetime.timedelta(seconds=299)
    assert centre.resolve(Credential.e_voucher(token)).id == MOTHER
    clock.now = NOW + datetime.timedelta(seconds=300)
    with pytest.raises(CentreRefusal, match="expired"):
        centre.resolve(Credential.e_voucher(token))


def test_unknown_token_is_refused(centre: Centre) -> None:
    with pytest.raises(CentreRefusal, match="not valid"):
        centre.resolve(Credential.e_voucher("forged-token"))


def test_cancel_restores_balances_and_year_counters_and_is_idempotent(centre: Centre) -> None:
    purchase = buy(Credential.id_card(FATHER), drug("300.00"))
    first = centre.settle(purchase, msgid="M1")
    centre.cancel(first.setl_id)
    centre.cancel(first.setl_id)
    assert centre.ledger.balance(FATHER) == Fen(12_000)
    again = centre.settle(purchase, msgid="M2")
    assert again.quote.fund == first.quote.fund  # the deductible was given back
    assert centre.settlements_on(NOW.date()) == [again]
    assert centre.ledger.check() == []


def test_deductible_is_consumed_across_the_year(centre: Centre) -> None:
    # The demo pack's (illustrative) employee outpatient share: 200 yuan deductible, then 50%.
    visit = {"setting": "outpatient"}
    first = centre.settle(buy(Credential.id_card(FATHER), drug("150.00"), **visit), msgid="M1")
    second = centre.settle(buy(Credential.id_card(FATHER), drug("150.00"), **visit), msgid="M2")
    assert first.quote.fund == 0
    assert second.quote.fund == Fen(5_000)  # (300 - 200) x 50%


def test_a_resident_premium_is_not_a_sale_at_the_centre(centre: Centre) -> None:
    # The premium goes to the collector (gongji_mock.premium), never into a 2102.
    premium = LineItem(
        code="PREM",
        name="居民医保缴费",
        unit_price=Fen(38_000),
        quantity=1,
        category="premium",
        coverage="C",
    )
    for settle in (centre.decide, lambda p: centre.settle(p, msgid="M1")):
        with pytest.raises(CentreRefusal, match="premium channel") as caught:
            settle(buy(Credential.id_card(MOTHER), premium, purpose="resident_premium"))
        assert caught.value.rule == "R6"
    assert centre.ledger.check() == [] and centre.ledger.transactions == ()


# The settlement (2102) reuses its pre-settlement's (2101) decision only when everything the
# rules read is unchanged; these prove that the centre still decides on current data otherwise.
# Class C lines: the fund pays nothing, so the accounts and cash share the whole basket.


@pytest.fixture
def assessed(monkeypatch: pytest.MonkeyPatch) -> list[Quote]:
    """Every quote the centre's rules computed."""
    quotes: list[Quote] = []

    def counted(context: CheckContext, plugins: pluggy.PluginManager) -> Quote:
        quotes.append(assess(context, plugins))
        return quotes[-1]

    monkeypatch.setattr(gongji_mock.centre.decisions, "assess", counted)
    return quotes


def test_settlement_on_unchanged_data_reuses_the_pre_settlement(
    centre: Centre, assessed: list[Quote]
) -> None:
    purchase = buy(Credential.id_card(MOTHER), drug("100.00", coverage="C"))
    quote = centre.decide(purchase)
    settled = centre.settle(purchase, msgid="M1")
    assert settled.quote == quote and len(assessed) == 1
    assert centre.ledger.balance(SON) == Fen(500_000) - Fen(10_000)


def test_settlement_after_a_balance_changed_decides_again_and_never_overdraws(
    centre: Centre, assessed: list[Quote]
) -> None:
    purchase = buy(Credential.id_card(MOTHER), drug("700.00", coverage="C"))
    quote = centre.decide(purchase)
    assert sum((leg.amount for leg in quote.legs), Fen(0)) == Fen(43_000)  # son 400 + sister 30
    centre.settle(
        buy(Credential.id_card(MOTHER), drug("430.00", coverage="C")), msgid="M0"
    )  # drains the sister
    settled = centre.settle(purchase, msgid="M1")
    assert len(assessed) == 3  # the second settlement's own, then this one's again
    assert [leg.payer_id for leg in settled.quote.legs] == [SON]
    assert centre.ledger.balance(SISTER) == 0 and centre.ledger.check() == []


def test_settlement_after_the_year_counters_changed_decides_again(centre: Centre) -> None:
    purchase = buy(Credential.id_card(FATHER), drug("150.00"), setting="outpatient")
    assert centre.decide(purchase).fund == 0  # within the 200-yuan deductible
    centre.settle(buy(Credential.id_card(FATHER), drug("160.00"), setting="outpatient"), msgid="M0")
    assert centre.settle(purchase, msgid="M1").quote.fund == Fen(5_500)  # (310 - 200) x 50%


def test_settlement_with_a_token_used_since_the_pre_settlement_is_refused(centre: Centre) -> None:
    token = centre.issue_e_voucher(MOTHER)
    purchase = buy(Credential.e_voucher(token))
    centre.decide(purchase)
    centre.settle(buy(Credential.e_voucher(token), drug("10.00")), msgid="M0")
    with pytest.raises(CentreRefusal, match="already used"):
        centre.settle(purchase, msgid="M1")
    assert len(centre.ledger.transactions) == 1


def test_settlement_with_a_token_expired_since_the_pre_settlement_is_refused(
    centre: Centre, clock: Clock
) -> None:
    token = centre.issue_e_voucher(MOTHER)
    purchase = buy(Credential.e_voucher(token))
    centre.decide(purchase)
    clock.now = NOW + datetime.timedelta(seconds=300)
    with pytest.raises(CentreRefusal, match="expired"):
        centre.settle(purchase, msgid="M1")
    assert centre.ledger.transactions == ()


class _NoMutualAid:
    @hookimpl
    def gongji_check(self, context: CheckContext) -> Sequence[Refusal] | None:
        return [
            Refusal(rule="LOCAL-1", reason="Closed.", owner_id=b.owner) for b in context.bindings
        ]


def test_settlement_after_a_rule_was_registered_on_the_centre_obeys_it(centre: Centre) -> None:
    purchase = buy(Credential.id_card(MOTHER), drug("100.00", coverage="C"))
    assert centre.decide(purchase).legs
    centre.rules.register(_NoMutualAid())
    settled = centre.settle(purchase, msgid="M1")
    assert settled.quote.legs == () and settled.quote.cash == Fen(10_000)
    assert centre.ledger.balance(SON) == Fen(500_000)


def test_a_rule_registered_at_the_till_does_not_change_the_centre(centre: Centre) -> None:
    purchase = buy(Credential.id_card(MOTHER), drug("100.00", coverage="C"))
    till_rule = _NoMutualAid()
    get_plugin_manager().register(till_rule)
    try:
        settled = centre.settle(purchase, msgid="M1")
    finally:
        get_plugin_manager().unregister(till_rule)
    assert settled.quote.legs and not settled.quote.refusals
