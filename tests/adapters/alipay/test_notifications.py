"""Asynchronous notifications: verified with Alipay's public key before anything is decoded.

Alipay POSTs ``application/x-www-form-urlencoded`` parameters (``notify_id``,
``notify_type`` trade_status_sync, ``notify_time``, ``app_id``, ``out_trade_no``,
``trade_no``, ``trade_status``, amounts in yuan strings; ``out_biz_no`` and
``refund_fee`` for a refund) signed RSA2 over the sorted ``k=v&...`` without
``sign`` and ``sign_type``, and repeats an unacknowledged one for about 25 hours.
"""

from __future__ import annotations

import urllib.parse

import httpx
import pytest

from gongji.errors import GatewayError, SignatureError
from gongji.gateways import CashOrder, PaymentState
from gongji.money import Fen
from gongji.signing.alipay import AlipaySigner, AlipayVerifier, sign_notification
from gongji.signing.keys import RsaPrivateKey
from gongji_alipay import AlipayChannel
from gongji_mock import MockGateway
from tests.adapters.alipay.conftest import (
    APP_ID,
    FORM,
    NOTIFY_URL,
    FixedClock,
    code,
    new_rsa_key,
    run,
)


def order(out_trade_no: str, auth_code: str) -> CashOrder:
    return CashOrder(out_trade_no=out_trade_no, amount=Fen(1250), auth_code=auth_code)


def form(params: dict[str, str]) -> bytes:
    return urllib.parse.urlencode(params).encode()


def notice(**changes: str) -> dict[str, str]:
    """A paid trade's notification as Alipay sends it (before signing), 2026-11-23 09:00:00."""
    return {
        "notify_time": "2026-11-23 09:00:00",
        "notify_type": "trade_status_sync",
        "notify_id": "ac05099524730693a8b330c5ecf72da9786",
        "app_id": APP_ID,
        "charset": "utf-8",
        "version": "1.0",
        "trade_no": "2013112011001004330000121536",
        "out_trade_no": "20150320010101001",
        "seller_id": "2088102119685838",
        "trade_status": "TRADE_SUCCESS",
        "total_amount": "88.88",
        "receipt_amount": "88.88",
        "buyer_pay_amount": "88.88",
        "gmt_create": "2026-11-23 08:59:58",
        "gmt_payment": "2026-11-23 08:59:59",
        **changes,
    }


@pytest.fixture
def own(signer: AlipaySigner, verifier: AlipayVerifier, clock: FixedClock) -> AlipayChannel:
    """A channel for app APP_ID trusting ``alipay_key``, its clock at 2026-11-23 09:00:00."""
    return AlipayChannel(signer=signer, verifier=verifier, clock=clock)


# ---------------------------------------------------------------- from the mock's outbox


def test_paid_notification_from_the_mock_is_verified_and_decoded(
    channel: AlipayChannel, client: httpx.Client, mock: MockGateway
) -> None:
    payment = run(channel.charge(order("POS01-N001", code("1"))), client)
    [sent] = mock.alipay.notifications
    assert sent.url == NOTIFY_URL
    decoded = channel.notification(FORM, sent.body)
    assert decoded.out_trade_no == "POS01-N001"
    assert decoded.state is PaymentState.PAID
    assert decoded.amount == Fen(1250)
    assert decoded.transaction_id == payment.transaction_id
    assert decoded.event_id == sent.params["notify_id"]


def test_password_payment_is_notified_once_the_buyer_has_paid(
    channel: AlipayChannel, client: httpx.Client, mock: MockGateway
) -> None:
    run(channel.charge(order("POS01-N002", code("2"))), client)
    assert list(mock.alipay.notifications) == []
    run(channel.query("POS01-N002"), client)
    [sent] = mock.alipay.notifications
    assert channel.notification(FORM, sent.body).state is PaymentState.PAID


def test_refund_and_cancel_notifications_decode_to_refunded_and_closed(
    channel: AlipayChannel, client: httpx.Client, mock: MockGateway
) -> None:
    run(channel.charge(order("POS01-N003", code("1"))), client)
    run(channel.refund("POS01-N003", "POS01-N003-R1", Fen(250), Fen(1250)), client)
    run(channel.charge(order("POS01-N004", code("3"))), client)
    run(channel.reverse("POS01-N004"), client)
    paid, refunded, closed = (channel.notification(FORM, n.body) for n in mock.alipay.notifications)
    assert paid.state is PaymentState.PAID
    assert (refunded.out_trade_no, refunded.state, refunded.amount) == (
        "POS01-N003",
        PaymentState.REFUNDED,
        Fen(250),
    )
    assert (closed.out_trade_no, closed.state, closed.amount) == (
        "POS01-N004",
        PaymentState.CLOSED,
        Fen(0),
    )


