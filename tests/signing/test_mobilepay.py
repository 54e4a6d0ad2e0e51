"""The mobile-payment channel: key derivation and envelopes, checked with openssl as the platform."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from gongji.errors import InvalidInput, SignatureError
from gongji.signing import MobilePayAuth, MobilePayChannel, derive_data_key
from gongji.signing.mobilepay import VERIFIED_DATA, platform_reply, sign_string
from gongji.signing.sm import Sm2PrivateKey, Sm2PublicKey, sm4_ecb_decrypt
from tests.signing.conftest import FixedClock

OpenSSL = Callable[..., bytes]
APP_ID = "43AF047BBA47FC8A1AE8EFB2AB12CD34"
APP_SECRET = "NMVFVILMKT13GEMD3BKPKCTBOQBPZR2P"
DATA = {
    "appUserId": "o8z4C5avQXqC0aWFPf1Mzu6D7WCQ_bd",
    "idNo": "350181199011193519",
    "idType": "01",
    "userName": "测试",
    "phoneNumber": "",
    "feeSumamt": "12.50",
    "pageNo": 2,
    "details": [{"medListCodg": "X01", "cnt": "2"}],
    "none": None,
    "empty": [],
}


@pytest.fixture(scope="module")
def app_files(openssl: OpenSSL, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("mobilepay")
    files = {"key": folder / "app.pem", "public": folder / "app_pub.pem"}
    openssl("genpkey", "-algorithm", "SM2", "-out", files["key"])
    openssl("pkey", "-in", files["key"], "-pubout", "-out", files["public"])
    return files


@pytest.fixture(scope="module")
def platform_key() -> Sm2PrivateKey:
    return Sm2PrivateKey.load(
        bytes.fromhex("3945208f7b2144b13f36e38ac6d39f95889393692860b51a42fb81ef4df7c5b8")
    )


@pytest.fixture
def channel(
    app_files: dict[str, Path], platform_key: Sm2PrivateKey, clock: FixedClock
) -> MobilePayChannel:
    return MobilePayChannel(
        app_id=APP_ID,
        app_secret=APP_SECRET,
        private_key=Sm2PrivateKey.load(app_files["key"].read_bytes()),
        platform_public_key=platform_key.public_key,
        clock=clock,
    )


def test_data_key_is_hex_of_sm4_of_the_secret_under_the_app_id_truncated(openssl: OpenSSL) -> None:
    sealed = openssl(
        "enc", "-sm4-ecb", "-K", APP_ID[:16].encode().hex(), "-nosalt", stdin=APP_SECRET.encode()
    )
    assert derive_data_key(APP_ID, APP_SECRET) == sealed.hex().upper()[:16].encode()


def test_sign_string_follows_the_published_example_shape() -> None:
    params = {
        "appId": APP_ID,
        "data": {
            "userName": "测试",
            "idType": "01",
            "appUserId": "u1",
            "idNo": "350181199011193519",
            "phoneNumber": "",
        },
        "encType": "SM4",
        "signType": "SM2",
        "timestamp": "20200207175759",
        "version": "2.0.1",
        "signData": "ignored",
        "encData": "ignored",
        "extra": "ignored",
    }
    assert sign_string(params, APP_SECRET) == (
        f'appId={APP_ID}&data={{"appUserId":"u1","idNo":"350181199011193519","idType":"01","userName":"测试"}}'
        f"&encType=SM4&signType=SM2&timestamp=20200207175759&version=2.0.1&key={APP_SECRET}"
    )


def test_sealed_request_decrypts_and_verifies_with_openssl_as_the_platform(
    openssl: OpenSSL, app_files: dict[str, Path], channel: MobilePayChannel, tmp_path: Path
) -> None:
    envelope = json.loads(channel.seal(DATA, timestamp="1795000000000"))
    assert "data" not in envelope
    key_hex = derive_data_key(APP_ID, APP_SECRET).hex()
    plain = openssl(
        "enc", "-d", "-sm4-ecb", "-K", key_hex, "-nosalt", stdin=bytes.fromhex(envelope["encData"])
    )
    assert json.loads(plain) == DATA
    assert b"\\u6d4b\\u8bd5" in plain  # non-ASCII escaped inside encData
    signed = sign_string({**envelope, "data": json.loads(plain)}, APP_SECRET).encode()
    raw = base64.b64decode(envelope["signData"])
    (tmp_path / "msg").write_bytes(signed)
    (tmp_path / "sig").write_bytes(
        encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    )
    result = openssl(
        "pkeyutl",
        "-verify",
        "-pubin",
        "-inkey",
        app_files["public"],
        "-rawin",
        "-digest",
        "sm3",
        "-pkeyopt",
        "distid:1234567812345678",
        "-in",
        tmp_path / "msg",
        "-sigfile",
        tmp_path / "sig",
    )
    assert b"Signature Verified Successfully" in result


def test_platform_reply_opens_to_its_data(
    channel: MobilePayChannel, platform_key: Sm2PrivateKey
) -> None:
    reply = platform_reply(
        APP_ID, APP_SECRET, platform_key, {"setlId": "S-1", "psnCashPay": "3.50"}
    )
    assert channel.open(reply) == {"setlId": "S-1", "psnCashPay": "3.50"}


def _tamper_field(reply: bytes, field: str, value: str) -> bytes:
    envelope = json.loads(reply)
    envelope[field] = value
    return json.dumps(envelope).encode()


def test_tampered_reply_is_rejected_naming_what_failed(
    channel: MobilePayChannel, platform_key: Sm2PrivateKey
) -> None:
    reply = platform_reply(
        APP_ID, APP_SECRET, platform_key, {"setlId": "S-1", "psnCashPay": "3.50"}
    )
    envelope = json.loads(reply)
    other = json.loads(
        platform_reply(APP_ID, APP_SECRET, platform_key, {"setlId": "S-1", "psnCashPay": "0.01"})
    )
    cases = {
        "code": (_tamper_field(reply, "code", "-1"), "did not verify against the platform SM2 key"),
        "encData swapped": (_tamper_field(reply, "encData", other["encData"]), "did not verify"),
        "garbled encData": (_tamper_field(reply, "encData", "00" * 16), "did not decrypt"),
        "truncated": (
            _tamper_field(reply, "signData", envelope["signData"][:40]),
            "malformed or truncated",
        ),
        "missing": (_tamper_field(reply, "signData", ""), "carries no signData"),
    }
    for body, reason in cases.values():
        with pytest.raises(SignatureError, match=reason):
            channel.open(body)


def test_reply_signed_by_another_key_is_rejected(channel: MobilePayChannel) -> None:
    stranger = Sm2PrivateKey.load(bytes(31) + b"\x09")
    reply = platform_reply(APP_ID, APP_SECRET, stranger, {"setlId": "S-1"})
    with pytest.raises(SignatureError, match="did not verify"):
        channel.open(reply)


def test_float_in_data_is_refused_before_anything_is_sent(channel: MobilePayChannel) -> None:
    with pytest.raises(InvalidInput, match="float"):
        channel.seal({"feeSumamt": 12.5})


def test_mobilepay_auth_seals_the_request_and_verifies_the_reply(
    channel: MobilePayChannel, platform_key: Sm2PrivateKey, app_files: dict[str, Path]
) -> None:
    app_public = Sm2PublicKey.load(app_files["public"].read_bytes())

    def platform(request: httpx.Request) -> httpx.Response:
        envelope = json.loads(request.content)
        data = json.loads(
            sm4_ecb_decrypt(derive_data_key(APP_ID, APP_SECRET), bytes.fromhex(envelope["encData"]))
        )
        signed = sign_string({**envelope, "data": data}, APP_SECRET).encode()
        assert app_public.verify(signed, base64.b64decode(envelope["signData"]))
        return httpx.Response(
            200, content=platform_reply(APP_ID, APP_SECRET, platform_key, {"echo": data["idNo"]})
        )

    with httpx.Client(
        transport=httpx.MockTransport(platform), auth=MobilePayAuth(channel)
    ) as client:
        response = client.post("https://mobile.example/api", json={"idNo": "350181199011193519"})
    assert response.extensions[VERIFIED_DATA] == {"echo": "350181199011193519"}


def test_channel_repr_hides_the_app_secret(channel: MobilePayChannel) -> None:
    assert APP_SECRET not in repr(channel)
    assert APP_SECRET not in repr(MobilePayAuth(channel))
