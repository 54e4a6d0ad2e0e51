"""Faults at the adapter level, injected by the mock (docs/reference/mock-faults.md).

What each proves for the calling flow: ``SignatureError``, ``Unavailable`` and a
transport error leave a write's outcome unknown, and the way out is a query (or
the same request again with the same key), never a new out_trade_no.
"""

from __future__ import annotations

import httpx
import pytest

from gongji.errors import SignatureError, Unavailable
from gongji.gateways import CashOrder, PaymentState
from gongji.money import Fen
from gongji_alipay import AlipayChannel
from gongji_mock import MockGateway
from tests.adapters.alipay.conftest import code, run


def order(out_trade_no: str) -> CashOrder:
    return CashOrder(out_trade_no=out_trade_no, amount=Fen(1250), auth_code=code("1"))


def test_bad_signature_on_pay_raises_signature_error_though_the_mock_committed(
    channel: AlipayChannel, client: httpx.Client, mock: MockGateway
) -> None:
    mock.faults.add("bad_signature", target="alipay", code="alipay.trade.pay", times=1)
    with pytest.raises(SignatureError):
        run(channel.charge(order("POS01-F001")), client)
    # The answer was not trusted, yet the payment went through: only a query can tell.
    assert mock.alipay.collected() == Fen(1250)
    assert run(channel.query("POS01-F001"), client).state is PaymentState.PAID


def test_bad_signature_on_query_raises_signature_error(
    channel: AlipayChannel, client: httpx.Client, mock: MockGateway
) -> None:
    run(channel.charge(order("POS01-F002")), client)
    mock.faults.add("bad_signature", target="alipay", code="alipay.trade.query", times=1)
    with pytest.raises(SignatureError):
        run(channel.query("POS01-F002"), client)
    assert mock.faults.injected["bad_signature"] == 1


def test_a_5xx_raises_unavailable_and_nothing_was_charged(
    channel: AlipayChannel, client: httpx.Client, mock: MockGateway
) -> None:
    mock.faults.add("error_5xx", target="alipay", times=1)
    with pytest.raises(Unavailable, match="HTTP 503") as raised:
        run(channel.charge(order("POS01-F003")), client)
    assert "query out_trade_no POS01-F003" in str(raised.value)
    assert run(channel.query("POS01-F003"), client).state is PaymentState.NOT_FOUND
    assert mock.alipay.collected() == 0


def test_a_5xx_on_refund_says_to_repeat_it_with_the_same_out_refund_no_which_refunds_once(
    channel: AlipayChannel, client: httpx.Client, mock: MockGateway
) -> None:
    run(channel.charge(order("POS01-F004")), client)
    mock.faults.add("error_5xx", target="alipay", code="alipay.trade.refund", times=1)
    with pytest.raises(Unavailable, match="same out_refund_no POS01-F004-R1"):
        run(channel.refund("POS01-F004", "POS01-F004-R1", Fen(500), Fen(1250)), client)
    refund = run(channel.refund("POS01-F004", "POS01-F004-R1", Fen(500), Fen(1250)), client)
    assert refund.state == "success"
    assert mock.alipay.collected() == Fen(750)


def test_timeout_before_commit_reaches_the_caller_and_the_trade_never_arrived(
    channel: AlipayChannel, client: httpx.Client, mock: MockGateway
) -> None:
    mock.faults.add("timeout_before_commit", target="alipay", times=1)
    with pytest.raises(httpx.ReadTimeout):
        run(channel.charge(order("POS01-F005")), client)
    assert run(channel.query("POS01-F005"), client).state is PaymentState.NOT_FOUND


def test_answer_lost_after_commit_is_resolved_by_query_and_a_repeat_charges_once(
    channel: AlipayChannel, client: httpx.Client, mock: MockGateway
) -> None:
    mock.faults.add("drop_after_commit", target="alipay", times=1)
    with pytest.raises(httpx.ReadTimeout):
        run(channel.charge(order("POS01-F006")), client)
    assert run(channel.query("POS01-F006"), client).state is PaymentState.PAID
    assert run(channel.charge(order("POS01-F006")), client).state is PaymentState.PAID
    assert mock.alipay.collected() == Fen(1250)
