"""Alipay RSA2: byte-for-byte agreement with python-alipay-sdk, verification both ways, refusals."""

from __future__ import annotations

import datetime
import re
from collections.abc import Mapping
from urllib.parse import parse_qsl, quote_plus, urlencode

import httpx
import msgspec
import pytest
from alipay import AliPay, DCAliPay
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from hypothesis import example, given
from hypothesis import strategies as st

from gongji.errors import InvalidInput, SignatureError
from gongji.signing import (
    AlipayAuth,
    AlipayPublicKeys,
    AlipaySigner,
    AlipayVerifier,
    alipay_cert_sn,
    alipay_root_cert_sn,
    load_certificate,
)
from gongji.signing.alipay import (
    _quote_bytes,
    _quote_plus,
    biz_content_json,
    content_to_sign,
    sign_notification,
    sign_response,
    verify_request,
)
from gongji.signing.keys import RsaPrivateKey
from tests.signing.conftest import NOW_UTC, CertFactory, FixedClock

APP_ID = "2021000117600000"
STAMP = "2026-11-23 10:00:00"

# (method, biz_content, extra parameters): unicode, nested, empty, characters that need quoting.
CALLS: list[tuple[str, dict[str, object], dict[str, str]]] = [
    (
        "alipay.trade.pay",
        {
            "out_trade_no": "POS01-20261123-0001",
            "scene": "bar_code",
            "auth_code": "28763443825664394",
            "subject": "药店 布洛芬缓释胶囊 ×2",
            "total_amount": "12.50",
            "extend_params": {
                "medical_card_id": "MC-210202-0001",
                "medical_card_inst_id": "210200",
            },
        },
        {"notify_url": "https://pos.example/alipay/notify"},
    ),
    ("alipay.trade.query", {"out_trade_no": "POS01-20261123-0001"}, {}),
    ("alipay.trade.cancel", {}, {}),
    (
        "alipay.trade.refund",
        {"refund_amount": "5.00", "out_trade_no": "POS01-1", "refund_reason": "患者退药 💊"},
        {},
    ),
    (
        "alipay.trade.pay",
        {
            "out_trade_no": "A&B=C+D %2F",
            "subject": 'quote " and \\ backslash',
            "total_amount": "0.01",
            "goods_detail": [
                {"goods_id": "X01", "goods_name": "阿莫西林", "quantity": 2, "price": "6.25"},
                {"goods_id": "X02", "goods_name": "口罩", "quantity": 1, "price": "0.00"},
            ],
        },
        {"return_url": "https://pos.example/return?a=1&b=2"},
    ),
    (
        "alipay.trade.pay",
        {
            "out_trade_no": "100%{0}",
            "subject": "Café × 2 ~ a+b=c & d 💊 \x7f tab\t",
            "total_amount": "1.00",
        },
        {"notify_url": "https://pos.example/n?t=%7B{till}%25&x=1"},
    ),
]


@pytest.fixture(scope="module")
def peer(pem: dict[str, str], public_pem: dict[str, str]) -> AliPay:
    """python-alipay-sdk as the app: signs with the app key, verifies with Alipay's key."""
    return AliPay(
        appid=APP_ID,
        app_private_key_string=pem["app"],
        alipay_public_key_string=public_pem["alipay"],
    )


@pytest.fixture(scope="module")
def peer_as_alipay(pem: dict[str, str], public_pem: dict[str, str]) -> AliPay:
    """python-alipay-sdk holding Alipay's key, to sign what Alipay would."""
    return AliPay(
        appid=APP_ID,
        app_private_key_string=pem["alipay"],
        alipay_public_key_string=public_pem["app"],
    )


@pytest.fixture(scope="module")
def signer(keys: dict[str, RsaPrivateKey]) -> AlipaySigner:
    return AlipaySigner(app_id=APP_ID, private_key=keys["app"])


@pytest.fixture
def verifier(public_pem: dict[str, str], clock: FixedClock) -> AlipayVerifier:
    return AlipayVerifier(AlipayPublicKeys(public_key=public_pem["alipay"]), clock=clock)