def test_a_notification_delivered_twice_carries_one_event_id(
    channel: AlipayChannel, client: httpx.Client, mock: MockGateway
) -> None:
    mock.faults.add("duplicate_callback", target="alipay", times=1)
    run(channel.charge(order("POS01-N005", code("1"))), client)
    first, second = (channel.notification(FORM, n.body) for n in mock.alipay.notifications)
    assert first == second
    assert first.event_id  # what a handler deduplicates on


def test_a_forged_notification_is_refused_with_signature_error(
    channel: AlipayChannel, client: httpx.Client, mock: MockGateway
) -> None:
    run(channel.charge(order("POS01-N006", code("1"))), client)
    [sent] = mock.alipay.notifications
    forged = form({**sent.params, "total_amount": "0.01"})
    with pytest.raises(SignatureError, match="did not verify"):
        channel.notification(FORM, forged)


# ---------------------------------------------------------------- signatures, before decoding


def test_a_notification_signed_by_another_key_is_refused(own: AlipayChannel) -> None:
    with pytest.raises(SignatureError):
        own.notification(FORM, form(sign_notification(new_rsa_key(), notice())))


def test_an_unsigned_notification_is_refused(own: AlipayChannel) -> None:
    with pytest.raises(SignatureError, match="carries no sign"):
        own.notification(FORM, form(notice()))


def test_nothing_is_decoded_before_the_signature_verifies(
    own: AlipayChannel, alipay_key: RsaPrivateKey
) -> None:
    # Unreadable content with a spoiled sign: refused as untrusted, not as unreadable.
    params = sign_notification(alipay_key, notice(total_amount="not money"))
    params["sign"] = (
        "A" + params["sign"][1:] if params["sign"][0] != "A" else "B" + params["sign"][1:]
    )
    with pytest.raises(SignatureError):
        own.notification(FORM, form(params))
    # The same content genuinely signed is trusted, then refused as unreadable.
    with pytest.raises(GatewayError, match="not money") as raised:
        own.notification(
            FORM, form(sign_notification(alipay_key, notice(total_amount="not money")))
        )
    assert not isinstance(raised.value, SignatureError)


def test_a_genuine_notification_for_another_app_is_refused(
    own: AlipayChannel, alipay_key: RsaPrivateKey
) -> None:
    with pytest.raises(SignatureError, match="2021000000000009"):
        own.notification(
            FORM, form(sign_notification(alipay_key, notice(app_id="2021000000000009")))
        )


def test_a_notification_that_is_not_a_form_is_refused(
    own: AlipayChannel, alipay_key: RsaPrivateKey
) -> None:
    body = form(sign_notification(alipay_key, notice()))
    with pytest.raises(SignatureError, match="application/json"):
        own.notification({"content-type": "application/json"}, body)


@pytest.mark.parametrize(
    ("notify_time", "trusted"),
    [
        ("2026-11-23 09:00:00", True),
        ("2026-11-22 08:00:00", True),  # 25 hours: Alipay is still repeating it
        ("2026-11-22 06:59:59", False),  # 26 hours and a second: older than the window
        ("2026-11-23 09:04:59", True),
        ("2026-11-23 09:05:01", False),  # from the future, beyond the tolerance
    ],
)
def test_notify_time_outside_the_window_is_refused_as_a_replay(
    own: AlipayChannel, alipay_key: RsaPrivateKey, notify_time: str, trusted: bool
) -> None:
    body = form(sign_notification(alipay_key, notice(notify_time=notify_time)))
    if trusted:
        assert own.notification(FORM, body).state is PaymentState.PAID
    else:
        with pytest.raises(SignatureError, match="outside the window"):
            own.notification(FORM, body)


def test_a_refund_notification_reports_the_refunds_so_far(
    own: AlipayChannel, alipay_key: RsaPrivateKey
) -> None:
    params = notice(
        out_biz_no="HZ01RF001", refund_fee="20.00", gmt_refund="2026-11-23 08:59:59.000"
    )
    decoded = own.notification(FORM, form(sign_notification(alipay_key, params)))
    assert decoded.state is PaymentState.REFUNDED
    assert decoded.amount == Fen(2000)


def test_a_notification_amount_with_three_decimals_is_refused_not_rounded(
    own: AlipayChannel, alipay_key: RsaPrivateKey
) -> None:
    body = form(sign_notification(alipay_key, notice(total_amount="88.885")))
    with pytest.raises(GatewayError, match="more than two decimals"):
        own.notification(FORM, body)
