"""Invariants 1-3 of DESIGN.md under every fault the mock injects: one key charges at
most once, nothing is lost, and the ledger is sound after each."""

from __future__ import annotations

import pytest

from gongji import Cash, Declined, Fen, InvalidInput, OutcomeUnknown, Unavailable
from gongji import clock as beijing
from gongji.flows import settle as settle_flows
from gongji.journal import EntryState
from gongji_mock import MockGateway
from tests.client.conftest import (
    ALIPAY_PAID,
    ALIPAY_POOR,
    MOTHER,
    SON,
    WECHAT_NEVER,
    WECHAT_PAID,
    WECHAT_PASSWORD,
    WECHAT_POOR,
    Till,
    drug,
    purchase,
)

CODEPAY = "/v3/pay/transactions/codepay"


def charged(mock: MockGateway) -> Fen:
    """What the customer paid in cash, across both channels, net of refunds."""
    return mock.wechatpay.collected() + mock.alipay.collected()


def standing_settlements(mock: MockGateway) -> int:
    ledger = mock.centre.ledger
    return sum(
        1
        for t in ledger.transactions
        if t.kind == "settle" and not ledger.is_reversed(t.settlement_id)
    )


def test_same_key_settles_once(till: Till, mock: MockGateway) -> None:
    first = till.settle(purchase(MOTHER), key="IDEM-0001", cash=Cash.wechat(WECHAT_PAID))
    again = till.settle(purchase(MOTHER), key="IDEM-0001", cash=Cash.wechat(WECHAT_PAID))
    assert again == first
    assert standing_settlements(mock) == 1 and charged(mock) == first.cash
    assert mock.check() == []


def test_same_key_for_another_purchase_is_refused(till: Till, mock: MockGateway) -> None:
    till.settle(purchase(MOTHER), key="IDEM-0002")
    with pytest.raises(InvalidInput, match="different purchase"):
        till.settle(purchase(MOTHER, drug(1_000)), key="IDEM-0002")
    assert standing_settlements(mock) == 1


@pytest.mark.parametrize("cash", [Cash.wechat(WECHAT_PAID), Cash.alipay(ALIPAY_PAID)])
def test_cash_share_is_the_centres_and_is_collected_once(
    till: Till, mock: MockGateway, cash: Cash
) -> None:
    receipt = till.settle(purchase(MOTHER), key="CASH-0001", cash=cash)
    assert receipt.cash == Fen(7_000) and charged(mock) == Fen(7_000)
    assert receipt.cash_channel == cash.kind and receipt.transaction_id


def test_password_pending_payment_is_polled_until_paid(till: Till, mock: MockGateway) -> None:
    receipt = till.settle(purchase(MOTHER), key="PW-0001", cash=Cash.wechat(WECHAT_PASSWORD))
    assert charged(mock) == receipt.cash == Fen(7_000)


@pytest.mark.parametrize(
    "cash", [Cash.wechat(WECHAT_NEVER), Cash.wechat(WECHAT_POOR), Cash.alipay(ALIPAY_POOR)]
)
def test_cash_failure_cancels_the_centres_settlement(
    till: Till, mock: MockGateway, cash: Cash
) -> None:
    with pytest.raises(Declined, match="nothing was charged"):
        till.settle(purchase(MOTHER), key="FAIL-0001", cash=cash)
    assert mock.balance(SON) == Fen(500_000)
    assert standing_settlements(mock) == 0 and charged(mock) == Fen(0)
    assert till.client.journal.get("FAIL-0001").state is EntryState.FAILED
    # The same key may be used again with a code that pays.
    receipt = till.settle(purchase(MOTHER), key="FAIL-0001", cash=Cash.wechat(WECHAT_PAID))
    assert standing_settlements(mock) == 1 and charged(mock) == receipt.cash
    assert mock.check() == []


