"""The mock's WeChat Pay APIv3, end to end: requests signed by the SDK's WechatPayAuth (and by
wechatpayv3 as an independent client), responses and callbacks verified by the SDK's code.

Payment codes (docs/reference/mock-channels.md): 18 digits starting 10-15; the last digit
decides: 2 password then paid at the first query, 3 password never entered, 4 insufficient
funds, 5 expired, anything else paid at once.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterator

import httpx
import msgspec
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from wechatpayv3 import utils as peer

from gongji import Fen
from gongji.signing._common import lower_keys
from gongji.signing.keys import RsaPrivateKey
from gongji.signing.wechatpay import (
    WechatPayAuth,
    WechatPayNotifications,
    verify_platform_signature,
)
from gongji_mock import MockGateway
from gongji_mock.wechatpay.endpoint import (
    CODEPAY_PATH,
    DEFAULT_APPID,
    DEFAULT_MCHID,
    REFUNDS_PATH,
    Outcome,
    WechatPayEndpoint,
    outcome_of,
)
from tests.mock.conftest import Connect

BASE = "https://api.mch.weixin.qq.com"


def code(last: str, middle: str = "345678901234567") -> str:
    """A WeChat payment code: 18 digits, '13' first, ``last`` last."""
    return f"13{middle}{last}"


@pytest.fixture
def mock() -> MockGateway:
    return MockGateway.demo()


@pytest.fixture
def wx(mock: MockGateway) -> WechatPayEndpoint:
    return mock.wechatpay


@pytest.fixture
def client(mock: MockGateway, wx: WechatPayEndpoint, connect: Connect) -> Iterator[httpx.Client]:
    auth = WechatPayAuth(wx.merchant, wx.platform_keys())
    with connect(mock.handle, base_url=BASE, auth=auth) as signed:
        yield signed


def codepay(
    client: httpx.Client, out_trade_no: str, auth_code: str, total: object = 1250
) -> httpx.Response:
    return client.post(
        CODEPAY_PATH,
        json={
            "appid": DEFAULT_APPID,
            "mchid": DEFAULT_MCHID,
            "description": "大连测试药房-药品",
            "out_trade_no": out_trade_no,
            "payer": {"auth_code": auth_code},
            "amount": {"total": total, "currency": "CNY"},
            "scene_info": {"store_info": {"out_id": "POS01"}},
        },
    )


def query(client: httpx.Client, out_trade_no: str) -> httpx.Response:
    return client.get(
        f"/v3/pay/transactions/out-trade-no/{out_trade_no}", params={"mchid": DEFAULT_MCHID}
    )


def reverse(client: httpx.Client, out_trade_no: str) -> httpx.Response:
    return client.post(
        f"/v3/pay/transactions/out-trade-no/{out_trade_no}/reverse",
        json={"appid": DEFAULT_APPID, "mchid": DEFAULT_MCHID},
    )


def refund(
    client: httpx.Client, out_trade_no: str, out_refund_no: str, amount: int, total: int = 1250
) -> httpx.Response:
    return client.post(
        REFUNDS_PATH,
        json={
            "out_trade_no": out_trade_no,
            "out_refund_no": out_refund_no,
            "reason": "退药",
            "notify_url": "https://pos.example/wechat/refund",
            "amount": {"refund": amount, "total": total, "currency": "CNY"},
        },
    )


def state(client: httpx.Client, out_trade_no: str) -> str:
    answer = query(client, out_trade_no)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["trade_state"])


# ---------------------------------------------------------------- the test codes


def test_codes_are_decided_by_shape_and_last_digit() -> None:
    assert outcome_of(code("1")) is Outcome.PAID
    assert outcome_of(code("0")) is Outcome.PAID
    assert outcome_of(code("2")) is Outcome.USERPAYING_THEN_PAID
    assert outcome_of(code("3")) is Outcome.USERPAYING_FOREVER
    assert outcome_of(code("4")) is Outcome.INSUFFICIENT_FUNDS
    assert outcome_of(code("5")) is Outcome.CODE_EXPIRED
    assert outcome_of("16" + "0" * 16) is None  # 16 is not a WeChat prefix
    assert outcome_of("1312345") is None
    assert outcome_of("28" + "0" * 16) is None  # an Alipay code


def test_paid_code_charges_once_and_answers_a_signed_transaction_in_fen(
    client: httpx.Client, wx: WechatPayEndpoint
) -> None:
    answer = codepay(client, "POS01-0001", code("1"))
    assert answer.status_code == 200
    body = msgspec.json.decode(answer.content, type=dict[str, object])
    assert body["trade_state"] == "SUCCESS"
    assert body["trade_type"] == "MICROPAY"
    assert body["amount"] == {
        "total": 1250,
        "payer_total": 1250,
        "currency": "CNY",
        "payer_currency": "CNY",
    }
    assert str(body["transaction_id"]).startswith("42000")
    # The SDK's verifier, called directly as well as inside WechatPayAuth.
    serial = verify_platform_signature(
        lower_keys(answer.headers),
        answer.content,
        wx.platform_keys(),
        at=datetime.datetime.now(datetime.UTC),
        what="test",
    )
    assert serial == wx.platform_key_id
    assert wx.collected() == Fen(1250)
    assert state(client, "POS01-0001") == "SUCCESS"


def test_password_code_answers_userpaying_then_is_paid_at_the_first_query(
    client: httpx.Client, wx: WechatPayEndpoint
) -> None:
    answer = codepay(client, "POS01-0002", code("2"))
    assert answer.status_code == 202
    assert answer.json()["code"] == "USERPAYING"
    assert wx.collected() == 0
    assert state(client, "POS01-0002") == "SUCCESS"
    assert wx.collected() == Fen(1250)


def test_password_never_entered_stays_userpaying_and_reverse_closes_it_uncharged(
    client: httpx.Client, wx: WechatPayEndpoint
) -> None:
    assert codepay(client, "POS01-0003", code("3")).status_code == 202
    assert state(client, "POS01-0003") == "USERPAYING"
    assert state(client, "POS01-0003") == "USERPAYING"
    answer = reverse(client, "POS01-0003")
    assert answer.status_code == 200
    assert answer.json() == {
        "appid": DEFAULT_APPID,
        "mchid": DEFAULT_MCHID,
        "out_trade_no": "POS01-0003",
    }
    assert state(client, "POS01-0003") == "REVOKED"
    assert wx.collected() == 0


def test_insufficient_funds_fails_and_charges_nothing(
    client: httpx.Client, wx: WechatPayEndpoint
) -> None:
    answer = codepay(client, "POS01-0004", code("4"))
    assert answer.status_code == 403
    assert answer.json()["code"] == "NOT_ENOUGH"
    assert state(client, "POS01-0004") == "PAYERROR"
    assert wx.collected() == 0


@pytest.mark.parametrize("auth_code", [code("5"), "16" + "1" * 16, "131234", "28" + "1" * 16])
def test_expired_or_malformed_code_is_a_param_error_and_creates_no_order(
    client: httpx.Client, wx: WechatPayEndpoint, auth_code: str
) -> None:
    answer = codepay(client, "POS01-0005", auth_code)
    assert answer.status_code == 400
    assert answer.json()["code"] == "PARAM_ERROR"
    assert answer.json()["detail"]["field"] == "payer.auth_code"
    assert query(client, "POS01-0005").status_code == 404
    assert wx.collected() == 0


# ---------------------------------------------------------------- signatures


def test_unsigned_request_is_refused_401_and_nothing_is_charged(
    mock: MockGateway, wx: WechatPayEndpoint
) -> None:
    with httpx.Client(transport=mock.transport(), base_url=BASE) as unsigned:
        answer = codepay(unsigned, "POS01-0010", code("1"))
    assert answer.status_code == 401
    assert answer.json()["code"] == "SIGN_ERROR"
    assert wx.collected() == 0


def test_tampered_body_is_refused_401_and_nothing_is_charged(
    mock: MockGateway, wx: WechatPayEndpoint
) -> None:
    auth = WechatPayAuth(wx.merchant, wx.platform_keys())
    body = {
        "appid": DEFAULT_APPID,
        "mchid": DEFAULT_MCHID,
        "description": "药品",
        "out_trade_no": "POS01-0011",
        "payer": {"auth_code": code("1")},
        "amount": {"total": 1250},
    }
    signed = httpx.Request("POST", BASE + CODEPAY_PATH, json=body)
    auth.sign(signed)
    tampered = httpx.Request(
        "POST",
        BASE + CODEPAY_PATH,
        content=signed.content.replace(b"1250", b"1"),
        headers=dict(signed.headers),
    )
    answer = mock.handle(tampered)
    assert answer.status_code == 401
    assert wx.collected() == 0
    # The refusal is itself signed by the platform key.
    auth.verify(answer)


def test_replayed_request_is_refused(mock: MockGateway, wx: WechatPayEndpoint) -> None:
    auth = WechatPayAuth(wx.merchant, wx.platform_keys())
    request = httpx.Request(
        "GET", BASE + "/v3/pay/transactions/out-trade-no/X1", params={"mchid": DEFAULT_MCHID}
    )
    auth.sign(request)
    assert mock.handle(request).status_code == 404
    assert mock.handle(request).status_code == 401


def test_unknown_merchant_key_is_refused(mock: MockGateway) -> None:
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    authorization = peer.build_authorization(
        "/v3/pay/transactions/out-trade-no/X2?mchid=1900000001",
        "GET",
        DEFAULT_MCHID,
        "0123ABCD",
        stranger,
    )
    answer = mock.handle(
        httpx.Request(
            "GET",
            BASE + "/v3/pay/transactions/out-trade-no/X2?mchid=1900000001",
            headers={"Authorization": authorization},
        )
    )
    assert answer.status_code == 401
    assert "not registered" in answer.json()["message"]


def test_wechatpayv3_as_an_independent_client_is_accepted_and_verifies_the_mock(
    mock: MockGateway, wx: WechatPayEndpoint
) -> None:
    merchant_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    wx.register_merchant(DEFAULT_MCHID, "7A5B6C", RsaPrivateKey(merchant_key).public_key)
    payload = json.dumps(
        {
            "appid": DEFAULT_APPID,
            "mchid": DEFAULT_MCHID,
            "description": "peer",
            "out_trade_no": "PEER-0001",
            "payer": {"auth_code": code("1")},
            "amount": {"total": 990},
        }
    )
    authorization = peer.build_authorization(
        CODEPAY_PATH, "POST", DEFAULT_MCHID, "7A5B6C", merchant_key, data=payload
    )
    answer = mock.handle(
        httpx.Request(
            "POST",
            BASE + CODEPAY_PATH,
            content=payload.encode(),
            headers={
                "Authorization": authorization,
                "Content-Type": "application/json",
                # Public-key mode, as wechatpayv3 sends it: the answer is signed with that key.
                "Wechatpay-Serial": wx.platform_key_id,
            },
        )
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["Wechatpay-Serial"] == wx.platform_key_id
    assert peer.rsa_verify(
        answer.headers["Wechatpay-Timestamp"],
        answer.headers["Wechatpay-Nonce"],
        answer.text,
        answer.headers["Wechatpay-Signature"],
        wx.platform_public_key.cryptography_key(),
    )
    assert answer.json()["amount"]["total"] == 990


# ---------------------------------------------------------------- idempotency and amounts


def test_same_out_trade_no_same_content_is_the_same_trade_charged_once(
    client: httpx.Client, wx: WechatPayEndpoint
) -> None:
    first = codepay(client, "POS01-0020", code("1"))
    again = codepay(client, "POS01-0020", code("1"))
    assert again.status_code == 200
    assert again.json()["transaction_id"] == first.json()["transaction_id"]
    assert wx.collected() == Fen(1250)


def test_same_out_trade_no_other_content_is_refused_and_charges_nothing_more(
    client: httpx.Client, wx: WechatPayEndpoint
) -> None:
    codepay(client, "POS01-0021", code("1"))
    answer = codepay(client, "POS01-0021", code("1"), total=9999)
    assert answer.status_code == 403
    assert answer.json()["code"] == "OUT_TRADE_NO_USED"
    assert "own out_trade_no" in answer.json()["message"]
    assert wx.collected() == Fen(1250)


@pytest.mark.parametrize("total", [12.5, "1250", 1250.0])
def test_amount_that_is_not_integer_fen_is_refused(
    client: httpx.Client, wx: WechatPayEndpoint, total: object
) -> None:
    answer = codepay(client, "POS01-0022", code("1"), total=total)
    assert answer.status_code == 400
    assert answer.json()["code"] == "PARAM_ERROR"
    assert "integer fen" in answer.json()["message"]
    assert wx.collected() == 0


def test_query_needs_the_merchant_id(client: httpx.Client) -> None:
    codepay(client, "POS01-0023", code("1"))
    answer = client.get("/v3/pay/transactions/out-trade-no/POS01-0023")
    assert answer.status_code == 400
    assert answer.json()["detail"]["field"] == "mchid"


def test_query_of_an_unknown_order_is_not_found(client: httpx.Client) -> None:
    answer = query(client, "NEVER-SENT")
    assert answer.status_code == 404
    assert answer.json()["code"] == "ORDER_NOT_EXIST"


# ---------------------------------------------------------------- reverse


def test_reverse_of_a_paid_trade_refunds_it_and_is_idempotent(
    client: httpx.Client, wx: WechatPayEndpoint
) -> None:
    codepay(client, "POS01-0030", code("1"))
    assert wx.collected() == Fen(1250)
    assert reverse(client, "POS01-0030").status_code == 200
    assert wx.collected() == 0
    assert reverse(client, "POS01-0030").status_code == 200
    assert state(client, "POS01-0030") == "REVOKED"
    assert wx.collected() == 0


def test_reverse_of_an_unknown_order_bars_a_late_payment(
    client: httpx.Client, wx: WechatPayEndpoint
) -> None:
    assert reverse(client, "POS01-0031").status_code == 404
    assert reverse(client, "POS01-0031").status_code == 404
    late = codepay(client, "POS01-0031", code("1"))
    assert late.status_code == 403
    assert "reversed" in late.json()["message"]
    assert wx.collected() == 0


# ---------------------------------------------------------------- refunds


def test_partial_refunds_are_summed_and_the_rest_is_refundable_once(
    client: httpx.Client, wx: WechatPayEndpoint
) -> None:
    codepay(client, "POS01-0040", code("1"))
    first = refund(client, "POS01-0040", "R-0040-1", 500)
    assert first.status_code == 200
    assert first.json()["status"] == "SUCCESS"
    assert first.json()["amount"]["refund"] == 500
    assert first.json()["amount"]["total"] == 1250
    assert refund(client, "POS01-0040", "R-0040-2", 750).status_code == 200
    assert wx.collected() == 0
    over = refund(client, "POS01-0040", "R-0040-3", 1)
    assert over.status_code == 400
    assert "still refundable" in over.json()["message"]
    assert state(client, "POS01-0040") == "REFUND"


def test_refund_over_the_paid_amount_is_refused(
    client: httpx.Client, wx: WechatPayEndpoint
) -> None:
    codepay(client, "POS01-0041", code("1"))
    answer = refund(client, "POS01-0041", "R-0041", 1251)
    assert answer.status_code == 400
    assert wx.collected() == Fen(1250)


def test_refund_of_an_unknown_or_unpaid_order_is_refused(
    client: httpx.Client, wx: WechatPayEndpoint
) -> None:
    assert refund(client, "NEVER-SENT", "R-X", 100).status_code == 404
    codepay(client, "POS01-0042", code("3"))  # waiting for the password
    unpaid = refund(client, "POS01-0042", "R-0042", 100)
    assert unpaid.status_code == 400
    assert "not paid" in unpaid.json()["message"]
    codepay(client, "POS01-0043", code("4"))  # insufficient funds
    assert refund(client, "POS01-0043", "R-0043", 100).status_code == 400
    assert wx.collected() == 0


def test_refund_total_must_be_the_order_total(client: httpx.Client) -> None:
    codepay(client, "POS01-0044", code("1"))
    answer = refund(client, "POS01-0044", "R-0044", 100, total=1000)
    assert answer.status_code == 400
    assert answer.json()["detail"]["field"] == "amount.total"


def test_same_out_refund_no_refunds_once_and_other_content_is_refused(
    client: httpx.Client, wx: WechatPayEndpoint
) -> None:
    codepay(client, "POS01-0045", code("1"))
    first = refund(client, "POS01-0045", "R-0045", 300)
    again = refund(client, "POS01-0045", "R-0045", 300)
    assert again.json()["refund_id"] == first.json()["refund_id"]
    assert wx.collected() == Fen(950)
    changed = refund(client, "POS01-0045", "R-0045", 400)
    assert changed.status_code == 400
    assert "new out_refund_no" in changed.json()["message"]
    assert wx.collected() == Fen(950)
    assert len(wx.notifications) == 1


def test_refund_query_answers_the_refund_or_not_found(client: httpx.Client) -> None:
    codepay(client, "POS01-0046", code("1"))
    made = refund(client, "POS01-0046", "R-0046", 250).json()
    found = client.get("/v3/refund/domestic/refunds/R-0046")
    assert found.status_code == 200
    assert found.json() == made
    assert client.get("/v3/refund/domestic/refunds/R-NONE").status_code == 404


def test_reverse_after_a_partial_refund_gives_back_only_the_rest(
    client: httpx.Client, wx: WechatPayEndpoint
) -> None:
    codepay(client, "POS01-0047", code("1"))
    refund(client, "POS01-0047", "R-0047", 250)
    reverse(client, "POS01-0047")
    assert wx.collected() == 0


# ---------------------------------------------------------------- callbacks


def test_refund_callback_verifies_and_decrypts_with_the_sdk(
    client: httpx.Client, wx: WechatPayEndpoint
) -> None:
    codepay(client, "POS01-0050", code("1"))
    refund(client, "POS01-0050", "R-0050", 400)
    [callback] = wx.notifications
    assert callback.url == "https://pos.example/wechat/refund"
    assert callback.event_type == "REFUND.SUCCESS"
    opened = WechatPayNotifications(wx.platform_keys(), wx.apiv3_key).open(
        callback.headers, callback.body
    )
    assert opened.event_type == "REFUND.SUCCESS"
    assert opened.original_type == "refund"
    notice = msgspec.json.decode(opened.plaintext, type=dict[str, object])
    assert notice["out_refund_no"] == "R-0050"
    assert notice["refund_status"] == "SUCCESS"
    assert notice["amount"]["refund"] == 400  # type: ignore[index]
    assert notice["amount"]["payer_total"] == 1250  # type: ignore[index]


def test_refund_callback_verifies_and_decrypts_with_wechatpayv3(
    client: httpx.Client, wx: WechatPayEndpoint
) -> None:
    codepay(client, "POS01-0051", code("1"))
    refund(client, "POS01-0051", "R-0051", 1250)
    [callback] = wx.notifications
    headers = callback.headers
    assert peer.rsa_verify(
        headers["Wechatpay-Timestamp"],
        headers["Wechatpay-Nonce"],
        callback.body.decode(),
        headers["Wechatpay-Signature"],
        wx.platform_public_key.cryptography_key(),
    )
    resource = json.loads(callback.body)["resource"]
    assert resource["algorithm"] == "AEAD_AES_256_GCM"
    plaintext = peer.aes_decrypt(
        resource["nonce"], resource["ciphertext"], resource["associated_data"], wx.apiv3_key
    )
    assert json.loads(plaintext)["amount"]["refund"] == 1250


def test_reprs_show_no_key_material(wx: WechatPayEndpoint) -> None:
    shown = repr(wx) + repr(wx.merchant) + repr(wx.platform_keys())
    assert wx.apiv3_key not in shown
    assert "apiv3_key=<hidden>" in repr(wx)
    assert "PRIVATE" not in shown
