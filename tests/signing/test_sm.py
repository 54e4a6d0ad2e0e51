"""SM3, SM4 and SM2 against the openssl command line, the independent party."""

from __future__ import annotations

import base64
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from gongji.errors import ConfigError
from gongji.signing.sm import (
    DEFAULT_ID,
    N,
    Sm2PrivateKey,
    Sm2PublicKey,
    sm3,
    sm4_ecb_decrypt,
    sm4_ecb_encrypt,
)

OpenSSL = Callable[..., bytes]
MESSAGES = [
    b"",
    b"abc",
    'appId=43AF&data={"userName":"测试"}&key=s'.encode(),
    bytes(range(256)) * 9,
]


@pytest.fixture(scope="module")
def sm2_files(openssl: OpenSSL, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """An SM2 key pair written by openssl: PKCS#8, SEC 1 and SubjectPublicKeyInfo PEM."""
    folder = tmp_path_factory.mktemp("sm2")
    files = {"pkcs8": folder / "key.pem", "sec1": folder / "sec1.pem", "public": folder / "pub.pem"}
    openssl("genpkey", "-algorithm", "SM2", "-out", files["pkcs8"])
    files["sec1"].write_bytes(openssl("ec", "-in", files["pkcs8"]))
    openssl("pkey", "-in", files["pkcs8"], "-pubout", "-out", files["public"])
    return files


@pytest.fixture(scope="module")
def sm2_key(sm2_files: dict[str, Path]) -> Sm2PrivateKey:
    return Sm2PrivateKey.load(sm2_files["pkcs8"].read_bytes())


@pytest.mark.parametrize("message", MESSAGES, ids=["empty", "abc", "unicode", "2304-bytes"])
def test_sm3_equals_openssl_dgst(openssl: OpenSSL, message: bytes) -> None:
    assert sm3(message) == openssl("dgst", "-sm3", "-binary", stdin=message)


def test_sm3_matches_the_standard_test_vector() -> None:
    # GB/T 32905-2016, example 1.
    assert sm3(b"abc").hex() == "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"


@pytest.mark.parametrize("message", MESSAGES, ids=["empty", "abc", "unicode", "2304-bytes"])
def test_sm4_ecb_pkcs7_equals_openssl_enc_both_ways(openssl: OpenSSL, message: bytes) -> None:
    key = bytes.fromhex("0123456789abcdeffedcba9876543210")
    ours = sm4_ecb_encrypt(key, message)
    assert ours == openssl("enc", "-sm4-ecb", "-K", key.hex(), "-nosalt", stdin=message)
    assert sm4_ecb_decrypt(key, ours) == message
    assert openssl("enc", "-d", "-sm4-ecb", "-K", key.hex(), "-nosalt", stdin=ours) == message


def test_sm4_decrypt_refuses_a_truncated_ciphertext() -> None:
    key = b"k" * 16
    with pytest.raises(ValueError, match="16-byte blocks"):
        sm4_ecb_decrypt(key, sm4_ecb_encrypt(key, b"payload")[:-1])


def test_sm4_key_of_the_wrong_length_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="16 bytes"):
        sm4_ecb_encrypt(b"short", b"x")


def _der(raw: bytes) -> bytes:
    return encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))


def _raw(der: bytes) -> bytes:
    r, s = decode_dss_signature(der)
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def _openssl_verify(
    openssl: OpenSSL,
    files: dict[str, Path],
    tmp_path: Path,
    message: bytes,
    signature: bytes,
    distid: bytes,
) -> bytes:
    (tmp_path / "msg").write_bytes(message)
    (tmp_path / "sig").write_bytes(_der(signature))
    return openssl(
        "pkeyutl",
        "-verify",
        "-pubin",
        "-inkey",
        files["public"],
        "-rawin",
        "-digest",
        "sm3",
        "-pkeyopt",
        f"distid:{distid.decode()}",
        "-in",
        tmp_path / "msg",
        "-sigfile",
        tmp_path / "sig",
    )


@pytest.mark.parametrize("message", MESSAGES[1:], ids=["abc", "unicode", "2304-bytes"])
def test_sm2_signature_verifies_with_openssl_using_the_standard_id(
    openssl: OpenSSL,
    sm2_files: dict[str, Path],
    sm2_key: Sm2PrivateKey,
    tmp_path: Path,
    message: bytes,
) -> None:
    signature = sm2_key.sign(message)
    assert len(signature) == 64
    assert b"Signature Verified Successfully" in _openssl_verify(
        openssl, sm2_files, tmp_path, message, signature, DEFAULT_ID
    )


