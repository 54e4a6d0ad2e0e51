"""How the channel reads WeChat Pay's answers: trade states, refusals, outages, integer fen only,
signatures checked before a byte is decoded. WeChat Pay is a respx fake signing with a test key.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
import respx

from gongji.errors import (
    ConfigError,
    Declined,
    GatewayError,
    InvalidInput,
    SignatureError,
    Unavailable,
)
from gongji.gateways import CashOrder, PaymentState
from gongji.money import Fen
from gongji.signing.wechatpay import platform_headers
from gongji_mock import testkeys
from gongji_wechatpay import WechatPayChannel
from tests.adapters.wechatpay.conftest import BASE, PLATFORM_KEY_ID, Signer, run_flow
from tests.adapters.wechatpay.test_wire_shapes import OUT_TRADE_NO, transaction_example

CODEPAY = BASE + "/v3/pay/transactions/codepay"
QUERY = BASE + f"/v3/pay/transactions/out-trade-no/{OUT_TRADE_NO}"
REVERSE = QUERY + "/reverse"
REFUNDS = BASE + "/v3/refund/domestic/refunds"
AUTH_CODE = "134567890123456781"

Answer = Callable[[httpx.Request], httpx.Response]


def order(amount: Fen | float = 1250, auth_code: str = AUTH_CODE) -> CashOrder:
    """A cash order; an int becomes Fen, anything else is passed through as the caller's mistake."""
    money = Fen(amount) if type(amount) is int else amount
    return CashOrder(out_trade_no=OUT_TRADE_NO, amount=money, auth_code=auth_code)  # type: ignore[arg-type]


def answer_with(response: Callable[[], httpx.Response]) -> Answer:
    return lambda request: response()


# ---------------------------------------------------------------- trade states


@pytest.mark.parametrize(
    ("trade_state", "expected"),
    [
        ("SUCCESS", PaymentState.PAID),
        ("REFUND", PaymentState.REFUNDED),
        ("USERPAYING", PaymentState.PENDING),
        ("NOTPAY", PaymentState.PENDING),
        ("CLOSED", PaymentState.CLOSED),
        ("REVOKED", PaymentState.CLOSED),
        ("PAYERROR", PaymentState.FAILED),
    ],
)
def test_query_maps_every_documented_trade_state(
    fake_channel: WechatPayChannel,
    fake_client: httpx.Client,
    router: respx.Router,
    wechat: Signer,
    trade_state: str,
    expected: PaymentState,
) -> None:
    desc = "用户余额不足，支付失败" if trade_state == "PAYERROR" else "状态"
    router.get(QUERY).mock(
        side_effect=answer_with(
            lambda: wechat.response(
                200, transaction_example(trade_state=trade_state, trade_state_desc=desc)
            )
        )
    )
    payment = run_flow(fake_channel.query(OUT_TRADE_NO), fake_client)
    assert payment.state is expected
    assert payment.amount == Fen(100)
    assert payment.reason == (desc if expected is PaymentState.FAILED else "")


def test_an_unknown_trade_state_is_refused_not_guessed(
    fake_channel: WechatPayChannel, fake_client: httpx.Client, router: respx.Router, wechat: Signer
) -> None:
    router.get(QUERY).mock(
        side_effect=answer_with(
            lambda: wechat.response(200, transaction_example(trade_state="ACCEPT"))
        )
    )
    with pytest.raises(GatewayError) as caught:
        run_flow(fake_channel.query(OUT_TRADE_NO), fake_client)
    assert caught.value.code == "unexpected_response"
    assert "ACCEPT" in str(caught.value)


def test_query_of_an_order_wechat_pay_never_received_is_not_found(
    fake_channel: WechatPayChannel, fake_client: httpx.Client, router: respx.Router, wechat: Signer
) -> None:
    router.get(QUERY).mock(
        side_effect=answer_with(
            lambda: wechat.response(404, {"code": "ORDER_NOT_EXIST", "message": "订单不存在"})
        )
    )
    payment = run_flow(fake_channel.query(OUT_TRADE_NO), fake_client)
    assert payment.state is PaymentState.NOT_FOUND