def _peer_order_string(
    peer: AliPay, method: str, biz: Mapping[str, object], extra: Mapping[str, str]
) -> str:
    data = peer.build_body(method, dict(biz), timestamp=STAMP, **extra)
    order: str = peer.sign_data(data)
    return order


@pytest.mark.parametrize(("method", "biz", "extra"), CALLS)
def test_alipay_order_string_equals_peer_byte_for_byte(
    peer: AliPay, signer: AlipaySigner, method: str, biz: dict[str, object], extra: dict[str, str]
) -> None:
    ours = signer.order_string(method, biz, timestamp=STAMP, **extra)
    assert ours == _peer_order_string(peer, method, biz, extra)


@pytest.mark.parametrize(("method", "biz", "extra"), CALLS)
def test_alipay_signature_equals_peer_and_peer_verifies_it(
    peer: AliPay,
    peer_as_alipay: AliPay,
    signer: AlipaySigner,
    method: str,
    biz: dict[str, object],
    extra: dict[str, str],
) -> None:
    params = signer.signed_params(method, biz, timestamp=STAMP, **extra)
    theirs = dict(parse_qsl(_peer_order_string(peer, method, biz, extra)))
    assert params["sign"] == theirs["sign"]
    # Alipay's side, played by the peer holding the app's public key, accepts our sign.
    unsigned = {key: value for key, value in params.items() if key != "sign"}
    message = "&".join(f"{key}={value}" for key, value in sorted(unsigned.items()))
    assert peer_as_alipay._verify(message, params["sign"])


def test_alipay_signature_for_unicode_biz_content_equals_peer(
    peer: AliPay, signer: AlipaySigner
) -> None:
    biz = {"subject": "家庭共济 · 药店购药", "total_amount": "88.00", "out_trade_no": "共济-1"}
    ours = signer.signed_params("alipay.trade.precreate", biz, timestamp=STAMP)["sign"]
    theirs = dict(parse_qsl(_peer_order_string(peer, "alipay.trade.precreate", biz, {})))["sign"]
    assert ours == theirs


def test_biz_content_with_a_float_amount_is_refused(signer: AlipaySigner) -> None:
    with pytest.raises(InvalidInput, match=r"biz_content\.total_amount is a float"):
        signer.order_string("alipay.trade.pay", {"total_amount": 12.5})


# python-alipay-sdk reads certificates through pyOpenSSL's deprecated X509 accessors.
@pytest.mark.filterwarnings(r"ignore:X509\.\w+ is deprecated:DeprecationWarning")
def test_certificate_mode_sns_equal_peer_and_ride_in_the_request(
    pem: dict[str, str],
    rsa_keys: dict[str, rsa.RSAPrivateKey],
    keys: dict[str, RsaPrivateKey],
    make_cert: CertFactory,
) -> None:
    root_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    sm_like_root = ec.generate_private_key(ec.SECP256R1())
    app_cert = make_cert(rsa_keys["app"], serial=1234567890123, issuer_key=root_key)
    alipay_cert = make_cert(rsa_keys["alipay"], serial=987654321, issuer_key=root_key)
    roots = "\n".join(
        [
            make_cert(root_key, serial=1, issuer_cn="Test Root CA"),
            make_cert(sm_like_root, serial=2, issuer_cn="Test Root CA SM"),
            make_cert(root_key, serial=3, issuer_cn="Test Root CA R2"),
        ]
    )
    peer = DCAliPay(
        appid=APP_ID,
        app_private_key_string=pem["app"],
        app_public_key_cert_string=app_cert,
        alipay_public_key_cert_string=alipay_cert,
        alipay_root_cert_string=roots,
    )
    assert alipay_cert_sn(load_certificate(app_cert)) == peer.app_cert_sn
    assert alipay_root_cert_sn(roots) == peer.alipay_root_cert_sn
    assert alipay_root_cert_sn(roots).count("_") == 1  # the EC-signed root is left out
    signer = AlipaySigner.with_certificates(
        app_id=APP_ID,
        private_key=keys["app"],
        app_certificate=app_cert,
        alipay_root_certificates=roots,
    )
    biz = {"out_trade_no": "POS01-1", "total_amount": "1.00", "subject": "药"}
    ours = signer.order_string("alipay.trade.pay", biz, timestamp=STAMP)
    theirs = peer.sign_data(peer.build_body("alipay.trade.pay", dict(biz), timestamp=STAMP))
    assert ours == theirs