@pytest.mark.parametrize(
    # (The national interface signs requests, not answers: there is no answer signature to spoil.)
    "fault",
    ["timeout_before_commit", "drop_after_commit", "error_5xx"],
)
def test_lost_answer_at_the_centre_is_reversed_never_resent(
    till: Till, mock: MockGateway, fault: str
) -> None:
    mock.faults.add(fault, target="national", code="2102", times=1)
    with pytest.raises(Unavailable, match="reversed"):
        till.settle(purchase(MOTHER), key="LOST-0001", cash=Cash.wechat(WECHAT_PAID))
    assert standing_settlements(mock) == 0 and mock.balance(SON) == Fen(500_000)
    assert charged(mock) == Fen(0)
    receipt = till.settle(purchase(MOTHER), key="LOST-0001", cash=Cash.wechat(WECHAT_PAID))
    assert standing_settlements(mock) == 1 and charged(mock) == receipt.cash
    assert mock.check() == []


@pytest.mark.parametrize(
    ("fault", "target", "code"),
    [
        ("timeout_before_commit", "wechatpay", CODEPAY),
        ("drop_after_commit", "wechatpay", CODEPAY),
        ("error_5xx", "wechatpay", CODEPAY),
        ("bad_signature", "wechatpay", CODEPAY),
        ("drop_after_commit", "alipay", "alipay.trade.pay"),
        ("bad_signature", "alipay", "alipay.trade.pay"),
    ],
)
def test_lost_answer_at_the_channel_is_queried_and_charged_once(
    till: Till, mock: MockGateway, fault: str, target: str, code: str
) -> None:
    mock.faults.add(fault, target=target, code=code, times=1)
    cash = Cash.wechat(WECHAT_PAID) if target == "wechatpay" else Cash.alipay(ALIPAY_PAID)
    receipt = till.settle(purchase(MOTHER), key="CH-0001", cash=cash)
    assert charged(mock) == receipt.cash == Fen(7_000)
    assert standing_settlements(mock) == 1 and mock.check() == []


