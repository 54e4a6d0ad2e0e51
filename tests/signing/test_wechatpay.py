"""WeChat Pay APIv3: byte-for-byte agreement with wechatpayv3, verification, callbacks, refusals."""

from __future__ import annotations

import base64
import datetime
import json
import types
from collections.abc import Callable

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from wechatpayv3 import utils as peer

from gongji.errors import ConfigError, SignatureError
from gongji.signing import (
    MemoryNonceCache,
    PlatformKeyStore,
    WechatPayAuth,
    WechatPayMerchant,
    WechatPayNotifications,
    verify_authorization,
)
from gongji.signing import wechatpay as wechatpay_module
from gongji.signing.keys import RsaPrivateKey
from gongji.signing.wechatpay import encrypt_resource, platform_headers
from tests.signing.conftest import NOW, NOW_UTC, CertFactory, FixedClock

MCHID = "1900000109"
MERCHANT_SERIAL = "3775B6A45ACD588826D15E583A95F5DD********"
PUB_KEY_ID = "PUB_KEY_ID_0114232134912410000000000000"
PLATFORM_SERIAL = 0x5157F09EFDC096DE15EBE81A47057A7232F1B8E1
APIV3_KEY = "0123456789abcdefghijABCDEFGHIJ89"

# (method, path and query as sent, body): unicode, empty body, query strings, nested JSON.
REQUESTS = [
    ("GET", "/v3/certificates", ""),
    ("GET", "/v3/pay/transactions/out-trade-no/POS01-20261123-0001?mchid=1900000109", ""),
    (
        "POST",
        "/v3/pay/transactions/codepay",
        '{"description":"药店 布洛芬缓释胶囊 ×2","amount":{"total":1250,"currency":"CNY"}}',
    ),
    (
        "POST",
        "/v3/med-ins/orders",
        json.dumps(
            {
                "mix_pay_type": "CASH_AND_INSURANCE",
                "order_type": "PHARMACY_PAY",
                "total_fee": 3000,
                "med_ins_gov_fee": 1500,
                "med_ins_self_fee": 500,
                "med_ins_other_fee": 0,
                "med_ins_cash_fee": 1000,
                "wechat_pay_cash_fee": 1000,
                "payer": {"name": "cipher==", "id_digest": "cipher=="},
                "pay_for_relatives": False,
                "cash_add_detail": [{"cash_add_fee": 0, "cash_add_type": "FREIGHT"}],
            },
            ensure_ascii=False,
        ),
    ),
    ("POST", "/v3/refund/domestic/refunds", '{"reason":"患者退药 💊","amount":{"refund":500}}'),
    ("DELETE", "/v3/med-ins/orders/out-trade-no/A%2FB%20C?sub_mchid=1900&note=%E8%8D%AF", ""),
    ("POST", "/v3/pay/transactions/id/4200000000/close", "{}"),
]


@pytest.fixture(scope="module")
def merchant(keys: dict[str, RsaPrivateKey]) -> WechatPayMerchant:
    return WechatPayMerchant(mchid=MCHID, serial_no=MERCHANT_SERIAL, private_key=keys["merchant"])


@pytest.fixture(scope="module")
def store(
    make_cert: CertFactory, rsa_keys: dict[str, rsa.RSAPrivateKey], public_pem: dict[str, str]
) -> PlatformKeyStore:
    """Certificate mode and public-key mode at once, as during WeChat Pay's migration."""
    return PlatformKeyStore(
        certificates=(make_cert(rsa_keys["platform"], serial=PLATFORM_SERIAL),),
        public_keys={PUB_KEY_ID: public_pem["platform_next"]},
    )


def _peer_authorization(
    monkeypatch: pytest.MonkeyPatch,
    rsa_keys: dict[str, rsa.RSAPrivateKey],
    method: str,
    path: str,
    body: str,
    *,
    nonce: str,
    timestamp: int,
) -> str:
    monkeypatch.setattr(peer, "time", types.SimpleNamespace(time=lambda: timestamp))
    header: str = peer.build_authorization(
        path, method, MCHID, MERCHANT_SERIAL, rsa_keys["merchant"], data=body, nonce_str=nonce
    )
    return header