RESPONSE_CONTENT = (
    b'{"code":"10000","msg":"Success","trade_no":"2026112322001404070200176844",'
    b'"out_trade_no":"POS01-20261123-0001","buyer_logon_id":"159****5620",'
    b'"total_amount":"12.50","receipt_amount":"12.50","sub_msg":"\\u836f {nested} \\"}\\" ok",'
    b'"fund_bill_list":[{"fund_channel":"ALIPAYACCOUNT","amount":"12.50"}]}'
)


def test_response_signed_by_peer_verifies_over_the_raw_substring(
    peer_as_alipay: AliPay, verifier: AlipayVerifier
) -> None:
    sign = peer_as_alipay._sign(RESPONSE_CONTENT.decode())
    raw = b'{"alipay_trade_pay_response":' + RESPONSE_CONTENT + b',"sign":"' + sign.encode() + b'"}'
    assert verifier.verify_response(raw, "alipay.trade.pay") == RESPONSE_CONTENT


def test_response_with_whitespace_and_member_order_of_its_own_still_verifies(
    keys: dict[str, RsaPrivateKey], verifier: AlipayVerifier
) -> None:
    content = b'{ "code" : "10000",\n  "msg":"Success" }'
    signed = sign_response(keys["alipay"], "alipay.trade.query", content)
    sign_part = signed[signed.index(b',"sign"') + 1 : -1]
    raw = b"{ " + sign_part + b' ,\n "alipay_trade_query_response" :\t' + content + b"\n}"
    assert verifier.verify_response(raw, "alipay.trade.query") == content


def test_peer_verifies_the_responses_we_sign(keys: dict[str, RsaPrivateKey], peer: AliPay) -> None:
    # No braces inside strings here: the peer counts braces without reading strings.
    content = RESPONSE_CONTENT.replace(b' {nested} \\"}\\"', b"")
    assert b"{nested}" not in content
    raw = sign_response(keys["alipay"], "alipay.trade.pay", content)
    result = peer._verify_and_return_sync_response(raw.decode(), "alipay_trade_pay_response")
    assert result["trade_no"] == "2026112322001404070200176844"


def _signed_raw(keys: dict[str, RsaPrivateKey], role: str = "alipay") -> bytes:
    return sign_response(keys[role], "alipay.trade.pay", RESPONSE_CONTENT)


RESPONSE_TAMPERS = [
    (
        "tampered amount",
        lambda raw: raw.replace(b'"total_amount":"12.50"', b'"total_amount":"92.50"'),
        "did not verify",
    ),
    (
        "truncated sign",
        lambda raw: re.sub(rb'"sign":"([^"]{40})[^"]*"', rb'"sign":"\1"', raw),
        "malformed or truncated",
    ),
    ("missing sign", lambda raw: raw[: raw.index(b',"sign"')] + b"}", "carries no sign"),
    (
        "duplicate response member",
        lambda raw: raw[:-1] + b',"alipay_trade_pay_response":{"code":"10000"}}',
        "duplicate member",
    ),
    ("not JSON", lambda raw: b"<html>502 Bad Gateway</html>", "not a signable response"),
]


@pytest.mark.parametrize(
    ("case", "tamper", "reason"), RESPONSE_TAMPERS, ids=[case for case, _, _ in RESPONSE_TAMPERS]
)
def test_tampered_response_is_rejected(
    keys: dict[str, RsaPrivateKey], verifier: AlipayVerifier, case: str, tamper: object, reason: str
) -> None:
    raw = tamper(_signed_raw(keys))  # type: ignore[operator]
    with pytest.raises(SignatureError, match=reason):
        verifier.verify_response(raw, "alipay.trade.pay")


