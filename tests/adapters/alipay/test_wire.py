"""The exact wire shape of each request, and how each kind of answer is read (respx, no patching).

The examples follow Alipay's public OpenAPI reference (opendocs.alipay.com, mirrored at
https://w3cschool.cn/aliminiapp/aliminiapp-2wa52f4q.html for alipay.trade.pay):
the gateway is ``https://openapi.alipay.com/gateway.do``; the common request
parameters are ``app_id``, ``method``, ``charset``, ``sign_type`` (RSA2), ``sign``,
``timestamp`` ("yyyy-MM-dd HH:mm:ss"), ``version`` ("1.0"), optionally
``notify_url``, and ``biz_content``; ``alipay.trade.pay``'s example order is
out_trade_no 20150320010101001, scene bar_code, auth_code 28763443825664394,
subject "Iphone6 16G", total_amount 88.88 (yuan, two decimals). The answers are
``{"<method>_response": {...}, "sign": ...}`` with code 10000 (success), 10003
(waiting for the buyer), 20000 (service unavailable), 40002 (invalid arguments,
e.g. isv.invalid-signature) and 40004 (business failure, ``sub_code`` ACQ.*).
Refund answers carry ``fund_change`` and ``refund_fee`` (developer.aliyun.com/article/707647).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
import respx

from gongji.errors import ConfigError, GatewayError, SignatureError, Unavailable
from gongji.gateways import CashOrder, PaymentState
from gongji.money import Fen
from gongji.signing.alipay import AlipaySigner, AlipayVerifier, sign_response, verify_request
from gongji.signing.keys import RsaPrivateKey
from gongji_alipay import AlipayChannel
from tests.adapters.alipay.conftest import APP_ID, NOTIFY_URL, TIMESTAMP, new_rsa_key, run

GATEWAY = "https://openapi.alipay.com/gateway.do"
DOC_ORDER = CashOrder(
    out_trade_no="20150320010101001",
    amount=Fen(8888),
    auth_code="28763443825664394",
    description="Iphone6 16G",
)
#: alipay.trade.pay's success answer as the reference shows it, unknown fields and all.
DOC_PAID = {
    "code": "10000",
    "msg": "Success",
    "trade_no": "2013112011001004330000121536",
    "out_trade_no": "20150320010101001",
    "buyer_logon_id": "159****5620",
    "total_amount": "88.88",
    "receipt_amount": "88.88",
    "buyer_pay_amount": "88.88",
    "point_amount": "0.00",
    "invoice_amount": "88.88",
    "gmt_payment": "2014-11-27 15:45:57",
    "fund_bill_list": [{"fund_channel": "ALIPAYACCOUNT", "amount": "88.88"}],
    "store_name": "证大五道口店",
    "buyer_user_id": "2088101117955611",
}


def answer(
    key: RsaPrivateKey, method: str, content: dict[str, Any] | bytes, status: int = 200
) -> httpx.Response:
    """An answer as Alipay writes it: ``sign`` over the exact bytes of the response member."""
    raw = (
        content
        if isinstance(content, bytes)
        else json.dumps(content, ensure_ascii=False, separators=(",", ":")).encode()
    )
    return httpx.Response(
        status,
        content=sign_response(key, method, raw),
        headers={"Content-Type": "application/json;charset=utf-8"},
    )


def sent(request: httpx.Request) -> dict[str, str]:
    """The parameters of a request as it went on the wire: all in the form, none in the query."""
    assert not request.url.query
    pairs = parse_qsl(request.content.decode(), keep_blank_values=True, strict_parsing=True)
    form = dict(pairs)
    assert len(form) == len(pairs)  # each parameter once
    return form


@pytest.fixture
def router() -> respx.Router:
    return respx.Router(assert_all_called=False)


@pytest.fixture
def gateway(router: respx.Router) -> respx.Route:
    return router.route(
        method="POST", scheme="https", host="openapi.alipay.com", path="/gateway.do"
    )


@pytest.fixture
def alipay(router: respx.Router) -> Iterator[httpx.Client]:
    with httpx.Client(transport=httpx.MockTransport(router.handler)) as client:
        yield client


@pytest.fixture
def channel(signer: AlipaySigner, verifier: AlipayVerifier) -> AlipayChannel:
    return AlipayChannel(signer=signer, verifier=verifier)


# ---------------------------------------------------------------- requests


def test_charge_is_trade_pay_with_every_parameter_and_sign_in_the_form(
    channel: AlipayChannel,
    gateway: respx.Route,
    alipay: httpx.Client,
    alipay_key: RsaPrivateKey,
    app_key: RsaPrivateKey,
) -> None:
    gateway.mock(return_value=answer(alipay_key, "alipay.trade.pay", DOC_PAID))
    payment = run(channel.charge(DOC_ORDER), alipay)

    request = gateway.calls.last.request
    form = sent(request)
    assert request.method == "POST"
    assert str(request.url) == GATEWAY
    assert request.headers["content-type"] == "application/x-www-form-urlencoded;charset=utf-8"
    assert list(form) == [  # sorted by name, sign last, as python-alipay-sdk writes them
        "app_id",
        "biz_content",
        "charset",
        "method",
        "sign_type",
        "timestamp",
        "version",
        "sign",
    ]
    assert form["app_id"] == APP_ID
    assert form["method"] == "alipay.trade.pay"
    assert form["charset"] == "utf-8"
    assert form["sign_type"] == "RSA2"
    assert form["timestamp"] == TIMESTAMP
    assert form["version"] == "1.0"
    assert form["biz_content"] == (
        '{"out_trade_no":"20150320010101001","scene":"bar_code",'
        '"auth_code":"28763443825664394","subject":"Iphone6 16G","total_amount":"88.88"}'
    )
    # sign covers every parameter but itself, as Alipay checks it.
    verify_request(form, app_key.public_key)

    assert payment.state is PaymentState.PAID
    assert payment.amount == Fen(8888)
    assert payment.transaction_id == "2013112011001004330000121536"
    assert payment.out_trade_no == "20150320010101001"


def test_subject_in_chinese_is_sent_as_ascii_escaped_json_and_signed_as_sent(
    channel: AlipayChannel,
    gateway: respx.Route,
    alipay: httpx.Client,
    alipay_key: RsaPrivateKey,
    app_key: RsaPrivateKey,
) -> None:
    gateway.mock(return_value=answer(alipay_key, "alipay.trade.pay", DOC_PAID))
    order = CashOrder(
        out_trade_no="20150320010101001", amount=Fen(8888), auth_code="28763443825664394"
    )
    run(channel.charge(order), alipay)
    form = sent(gateway.calls.last.request)
    assert json.loads(form["biz_content"])["subject"] == "药品"
    assert form["biz_content"].isascii()
    verify_request(form, app_key.public_key)


def test_notify_url_rides_in_the_form_the_order_s_own_first(
    signer: AlipaySigner,
    verifier: AlipayVerifier,
    gateway: respx.Route,
    alipay: httpx.Client,
    alipay_key: RsaPrivateKey,
) -> None:
    gateway.mock(return_value=answer(alipay_key, "alipay.trade.pay", DOC_PAID))
    channel = AlipayChannel(signer=signer, verifier=verifier, notify_url=NOTIFY_URL)
    run(channel.charge(DOC_ORDER), alipay)
    assert sent(gateway.calls.last.request)["notify_url"] == NOTIFY_URL
    own = CashOrder(
        out_trade_no="20150320010101001",
        amount=Fen(8888),
        auth_code="28763443825664394",
        description="Iphone6 16G",
        notify_url="https://till-7.example/notify",
    )
    run(channel.charge(own), alipay)
    assert sent(gateway.calls.last.request)["notify_url"] == "https://till-7.example/notify"


def test_store_and_terminal_ids_are_sent_when_configured(
    signer: AlipaySigner,
    verifier: AlipayVerifier,
    gateway: respx.Route,
    alipay: httpx.Client,
    alipay_key: RsaPrivateKey,
) -> None:
    gateway.mock(return_value=answer(alipay_key, "alipay.trade.pay", DOC_PAID))
    channel = AlipayChannel(
        signer=signer, verifier=verifier, store_id="NJ_001", terminal_id="NJ_T_001"
    )
    run(channel.charge(DOC_ORDER), alipay)
    biz = json.loads(sent(gateway.calls.last.request)["biz_content"])
    assert biz["store_id"] == "NJ_001"
    assert biz["terminal_id"] == "NJ_T_001"


@pytest.mark.parametrize(
    ("fen", "yuan"),
    [
        (1, "0.01"),
        (10, "0.10"),
        (100, "1.00"),
        (1250, "12.50"),
        (123456789, "1234567.89"),
        (100_000_000_00, "100000000.00"),
    ],
)
def test_amount_goes_as_a_two_decimal_yuan_string_converted_exactly_from_fen(
    channel: AlipayChannel,
    gateway: respx.Route,
    alipay: httpx.Client,
    alipay_key: RsaPrivateKey,
    fen: int,
    yuan: str,
) -> None:
    paid = {**DOC_PAID, "total_amount": yuan}
    gateway.mock(return_value=answer(alipay_key, "alipay.trade.pay", paid))
    order = CashOrder(out_trade_no="20150320010101001", amount=Fen(fen), auth_code="2876344382566")
    payment = run(channel.charge(order), alipay)
    assert json.loads(sent(gateway.calls.last.request)["biz_content"])["total_amount"] == yuan
    assert payment.amount == Fen(fen)


def test_query_cancel_and_refund_name_the_trade_in_biz_content(
    channel: AlipayChannel,
    gateway: respx.Route,
    alipay: httpx.Client,
    alipay_key: RsaPrivateKey,
) -> None:
    ref = {"code": "10000", "msg": "Success", "out_trade_no": "20150320010101001"}
    replies = {
        "alipay.trade.query": {**ref, "trade_status": "TRADE_SUCCESS", "total_amount": "88.88"},
        "alipay.trade.cancel": {**ref, "retry_flag": "N", "action": "close"},
        "alipay.trade.refund": {**ref, "fund_change": "Y", "refund_fee": "10.00"},
    }

    def reply(request: httpx.Request) -> httpx.Response:
        method = sent(request)["method"]
        return answer(alipay_key, method, replies[method])

    gateway.mock(side_effect=reply)
    run(channel.query("20150320010101001"), alipay)
    run(channel.reverse("20150320010101001"), alipay)
    run(channel.refund("20150320010101001", "HZ01RF001", Fen(1000), Fen(8888)), alipay)

    sent_calls = [sent(call.request) for call in gateway.calls]
    assert [form["method"] for form in sent_calls] == list(replies)
    assert [json.loads(form["biz_content"]) for form in sent_calls] == [
        {"out_trade_no": "20150320010101001"},
        {"out_trade_no": "20150320010101001"},
        {
            "out_trade_no": "20150320010101001",
            "refund_amount": "10.00",
            "out_request_no": "HZ01RF001",
        },
    ]
    assert all("notify_url" not in form for form in sent_calls)


# ---------------------------------------------------------------- answers


@pytest.mark.parametrize(
    ("trade_status", "state"),
    [
        ("WAIT_BUYER_PAY", PaymentState.PENDING),
        ("TRADE_SUCCESS", PaymentState.PAID),
        ("TRADE_FINISHED", PaymentState.PAID),
        ("TRADE_CLOSED", PaymentState.CLOSED),
    ],
)
def test_query_maps_trade_status_to_the_payment_state(
    channel: AlipayChannel,
    gateway: respx.Route,
    alipay: httpx.Client,
    alipay_key: RsaPrivateKey,
    trade_status: str,
    state: PaymentState,
) -> None:
    content = {
        "code": "10000",
        "msg": "Success",
        "trade_no": "2014112611001004680073956707",
        "out_trade_no": "20150320010101001",
        "buyer_logon_id": "159****5620",
        "trade_status": trade_status,
        "total_amount": "88.88",
        "buyer_user_type": "PRIVATE",
    }
    gateway.mock(return_value=answer(alipay_key, "alipay.trade.query", content))
    payment = run(channel.query("20150320010101001"), alipay)
    assert payment.state is state
    assert payment.amount == (
        Fen(8888) if state in (PaymentState.PAID, PaymentState.PENDING) else 0
    )


def test_password_wait_10003_is_pending(
    channel: AlipayChannel, gateway: respx.Route, alipay: httpx.Client, alipay_key: RsaPrivateKey
) -> None:
    waiting = {
        "code": "10003",
        "msg": "order success pay inprocess",
        "trade_no": "2013112011001004330000121536",
        "out_trade_no": "20150320010101001",
        "total_amount": "88.88",
    }
    gateway.mock(return_value=answer(alipay_key, "alipay.trade.pay", waiting))
    payment = run(channel.charge(DOC_ORDER), alipay)
    assert payment.state is PaymentState.PENDING
    assert payment.transaction_id == "2013112011001004330000121536"


def test_trade_has_success_on_a_repeated_pay_reports_the_trade_as_the_query_finds_it(
    channel: AlipayChannel, gateway: respx.Route, alipay: httpx.Client, alipay_key: RsaPrivateKey
) -> None:
    gateway.mock(
        side_effect=[
            answer(
                alipay_key,
                "alipay.trade.pay",
                {
                    "code": "40004",
                    "msg": "Business Failed",
                    "sub_code": "ACQ.TRADE_HAS_SUCCESS",
                    "sub_msg": "交易已被支付",
                },
            ),
            answer(
                alipay_key,
                "alipay.trade.query",
                {
                    "code": "10000",
                    "msg": "Success",
                    "trade_no": "2013112011001004330000121536",
                    "out_trade_no": "20150320010101001",
                    "trade_status": "TRADE_SUCCESS",
                    "total_amount": "88.88",
                },
            ),
        ]
    )
    payment = run(channel.charge(DOC_ORDER), alipay)
    assert payment.state is PaymentState.PAID
    assert payment.amount == Fen(8888)
    assert [sent(call.request)["method"] for call in gateway.calls] == [
        "alipay.trade.pay",
        "alipay.trade.query",
    ]


@pytest.mark.parametrize("sub_code", ["ACQ.SYSTEM_ERROR", "aop.ACQ.SYSTEM_ERROR"])
def test_system_error_on_pay_raises_unavailable_and_says_to_query(
    channel: AlipayChannel,
    gateway: respx.Route,
    alipay: httpx.Client,
    alipay_key: RsaPrivateKey,
    sub_code: str,
) -> None:
    failed = {
        "code": "40004",
        "msg": "Business Failed",
        "sub_code": sub_code,
        "sub_msg": "系统错误",
    }
    gateway.mock(return_value=answer(alipay_key, "alipay.trade.pay", failed))
    with pytest.raises(Unavailable, match="query out_trade_no 20150320010101001") as raised:
        run(channel.charge(DOC_ORDER), alipay)
    assert DOC_ORDER.auth_code not in str(raised.value)


def test_service_unavailable_20000_raises_unavailable_with_the_outcome_in_doubt(
    channel: AlipayChannel, gateway: respx.Route, alipay: httpx.Client, alipay_key: RsaPrivateKey
) -> None:
    busy = {
        "code": "20000",
        "msg": "Service Currently Unavailable",
        "sub_code": "isp.unknow-error",
        "sub_msg": "系统繁忙",
    }
    gateway.mock(return_value=answer(alipay_key, "alipay.trade.pay", busy))
    with pytest.raises(Unavailable) as raised:
        run(channel.charge(DOC_ORDER), alipay)
    assert "outcome is unknown" in str(raised.value)
    assert "never charge again under a new out_trade_no" in str(raised.value)


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_a_5xx_answer_raises_unavailable_without_reading_it(
    channel: AlipayChannel, gateway: respx.Route, alipay: httpx.Client, status: int
) -> None:
    gateway.mock(return_value=httpx.Response(status, text="<html>Bad Gateway</html>"))
    with pytest.raises(Unavailable, match=f"HTTP {status}"):
        run(channel.charge(DOC_ORDER), alipay)


@pytest.mark.parametrize(
    "sub_code", ["isv.invalid-signature", "isv.invalid-app-id", "isv.invalid-signature-type"]
)
def test_invalid_signature_or_app_40002_is_a_config_error_naming_app_id_and_key(
    channel: AlipayChannel,
    gateway: respx.Route,
    alipay: httpx.Client,
    alipay_key: RsaPrivateKey,
    sub_code: str,
) -> None:
    refused = {
        "code": "40002",
        "msg": "Invalid Arguments",
        "sub_code": sub_code,
        "sub_msg": "验签出错",
    }
    gateway.mock(return_value=answer(alipay_key, "alipay.trade.pay", refused))
    with pytest.raises(ConfigError, match="app_id") as raised:
        run(channel.charge(DOC_ORDER), alipay)
    assert "private key" in str(raised.value)
    assert raised.value.code == "alipay_credentials"


def test_an_answer_signed_by_another_key_raises_signature_error(
    channel: AlipayChannel, gateway: respx.Route, alipay: httpx.Client
) -> None:
    gateway.mock(return_value=answer(new_rsa_key(), "alipay.trade.pay", DOC_PAID))
    with pytest.raises(SignatureError):
        run(channel.charge(DOC_ORDER), alipay)


def test_an_unsigned_answer_raises_signature_error(
    channel: AlipayChannel, gateway: respx.Route, alipay: httpx.Client
) -> None:
    gateway.mock(return_value=httpx.Response(200, json={"alipay_trade_pay_response": DOC_PAID}))
    with pytest.raises(SignatureError, match="carries no sign"):
        run(channel.charge(DOC_ORDER), alipay)


def test_a_genuine_answer_about_another_trade_is_not_trusted(
    channel: AlipayChannel, gateway: respx.Route, alipay: httpx.Client, alipay_key: RsaPrivateKey
) -> None:
    replayed = {**DOC_PAID, "out_trade_no": "6823789339978248"}
    gateway.mock(return_value=answer(alipay_key, "alipay.trade.pay", replayed))
    with pytest.raises(SignatureError, match="6823789339978248"):
        run(channel.charge(DOC_ORDER), alipay)


@pytest.mark.parametrize(
    "total",
    [b'"88.885"', b'"88.8801"', b"88.88", b'"8,888"', b'"-88.88"'],
    ids=["three-decimals", "four-decimals", "json-number", "not-a-number", "negative"],
)
def test_an_answer_amount_that_is_not_whole_fen_yuan_is_refused_never_rounded(
    channel: AlipayChannel,
    gateway: respx.Route,
    alipay: httpx.Client,
    alipay_key: RsaPrivateKey,
    total: bytes,
) -> None:
    content = (
        b'{"code":"10000","msg":"Success","trade_no":"2013112011001004330000121536",'
        b'"out_trade_no":"20150320010101001","total_amount":' + total + b"}"
    )
    gateway.mock(return_value=answer(alipay_key, "alipay.trade.pay", content))
    with pytest.raises(GatewayError) as raised:
        run(channel.charge(DOC_ORDER), alipay)
    assert raised.value.code == "alipay_unreadable"
    assert not isinstance(raised.value, Unavailable | SignatureError)


def test_an_unknown_trade_status_is_not_guessed(
    channel: AlipayChannel, gateway: respx.Route, alipay: httpx.Client, alipay_key: RsaPrivateKey
) -> None:
    content = {"code": "10000", "out_trade_no": "20150320010101001", "trade_status": "TRADE_ODD"}
    gateway.mock(return_value=answer(alipay_key, "alipay.trade.query", content))
    with pytest.raises(GatewayError, match="TRADE_ODD"):
        run(channel.query("20150320010101001"), alipay)


def test_cancel_with_retry_flag_y_raises_unavailable_saying_to_cancel_again(
    channel: AlipayChannel, gateway: respx.Route, alipay: httpx.Client, alipay_key: RsaPrivateKey
) -> None:
    retry = {
        "code": "40004",
        "msg": "Business Failed",
        "sub_code": "ACQ.SYSTEM_ERROR",
        "sub_msg": "系统错误",
        "retry_flag": "Y",
        "out_trade_no": "20150320010101001",
    }
    gateway.mock(return_value=answer(alipay_key, "alipay.trade.cancel", retry))
    with pytest.raises(Unavailable, match="cancel out_trade_no 20150320010101001 again"):
        run(channel.reverse("20150320010101001"), alipay)


def test_cancel_says_whether_the_trade_was_closed_or_given_back(
    channel: AlipayChannel, gateway: respx.Route, alipay: httpx.Client, alipay_key: RsaPrivateKey
) -> None:
    refunded = {
        "code": "10000",
        "msg": "Success",
        "trade_no": "2013112011001004330000121536",
        "out_trade_no": "20150320010101001",
        "retry_flag": "N",
        "action": "refund",
    }
    gateway.mock(return_value=answer(alipay_key, "alipay.trade.cancel", refunded))
    payment = run(channel.reverse("20150320010101001"), alipay)
    assert payment.state is PaymentState.CLOSED
    assert "given back" in payment.reason


def test_refund_success_needs_fund_change_y(
    channel: AlipayChannel, gateway: respx.Route, alipay: httpx.Client, alipay_key: RsaPrivateKey
) -> None:
    done = {
        "code": "10000",
        "msg": "Success",
        "buyer_logon_id": "150****8675",
        "buyer_user_id": "2088702939584880",
        "fund_change": "Y",
        "gmt_refund_pay": "2018-08-01 14:16:22",
        "out_trade_no": "201881141452422",
        "refund_fee": "0.01",
        "send_back_fee": "0.00",
        "trade_no": "2018080121001004890510526853",
    }
    gateway.mock(return_value=answer(alipay_key, "alipay.trade.refund", done))
    refund = run(channel.refund("201881141452422", "201881141452422", Fen(1), Fen(1)), alipay)
    assert refund.state == "success"
    assert refund.amount == Fen(1)


def test_transport_errors_reach_the_caller_unchanged(
    channel: AlipayChannel, gateway: respx.Route, alipay: httpx.Client
) -> None:
    gateway.mock(side_effect=httpx.ConnectTimeout("no route to the gateway"))
    with pytest.raises(httpx.ConnectTimeout):
        run(channel.charge(DOC_ORDER), alipay)
