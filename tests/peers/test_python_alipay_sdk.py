"""python-alipay-sdk (``alipay.AliPay``), unchanged but for its gateway URL, against the
served mock: pay, password code then query, refund and its repeat, cancel, close, refund
query, notifications with ``verify()``, and a refused signature reaching the caller as
Alipay's own code (40002), not as an HTTP error.

Payment codes: 16 digits, "28" first; the last digit decides (1 paid, 2 password then paid
at the first query, 3 password never entered).
"""

from __future__ import annotations

import pytest
from alipay import AliPay
from alipay.exceptions import AliPayException
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from gongji import Fen
from gongji_mock import MockGateway
from gongji_mock.alipay.endpoint import PATH

NOTIFY_URL = "https://pos.example/alipay/notify"


def code(last: str) -> str:
    return f"288765432101234{last}"


def peer_of(mock: MockGateway, url: str, *, app_private_key: str | None = None) -> AliPay:
    """python-alipay-sdk configured as a merchant would, with the mock's test app keys."""
    alipay_public_key = (
        mock.alipay.alipay_public_key.cryptography_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    peer = AliPay(
        appid=mock.alipay.app_id,
        app_notify_url=NOTIFY_URL,
        app_private_key_string=app_private_key or mock.keys.alipay_app,
        alipay_public_key_string=alipay_public_key,
    )
    # python-alipay-sdk has no base-URL option: its private _gateway is the one thing changed.
    peer._gateway = url + PATH
    return peer


@pytest.fixture
def peer(served: tuple[MockGateway, str]) -> AliPay:
    return peer_of(*served)


@pytest.fixture
def mock(served: tuple[MockGateway, str]) -> MockGateway:
    return served[0]


def test_pay_with_a_json_number_amount_is_paid_once_and_verified(
    peer: AliPay, mock: MockGateway
) -> None:
    # The SDK's own examples send total_amount as a JSON number: read to the fen, no float.
    paid = peer.api_alipay_trade_pay("PEER-A001", "bar_code", code("1"), "药品", total_amount=12.5)
    assert paid["code"] == "10000"
    assert paid["total_amount"] == "12.50"
    again = peer.api_alipay_trade_pay("PEER-A001", "bar_code", code("1"), "药品", total_amount=12.5)
    assert again["trade_no"] == paid["trade_no"]
    assert mock.alipay.collected() == Fen(1250)


def test_password_code_is_in_process_then_paid_at_the_query(
    peer: AliPay, mock: MockGateway
) -> None:
    waiting = peer.api_alipay_trade_pay(
        "PEER-A002", "bar_code", code("2"), "药品", total_amount="9.90"
    )
    assert waiting["code"] == "10003"
    assert mock.alipay.collected() == 0
    status = peer.api_alipay_trade_query(out_trade_no="PEER-A002")
    assert status["trade_status"] == "TRADE_SUCCESS"
    assert mock.alipay.collected() == Fen(990)


def test_refund_and_its_repeat_refund_once_and_the_refund_query_finds_it(
    peer: AliPay, mock: MockGateway
) -> None:
    peer.api_alipay_trade_pay("PEER-A003", "bar_code", code("1"), "药品", total_amount="12.50")
    first = peer.api_alipay_trade_refund("5.00", out_trade_no="PEER-A003", out_request_no="R1")
    repeat = peer.api_alipay_trade_refund("5.00", out_trade_no="PEER-A003", out_request_no="R1")
    assert (first["fund_change"], repeat["fund_change"]) == ("Y", "N")
    assert mock.alipay.collected() == Fen(750)
    found = peer.api_alipay_trade_fastpay_refund_query("R1", out_trade_no="PEER-A003")
    assert found["code"] == "10000"
    assert found["refund_amount"] == "5.00"
    assert found["refund_status"] == "REFUND_SUCCESS"
    never = peer.api_alipay_trade_fastpay_refund_query("R2", out_trade_no="PEER-A003")
    assert "refund_amount" not in never  # Alipay's way of saying "not refunded"


def test_cancel_of_a_waiting_payment_closes_it_uncharged(peer: AliPay, mock: MockGateway) -> None:
    peer.api_alipay_trade_pay("PEER-A004", "bar_code", code("3"), "药品", total_amount="3.00")
    cancelled = peer.api_alipay_trade_cancel(out_trade_no="PEER-A004")
    assert (cancelled["code"], cancelled["action"]) == ("10000", "close")
    assert peer.api_alipay_trade_query(out_trade_no="PEER-A004")["trade_status"] == "TRADE_CLOSED"
    assert mock.alipay.collected() == 0


def test_close_of_a_waiting_payment_closes_it_and_a_paid_one_is_not_closed(
    peer: AliPay, mock: MockGateway
) -> None:
    peer.api_alipay_trade_pay("PEER-A005", "bar_code", code("3"), "药品", total_amount="3.00")
    closed = peer.api_alipay_trade_close(out_trade_no="PEER-A005")
    assert (closed["code"], closed["out_trade_no"]) == ("10000", "PEER-A005")
    assert peer.api_alipay_trade_query(out_trade_no="PEER-A005")["trade_status"] == "TRADE_CLOSED"
    peer.api_alipay_trade_pay("PEER-A006", "bar_code", code("1"), "药品", total_amount="3.00")
    refused = peer.api_alipay_trade_close(out_trade_no="PEER-A006")
    assert refused["sub_code"] == "ACQ.TRADE_STATUS_ERROR"
    assert mock.alipay.collected() == Fen(300)


def test_notifications_verify_with_the_sdk(peer: AliPay, mock: MockGateway) -> None:
    peer.api_alipay_trade_pay("PEER-A007", "bar_code", code("1"), "药品", total_amount="12.50")
    peer.api_alipay_trade_refund("2.50", out_trade_no="PEER-A007", out_request_no="R1")
    notices = [n for n in mock.alipay.notifications if n.params["out_trade_no"] == "PEER-A007"]
    assert [n.params["trade_status"] for n in notices] == ["TRADE_SUCCESS", "TRADE_SUCCESS"]
    for notice in notices:
        data = dict(notice.params)
        signature = data.pop("sign")
        assert peer.verify(data, signature)
    tampered = dict(notices[0].params, total_amount="0.01")
    signature = tampered.pop("sign")
    assert not peer.verify(tampered, signature)


def test_a_refused_signature_reaches_the_caller_as_alipay_s_code_not_an_http_error(
    served: tuple[MockGateway, str],
) -> None:
    mock, url = served
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = stranger.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    peer = peer_of(mock, url, app_private_key=pem)
    with pytest.raises(AliPayException) as raised:
        peer.api_alipay_trade_pay("PEER-A008", "bar_code", code("1"), "药品", total_amount="1.00")
    # The SDK shows the code and Alipay's answer only through str().
    assert "code:40002" in str(raised.value)
    assert "isv.invalid-signature" in str(raised.value)
    assert mock.alipay.collected() == 0
