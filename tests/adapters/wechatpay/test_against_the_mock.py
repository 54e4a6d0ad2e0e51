"""The WeChat Pay channel end to end against the in-process mock gateway: its real signing and
parsing, the mock's documented test payment codes (docs/reference/mock-channels.md: the last
digit decides: 2 password then paid at the query, 3 password never entered, 4 insufficient
funds, 5 expired, anything else paid), callbacks from the mock's outbox, and its faults
(docs/reference/mock-faults.md).
"""

from __future__ import annotations

import httpx
import pytest

from gongji.errors import Declined, SignatureError, Unavailable
from gongji.gateways import CashOrder, PaymentChannel, PaymentState
from gongji.money import Fen
from gongji.signing.wechatpay import platform_headers
from gongji_mock import MockGateway, testkeys
from gongji_mock.wechatpay.endpoint import PLATFORM_KEY_ID
from gongji_wechatpay import WechatPayChannel
from tests.adapters.wechatpay.conftest import code, run_flow

CODEPAY_PATH = "/v3/pay/transactions/codepay"


def order(out_trade_no: str, last: str, amount: int = 1250) -> CashOrder:
    return CashOrder(out_trade_no=out_trade_no, amount=Fen(amount), auth_code=code(last))


def test_the_channel_is_a_payment_channel_with_its_capabilities(channel: WechatPayChannel) -> None:
    assert isinstance(channel, PaymentChannel)
    assert channel.name == "wechatpay"
    assert {cap.value for cap in channel.capabilities} == {
        "code_payment",
        "query",
        "reverse",
        "refund",
        "notify",
        "med_ins_order",
    }


# ---------------------------------------------------------------- the test payment codes


def test_a_paid_code_is_paid_with_its_transaction_id_and_charged_once(
    channel: WechatPayChannel, client: httpx.Client, mock: MockGateway
) -> None:
    payment = run_flow(channel.charge(order("POS01-0001", "1")), client)
    assert payment.state is PaymentState.PAID
    assert payment.amount == Fen(1250)
    assert payment.transaction_id.startswith("42000")
    assert mock.wechatpay.collected() == Fen(1250)
    queried = run_flow(channel.query("POS01-0001"), client)
    assert queried.state is PaymentState.PAID
    assert queried.transaction_id == payment.transaction_id


def test_a_password_code_is_pending_then_paid_at_the_query(
    channel: WechatPayChannel, client: httpx.Client, mock: MockGateway
) -> None:
    payment = run_flow(channel.charge(order("POS01-0002", "2")), client)
    assert payment.state is PaymentState.PENDING
    assert mock.wechatpay.collected() == 0
    queried = run_flow(channel.query("POS01-0002"), client)
    assert queried.state is PaymentState.PAID
    assert queried.amount == Fen(1250)
    assert mock.wechatpay.collected() == Fen(1250)


def test_a_password_never_entered_stays_pending_and_reverse_closes_it_uncharged(
    channel: WechatPayChannel, client: httpx.Client, mock: MockGateway
) -> None:
    assert run_flow(channel.charge(order("POS01-0003", "3")), client).state is PaymentState.PENDING
    assert run_flow(channel.query("POS01-0003"), client).state is PaymentState.PENDING
    reversed_ = run_flow(channel.reverse("POS01-0003"), client)
    assert reversed_.state is PaymentState.CLOSED
    assert run_flow(channel.query("POS01-0003"), client).state is PaymentState.CLOSED
    assert mock.wechatpay.collected() == 0


def test_insufficient_funds_fail_with_the_channels_reason_and_charge_nothing(
    channel: WechatPayChannel, client: httpx.Client, mock: MockGateway
) -> None:
    payment = run_flow(channel.charge(order("POS01-0004", "4")), client)
    assert payment.state is PaymentState.FAILED
    assert payment.reason.startswith("NOT_ENOUGH:")
    assert run_flow(channel.query("POS01-0004"), client).state is PaymentState.FAILED
    assert mock.wechatpay.collected() == 0


def test_an_expired_code_fails_and_creates_no_order(
    channel: WechatPayChannel, client: httpx.Client, mock: MockGateway
) -> None:
    payment = run_flow(channel.charge(order("POS01-0005", "5")), client)
    assert payment.state is PaymentState.FAILED
    assert payment.reason.startswith("PARAM_ERROR:")
    assert "过期" in payment.reason
    assert code("5") not in payment.reason
    assert run_flow(channel.query("POS01-0005"), client).state is PaymentState.NOT_FOUND
    assert mock.wechatpay.collected() == 0


def test_an_order_never_sent_is_not_found(channel: WechatPayChannel, client: httpx.Client) -> None:
    assert run_flow(channel.query("NEVER-SENT"), client).state is PaymentState.NOT_FOUND


# ---------------------------------------------------------------- idempotency


