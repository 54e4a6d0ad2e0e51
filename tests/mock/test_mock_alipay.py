"""The mock's Alipay gateway, end to end: requests signed by the SDK's AlipaySigner/AlipayAuth
(and by python-alipay-sdk as an independent client), responses and notifications verified by
the SDK's AlipayVerifier.

Payment codes (docs/reference/mock-channels.md): 16-24 digits starting 25-30; the last digit
decides: 2 password then paid at the first query (10003), 3 password never entered, 4
insufficient funds, 5 expired, anything else paid at once.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from alipay import AliPay
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from gongji import Fen, SignatureError
from gongji.signing.alipay import AlipayAuth, AlipaySigner
from gongji.signing.keys import RsaPrivateKey
from gongji_mock import MockGateway
from gongji_mock.alipay.endpoint import PATH, AlipayEndpoint, outcome_of
from gongji_mock.wechatpay.endpoint import Outcome
from tests.mock.conftest import Connect

BASE = "https://openapi.alipay.com"


def code(last: str, middle: str = "8765432101234") -> str:
    """An Alipay payment code: 16 digits, '28' first, ``last`` last."""
    return f"28{middle}{last}"


@pytest.fixture
def mock() -> MockGateway:
    return MockGateway.demo()


@pytest.fixture
def ali(mock: MockGateway) -> AlipayEndpoint:
    return mock.alipay


@pytest.fixture
def client(mock: MockGateway, ali: AlipayEndpoint, connect: Connect) -> Iterator[httpx.Client]:
    auth = AlipayAuth(ali.signer(), ali.verifier())
    with connect(mock.handle, base_url=BASE, auth=auth) as signed:
        yield signed


def call(
    client: httpx.Client,
    method: str,
    biz: dict[str, object] | str,
    signer: AlipaySigner | None = None,
    **extra: str,
) -> dict[str, Any]:
    """One call as the SDK makes it: system parameters in the query, biz_content in the form."""
    query: dict[str, str] = {
        "app_id": "2021000100000001",
        "method": method,
        "charset": "utf-8",
        "sign_type": "RSA2",
        "timestamp": "2026-11-23 09:00:00",
        "version": "1.0",
        **extra,
    }
    if signer is not None:
        query = signer.common_params(method, **extra)
    biz_content = biz if isinstance(biz, str) else json.dumps(biz)
    answer = client.post(PATH, params=query, data={"biz_content": biz_content})
    raw = answer.content
    key = method.replace(".", "_") + "_response"
    body = json.loads(raw)
    member = key if key in body else "error_response"
    content: dict[str, Any] = body[member]
    content["_status"] = answer.status_code
    content["_member"] = member
    return content


def pay(
    client: httpx.Client,
    out_trade_no: str,
    auth_code: str,
    total: object = "12.50",
    **extra: str,
) -> dict[str, Any]:
    biz = {
        "out_trade_no": out_trade_no,
        "scene": "bar_code",
        "auth_code": auth_code,
        "subject": "大连测试药房-药品",
        "total_amount": total,
        "extend_params": {"medical_card_id": "MOCK"},
    }
    return call(client, "alipay.trade.pay", biz, **extra)


def query(client: httpx.Client, out_trade_no: str) -> dict[str, Any]:
    return call(client, "alipay.trade.query", {"out_trade_no": out_trade_no})


def cancel(client: httpx.Client, out_trade_no: str) -> dict[str, Any]:
    return call(client, "alipay.trade.cancel", {"out_trade_no": out_trade_no})


def refund(
    client: httpx.Client, out_trade_no: str, amount: str, out_request_no: str = ""
) -> dict[str, Any]:
    biz = {"out_trade_no": out_trade_no, "refund_amount": amount}
    if out_request_no:
        biz["out_request_no"] = out_request_no
    return call(client, "alipay.trade.refund", biz)


# ---------------------------------------------------------------- the test codes


def test_codes_are_decided_by_shape_and_last_digit() -> None:
    assert outcome_of(code("1")) is Outcome.PAID
    assert outcome_of("30" + "0" * 22) is Outcome.PAID  # 24 digits, 30 first
    assert outcome_of(code("2")) is Outcome.USERPAYING_THEN_PAID
    assert outcome_of(code("3")) is Outcome.USERPAYING_FOREVER
    assert outcome_of(code("4")) is Outcome.INSUFFICIENT_FUNDS
    assert outcome_of(code("5")) is Outcome.CODE_EXPIRED
    assert outcome_of("24" + "1" * 14) is None  # 24 is not an Alipay prefix
    assert outcome_of("28" + "1" * 13) is None  # 15 digits
    assert outcome_of("13" + "1" * 16) is None  # a WeChat code


def test_paid_code_charges_once_and_answers_yuan_strings_signed(
    client: httpx.Client, ali: AlipayEndpoint
) -> None:
    answer = pay(client, "POS01-A001", code("1"))
    assert answer["_status"] == 200
    assert answer["code"] == "10000"
    assert answer["total_amount"] == "12.50"
    assert answer["buyer_pay_amount"] == "12.50"
    assert answer["fund_bill_list"] == [{"fund_channel": "ALIPAYACCOUNT", "amount": "12.50"}]
    assert ali.collected() == Fen(1250)
    status = query(client, "POS01-A001")
    assert status["trade_status"] == "TRADE_SUCCESS"
    assert Fen.from_yuan(status["receipt_amount"]) == Fen(1250)


def test_password_code_answers_10003_then_is_paid_at_the_first_query(
    client: httpx.Client, ali: AlipayEndpoint
) -> None:
    answer = pay(client, "POS01-A002", code("2"))
    assert answer["code"] == "10003"
    assert answer["buyer_pay_amount"] == "0.00"
    assert ali.collected() == 0
    assert query(client, "POS01-A002")["trade_status"] == "TRADE_SUCCESS"
    assert ali.collected() == Fen(1250)


def test_password_never_entered_waits_and_cancel_closes_it_uncharged(
    client: httpx.Client, ali: AlipayEndpoint
) -> None:
    assert pay(client, "POS01-A003", code("3"))["code"] == "10003"
    assert query(client, "POS01-A003")["trade_status"] == "WAIT_BUYER_PAY"
    answer = cancel(client, "POS01-A003")
    assert answer["code"] == "10000"
    assert answer["action"] == "close"
    assert answer["retry_flag"] == "N"
    assert query(client, "POS01-A003")["trade_status"] == "TRADE_CLOSED"
    assert ali.collected() == 0


def test_insufficient_funds_fails_and_charges_nothing(
    client: httpx.Client, ali: AlipayEndpoint
) -> None:
    answer = pay(client, "POS01-A004", code("4"))
    assert answer["code"] == "40004"
    assert answer["sub_code"] == "ACQ.BUYER_BALANCE_NOT_ENOUGH"
    assert "nothing was charged" in answer["sub_msg"]
    assert query(client, "POS01-A004")["trade_status"] == "TRADE_CLOSED"
    assert ali.collected() == 0


@pytest.mark.parametrize("auth_code", [code("5"), "24" + "1" * 14, "2812", "13" + "1" * 16])
def test_expired_or_malformed_code_is_refused_and_creates_no_trade(
    client: httpx.Client, ali: AlipayEndpoint, auth_code: str
) -> None:
    answer = pay(client, "POS01-A005", auth_code)
    assert answer["code"] == "40004"
    assert answer["sub_code"] == "ACQ.PAYMENT_AUTH_CODE_INVALID"
    assert query(client, "POS01-A005")["sub_code"] == "ACQ.TRADE_NOT_EXIST"
    assert ali.collected() == 0


# ---------------------------------------------------------------- signatures


def test_unsigned_request_is_refused_with_a_signed_error_response_and_nothing_is_charged(
    mock: MockGateway, ali: AlipayEndpoint
) -> None:
    with httpx.Client(transport=mock.transport(), base_url=BASE) as unsigned:
        answer = pay(unsigned, "POS01-A010", code("1"))
    # As Alipay answers: HTTP 200, the refusal under error_response, signed.
    assert answer["_status"] == 200
    assert answer["_member"] == "error_response"
    assert answer["code"] == "40002"
    assert answer["sub_code"] == "isv.invalid-signature"
    assert ali.collected() == 0


def test_tampered_request_is_refused_and_nothing_is_charged(
    mock: MockGateway, ali: AlipayEndpoint
) -> None:
    params = ali.signer().signed_params(
        "alipay.trade.pay",
        {
            "out_trade_no": "POS01-A011",
            "scene": "bar_code",
            "auth_code": code("1"),
            "subject": "药品",
            "total_amount": "12.50",
        },
    )
    params["biz_content"] = params["biz_content"].replace("12.50", "0.01")
    answer = mock.handle(httpx.Request("POST", BASE + PATH, data=params))
    assert answer.status_code == 200
    assert json.loads(answer.content)["error_response"]["sub_code"] == "isv.invalid-signature"
    assert ali.collected() == 0
    # The refusal itself is signed by the mock's Alipay key.
    ali.verifier().verify_response(answer.content, "alipay.trade.pay")


def test_unknown_app_is_refused(mock: MockGateway) -> None:
    stranger = AlipaySigner(
        app_id="2021999999999999",
        private_key=RsaPrivateKey(rsa.generate_private_key(public_exponent=65537, key_size=2048)),
    )
    params = stranger.signed_params("alipay.trade.query", {"out_trade_no": "X"})
    answer = mock.handle(httpx.Request("POST", BASE + PATH, data=params))
    assert answer.status_code == 200
    assert json.loads(answer.content)["error_response"]["sub_code"] == "isv.invalid-app-id"


def test_sdk_rejects_an_answer_the_mock_did_not_sign(
    client: httpx.Client, ali: AlipayEndpoint
) -> None:
    answer = pay(client, "POS01-A012", code("1"))
    assert answer["code"] == "10000"
    with pytest.raises(SignatureError):
        ali.verifier().verify_response(
            b'{"alipay_trade_pay_response":{"code":"10000"},"sign":"' + b"A" * 344 + b'"}',
            "alipay.trade.pay",
        )


def test_python_alipay_sdk_as_an_independent_client_is_accepted_and_verifies_the_mock(
    mock: MockGateway, ali: AlipayEndpoint
) -> None:
    app_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ali.register_app("2021000100000777", RsaPrivateKey(app_key).public_key)
    peer = AliPay(
        appid="2021000100000777",
        app_private_key_string=app_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode(),
        alipay_public_key_string=ali.alipay_public_key.cryptography_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode(),
    )
    data = peer.build_body(
        "alipay.trade.pay",
        {
            "out_trade_no": "PEER-A001",
            "scene": "bar_code",
            "auth_code": code("1"),
            "subject": "peer",
            "total_amount": "9.90",
        },
    )
    answer = mock.handle(httpx.Request("GET", f"{BASE}{PATH}?{peer.sign_data(data)}"))
    assert answer.status_code == 200
    content = peer._verify_and_return_sync_response(
        answer.content.decode(), "alipay_trade_pay_response"
    )
    assert content["code"] == "10000"
    assert content["total_amount"] == "9.90"


# ---------------------------------------------------------------- idempotency and amounts


def test_same_out_trade_no_same_content_is_the_same_trade_charged_once(
    client: httpx.Client, ali: AlipayEndpoint
) -> None:
    first = pay(client, "POS01-A020", code("1"))
    again = pay(client, "POS01-A020", code("1"))
    assert again["code"] == "10000"
    assert again["trade_no"] == first["trade_no"]
    assert ali.collected() == Fen(1250)


def test_same_out_trade_no_other_content_is_refused(
    client: httpx.Client, ali: AlipayEndpoint
) -> None:
    pay(client, "POS01-A021", code("1"))
    answer = pay(client, "POS01-A021", code("1"), total="99.99")
    assert answer["sub_code"] == "ACQ.CONTEXT_INCONSISTENT"
    assert "own out_trade_no" in answer["sub_msg"]
    assert ali.collected() == Fen(1250)


def pay_raw(client: httpx.Client, out_trade_no: str, total_json: str) -> dict[str, Any]:
    """A payment whose total_amount is written into the JSON text as given (never a float)."""
    biz = (
        f'{{"out_trade_no":"{out_trade_no}","scene":"bar_code","auth_code":"{code("1")}",'
        f'"subject":"药品","total_amount":{total_json}}}'
    )
    return call(client, "alipay.trade.pay", biz)


@pytest.mark.parametrize(
    ("total_json", "fen"),
    [("12.5", 1250), ("12.50", 1250), ("1250", 125_000), ('"12.5"', 1250), ("0.01", 1)],
)
def test_amount_as_a_json_number_or_string_is_read_to_the_fen(
    client: httpx.Client, ali: AlipayEndpoint, total_json: str, fen: int
) -> None:
    answer = pay_raw(client, "POS01-A023", total_json)
    assert answer["code"] == "10000", answer
    assert answer["total_amount"] == Fen(fen).to_yuan()
    assert ali.collected() == Fen(fen)


@pytest.mark.parametrize(
    "total_json",
    ["12.505", "12.500", '"12.505"', "-1.00", "0", '"0.00"', '"abc"', "true", '"NaN"', "1e9"],
)
def test_amount_that_is_not_whole_fen_within_range_is_refused_not_rounded(
    client: httpx.Client, ali: AlipayEndpoint, total_json: str
) -> None:
    answer = pay_raw(client, "POS01-A022", total_json)
    assert answer["sub_code"] == "ACQ.INVALID_PARAMETER"
    assert ali.collected() == 0


def test_a_parameter_sent_twice_is_refused(mock: MockGateway, ali: AlipayEndpoint) -> None:
    params = ali.signer().signed_params("alipay.trade.query", {"out_trade_no": "X"})
    answer = mock.handle(
        httpx.Request("POST", BASE + PATH, params={"method": params["method"]}, data=params)
    )
    # Which method was meant is not trusted either: the answer is under error_response.
    assert json.loads(answer.content)["error_response"]["sub_code"] == "isv.invalid-parameter"


def test_unknown_method_is_answered_under_error_response_signed(
    client: httpx.Client, ali: AlipayEndpoint
) -> None:
    answer = client.post(
        PATH,
        params=ali.signer().common_params("alipay.trade.precreate"),
        data={"biz_content": "{}"},
    )
    body = json.loads(answer.content)
    assert body["error_response"]["sub_code"] == "isv.invalid-method"


# ---------------------------------------------------------------- cancel


def test_cancel_of_a_paid_trade_refunds_it_and_is_idempotent(
    client: httpx.Client, ali: AlipayEndpoint
) -> None:
    pay(client, "POS01-A030", code("1"))
    first = cancel(client, "POS01-A030")
    assert first["action"] == "refund"
    assert ali.collected() == 0
    again = cancel(client, "POS01-A030")
    assert again["action"] == "refund"
    assert query(client, "POS01-A030")["trade_status"] == "TRADE_CLOSED"
    assert ali.collected() == 0


def test_cancel_of_an_unknown_trade_bars_a_late_payment(
    client: httpx.Client, ali: AlipayEndpoint
) -> None:
    assert cancel(client, "POS01-A031")["sub_code"] == "ACQ.TRADE_NOT_EXIST"
    late = pay(client, "POS01-A031", code("1"))
    assert late["sub_code"] == "ACQ.TRADE_HAS_CLOSE"
    assert ali.collected() == 0


# ---------------------------------------------------------------- refunds


def test_partial_refunds_are_summed_and_over_refund_is_refused(
    client: httpx.Client, ali: AlipayEndpoint
) -> None:
    pay(client, "POS01-A040", code("1"))
    first = refund(client, "POS01-A040", "5.00", "R1")
    assert first["code"] == "10000"
    assert first["fund_change"] == "Y"
    assert first["refund_fee"] == "5.00"
    second = refund(client, "POS01-A040", "7.50", "R2")
    assert second["refund_fee"] == "12.50"
    assert ali.collected() == 0
    over = refund(client, "POS01-A040", "0.01", "R3")
    assert over["sub_code"] == "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL"
    assert query(client, "POS01-A040")["trade_status"] == "TRADE_CLOSED"


def test_refund_over_the_paid_amount_is_refused(client: httpx.Client, ali: AlipayEndpoint) -> None:
    pay(client, "POS01-A041", code("1"))
    assert refund(client, "POS01-A041", "12.51")["sub_code"] == "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL"
    assert ali.collected() == Fen(1250)


def test_refund_of_an_unknown_or_unpaid_trade_is_refused(
    client: httpx.Client, ali: AlipayEndpoint
) -> None:
    assert refund(client, "NEVER-SENT", "1.00")["sub_code"] == "ACQ.TRADE_NOT_EXIST"
    pay(client, "POS01-A042", code("3"))
    assert refund(client, "POS01-A042", "1.00")["sub_code"] == "ACQ.TRADE_STATUS_ERROR"
    pay(client, "POS01-A043", code("4"))
    assert refund(client, "POS01-A043", "1.00")["sub_code"] == "ACQ.TRADE_STATUS_ERROR"
    assert ali.collected() == 0


def test_same_out_request_no_refunds_once_and_other_content_is_refused(
    client: httpx.Client, ali: AlipayEndpoint
) -> None:
    pay(client, "POS01-A044", code("1"))
    refund(client, "POS01-A044", "3.00", "R1")
    again = refund(client, "POS01-A044", "3.00", "R1")
    assert again["fund_change"] == "N"
    assert again["refund_fee"] == "3.00"
    assert ali.collected() == Fen(950)
    changed = refund(client, "POS01-A044", "4.00", "R1")
    assert changed["sub_code"] == "ACQ.CONTEXT_INCONSISTENT"
    assert ali.collected() == Fen(950)


def test_refund_after_cancel_is_refused(client: httpx.Client, ali: AlipayEndpoint) -> None:
    pay(client, "POS01-A045", code("1"))
    cancel(client, "POS01-A045")
    assert refund(client, "POS01-A045", "1.00")["sub_code"] == "ACQ.TRADE_STATUS_ERROR"
    assert ali.collected() == 0


# ---------------------------------------------------------------- notifications


def test_notifications_verify_with_the_sdk_and_carry_yuan_strings(
    client: httpx.Client, ali: AlipayEndpoint
) -> None:
    pay(client, "POS01-A050", code("2"), notify_url="https://pos.example/alipay/notify")
    assert ali.notifications == []  # nothing paid yet
    query(client, "POS01-A050")
    refund(client, "POS01-A050", "2.50", "R1")
    paid, refunded = ali.notifications
    assert paid.url == "https://pos.example/alipay/notify"
    verified = ali.verifier().verify_notification_body(paid.body)
    assert verified["notify_type"] == "trade_status_sync"
    assert verified["trade_status"] == "TRADE_SUCCESS"
    assert verified["total_amount"] == "12.50"
    assert "sign_type" in verified
    again = ali.verifier().verify_notification(refunded.params)
    assert again["refund_fee"] == "2.50"
    assert again["out_biz_no"] == "R1"


def test_notification_verifies_with_python_alipay_sdk(
    client: httpx.Client, ali: AlipayEndpoint
) -> None:
    pay(client, "POS01-A051", code("1"), notify_url="https://pos.example/alipay/notify")
    [paid] = ali.notifications
    unused_app_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    peer = AliPay(
        appid=ali.app_id,
        app_private_key_string=unused_app_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode(),
        alipay_public_key_string=ali.alipay_public_key.cryptography_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode(),
    )
    params = dict(paid.params)
    sign = params.pop("sign")
    assert peer.verify(params, sign)


def test_tampered_notification_is_refused_by_the_sdk(
    client: httpx.Client, ali: AlipayEndpoint
) -> None:
    pay(client, "POS01-A052", code("1"), notify_url="https://pos.example/alipay/notify")
    [paid] = ali.notifications
    with pytest.raises(SignatureError):
        ali.verifier().verify_notification({**paid.params, "total_amount": "0.01"})


def test_reprs_show_no_key_material(ali: AlipayEndpoint) -> None:
    shown = repr(ali) + repr(ali.signer()) + repr(ali.public_keys()) + repr(ali.app_private_key)
    assert "PRIVATE" not in shown
    assert "sha256:" in shown
