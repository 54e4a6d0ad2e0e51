"""The adapter end to end against the in-process mock Alipay (real signing, real verification).

Test payment codes (docs/reference/mock-channels.md): 16 digits starting 28; the last
digit decides: 2 password then paid at the first query, 3 password never entered,
4 insufficient funds, 5 expired, anything else paid at once.
"""

from __future__ import annotations

import httpx
import pytest

from gongji.errors import ConfigError, Declined, InvalidInput
from gongji.gateways import CashOrder, PaymentChannel, PaymentState
from gongji.money import Fen
from gongji.signing.alipay import AlipaySigner
from gongji_alipay import AlipayChannel
from gongji_mock import MockGateway
from tests.adapters.alipay.conftest import code, new_rsa_key, run


def order(out_trade_no: str, auth_code: str, amount: int = 1250) -> CashOrder:
    return CashOrder(out_trade_no=out_trade_no, amount=Fen(amount), auth_code=auth_code)


def test_the_channel_is_a_payment_channel(channel: AlipayChannel) -> None:
    assert isinstance(channel, PaymentChannel)
    assert channel.name == "alipay"


def test_paid_code_is_paid_at_once_and_charged_once(
    channel: AlipayChannel, client: httpx.Client, mock: MockGateway
) -> None:
    payment = run(channel.charge(order("POS01-A001", code("1"))), client)
    assert payment.state is PaymentState.PAID
    assert payment.amount == Fen(1250)
    assert payment.transaction_id
    assert mock.alipay.collected() == Fen(1250)
    assert run(channel.query("POS01-A001"), client) == payment


def test_password_code_is_pending_then_paid_at_the_query(
    channel: AlipayChannel, client: httpx.Client, mock: MockGateway
) -> None:
    pending = run(channel.charge(order("POS01-A002", code("2"))), client)
    assert pending.state is PaymentState.PENDING
    assert mock.alipay.collected() == 0
    paid = run(channel.query("POS01-A002"), client)
    assert paid.state is PaymentState.PAID
    assert paid.amount == Fen(1250)
    assert paid.transaction_id == pending.transaction_id
    assert mock.alipay.collected() == Fen(1250)


def test_password_never_entered_stays_pending_and_reverse_closes_it_uncharged(
    channel: AlipayChannel, client: httpx.Client, mock: MockGateway
) -> None:
    assert run(channel.charge(order("POS01-A003", code("3"))), client).state is PaymentState.PENDING
    assert run(channel.query("POS01-A003"), client).state is PaymentState.PENDING
    reversed_ = run(channel.reverse("POS01-A003"), client)
    assert reversed_.state is PaymentState.CLOSED
    assert "nothing had been paid" in reversed_.reason
    assert run(channel.query("POS01-A003"), client).state is PaymentState.CLOSED
    assert run(channel.reverse("POS01-A003"), client).state is PaymentState.CLOSED  # idempotent
    assert mock.alipay.collected() == 0


def test_insufficient_funds_fails_with_the_reason_and_charges_nothing(
    channel: AlipayChannel, client: httpx.Client, mock: MockGateway
) -> None:
    payment = run(channel.charge(order("POS01-A004", code("4"))), client)
    assert payment.state is PaymentState.FAILED
    assert payment.amount == 0
    assert payment.reason.startswith("ACQ.BUYER_BALANCE_NOT_ENOUGH")
    assert code("4") not in payment.reason
    assert run(channel.query("POS01-A004"), client).state is PaymentState.CLOSED
    assert mock.alipay.collected() == 0


def test_expired_code_fails_and_no_trade_exists(
    channel: AlipayChannel, client: httpx.Client, mock: MockGateway
) -> None:
    payment = run(channel.charge(order("POS01-A005", code("5"))), client)
    assert payment.state is PaymentState.FAILED
    assert payment.reason.startswith("ACQ.PAYMENT_AUTH_CODE_INVALID")
    assert code("5") not in payment.reason
    assert run(channel.query("POS01-A005"), client).state is PaymentState.NOT_FOUND
    assert mock.alipay.collected() == 0


def test_query_of_a_trade_never_sent_is_not_found(
    channel: AlipayChannel, client: httpx.Client
) -> None:
    payment = run(channel.query("NEVER-SENT"), client)
    assert payment.state is PaymentState.NOT_FOUND
    assert payment.reason.startswith("ACQ.TRADE_NOT_EXIST")


def test_reverse_of_a_paid_trade_gives_the_money_back(
    channel: AlipayChannel, client: httpx.Client, mock: MockGateway
) -> None:
    run(channel.charge(order("POS01-A010", code("1"))), client)
    reversed_ = run(channel.reverse("POS01-A010"), client)
    assert reversed_.state is PaymentState.CLOSED
    assert "given back" in reversed_.reason
    assert mock.alipay.collected() == 0
    assert run(channel.query("POS01-A010"), client).state is PaymentState.CLOSED


def test_reverse_of_a_trade_that_never_arrived_bars_a_late_charge(
    channel: AlipayChannel, client: httpx.Client, mock: MockGateway
) -> None:
    assert run(channel.reverse("POS01-A011"), client).state is PaymentState.NOT_FOUND
    late = run(channel.charge(order("POS01-A011", code("1"))), client)
    assert late.state is PaymentState.CLOSED
    assert late.reason.startswith("ACQ.TRADE_HAS_CLOSE")
    assert mock.alipay.collected() == 0