def test_a_404_that_is_not_order_not_exist_is_not_taken_for_not_found(
    fake_channel: WechatPayChannel, fake_client: httpx.Client, router: respx.Router
) -> None:
    # A wrong base_url or a proxy's page: "not found" must never be read as "never charged".
    router.get(QUERY).mock(return_value=httpx.Response(404, text="<html>Not Found</html>"))
    with pytest.raises(Unavailable, match="not definitive"):
        run_flow(fake_channel.query(OUT_TRADE_NO), fake_client)


def test_a_signed_404_with_another_code_is_declined_not_not_found(
    fake_channel: WechatPayChannel, fake_client: httpx.Client, router: respx.Router, wechat: Signer
) -> None:
    router.get(QUERY).mock(
        side_effect=answer_with(
            lambda: wechat.response(404, {"code": "NOT_FOUND", "message": "接口不存在"})
        )
    )
    with pytest.raises(Declined) as caught:
        run_flow(fake_channel.query(OUT_TRADE_NO), fake_client)
    assert caught.value.infcode == "NOT_FOUND"


@pytest.mark.parametrize(
    ("method", "url", "build", "error"),
    [
        (
            "POST",
            CODEPAY,
            lambda ch: ch.charge(order()),
            {"code": "NOT_ENOUGH", "message": "余额不足"},
        ),
        (
            "GET",
            QUERY,
            lambda ch: ch.query(OUT_TRADE_NO),
            {"code": "ORDER_NOT_EXIST", "message": "订单不存在"},
        ),
        (
            "POST",
            REVERSE,
            lambda ch: ch.reverse(OUT_TRADE_NO),
            {"code": "ORDER_NOT_EXIST", "message": "订单不存在"},
        ),
        (
            "POST",
            REFUNDS,
            lambda ch: ch.refund(OUT_TRADE_NO, "R-1", Fen(1), Fen(1250)),
            {"code": "INVALID_REQUEST", "message": "订单已全额退款"},
        ),
    ],
    ids=["charge", "query", "reverse", "refund"],
)
def test_an_unsigned_refusal_is_never_taken_as_a_definitive_outcome(
    fake_channel: WechatPayChannel,
    fake_client: httpx.Client,
    router: respx.Router,
    method: str,
    url: str,
    build: Callable[[WechatPayChannel], Any],
    error: dict[str, str],
) -> None:
    # Without WeChat Pay's signature a "not charged" / "not found" could come from anyone.
    status = 404 if error["code"] == "ORDER_NOT_EXIST" else 403
    router.route(method=method, url=url).mock(return_value=httpx.Response(status, json=error))
    with pytest.raises(Unavailable, match="no signed error code"):
        run_flow(build(fake_channel), fake_client)


# ---------------------------------------------------------------- integer fen only


@pytest.mark.parametrize("total", [100.0, 12.5, "100", -1, None])
def test_an_amount_on_the_wire_that_is_not_integer_fen_is_refused(
    fake_channel: WechatPayChannel,
    fake_client: httpx.Client,
    router: respx.Router,
    wechat: Signer,
    total: object,
) -> None:
    amount = {"total": total, "currency": "CNY"}
    router.get(QUERY).mock(
        side_effect=answer_with(lambda: wechat.response(200, transaction_example(amount=amount)))
    )
    with pytest.raises(GatewayError) as caught:
        run_flow(fake_channel.query(OUT_TRADE_NO), fake_client)
    assert caught.value.code == "unexpected_response"
    assert "amount.total" in str(caught.value)
    assert "integer fen" in str(caught.value)


def test_unknown_response_fields_are_tolerated(
    fake_channel: WechatPayChannel, fake_client: httpx.Client, router: respx.Router, wechat: Signer
) -> None:
    extra = transaction_example(
        new_field={"nested": [1, 2.5, "x"]},
        amount={"total": 100, "currency": "CNY", "discount_total": 0, "future": "yes"},
    )
    router.get(QUERY).mock(side_effect=answer_with(lambda: wechat.response(200, extra)))
    payment = run_flow(fake_channel.query(OUT_TRADE_NO), fake_client)
    assert payment.state is PaymentState.PAID
    assert payment.amount == Fen(100)


def test_an_answer_about_another_order_is_refused(
    fake_channel: WechatPayChannel, fake_client: httpx.Client, router: respx.Router, wechat: Signer
) -> None:
    router.get(QUERY).mock(
        side_effect=answer_with(
            lambda: wechat.response(200, transaction_example(out_trade_no="SOMEONE-ELSE"))
        )
    )
    with pytest.raises(GatewayError, match="instead of"):
        run_flow(fake_channel.query(OUT_TRADE_NO), fake_client)