def test_the_same_out_trade_no_charged_again_is_the_same_trade_charged_once(
    channel: WechatPayChannel, client: httpx.Client, mock: MockGateway
) -> None:
    first = run_flow(channel.charge(order("POS01-0010", "1")), client)
    again = run_flow(channel.charge(order("POS01-0010", "1")), client)
    assert again.state is PaymentState.PAID
    assert again.transaction_id == first.transaction_id
    assert mock.wechatpay.collected() == Fen(1250)


def test_the_same_out_trade_no_with_another_amount_is_declined_and_charges_nothing_more(
    channel: WechatPayChannel, client: httpx.Client, mock: MockGateway
) -> None:
    run_flow(channel.charge(order("POS01-0011", "1")), client)
    with pytest.raises(Declined) as caught:
        run_flow(channel.charge(order("POS01-0011", "1", amount=9999)), client)
    assert caught.value.infcode == "OUT_TRADE_NO_USED"
    assert mock.wechatpay.collected() == Fen(1250)


# ---------------------------------------------------------------- reverse


def test_reverse_of_a_paid_trade_gives_the_money_back_and_is_idempotent(
    channel: WechatPayChannel, client: httpx.Client, mock: MockGateway
) -> None:
    run_flow(channel.charge(order("POS01-0020", "1")), client)
    assert run_flow(channel.reverse("POS01-0020"), client).state is PaymentState.CLOSED
    assert run_flow(channel.reverse("POS01-0020"), client).state is PaymentState.CLOSED
    assert run_flow(channel.query("POS01-0020"), client).state is PaymentState.CLOSED
    assert mock.wechatpay.collected() == 0


def test_reverse_of_an_order_never_received_is_not_found_and_bars_a_late_payment(
    channel: WechatPayChannel, client: httpx.Client, mock: MockGateway
) -> None:
    assert run_flow(channel.reverse("POS01-0021"), client).state is PaymentState.NOT_FOUND
    with pytest.raises(Declined) as caught:
        run_flow(channel.charge(order("POS01-0021", "1")), client)
    assert caught.value.infcode == "OUT_TRADE_NO_USED"
    assert mock.wechatpay.collected() == 0


# ---------------------------------------------------------------- refunds


def test_partial_refunds_and_their_status_and_one_over_what_is_left_fails(
    channel: WechatPayChannel, client: httpx.Client, mock: MockGateway
) -> None:
    run_flow(channel.charge(order("POS01-0030", "1")), client)
    first = run_flow(channel.refund("POS01-0030", "R-0030-1", Fen(500), Fen(1250)), client)
    assert (first.state, first.amount, first.out_trade_no) == ("success", Fen(500), "POS01-0030")
    assert first.refund_id
    status = run_flow(channel.refund_status("R-0030-1"), client)
    assert status == first
    rest = run_flow(channel.refund("POS01-0030", "R-0030-2", Fen(750), Fen(1250)), client)
    assert rest.state == "success"
    assert mock.wechatpay.collected() == 0
    over = run_flow(channel.refund("POS01-0030", "R-0030-3", Fen(1), Fen(1250)), client)
    assert over.state == "failed"
    assert over.reason.startswith("INVALID_REQUEST:")
    assert run_flow(channel.query("POS01-0030"), client).state is PaymentState.REFUNDED


def test_the_same_out_refund_no_refunds_once(
    channel: WechatPayChannel, client: httpx.Client, mock: MockGateway
) -> None:
    run_flow(channel.charge(order("POS01-0031", "1")), client)
    first = run_flow(channel.refund("POS01-0031", "R-0031", Fen(300), Fen(1250)), client)
    again = run_flow(channel.refund("POS01-0031", "R-0031", Fen(300), Fen(1250)), client)
    assert again.refund_id == first.refund_id
    assert mock.wechatpay.collected() == Fen(950)


def test_refund_status_of_an_unknown_refund_is_failed_not_found(
    channel: WechatPayChannel, client: httpx.Client
) -> None:
    refund = run_flow(channel.refund_status("R-NONE"), client)
    assert refund.state == "failed"
    assert refund.reason.startswith("RESOURCE_NOT_EXISTS:")
    assert refund.amount == 0


def test_a_refund_of_an_unpaid_order_fails_and_refunds_nothing(
    channel: WechatPayChannel, client: httpx.Client, mock: MockGateway
) -> None:
    run_flow(channel.charge(order("POS01-0032", "3")), client)  # waiting for the password
    refund = run_flow(channel.refund("POS01-0032", "R-0032", Fen(100), Fen(1250)), client)
    assert refund.state == "failed"
    assert mock.wechatpay.collected() == 0


# ---------------------------------------------------------------- callbacks