@pytest.mark.parametrize(("method", "path", "body"), REQUESTS)
def test_wechatpay_authorization_equals_peer_byte_for_byte(
    monkeypatch: pytest.MonkeyPatch,
    rsa_keys: dict[str, rsa.RSAPrivateKey],
    merchant: WechatPayMerchant,
    method: str,
    path: str,
    body: str,
) -> None:
    ours = merchant.authorization(
        method, path, body.encode(), timestamp=NOW, nonce="5K8264ILTKCH16CQ2502SI8ZNMTM67VS"
    )
    theirs = _peer_authorization(
        monkeypatch,
        rsa_keys,
        method,
        path,
        body,
        nonce="5K8264ILTKCH16CQ2502SI8ZNMTM67VS",
        timestamp=NOW,
    )
    assert ours == theirs


@pytest.mark.parametrize(("method", "path", "body"), REQUESTS)
def test_wechatpay_auth_flow_signs_the_exact_path_and_body_sent(
    monkeypatch: pytest.MonkeyPatch,
    rsa_keys: dict[str, rsa.RSAPrivateKey],
    merchant: WechatPayMerchant,
    store: PlatformKeyStore,
    keys: dict[str, RsaPrivateKey],
    clock: FixedClock,
    method: str,
    path: str,
    body: str,
) -> None:
    sent: list[httpx.Request] = []

    def gateway(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        reply = b'{"ok":true}'
        headers = platform_headers(
            keys["platform"], reply, serial=format(PLATFORM_SERIAL, "X"), timestamp=NOW
        )
        return httpx.Response(200, content=reply, headers=headers)

    auth = WechatPayAuth(merchant, store, clock=clock)
    with httpx.Client(
        transport=httpx.MockTransport(gateway), auth=auth, base_url="https://api.mch.weixin.qq.com"
    ) as client:
        client.request(method, path, content=body.encode())
    request = sent[0]
    assert request.url.raw_path.decode() == path
    header = request.headers["Authorization"]
    nonce = header.split('nonce_str="')[1].split('"')[0]
    assert header == _peer_authorization(
        monkeypatch, rsa_keys, method, path, body, nonce=nonce, timestamp=NOW
    )
    # WeChat Pay's side accepts it too, and public-key mode announces its key ID.
    assert (
        verify_authorization(
            method,
            request.url.raw_path,
            request.content,
            header,
            merchant_keys={(MCHID, MERCHANT_SERIAL): keys["merchant"].public_key},
            now=NOW,
        )
        == MCHID
    )
    assert request.headers["Wechatpay-Serial"] == PUB_KEY_ID


def test_wechatpay_merchant_side_accepts_what_peer_signs(
    monkeypatch: pytest.MonkeyPatch,
    rsa_keys: dict[str, rsa.RSAPrivateKey],
    keys: dict[str, RsaPrivateKey],
) -> None:
    header = _peer_authorization(monkeypatch, rsa_keys, *REQUESTS[2], nonce="abc", timestamp=NOW)
    mchid = verify_authorization(
        "POST",
        REQUESTS[2][1],
        REQUESTS[2][2].encode(),
        header,
        merchant_keys={(MCHID, MERCHANT_SERIAL): keys["merchant"].public_key},
        now=NOW,
    )
    assert mchid == MCHID


def test_peer_accepts_the_platform_signatures_we_make(
    rsa_keys: dict[str, rsa.RSAPrivateKey], keys: dict[str, RsaPrivateKey]
) -> None:
    body = '{"mix_trade_no":"202204022005169952975171534816","mix_pay_status":"MIX_PAY_SUCCESS","note":"药"}'
    headers = platform_headers(keys["platform"], body.encode(), serial="5157", timestamp=NOW)
    assert peer.rsa_verify(
        headers["Wechatpay-Timestamp"],
        headers["Wechatpay-Nonce"],
        body,
        headers["Wechatpay-Signature"],
        rsa_keys["platform"].public_key(),
    )


def _respond(
    body: bytes, headers: dict[str, str], status: int = 200
) -> Callable[[httpx.Request], httpx.Response]:
    return lambda request: httpx.Response(status, content=body, headers=headers)


def _client(
    merchant: WechatPayMerchant,
    store: PlatformKeyStore,
    clock: FixedClock,
    handler: Callable[[httpx.Request], httpx.Response],
) -> httpx.Client:
    return httpx.Client(
        transport=httpx.MockTransport(handler),
        auth=WechatPayAuth(merchant, store, clock=clock),
        base_url="https://api.mch.weixin.qq.com",
    )


def test_wechatpay_response_signed_by_peer_is_accepted(
    rsa_keys: dict[str, rsa.RSAPrivateKey],
    merchant: WechatPayMerchant,
    store: PlatformKeyStore,
    clock: FixedClock,
) -> None:
    body = '{"trade_state":"SUCCESS","payer":{"openid":"o-药"}}'
    signature = peer.rsa_sign(rsa_keys["platform_next"], f"{NOW}\nnonce-1\n{body}\n")
    headers = {
        "Wechatpay-Serial": PUB_KEY_ID,
        "Wechatpay-Timestamp": str(NOW),
        "Wechatpay-Nonce": "nonce-1",
        "Wechatpay-Signature": signature,
        "Wechatpay-Signature-Type": "WECHATPAY2-SHA256-RSA2048",
    }
    with _client(merchant, store, clock, _respond(body.encode(), headers)) as client:
        assert client.get("/v3/pay/transactions/id/1?mchid=1").json()["trade_state"] == "SUCCESS"


def _good_response(keys: dict[str, RsaPrivateKey], body: bytes) -> dict[str, str]:
    return platform_headers(
        keys["platform"], body, serial=format(PLATFORM_SERIAL, "X"), timestamp=NOW, nonce="n-1"
    )


RESPONSE_TAMPERS: list[
    tuple[str, Callable[[bytes, dict[str, str]], tuple[bytes, dict[str, str]]], str]
] = [
    (
        "tampered body",
        lambda b, h: (b.replace(b"1250", b"9250"), h),
        "did not verify against platform key serial",
    ),
    ("tampered nonce header", lambda b, h: (b, {**h, "Wechatpay-Nonce": "n-2"}), "did not verify"),
    (
        "tampered timestamp header",
        lambda b, h: (b, {**h, "Wechatpay-Timestamp": str(NOW + 1)}),
        "did not verify",
    ),
    (
        "wrong serial",
        lambda b, h: (b, {**h, "Wechatpay-Serial": "7132D72A03E93CDDF8C03BBD1F37EEDF"}),
        "not in the platform key store",
    ),
    (
        "truncated signature",
        lambda b, h: (b, {**h, "Wechatpay-Signature": h["Wechatpay-Signature"][:-8]}),
        "malformed or truncated",
    ),
    (
        "missing signature",
        lambda b, h: (b, {k: v for k, v in h.items() if k != "Wechatpay-Signature"}),
        "carries no Wechatpay-Signature header",
    ),
    (
        "other signature type",
        lambda b, h: (b, {**h, "Wechatpay-Signature-Type": "WECHATPAY2-SM2-WITH-SM3"}),
        "only WECHATPAY2-SHA256-RSA2048",
    ),
]


@pytest.mark.parametrize(
    ("case", "tamper", "reason"), RESPONSE_TAMPERS, ids=[case for case, _, _ in RESPONSE_TAMPERS]
)
def test_tampered_response_is_rejected_before_reaching_the_caller(
    keys: dict[str, RsaPrivateKey],
    merchant: WechatPayMerchant,
    store: PlatformKeyStore,
    clock: FixedClock,
    case: str,
    tamper: Callable[[bytes, dict[str, str]], tuple[bytes, dict[str, str]]],
    reason: str,
) -> None:
    body = b'{"amount":{"total":1250}}'
    sent_body, sent_headers = tamper(body, _good_response(keys, body))
    with (
        _client(merchant, store, clock, _respond(sent_body, sent_headers)) as client,
        pytest.raises(SignatureError, match=reason) as caught,
    ):
        client.get("/v3/pay/transactions/id/1?mchid=1")
    assert "WeChat Pay response" in str(caught.value)


def test_response_signed_with_the_wrong_key_is_rejected(
    keys: dict[str, RsaPrivateKey],
    merchant: WechatPayMerchant,
    store: PlatformKeyStore,
    clock: FixedClock,
) -> None:
    body = b'{"amount":{"total":1250}}'
    headers = platform_headers(
        keys["stranger"], body, serial=format(PLATFORM_SERIAL, "X"), timestamp=NOW
    )
    with (
        _client(merchant, store, clock, _respond(body, headers)) as client,
        pytest.raises(SignatureError, match="5157F09E"),
    ):
        client.get("/v3/pay/transactions/id/1")


def test_unsigned_success_response_is_rejected(
    merchant: WechatPayMerchant, store: PlatformKeyStore, clock: FixedClock
) -> None:
    with (
        _client(merchant, store, clock, _respond(b"{}", {})) as client,
        pytest.raises(SignatureError, match="carries no"),
    ):
        client.get("/v3/pay/transactions/id/1")


def test_unsigned_error_response_passes_through_as_a_failure(
    merchant: WechatPayMerchant, store: PlatformKeyStore, clock: FixedClock
) -> None:
    body = b'{"code":"SIGN_ERROR","message":"signature error"}'
    with _client(merchant, store, clock, _respond(body, {}, status=401)) as client:
        assert client.get("/v3/pay/transactions/id/1").status_code == 401


def test_expired_platform_certificate_is_rejected(
    make_cert: CertFactory,
    rsa_keys: dict[str, rsa.RSAPrivateKey],
    keys: dict[str, RsaPrivateKey],
    merchant: WechatPayMerchant,
    clock: FixedClock,
) -> None:
    expired = make_cert(
        rsa_keys["platform"],
        serial=0xABC,
        not_before=NOW_UTC - datetime.timedelta(days=400),
        not_after=NOW_UTC - datetime.timedelta(days=1),
    )
    store = PlatformKeyStore(certificates=(expired,))
    body = b"{}"
    headers = platform_headers(keys["platform"], body, serial="ABC", timestamp=NOW)
    with (
        _client(merchant, store, clock, _respond(body, headers)) as client,
        pytest.raises(SignatureError, match="ABC, which is not valid at"),
    ):
        client.get("/v3/certificates")


def test_both_certificates_verify_during_a_rotation(
    make_cert: CertFactory,
    rsa_keys: dict[str, rsa.RSAPrivateKey],
    keys: dict[str, RsaPrivateKey],
    merchant: WechatPayMerchant,
    clock: FixedClock,
) -> None:
    store = PlatformKeyStore(
        certificates=(
            make_cert(rsa_keys["platform"], serial=0x111),
            make_cert(rsa_keys["platform_next"], serial=0x222),
        )
    )
    for role, serial in (("platform", "111"), ("platform_next", "222")):
        headers = platform_headers(keys[role], b"{}", serial=serial, timestamp=NOW)
        with _client(merchant, store, clock, _respond(b"{}", headers)) as client:
            assert client.get("/v3/certificates").status_code == 200


def test_public_key_id_must_look_like_one(public_pem: dict[str, str]) -> None:
    with pytest.raises(ConfigError, match="PUB_KEY_ID_"):
        PlatformKeyStore(public_keys={"5157F09E": public_pem["platform"]})


# --- Callbacks ------------------------------------------------------------------------------------


def _callback(
    keys: dict[str, RsaPrivateKey],
    *,
    plaintext: bytes,
    role: str = "platform",
    serial: str = format(PLATFORM_SERIAL, "X"),
    timestamp: int = NOW,
    nonce: str = "cb-nonce-1",
) -> tuple[dict[str, str], bytes]:
    resource = encrypt_resource(
        APIV3_KEY, plaintext, associated_data="transaction", nonce="fdasflkja484"
    )
    envelope = {
        "id": "EV-2018022511223320873",
        "create_time": "2026-11-18T10:34:56+08:00",
        "resource_type": "encrypt-resource",
        "event_type": "TRANSACTION.SUCCESS",
        "summary": "支付成功",
        "resource": {**resource, "original_type": "transaction"},
    }
    body = json.dumps(envelope, ensure_ascii=False).encode()
    return platform_headers(keys[role], body, serial=serial, timestamp=timestamp, nonce=nonce), body


PLAINTEXT = '{"mchid":"1900000109","out_trade_no":"POS01-20261123-0001","amount":{"total":1250},"payer":{"openid":"o-药"}}'.encode()


def test_callback_is_verified_then_decrypted_with_the_apiv3_key(
    keys: dict[str, RsaPrivateKey], store: PlatformKeyStore, clock: FixedClock
) -> None:
    headers, body = _callback(keys, plaintext=PLAINTEXT)
    notification = WechatPayNotifications(store, APIV3_KEY, clock=clock).open(headers, body)
    assert notification.plaintext == PLAINTEXT
    assert notification.event_type == "TRANSACTION.SUCCESS"
    assert notification.serial == format(PLATFORM_SERIAL, "X")
    assert "o-药" not in repr(notification)


def test_peer_decrypts_the_callback_resource_we_encrypt() -> None:
    resource = encrypt_resource(
        APIV3_KEY, PLAINTEXT, associated_data="transaction", nonce="fdasflkja484"
    )
    assert (
        peer.aes_decrypt(
            resource["nonce"], resource["ciphertext"], resource["associated_data"], APIV3_KEY
        )
        == PLAINTEXT.decode()
    )


CALLBACK_TAMPERS: list[
    tuple[str, Callable[[bytes, dict[str, str]], tuple[bytes, dict[str, str]]], str]
] = [
    (
        "tampered body",
        lambda b, h: (b.replace(b"TRANSACTION.SUCCESS", b"REFUND.SUCCESS"), h),
        "did not verify against platform key serial",
    ),
    (
        "tampered nonce header",
        lambda b, h: (b, {**h, "Wechatpay-Nonce": "cb-nonce-2"}),
        "did not verify",
    ),
    (
        "wrong serial",
        lambda b, h: (b, {**h, "Wechatpay-Serial": "PUB_KEY_ID_0000"}),
        "not in the platform key store",
    ),
    (
        "truncated signature",
        lambda b, h: (b, {**h, "Wechatpay-Signature": h["Wechatpay-Signature"][:100]}),
        "malformed or truncated",
    ),
    ("not JSON at all", lambda b, h: (b"<xml>forged</xml>", h), "did not verify"),
]


@pytest.mark.parametrize(
    ("case", "tamper", "reason"), CALLBACK_TAMPERS, ids=[case for case, _, _ in CALLBACK_TAMPERS]
)
def test_tampered_callback_is_rejected_before_parsing(
    monkeypatch: pytest.MonkeyPatch,
    keys: dict[str, RsaPrivateKey],
    store: PlatformKeyStore,
    clock: FixedClock,
    case: str,
    tamper: Callable[[bytes, dict[str, str]], tuple[bytes, dict[str, str]]],
    reason: str,
) -> None:
    def must_not_parse(body: bytes) -> object:
        raise AssertionError("the callback body was parsed before its signature verified")

    monkeypatch.setattr(wechatpay_module, "decode_envelope", must_not_parse)
    headers, body = _callback(keys, plaintext=PLAINTEXT)
    sent_body, sent_headers = tamper(body, headers)
    with pytest.raises(SignatureError, match=reason):
        WechatPayNotifications(store, APIV3_KEY, clock=clock).open(sent_headers, sent_body)


def test_callback_signed_with_the_wrong_key_is_rejected(
    keys: dict[str, RsaPrivateKey], store: PlatformKeyStore, clock: FixedClock
) -> None:
    headers, body = _callback(keys, plaintext=PLAINTEXT, role="stranger")
    with pytest.raises(SignatureError, match="did not verify"):
        WechatPayNotifications(store, APIV3_KEY, clock=clock).open(headers, body)


def test_callback_outside_the_300_second_window_is_rejected(
    keys: dict[str, RsaPrivateKey], store: PlatformKeyStore, clock: FixedClock
) -> None:
    headers, body = _callback(keys, plaintext=PLAINTEXT, timestamp=NOW - 301)
    with pytest.raises(SignatureError, match="outside the 300 s window"):
        WechatPayNotifications(store, APIV3_KEY, clock=clock).open(headers, body)
    headers, body = _callback(keys, plaintext=PLAINTEXT, timestamp=NOW - 299)
    assert (
        WechatPayNotifications(store, APIV3_KEY, clock=clock).open(headers, body).plaintext
        == PLAINTEXT
    )


def test_callback_replayed_within_the_window_is_rejected(
    keys: dict[str, RsaPrivateKey], store: PlatformKeyStore, clock: FixedClock
) -> None:
    notifications = WechatPayNotifications(
        store, APIV3_KEY, clock=clock, nonce_cache=MemoryNonceCache()
    )
    headers, body = _callback(keys, plaintext=PLAINTEXT)
    notifications.open(headers, body)
    clock.now += 60
    with pytest.raises(SignatureError, match="replayed"):
        notifications.open(headers, body)


def test_forged_callback_does_not_burn_the_real_nonce(
    keys: dict[str, RsaPrivateKey], store: PlatformKeyStore, clock: FixedClock
) -> None:
    notifications = WechatPayNotifications(
        store, APIV3_KEY, clock=clock, nonce_cache=MemoryNonceCache()
    )
    headers, body = _callback(keys, plaintext=PLAINTEXT)
    with pytest.raises(SignatureError):
        notifications.open(headers, body + b" ")
    assert notifications.open(headers, body).plaintext == PLAINTEXT


def test_callback_with_altered_ciphertext_fails_decryption_loudly(
    keys: dict[str, RsaPrivateKey], store: PlatformKeyStore, clock: FixedClock
) -> None:
    resource = encrypt_resource(
        APIV3_KEY, PLAINTEXT, associated_data="transaction", nonce="fdasflkja484"
    )
    sealed = bytearray(base64.b64decode(resource["ciphertext"]))
    sealed[0] ^= 1
    resource["ciphertext"] = base64.b64encode(bytes(sealed)).decode()
    body = json.dumps({"id": "EV-1", "resource": resource}).encode()
    headers = platform_headers(
        keys["platform"], body, serial=format(PLATFORM_SERIAL, "X"), timestamp=NOW
    )
    with pytest.raises(SignatureError, match="did not decrypt with the configured APIv3 key"):
        WechatPayNotifications(store, APIV3_KEY, clock=clock).open(headers, body)


def test_apiv3_key_of_the_wrong_length_is_a_config_error_that_hides_it(
    store: PlatformKeyStore,
) -> None:
    with pytest.raises(ConfigError, match="has 9") as caught:
        WechatPayNotifications(store, "short-key")
    assert "short-key" not in str(caught.value)


def test_wechatpay_callback_verifies_with_lowercase_framework_headers(
    keys: dict[str, RsaPrivateKey], store: PlatformKeyStore, clock: FixedClock
) -> None:
    headers, body = _callback(keys, plaintext=PLAINTEXT)
    lowered = {name.lower(): value for name, value in headers.items()}
    assert (
        WechatPayNotifications(store, APIV3_KEY, clock=clock).open(lowered, body).id
        == "EV-2018022511223320873"
    )