def test_response_signed_with_the_wrong_key_is_rejected(
    keys: dict[str, RsaPrivateKey], verifier: AlipayVerifier
) -> None:
    with pytest.raises(
        SignatureError, match=r"did not verify against the Alipay public key \(public-key mode\)"
    ):
        verifier.verify_response(_signed_raw(keys, "stranger"), "alipay.trade.pay")


def test_certificate_mode_response_picks_the_key_by_alipay_cert_sn(
    rsa_keys: dict[str, rsa.RSAPrivateKey],
    keys: dict[str, RsaPrivateKey],
    make_cert: CertFactory,
    clock: FixedClock,
) -> None:
    old = make_cert(rsa_keys["stranger"], serial=11)
    current = make_cert(rsa_keys["alipay"], serial=12)
    verifier = AlipayVerifier(AlipayPublicKeys(certificates=(old, current)), clock=clock)
    sn = alipay_cert_sn(load_certificate(current))
    raw = sign_response(keys["alipay"], "alipay.trade.pay", RESPONSE_CONTENT, cert_sn=sn)
    assert verifier.verify_response(raw, "alipay.trade.pay") == RESPONSE_CONTENT
    unknown = raw.replace(sn.encode(), b"0" * 32)
    with pytest.raises(SignatureError, match="alipay_cert_sn '0000"):
        verifier.verify_response(unknown, "alipay.trade.pay")


def test_certificate_mode_response_from_an_expired_certificate_is_rejected(
    rsa_keys: dict[str, rsa.RSAPrivateKey],
    keys: dict[str, RsaPrivateKey],
    make_cert: CertFactory,
    clock: FixedClock,
) -> None:
    expired = make_cert(
        rsa_keys["alipay"],
        serial=13,
        not_before=NOW_UTC - datetime.timedelta(days=800),
        not_after=NOW_UTC - datetime.timedelta(days=2),
    )
    verifier = AlipayVerifier(AlipayPublicKeys(certificates=(expired,)), clock=clock)
    raw = sign_response(
        keys["alipay"],
        "alipay.trade.pay",
        RESPONSE_CONTENT,
        cert_sn=alipay_cert_sn(load_certificate(expired)),
    )
    with pytest.raises(SignatureError, match="expired"):
        verifier.verify_response(raw, "alipay.trade.pay")


NOTIFICATION = {
    "gmt_create": "2026-11-23 10:00:01",
    "charset": "utf-8",
    "notify_time": "2026-11-23 10:00:02",
    "subject": "药店 布洛芬",
    "buyer_id": "2088102122524333",
    "app_id": APP_ID,
    "notify_id": "ac05099524730693a8b330c5ecf72da9786",
    "notify_type": "trade_status_sync",
    "trade_status": "TRADE_SUCCESS",
    "trade_no": "2026112322001404070200176844",
    "out_trade_no": "POS01-20261123-0001",
    "total_amount": "12.50",
    "version": "1.0",
}


def test_peer_verifies_the_notifications_we_sign(
    keys: dict[str, RsaPrivateKey], peer: AliPay
) -> None:
    signed = sign_notification(keys["alipay"], NOTIFICATION)
    data = {key: value for key, value in signed.items() if key != "sign"}
    assert peer.verify(data, signed["sign"])


def test_notification_signed_by_peer_is_accepted_without_mutating_it(
    peer_as_alipay: AliPay, verifier: AlipayVerifier
) -> None:
    sign = peer_as_alipay._sign(
        "&".join(f"{key}={value}" for key, value in sorted(NOTIFICATION.items()))
    )
    params = {**NOTIFICATION, "sign": sign, "sign_type": "RSA2"}
    before = dict(params)
    assert verifier.verify_notification(params)["trade_status"] == "TRADE_SUCCESS"
    assert params == before


