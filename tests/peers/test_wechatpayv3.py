"""wechatpayv3 (``WeChatPay``), unchanged but for its gateway URL, against the served mock,
in public-key mode and in certificate mode (its default: the platform certificates are
downloaded from ``GET /v3/certificates`` and decrypted with the APIv3 key by the SDK):
codepay, USERPAYING then query, reverse, query by out_trade_no and by transaction_id,
close, refund and refund query, callbacks opened with ``callback()``; and in certificate
mode, a rotation that the SDK follows by downloading again on the unknown serial.

Payment codes: 18 digits, "13" first; the last digit decides (1 paid, 2 password then paid
at the first query, 3 password never entered).
"""

from __future__ import annotations

import json

import pytest
from cryptography.hazmat.primitives import serialization
from wechatpayv3 import WeChatPay, WeChatPayType
from wechatpayv3.core import Core

from gongji import Fen
from gongji_mock import MockGateway
from gongji_mock.wechatpay.endpoint import DEFAULT_APPID, DEFAULT_MCHID, DEFAULT_MERCHANT_SERIAL

NOTIFY_URL = "https://pos.example/wechat/refund"


def code(last: str) -> str:
    return f"13345678901234567{last}"


class _BaseUrl:
    """wechatpayv3 has no base-URL option and, in certificate mode, downloads the certificates
    inside its constructor: its private ``Core._gate_way`` (the one thing changed) is set on
    the class as a data descriptor, so that the constructor's own assignment cannot undo it."""

    def __init__(self, url: str) -> None:
        self.url = url

    def __get__(self, core: object, owner: object = None) -> str:
        return self.url

    def __set__(self, core: object, value: str) -> None:
        del core, value  # the real gateway's address, written by Core.__init__: kept out


@pytest.fixture(params=["public-key", "certificate"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def mock(served: tuple[MockGateway, str]) -> MockGateway:
    return served[0]


@pytest.fixture
def peer(served: tuple[MockGateway, str], mode: str, monkeypatch: pytest.MonkeyPatch) -> WeChatPay:
    mock, url = served
    monkeypatch.setattr(Core, "_gate_way", _BaseUrl(url), raising=False)
    public_key = None
    if mode == "public-key":
        public_key = (
            mock.wechatpay.platform_public_key.cryptography_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )
    return WeChatPay(
        wechatpay_type=WeChatPayType.CODEPAY,
        mchid=DEFAULT_MCHID,
        private_key=mock.keys.wechatpay_merchant,
        cert_serial_no=DEFAULT_MERCHANT_SERIAL,
        appid=DEFAULT_APPID,
        apiv3_key=mock.keys.wechatpay_apiv3,
        notify_url=NOTIFY_URL,
        public_key=public_key,
        public_key_id=mock.wechatpay.platform_key_id if public_key else None,
    )


def codepay(peer: WeChatPay, out_trade_no: str, auth_code: str, total: int = 1250) -> tuple:
    return peer.pay(
        description="大连测试药房-药品",
        out_trade_no=out_trade_no,
        amount={"total": total, "currency": "CNY"},
        payer={"auth_code": auth_code},
        scene_info={"store_info": {"out_id": "POS01"}},
    )


def state(peer: WeChatPay, out_trade_no: str) -> str:
    status, text = peer.query(out_trade_no=out_trade_no)
    assert status == 200, text
    return str(json.loads(text)["trade_state"])


def test_codepay_is_paid_once_and_queried_by_either_number(
    peer: WeChatPay, mock: MockGateway
) -> None:
    status, text = codepay(peer, "PEER-W001", code("1"))
    assert status == 200, text
    paid = json.loads(text)
    assert (paid["trade_state"], paid["amount"]["total"]) == ("SUCCESS", 1250)
    assert codepay(peer, "PEER-W001", code("1"))[0] == 200
    assert mock.wechatpay.collected() == Fen(1250)
    status, text = peer.query(transaction_id=paid["transaction_id"])
    assert status == 200, text
    assert json.loads(text)["out_trade_no"] == "PEER-W001"


def test_userpaying_then_the_query_finds_it_paid(peer: WeChatPay, mock: MockGateway) -> None:
    status, text = codepay(peer, "PEER-W002", code("2"))
    assert (status, json.loads(text)["code"]) == (202, "USERPAYING")
    assert mock.wechatpay.collected() == 0
    assert state(peer, "PEER-W002") == "SUCCESS"
    assert mock.wechatpay.collected() == Fen(1250)


def test_reverse_closes_a_payment_never_confirmed(peer: WeChatPay, mock: MockGateway) -> None:
    assert codepay(peer, "PEER-W003", code("3"))[0] == 202
    status, text = peer.codepay_reverse("PEER-W003")
    assert status == 200, text
    assert state(peer, "PEER-W003") == "REVOKED"
    assert mock.wechatpay.collected() == 0


def test_close_closes_a_payment_never_confirmed_and_it_is_never_paid(
    peer: WeChatPay, mock: MockGateway
) -> None:
    assert codepay(peer, "PEER-W004", code("3"))[0] == 202
    status, text = peer.close("PEER-W004")
    assert (status, text) == (204, "")
    assert state(peer, "PEER-W004") == "CLOSED"
    assert peer.close("PEER-W004")[0] == 204
    assert mock.wechatpay.collected() == 0


def test_refund_then_its_query_and_the_callback_opened_by_the_sdk(
    peer: WeChatPay, mock: MockGateway
) -> None:
    assert codepay(peer, "PEER-W005", code("1"))[0] == 200
    amount = {"refund": 500, "total": 1250, "currency": "CNY"}
    status, text = peer.refund("PEER-R005", amount, out_trade_no="PEER-W005")
    assert status == 200, text
    assert json.loads(text)["status"] == "SUCCESS"
    status, text = peer.query_refund("PEER-R005")
    assert status == 200, text
    assert json.loads(text)["amount"]["refund"] == 500
    assert mock.wechatpay.collected() == Fen(750)
    callbacks = [c for c in mock.wechatpay.notifications if c.event_type == "REFUND.SUCCESS"]
    assert len(callbacks) == 1
    opened = peer.callback(callbacks[0].headers, callbacks[0].body)
    assert opened is not None, "the SDK did not verify or decrypt the callback"
    assert opened["resource"]["out_refund_no"] == "PEER-R005"
    assert opened["resource"]["amount"]["refund"] == 500
    altered = callbacks[0].body.replace(b"REFUND.SUCCESS", b"REFUND.ABNORMAL")
    assert peer.callback(callbacks[0].headers, altered) is None


@pytest.mark.parametrize("mode", ["certificate"])
def test_certificate_rotation_is_followed_by_downloading_again(
    peer: WeChatPay, mock: MockGateway
) -> None:
    assert codepay(peer, "PEER-W006", code("1"))[0] == 200
    assert downloads(mock) == 1  # the SDK's constructor
    mock.wechatpay.certificates.rotate()
    # Answers are now signed under the new certificate: unknown to the SDK, which downloads
    # the list again (the old certificate still in it) and verifies; else it would raise.
    assert state(peer, "PEER-W006") == "SUCCESS"
    assert downloads(mock) == 2
    assert state(peer, "PEER-W006") == "SUCCESS"
    assert downloads(mock) == 2


def downloads(mock: MockGateway) -> int:
    return sum(1 for r in mock.recent.records() if r.code == "/v3/certificates")