# ---------------------------------------------------------------- payment-code outcomes


def test_codepay_202_userpaying_is_pending(
    fake_channel: WechatPayChannel, fake_client: httpx.Client, router: respx.Router, wechat: Signer
) -> None:
    router.post(CODEPAY).mock(
        side_effect=answer_with(
            lambda: wechat.response(202, {"code": "USERPAYING", "message": "需要用户输入支付密码"})
        )
    )
    payment = run_flow(fake_channel.charge(order()), fake_client)
    assert payment.state is PaymentState.PENDING
    assert payment.amount == Fen(1250)


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (403, {"code": "NOT_ENOUGH", "message": "用户账户余额不足"}),
        (
            400,
            {
                "code": "PARAM_ERROR",
                "message": "二维码已过期，请用户在微信上刷新后再试",
                "detail": {"field": "payer.auth_code", "location": "body", "issue": "expired"},
            },
        ),
        (403, {"code": "TRADE_ERROR", "message": "交易错误"}),
        (403, {"code": "PAYER_ACCOUNT_ABNORMAL", "message": "用户账户异常"}),
    ],
)
def test_codepay_definitive_payer_refusals_fail_with_the_channels_reason(
    fake_channel: WechatPayChannel,
    fake_client: httpx.Client,
    router: respx.Router,
    wechat: Signer,
    status: int,
    error: dict[str, object],
) -> None:
    router.post(CODEPAY).mock(side_effect=answer_with(lambda: wechat.response(status, error)))
    payment = run_flow(fake_channel.charge(order()), fake_client)
    assert payment.state is PaymentState.FAILED
    assert payment.reason == f"{error['code']}: {error['message']}"


@pytest.mark.parametrize(
    "answer",
    [
        lambda wechat: wechat.response(500, {"code": "SYSTEM_ERROR", "message": "系统错误"}),
        lambda wechat: wechat.response(403, {"code": "BANK_ERROR", "message": "银行系统异常"}),
        lambda wechat: wechat.response(429, {"code": "FREQUENCY_LIMITED", "message": "频率超限"}),
        lambda wechat: httpx.Response(503, text="Service Unavailable"),  # unsigned, not JSON
        lambda wechat: httpx.Response(502, json={"error": "bad gateway"}),
    ],
    ids=["500-SYSTEM_ERROR", "403-BANK_ERROR", "429", "503-unsigned", "502-proxy"],
)
def test_codepay_outages_raise_unavailable_telling_to_query_then_reverse(
    fake_channel: WechatPayChannel,
    fake_client: httpx.Client,
    router: respx.Router,
    wechat: Signer,
    answer: Callable[[Signer], httpx.Response],
) -> None:
    router.post(CODEPAY).mock(side_effect=answer_with(lambda: answer(wechat)))
    with pytest.raises(Unavailable) as caught:
        run_flow(fake_channel.charge(order()), fake_client)
    assert caught.value.gateway == "wechatpay"
    assert "Query 1217752501201407033233368018" in caught.value.next_step
    assert "reverse" in caught.value.next_step


def test_codepay_answer_with_no_known_meaning_is_not_definitive(
    fake_channel: WechatPayChannel, fake_client: httpx.Client, router: respx.Router, wechat: Signer
) -> None:
    # Mock and docs: any other non-2xx answer to codepay means "query, then reverse".
    router.post(CODEPAY).mock(
        side_effect=answer_with(lambda: wechat.response(404, {"code": "NOT_FOUND", "message": "?"}))
    )
    with pytest.raises(Unavailable, match="not definitive"):
        run_flow(fake_channel.charge(order()), fake_client)


def test_sign_error_401_is_a_config_error_pointing_at_the_merchant_key_and_serial(
    fake_channel: WechatPayChannel, fake_client: httpx.Client, router: respx.Router
) -> None:
    # WeChat Pay may answer a refused signature unsigned; it is trusted only to say "failed".
    router.post(CODEPAY).mock(
        return_value=httpx.Response(401, json={"code": "SIGN_ERROR", "message": "签名错误"})
    )
    with pytest.raises(ConfigError) as caught:
        run_flow(fake_channel.charge(order()), fake_client)
    assert "private key" in caught.value.next_step
    assert "merchant_serial_no" in caught.value.next_step