def test_notification_form_body_is_verified(
    keys: dict[str, RsaPrivateKey], verifier: AlipayVerifier
) -> None:
    body = urlencode(sign_notification(keys["alipay"], NOTIFICATION)).encode()
    assert verifier.verify_notification_body(body)["out_trade_no"] == "POS01-20261123-0001"


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"total_amount": "1250.00"}, "did not verify"),
        ({"sign_type": "RSA"}, "only RSA2"),
        ({"sign": "c2lnbg=="}, "malformed or truncated"),
        ({"sign": ""}, "carries no sign"),
    ],
)
def test_tampered_notification_is_rejected(
    keys: dict[str, RsaPrivateKey], verifier: AlipayVerifier, change: dict[str, str], reason: str
) -> None:
    params = {**sign_notification(keys["alipay"], NOTIFICATION), **change}
    with pytest.raises(SignatureError, match=reason):
        verifier.verify_notification(params)


def test_notification_repeating_a_parameter_is_rejected(
    keys: dict[str, RsaPrivateKey], verifier: AlipayVerifier
) -> None:
    body = (
        urlencode(sign_notification(keys["alipay"], NOTIFICATION)).encode()
        + b"&trade_status=TRADE_CLOSED"
    )
    with pytest.raises(SignatureError, match="repeats a parameter"):
        verifier.verify_notification_body(body)


def test_empty_values_are_left_out_of_the_signed_content() -> None:
    assert content_to_sign([("b", "2"), ("a", ""), ("sign", "x"), ("c", "3")]) == "b=2&c=3"


def test_alipay_auth_signs_query_and_form_and_verifies_the_response(
    keys: dict[str, RsaPrivateKey], signer: AlipaySigner, verifier: AlipayVerifier
) -> None:
    def gateway(request: httpx.Request) -> httpx.Response:
        params = dict(request.url.params.multi_items())
        params.update(parse_qsl(request.content.decode()))
        verify_request(params, keys["app"].public_key)
        return httpx.Response(
            200, content=sign_response(keys["alipay"], params["method"], RESPONSE_CONTENT)
        )

    common = signer.common_params("alipay.trade.pay", timestamp=STAMP)
    form = {"biz_content": '{"out_trade_no":"POS01-1","subject":"药","total_amount":"12.50"}'}
    with httpx.Client(
        transport=httpx.MockTransport(gateway), auth=AlipayAuth(signer, verifier)
    ) as client:
        response = client.post("https://openapi.alipay.com/gateway.do", params=common, data=form)
    assert response.status_code == 200


def test_alipay_auth_rejects_a_forged_response_before_returning_it(
    keys: dict[str, RsaPrivateKey], signer: AlipaySigner, verifier: AlipayVerifier
) -> None:
    forged = sign_response(keys["stranger"], "alipay.trade.pay", RESPONSE_CONTENT)
    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=forged))
    common = signer.common_params("alipay.trade.pay", timestamp=STAMP)
    with (
        httpx.Client(transport=transport, auth=AlipayAuth(signer, verifier)) as client,
        pytest.raises(SignatureError),
    ):
        client.post(
            "https://openapi.alipay.com/gateway.do", params=common, data={"biz_content": "{}"}
        )


def test_alipay_signer_repr_shows_mode_and_fingerprint_only(
    signer: AlipaySigner, pem: dict[str, str]
) -> None:
    text = repr(signer)
    assert "public-key mode" in text
    assert signer.private_key.fingerprint in text
    assert pem["app"][30:60] not in text


@given(st.text())
def test_order_string_quoting_equals_quote_plus_for_any_text(value: str) -> None:
    assert _quote_plus(value) == quote_plus(value)


@given(st.text(alphabet=st.characters(max_codepoint=127), min_size=65))
def test_order_string_quoting_of_long_ascii_equals_quote_plus(value: str) -> None:
    # biz_content's path: ASCII (non-ASCII escaped) and longer than the cached short values.
    assert _quote_plus(value) == quote_plus(value)


@given(st.binary())
def test_form_quoting_of_bytes_equals_quote_plus(value: bytes) -> None:
    assert _quote_bytes(value) == quote_plus(value).encode()