def test_unreachable_channel_leaves_the_sale_in_doubt_until_recover(
    till: Till, mock: MockGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The order number is a digest of the sale's msgid: fixed here, to aim the fault at it.
    monkeypatch.setattr(settle_flows, "_out_trade_no", lambda setup, msgid: "DOUBT-0001-1")
    mock.faults.add("drop_after_commit", target="wechatpay", code=CODEPAY, times=1)
    query = "/v3/pay/transactions/out-trade-no/DOUBT-0001-1"
    mock.faults.add("timeout_before_commit", target="wechatpay", code=query, times=5)
    with pytest.raises(OutcomeUnknown) as raised:
        till.settle(purchase(MOTHER), key="DOUBT-0001", cash=Cash.wechat(WECHAT_PAID))
    assert raised.value.key == "DOUBT-0001"
    assert [e.key for e in till.client.journal.in_doubt()] == ["DOUBT-0001"]
    mock.faults.clear()
    resolved = till.recover()
    assert [e.state for e in resolved] == [EntryState.SETTLED]
    assert till.client.journal.in_doubt() == []
    assert charged(mock) == Fen(7_000) and standing_settlements(mock) == 1
    assert mock.check() == []


def test_duplicate_callbacks_verify_alike_and_charge_nothing_more(
    till: Till, mock: MockGateway
) -> None:
    mock.faults.add("duplicate_callback", target="alipay", code="callback")
    receipt = till.settle(purchase(MOTHER), key="CB-0001", cash=Cash.alipay(ALIPAY_PAID))
    channel = till.client.setup.channels["alipay"]
    notices = [
        channel.notification({"content-type": "application/x-www-form-urlencoded"}, n.body)
        for n in mock.alipay.notifications
    ]
    assert len(notices) == 2 and notices[0] == notices[1]
    assert notices[0].amount == receipt.cash
    again = till.settle(purchase(MOTHER), key="CB-0001", cash=Cash.alipay(ALIPAY_PAID))
    assert again == receipt and charged(mock) == receipt.cash and mock.check() == []


def test_out_of_order_refund_callbacks_still_verify(till: Till, mock: MockGateway) -> None:
    mock.faults.add("out_of_order_callbacks", target="wechatpay", code="callback")
    first = till.settle(purchase(MOTHER), key="OOO-0001", cash=Cash.wechat(WECHAT_PAID))
    second = till.settle(
        purchase(MOTHER, drug(80_000, coverage="C")), key="OOO-0002", cash=Cash.wechat(WECHAT_PAID)
    )
    till.refund(first.settlement_id)
    till.refund(second.settlement_id)
    channel = till.client.setup.channels["wechatpay"]
    notices = [channel.notification(n.headers, n.body) for n in mock.wechatpay.notifications]
    assert sorted(int(n.amount) for n in notices) == sorted([int(first.cash), int(second.cash)])
    assert charged(mock) == Fen(0) and mock.check() == []


def test_refund_gives_back_both_shares_once(till: Till, mock: MockGateway) -> None:
    receipt = till.settle(purchase(MOTHER), key="REF-0001", cash=Cash.wechat(WECHAT_PAID))
    till.refund(receipt.settlement_id)
    till.refund(receipt.settlement_id)  # asking twice gives back once
    assert mock.balance(SON) == Fen(500_000) and charged(mock) == Fen(0)
    assert standing_settlements(mock) == 0 and mock.check() == []


def test_cancel_reverses_the_payment_code_payment(till: Till, mock: MockGateway) -> None:
    receipt = till.settle(purchase(MOTHER), key="CAN-0001", cash=Cash.alipay(ALIPAY_PAID))
    till.cancel(receipt.settlement_id)
    assert mock.balance(SON) == Fen(500_000) and charged(mock) == Fen(0)
    assert till.client.journal.get("CAN-0001").state is EntryState.CANCELLED
    assert mock.check() == []


def test_reconcile_agrees_with_the_centre_after_sales_refunds_and_faults(
    till: Till, mock: MockGateway
) -> None:
    mock.faults.add("drop_after_commit", target="national", code="2102", times=1)
    with pytest.raises(Unavailable):
        till.settle(purchase(MOTHER), key="REC-0001", cash=Cash.wechat(WECHAT_PAID))
    kept = till.settle(purchase(MOTHER), key="REC-0001", cash=Cash.wechat(WECHAT_PAID))
    gone = till.settle(purchase(MOTHER, drug(9_000)), key="REC-0002", cash=Cash.counter())
    till.refund(gone.settlement_id)
    day = beijing.day(mock.centre.clock())
    report = till.reconcile(day)
    ours, theirs = report.journal, report.centre
    assert (ours.count, ours.total, ours.cash) == (1, kept.total, kept.cash)
    assert report.agreed is True and report.clean and report.discrepancies == ()
    assert (theirs.count, theirs.total, theirs.fund) == (ours.count, ours.total, ours.fund)
    # The centre states no mutual-aid or cash total (3201 and 3202 do not carry them).
    assert (theirs.own_account, theirs.mutual_aid, theirs.cash) == (ours.own_account, None, None)


def test_unreachable_centre_after_a_lost_settlement_is_reversed_by_recover(
    till: Till, mock: MockGateway
) -> None:
    mock.faults.add("drop_after_commit", target="national", code="2102", times=1)
    mock.faults.add("timeout_before_commit", target="national", code="2601", times=3)
    with pytest.raises(OutcomeUnknown):
        till.settle(purchase(MOTHER), key="DOUBT-0002", cash=Cash.wechat(WECHAT_PAID))
    assert standing_settlements(mock) == 1  # the centre did settle; nobody was asked for cash
    assert charged(mock) == Fen(0)
    mock.faults.clear()
    assert [e.state for e in till.recover()] == [EntryState.FAILED]
    assert standing_settlements(mock) == 0 and mock.balance(SON) == Fen(500_000)
    assert mock.check() == []
