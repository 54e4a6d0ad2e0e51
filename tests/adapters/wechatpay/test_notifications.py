"""Callbacks: verified on the raw bytes (signature, time window, replay) before anything is
decoded, then decrypted with the APIv3 key and mapped to the trade's state. Envelopes are
written from WeChat Pay's callback documentation (支付成功回调通知, 退款结果回调通知, and
医保混合收款成功通知 in wechatpay-apiv3/wechatpay-skills) and signed with a test platform key.
"""

from __future__ import annotations

import json

import pytest

from gongji.errors import ConfigError, GatewayError, SignatureError
from gongji.gateways import PaymentState
from gongji.money import Fen
from gongji.signing.keys import RsaPrivateKey
from gongji.signing.wechatpay import encrypt_resource, platform_headers
from gongji_wechatpay import WechatPayChannel
from tests.adapters.wechatpay.conftest import APIV3_KEY, NOW, PLATFORM_KEY_ID
from tests.adapters.wechatpay.test_med_ins import order_entity
from tests.adapters.wechatpay.test_wire_shapes import OUT_TRADE_NO, transaction_example


def callback(
    key: RsaPrivateKey,
    event_type: str,
    resource: object,
    *,
    original_type: str,
    timestamp: int = NOW,
    nonce: str | None = None,
) -> tuple[dict[str, str], bytes]:
    sealed = encrypt_resource(
        APIV3_KEY, json.dumps(resource).encode(), associated_data=original_type
    )
    envelope = {
        "id": "EV-2018022511223320873",
        "create_time": "2015-05-20T13:29:35+08:00",
        "resource_type": "encrypt-resource",
        "event_type": event_type,
        "summary": "支付成功",
        "resource": {"original_type": original_type, **sealed},
    }
    body = json.dumps(envelope, ensure_ascii=False).encode()
    headers = platform_headers(key, body, serial=PLATFORM_KEY_ID, timestamp=timestamp, nonce=nonce)
    return headers, body


def refund_resource(status: str) -> dict[str, object]:
    return {
        "mchid": "1230000109",
        "out_trade_no": OUT_TRADE_NO,
        "transaction_id": "4200000000201407033233368018",
        "out_refund_no": "R-0001",
        "refund_id": "50000000382019052709732678859",
        "refund_status": status,
        "success_time": "2018-06-08T10:34:56+08:00",
        "user_received_account": "招商银行信用卡0403",
        "amount": {"total": 100, "refund": 40, "payer_total": 100, "payer_refund": 40},
    }


def test_a_payment_callback_is_mapped_to_the_paid_trade(
    fake_channel: WechatPayChannel, platform_key: RsaPrivateKey
) -> None:
    headers, body = callback(
        platform_key, "TRANSACTION.SUCCESS", transaction_example(), original_type="transaction"
    )
    notice = fake_channel.notification(headers, body)
    assert notice.out_trade_no == OUT_TRADE_NO
    assert notice.state is PaymentState.PAID
    assert notice.amount == Fen(100)
    assert notice.transaction_id == "4200000000201407033233368018"
    assert notice.event_id == "EV-2018022511223320873"


@pytest.mark.parametrize(
    ("event_type", "status", "state"),
    [
        ("REFUND.SUCCESS", "SUCCESS", PaymentState.REFUNDED),
        ("REFUND.ABNORMAL", "ABNORMAL", PaymentState.PAID),
        ("REFUND.CLOSED", "CLOSED", PaymentState.PAID),
    ],
)
def test_a_refund_callback_says_refunded_only_when_the_money_went_back(
    fake_channel: WechatPayChannel,
    platform_key: RsaPrivateKey,
    event_type: str,
    status: str,
    state: PaymentState,
) -> None:
    headers, body = callback(
        platform_key, event_type, refund_resource(status), original_type="refund"
    )
    notice = fake_channel.notification(headers, body)
    assert notice.state is state
    assert notice.amount == Fen(40)  # the refund's amount


def test_a_med_ins_success_callback_is_paid_with_the_cash_collected(
    fake_channel: WechatPayChannel, platform_key: RsaPrivateKey
) -> None:
    resource = order_entity(
        mix_pay_status="MIX_PAY_SUCCESS",
        self_pay_status="SELF_PAY_SUCCESS",
        med_ins_pay_status="MED_INS_PAY_SUCCESS",
        paid_time="2022-04-02T20:06:35+08:00",
    )
    headers, body = callback(
        platform_key, "MEDICAL_INSURANCE.SUCCESS", resource, original_type="transaction"
    )
    notice = fake_channel.notification(headers, body)
    assert notice.state is PaymentState.PAID
    assert notice.amount == Fen(42000)
    assert notice.transaction_id == "1217752501201407033233368318"  # the mix_trade_no


def test_a_callback_outside_the_time_window_is_refused_before_decoding(
    fake_channel: WechatPayChannel, platform_key: RsaPrivateKey
) -> None:
    headers, body = callback(
        platform_key,
        "TRANSACTION.SUCCESS",
        transaction_example(),
        original_type="transaction",
        timestamp=NOW - 301,
    )
    with pytest.raises(SignatureError, match="outside the 300 s window"):
        fake_channel.notification(headers, body)


def test_a_callback_is_verified_before_its_body_is_decoded(
    fake_channel: WechatPayChannel, platform_key: RsaPrivateKey
) -> None:
    headers, _ = callback(
        platform_key, "TRANSACTION.SUCCESS", transaction_example(), original_type="transaction"
    )
    # Not JSON at all: the signature fails first, so no decoder ever sees these bytes.
    with pytest.raises(SignatureError, match="did not verify"):
        fake_channel.notification(headers, b"\x00not json")


def test_an_unsigned_callback_is_refused(fake_channel: WechatPayChannel) -> None:
    with pytest.raises(SignatureError):
        fake_channel.notification({"Content-Type": "application/json"}, b"{}")


def test_a_callback_whose_resource_has_a_non_integer_amount_is_refused(
    fake_channel: WechatPayChannel, platform_key: RsaPrivateKey
) -> None:
    resource = transaction_example(amount={"total": 1.5, "currency": "CNY"})
    headers, body = callback(
        platform_key, "TRANSACTION.SUCCESS", resource, original_type="transaction"
    )
    with pytest.raises(GatewayError, match="integer fen"):
        fake_channel.notification(headers, body)


def test_an_event_the_adapter_does_not_handle_is_named_not_guessed(
    fake_channel: WechatPayChannel, platform_key: RsaPrivateKey
) -> None:
    headers, body = callback(
        platform_key, "PROFITSHARING.SUCCESS", {"x": 1}, original_type="profitsharing"
    )
    with pytest.raises(GatewayError) as caught:
        fake_channel.notification(headers, body)
    assert caught.value.code == "unsupported_notification"
    assert "PROFITSHARING.SUCCESS" in str(caught.value)


def test_a_channel_without_the_notify_capability_refuses_callbacks(
    fake_channel: WechatPayChannel, platform_key: RsaPrivateKey
) -> None:
    headers, body = callback(
        platform_key, "TRANSACTION.SUCCESS", transaction_example(), original_type="transaction"
    )
    fake_channel.capabilities = frozenset()
    with pytest.raises(ConfigError, match="does not offer 'notify'"):
        fake_channel.notification(headers, body)