def test_a_refund_callback_from_the_outbox_is_verified_decrypted_and_mapped(
    channel: WechatPayChannel, client: httpx.Client, mock: MockGateway
) -> None:
    run_flow(channel.charge(order("POS01-0040", "1")), client)
    refund = run_flow(channel.refund("POS01-0040", "R-0040", Fen(400), Fen(1250)), client)
    [callback] = mock.wechatpay.notifications
    assert callback.url == "https://pos.example/wechat/refund"  # the channel's refund_notify_url
    notice = channel.notification(callback.headers, callback.body)
    assert notice.out_trade_no == "POS01-0040"
    assert notice.state is PaymentState.REFUNDED
    assert notice.amount == refund.amount == Fen(400)
    assert notice.event_id


def test_a_forged_callback_is_refused_with_signature_error(
    channel: WechatPayChannel, client: httpx.Client, mock: MockGateway
) -> None:
    run_flow(channel.charge(order("POS01-0041", "1")), client)
    run_flow(channel.refund("POS01-0041", "R-0041", Fen(400), Fen(1250)), client)
    [callback] = mock.wechatpay.notifications
    altered = callback.body.replace(
        b'"event_type":"REFUND.SUCCESS"', b'"event_type":"REFUND.CLOSED"'
    )
    assert altered != callback.body
    with pytest.raises(SignatureError, match="did not verify"):
        channel.notification(callback.headers, altered)
    # Signed by a key that is not the mock's platform key, under its key ID:
    stranger = testkeys.test_rsa_key("adapter-wechatpay-forger")
    headers = platform_headers(
        stranger,
        callback.body,
        serial=PLATFORM_KEY_ID,
        timestamp=int(callback.headers["Wechatpay-Timestamp"]),
    )
    with pytest.raises(SignatureError):
        channel.notification(headers, callback.body)
    # The genuine one still opens: the forgeries burned nothing.
    assert channel.notification(callback.headers, callback.body).state is PaymentState.REFUNDED


def test_a_callback_delivered_twice_is_accepted_once(
    channel: WechatPayChannel, client: httpx.Client, mock: MockGateway
) -> None:
    mock.faults.add("duplicate_callback", target="wechatpay", code="callback", times=1)
    run_flow(channel.charge(order("POS01-0042", "1")), client)
    run_flow(channel.refund("POS01-0042", "R-0042", Fen(1250), Fen(1250)), client)
    first, second = mock.wechatpay.notifications
    assert channel.notification(first.headers, first.body).state is PaymentState.REFUNDED
    with pytest.raises(SignatureError, match="replayed"):
        channel.notification(second.headers, second.body)


def test_a_callback_sealed_under_another_apiv3_key_is_refused(
    mock: MockGateway, client: httpx.Client, channel: WechatPayChannel
) -> None:
    run_flow(channel.charge(order("POS01-0043", "1")), client)
    run_flow(channel.refund("POS01-0043", "R-0043", Fen(100), Fen(1250)), client)
    [callback] = mock.wechatpay.notifications
    other = WechatPayChannel(
        merchant=mock.wechatpay.merchant,
        platform=mock.wechatpay.platform_keys(),
        apiv3_key="X" * 32,
        appid=mock.wechatpay.appid,
    )
    with pytest.raises(SignatureError, match="did not decrypt"):
        other.notification(callback.headers, callback.body)


# ---------------------------------------------------------------- faults


def test_a_spoiled_response_signature_raises_signature_error_though_the_mock_committed(
    channel: WechatPayChannel, client: httpx.Client, mock: MockGateway
) -> None:
    mock.faults.add("bad_signature", target="wechatpay", code=CODEPAY_PATH, times=1)
    with pytest.raises(SignatureError):
        run_flow(channel.charge(order("POS01-0050", "1")), client)
    # Nothing was trusted; the caller asks again, and the query (well signed) tells the truth.
    assert run_flow(channel.query("POS01-0050"), client).state is PaymentState.PAID


def test_a_5xx_raises_unavailable_and_nothing_is_charged(
    channel: WechatPayChannel, client: httpx.Client, mock: MockGateway
) -> None:
    mock.faults.add("error_5xx", target="wechatpay", code=CODEPAY_PATH, times=1)
    with pytest.raises(Unavailable) as caught:
        run_flow(channel.charge(order("POS01-0051", "1")), client)
    assert "POS01-0051" in caught.value.next_step
    assert mock.wechatpay.collected() == 0
    assert run_flow(channel.query("POS01-0051"), client).state is PaymentState.NOT_FOUND


def test_a_lost_answer_reaches_the_caller_as_a_transport_error_and_the_query_finds_the_payment(
    channel: WechatPayChannel, client: httpx.Client, mock: MockGateway
) -> None:
    mock.faults.add("drop_after_commit", target="wechatpay", code=CODEPAY_PATH, times=1)
    with pytest.raises(httpx.ReadTimeout):
        run_flow(channel.charge(order("POS01-0052", "1")), client)
    found = run_flow(channel.query("POS01-0052"), client)
    assert found.state is PaymentState.PAID
    assert mock.wechatpay.collected() == Fen(1250)