def test_out_trade_no_used_is_declined_not_a_failed_payment(
    fake_channel: WechatPayChannel, fake_client: httpx.Client, router: respx.Router, wechat: Signer
) -> None:
    router.post(CODEPAY).mock(
        side_effect=answer_with(
            lambda: wechat.response(403, {"code": "OUT_TRADE_NO_USED", "message": "商户订单号重复"})
        )
    )
    with pytest.raises(Declined) as caught:
        run_flow(fake_channel.charge(order()), fake_client)
    assert caught.value.infcode == "OUT_TRADE_NO_USED"
    assert caught.value.request_id == "08F78BB5AF0610D302AD2B99"


def test_a_payment_code_echoed_in_a_refusal_is_scrubbed(
    fake_channel: WechatPayChannel, fake_client: httpx.Client, router: respx.Router, wechat: Signer
) -> None:
    router.post(CODEPAY).mock(
        side_effect=answer_with(
            lambda: wechat.response(
                403, {"code": "NOT_ENOUGH", "message": f"余额不足 ({AUTH_CODE})"}
            )
        )
    )
    payment = run_flow(fake_channel.charge(order()), fake_client)
    assert AUTH_CODE not in payment.reason
    assert AUTH_CODE not in repr(payment)
    assert "<payment code>" in payment.reason


# ---------------------------------------------------------------- signatures


def test_an_answer_whose_body_was_altered_raises_signature_error(
    fake_channel: WechatPayChannel, fake_client: httpx.Client, router: respx.Router, wechat: Signer
) -> None:
    def altered(request: httpx.Request) -> httpx.Response:
        genuine = wechat.response(200, transaction_example())
        return httpx.Response(
            200,
            content=genuine.content.replace(b'"total":100', b'"total":1'),
            headers=dict(genuine.headers),
        )

    router.get(QUERY).mock(side_effect=altered)
    with pytest.raises(SignatureError):
        run_flow(fake_channel.query(OUT_TRADE_NO), fake_client)


def test_an_unsigned_success_is_refused(
    fake_channel: WechatPayChannel, fake_client: httpx.Client, router: respx.Router
) -> None:
    router.post(CODEPAY).mock(return_value=httpx.Response(200, json=transaction_example()))
    with pytest.raises(SignatureError, match="Wechatpay-Serial"):
        run_flow(fake_channel.charge(order()), fake_client)


def test_an_answer_signed_by_another_key_is_refused(
    fake_channel: WechatPayChannel, fake_client: httpx.Client, router: respx.Router, wechat: Signer
) -> None:
    stranger = testkeys.test_rsa_key("adapter-wechatpay-stranger")

    def forged(request: httpx.Request) -> httpx.Response:
        body = httpx.Response(200, json=transaction_example()).content
        headers = platform_headers(
            stranger, body, serial=PLATFORM_KEY_ID, timestamp=int(wechat.clock())
        )
        return httpx.Response(200, content=body, headers=headers)

    router.get(QUERY).mock(side_effect=forged)
    with pytest.raises(SignatureError, match="did not verify"):
        run_flow(fake_channel.query(OUT_TRADE_NO), fake_client)


# ---------------------------------------------------------------- reverse and refunds


def test_reverse_answered_with_204_and_no_body_is_closed(
    fake_channel: WechatPayChannel, fake_client: httpx.Client, router: respx.Router, wechat: Signer
) -> None:
    router.post(REVERSE).mock(side_effect=answer_with(lambda: wechat.response(204, raw=b"")))
    payment = run_flow(fake_channel.reverse(OUT_TRADE_NO), fake_client)
    assert payment.state is PaymentState.CLOSED


def test_reverse_outage_says_to_reverse_again(
    fake_channel: WechatPayChannel, fake_client: httpx.Client, router: respx.Router, wechat: Signer
) -> None:
    router.post(REVERSE).mock(
        side_effect=answer_with(
            lambda: wechat.response(500, {"code": "SYSTEM_ERROR", "message": "系统错误"})
        )
    )
    with pytest.raises(Unavailable) as caught:
        run_flow(fake_channel.reverse(OUT_TRADE_NO), fake_client)
    assert "idempotent" in caught.value.next_step