def test_openssl_rejects_our_sm2_signature_under_another_id(
    openssl: OpenSSL, sm2_files: dict[str, Path], sm2_key: Sm2PrivateKey, tmp_path: Path
) -> None:
    signature = sm2_key.sign(b"abc")
    with pytest.raises(AssertionError, match="failed"):
        _openssl_verify(openssl, sm2_files, tmp_path, b"abc", signature, b"1234567812345679")


def test_openssl_sm2_signature_verifies_with_ours_and_only_under_its_id(
    openssl: OpenSSL, sm2_files: dict[str, Path], tmp_path: Path
) -> None:
    message = "医保移动支付".encode()
    (tmp_path / "msg").write_bytes(message)
    der = openssl(
        "pkeyutl",
        "-sign",
        "-inkey",
        sm2_files["pkcs8"],
        "-rawin",
        "-digest",
        "sm3",
        "-pkeyopt",
        "distid:1234567812345678",
        "-in",
        tmp_path / "msg",
    )
    public = Sm2PublicKey.load(sm2_files["public"].read_bytes())
    assert public.verify(message, _raw(der))
    assert not public.verify(message, _raw(der), signer_id=b"ALICE123@YAHOO.COM")
    assert not public.verify(message + b".", _raw(der))


def test_sm2_nonce_is_fresh_for_every_signature(sm2_key: Sm2PrivateKey) -> None:
    signatures = {sm2_key.sign(b"same message") for _ in range(8)}
    assert len(signatures) == 8
    assert all(sm2_key.public_key.verify(b"same message", signature) for signature in signatures)


def test_sm2_truncated_or_out_of_range_signature_is_rejected(sm2_key: Sm2PrivateKey) -> None:
    signature = sm2_key.sign(b"abc")
    assert not sm2_key.public_key.verify(b"abc", signature[:63])
    assert not sm2_key.public_key.verify(b"abc", N.to_bytes(32, "big") + signature[32:])
    assert not sm2_key.public_key.verify(b"abc", bytes(64))


def test_sm2_keys_load_from_pem_der_hex_and_base64(
    sm2_files: dict[str, Path], sm2_key: Sm2PrivateKey
) -> None:
    point = sm2_key.public_key.point
    publics = [
        Sm2PublicKey.load(sm2_files["public"].read_bytes()),
        Sm2PublicKey.load(point.hex()),
        Sm2PublicKey.load(point[1:].hex().upper()),
        Sm2PublicKey.load(base64.b64encode(point).decode()),
    ]
    assert all(public == sm2_key.public_key for public in publics)
    sec1 = Sm2PrivateKey.load(sm2_files["sec1"].read_bytes())
    assert sec1.fingerprint == sm2_key.fingerprint
    scalar = sm2_key._scalar
    for text in (scalar.hex(), base64.b64encode(b"\x00" + scalar).decode()):
        assert Sm2PrivateKey.load(text, public_key=publics[0]).fingerprint == sm2_key.fingerprint


def test_sm2_private_key_and_a_foreign_public_key_are_refused_together(
    sm2_key: Sm2PrivateKey,
) -> None:
    other = Sm2PrivateKey.load(bytes(31) + b"\x07")
    with pytest.raises(ConfigError, match="does not belong"):
        Sm2PrivateKey.load(sm2_key._scalar.hex(), public_key=other.public_key)


def test_sm2_public_key_off_the_curve_is_refused() -> None:
    with pytest.raises(ConfigError, match="SM2 public key"):
        Sm2PublicKey.load("04" + "11" * 64)


def test_sm2_private_key_repr_shows_fingerprint_never_the_scalar(sm2_key: Sm2PrivateKey) -> None:
    text = repr(sm2_key)
    assert sm2_key.fingerprint in text
    assert sm2_key._scalar.hex() not in text.lower()
    with pytest.raises(TypeError, match="never pickled"):
        sm2_key.__reduce__()


def test_sm2_without_the_gm_extra_raises_config_error_naming_it(
    monkeypatch: pytest.MonkeyPatch, sm2_key: Sm2PrivateKey
) -> None:
    monkeypatch.setitem(sys.modules, "gmssl_pyx", None)
    with pytest.raises(ConfigError, match=r"gongji\[gm\]") as caught:
        sm2_key.sign(b"abc")
    assert "'gm'" in str(caught.value)