# --- biz_content from a msgspec Struct (the channel's way): the same bytes as from its dict ---


class _Line(msgspec.Struct, frozen=True, omit_defaults=True):
    goods_name: str
    quantity: int = 1


class _Content(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    out_trade_no: str
    subject: str
    total_amount: str
    store_id: str = ""
    lines: list[_Line] = []
    extend_params: dict[str, str] = {}


class _FloatContent(msgspec.Struct, frozen=True):
    total_amount: float


@given(st.text(), st.text(), st.text(min_size=1))
def test_struct_biz_content_is_the_json_of_its_dict(subject: str, name: str, store: str) -> None:
    content = _Content(
        out_trade_no="POS01-1",
        subject=subject,
        total_amount="12.50",
        store_id=store,
        lines=[_Line(goods_name=name, quantity=2)],
        extend_params={"medical_card_id": name},
    )
    assert biz_content_json(content) == biz_content_json(msgspec.to_builtins(content))


@pytest.mark.parametrize(
    "subject",
    ["药店 布洛芬缓释胶囊 ×2", "Café", "💊 pills", 'quote " and \\ 药', "\x7f", "\ud800", "plain"],
)
def test_struct_biz_content_signs_and_encodes_byte_for_byte_as_the_peer(
    peer: AliPay, signer: AlipaySigner, subject: str
) -> None:
    content = _Content(out_trade_no="A&B=C+D", subject=subject, total_amount="0.01")
    notify = {"notify_url": "https://pos.example/alipay/notify"}
    ours = signer.signed_form("alipay.trade.pay", content, timestamp=STAMP, **notify)
    biz = msgspec.to_builtins(content)
    assert ours.decode() == _peer_order_string(peer, "alipay.trade.pay", biz, notify)


def test_a_struct_whose_field_may_hold_a_float_is_refused(signer: AlipaySigner) -> None:
    with pytest.raises(InvalidInput, match=r"biz_content\.total_amount \(float\) of _FloatContent"):
        signer.signed_form("alipay.trade.pay", _FloatContent(total_amount=12.5))


@given(seconds=st.integers(min_value=0, max_value=4_102_444_800))  # 1970 to 2100
@example(seconds=16 * 3600 - 1)  # 23:59:59 in Beijing, the last second of a day
@example(seconds=16 * 3600)  # midnight in Beijing, 16:00 UTC
def test_the_signed_timestamp_is_beijing_wall_clock_time_to_the_second(
    keys: dict[str, RsaPrivateKey], seconds: int
) -> None:
    for moment in (seconds, seconds + 0.999):
        signer = AlipaySigner(
            app_id=APP_ID, private_key=keys["app"], clock=lambda moment=moment: moment
        )
        sent = dict(parse_qsl(signer.order_string("alipay.trade.query", {"out_trade_no": "X"})))
        expected = datetime.datetime.fromtimestamp(int(moment), datetime.UTC) + datetime.timedelta(
            hours=8
        )
        assert sent["timestamp"] == expected.strftime("%Y-%m-%d %H:%M:%S")
        assert sent["timestamp"] == signer.common_params("x")["timestamp"]


def test_calls_of_another_shape_get_their_own_constant_parameters(
    peer: AliPay, signer: AlipaySigner
) -> None:
    biz = {"out_trade_no": "POS01-1"}
    for index in range(300):  # past the templates a signer keeps: the oldest are dropped
        extra = {"notify_url": f"https://pos.example/n/{index}"}
        ours = signer.order_string("alipay.trade.query", biz, timestamp=STAMP, **extra)
        if index % 97 == 0:
            assert ours == _peer_order_string(peer, "alipay.trade.query", biz, extra)
        assert dict(parse_qsl(ours))["notify_url"] == extra["notify_url"]
    bare = signer.order_string("alipay.trade.query", biz, timestamp=STAMP)
    assert bare == _peer_order_string(peer, "alipay.trade.query", biz, {})