@pytest.mark.parametrize(
    ("status", "state", "reason"),
    [
        ("SUCCESS", "success", ""),
        ("PROCESSING", "processing", ""),
        ("CLOSED", "failed", "CLOSED"),
        ("ABNORMAL", "failed", "ABNORMAL"),
    ],
)
def test_refund_statuses_map_to_the_refund_state(
    fake_channel: WechatPayChannel,
    fake_client: httpx.Client,
    router: respx.Router,
    wechat: Signer,
    status: str,
    state: str,
    reason: str,
) -> None:
    router.post(REFUNDS).mock(
        side_effect=answer_with(
            lambda: wechat.response(
                200,
                {
                    "refund_id": "50000000382019052709732678859",
                    "out_refund_no": "R-1",
                    "out_trade_no": OUT_TRADE_NO,
                    "status": status,
                    "amount": {"total": 1250, "refund": 500, "currency": "CNY"},
                },
            )
        )
    )
    refund = run_flow(fake_channel.refund(OUT_TRADE_NO, "R-1", Fen(500), Fen(1250)), fake_client)
    assert refund.state == state
    assert refund.amount == Fen(500)
    assert refund.reason.startswith(reason)


def test_a_refused_refund_is_failed_with_the_channels_reason(
    fake_channel: WechatPayChannel, fake_client: httpx.Client, router: respx.Router, wechat: Signer
) -> None:
    router.post(REFUNDS).mock(
        side_effect=answer_with(
            lambda: wechat.response(
                400, {"code": "INVALID_REQUEST", "message": "申请退款金额超过订单可退金额"}
            )
        )
    )
    refund = run_flow(fake_channel.refund(OUT_TRADE_NO, "R-1", Fen(500), Fen(1250)), fake_client)
    assert refund.state == "failed"
    assert refund.reason == "INVALID_REQUEST: 申请退款金额超过订单可退金额"
    assert refund.amount == Fen(500)


def test_a_refund_outage_says_to_ask_again_with_the_same_out_refund_no(
    fake_channel: WechatPayChannel, fake_client: httpx.Client, router: respx.Router
) -> None:
    router.post(REFUNDS).mock(return_value=httpx.Response(503))
    with pytest.raises(Unavailable) as caught:
        run_flow(fake_channel.refund(OUT_TRADE_NO, "R-1", Fen(500), Fen(1250)), fake_client)
    assert "same out_refund_no" in caught.value.next_step


# ---------------------------------------------------------------- refused before the network


@pytest.mark.parametrize(
    "build",
    [
        lambda ch: ch.charge(order(auth_code="2887654321012341")),  # an Alipay code
        lambda ch: ch.charge(order(auth_code="1345678901234")),  # too short
        lambda ch: ch.charge(order(amount=0)),
        lambda ch: ch.charge(order(amount=12.5)),
        lambda ch: ch.charge(
            CashOrder(out_trade_no="has space", amount=Fen(1), auth_code=AUTH_CODE)
        ),
        lambda ch: ch.charge(CashOrder(out_trade_no="X" * 33, amount=Fen(1), auth_code=AUTH_CODE)),
        lambda ch: ch.query("../../v3/refund"),
        lambda ch: ch.refund(OUT_TRADE_NO, "R-1", Fen(1251), Fen(1250)),
        lambda ch: ch.refund(OUT_TRADE_NO, "R-1", Fen(0), Fen(1250)),
        lambda ch: ch.refund(OUT_TRADE_NO, "R-1", 5.0, Fen(1250)),
        lambda ch: ch.refund_status("R 1"),
    ],
    ids=[
        "alipay-code",
        "short-code",
        "zero",
        "float",
        "bad-out-trade-no",
        "long-out-trade-no",
        "path-in-out-trade-no",
        "refund-over-total",
        "refund-zero",
        "refund-float",
        "bad-out-refund-no",
    ],
)
def test_bad_input_is_refused_before_anything_is_sent(
    fake_channel: WechatPayChannel, router: respx.Router, build: Callable[..., object]
) -> None:
    with pytest.raises(InvalidInput) as caught:
        build(fake_channel)
    assert not router.calls
    assert AUTH_CODE not in str(caught.value)
    assert "2887654321012341" not in str(caught.value)