def test_repeating_a_charge_with_the_same_out_trade_no_charges_once(
    channel: AlipayChannel, client: httpx.Client, mock: MockGateway
) -> None:
    first = run(channel.charge(order("POS01-A020", code("1"))), client)
    again = run(channel.charge(order("POS01-A020", code("1"))), client)
    assert again == first
    assert mock.alipay.collected() == Fen(1250)


def test_reusing_an_out_trade_no_for_another_payment_is_declined_and_charges_nothing_more(
    channel: AlipayChannel, client: httpx.Client, mock: MockGateway
) -> None:
    run(channel.charge(order("POS01-A021", code("1"))), client)
    with pytest.raises(Declined, match="out_trade_no POS01-A021 already names another payment"):
        run(channel.charge(order("POS01-A021", code("1"), amount=9999)), client)
    assert mock.alipay.collected() == Fen(1250)


def test_partial_refunds_then_the_rest_close_the_trade(
    channel: AlipayChannel, client: httpx.Client, mock: MockGateway
) -> None:
    run(channel.charge(order("POS01-A030", code("1"))), client)
    first = run(channel.refund("POS01-A030", "POS01-A030-R1", Fen(500), Fen(1250)), client)
    assert (first.state, first.amount, first.out_refund_no) == (
        "success",
        Fen(500),
        "POS01-A030-R1",
    )
    assert mock.alipay.collected() == Fen(750)
    second = run(channel.refund("POS01-A030", "POS01-A030-R2", Fen(750), Fen(1250)), client)
    assert second.state == "success"
    assert mock.alipay.collected() == 0
    assert run(channel.query("POS01-A030"), client).state is PaymentState.CLOSED


def test_repeating_a_refund_refunds_once_and_is_not_reported_as_a_second_success(
    channel: AlipayChannel, client: httpx.Client, mock: MockGateway
) -> None:
    run(channel.charge(order("POS01-A031", code("1"))), client)
    run(channel.refund("POS01-A031", "POS01-A031-R1", Fen(300), Fen(1250)), client)
    again = run(channel.refund("POS01-A031", "POS01-A031-R1", Fen(300), Fen(1250)), client)
    # fund_change N: Alipay moved no money on this request; only its refund query could say more.
    assert again.state == "processing"
    assert "fund_change N" in again.reason
    assert mock.alipay.collected() == Fen(950)


def test_reusing_an_out_refund_no_for_another_amount_is_declined(
    channel: AlipayChannel, client: httpx.Client, mock: MockGateway
) -> None:
    run(channel.charge(order("POS01-A032", code("1"))), client)
    run(channel.refund("POS01-A032", "POS01-A032-R1", Fen(300), Fen(1250)), client)
    with pytest.raises(Declined, match="out_refund_no POS01-A032-R1"):
        run(channel.refund("POS01-A032", "POS01-A032-R1", Fen(400), Fen(1250)), client)
    assert mock.alipay.collected() == Fen(950)


def test_refunds_the_channel_refuses_fail_with_alipay_s_reason(
    channel: AlipayChannel, client: httpx.Client, mock: MockGateway
) -> None:
    unknown = run(channel.refund("NEVER-SENT", "NEVER-SENT-R1", Fen(100), Fen(1250)), client)
    assert unknown.state == "failed"
    assert unknown.reason.startswith("ACQ.TRADE_NOT_EXIST")
    run(channel.charge(order("POS01-A033", code("3"))), client)
    unpaid = run(channel.refund("POS01-A033", "POS01-A033-R1", Fen(100), Fen(1250)), client)
    assert unpaid.reason.startswith("ACQ.TRADE_STATUS_ERROR")
    run(channel.charge(order("POS01-A034", code("1"))), client)
    run(channel.refund("POS01-A034", "POS01-A034-R1", Fen(1000), Fen(1250)), client)
    over = run(channel.refund("POS01-A034", "POS01-A034-R2", Fen(251), Fen(1250)), client)
    assert over.state == "failed"
    assert over.reason.startswith("ACQ.REFUND_AMT_NOT_EQUAL_TOTAL")
    assert mock.alipay.collected() == Fen(250)


@pytest.mark.parametrize(
    ("amount", "total"),
    [(Fen(0), Fen(1250)), (Fen(-1), Fen(1250)), (Fen(1251), Fen(1250))],
    ids=["zero", "negative", "above-total"],
)
def test_a_refund_that_cannot_be_right_is_refused_before_anything_is_sent(
    channel: AlipayChannel, amount: Fen, total: Fen
) -> None:
    with pytest.raises(InvalidInput, match="nothing was sent"):
        channel.refund("POS01-A035", "POS01-A035-R1", amount, total)


def test_a_channel_of_an_app_the_mock_does_not_know_is_told_to_check_its_app_id_and_key(
    mock: MockGateway, client: httpx.Client
) -> None:
    stranger = AlipayChannel(
        signer=AlipaySigner(app_id="2021999999999999", private_key=new_rsa_key()),
        verifier=mock.alipay.verifier(),
    )
    with pytest.raises(ConfigError, match="app_id") as raised:
        run(stranger.charge(order("POS01-A040", code("1"))), client)
    assert "isv.invalid-app-id" in str(raised.value)
    assert mock.alipay.collected() == 0
