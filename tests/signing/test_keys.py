"""keys.py: every shape gateways hand out loads; each key is loaded once; nothing leaks in a repr."""

from __future__ import annotations

import base64
import pickle
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from gongji.errors import ConfigError
from gongji.signing import keys as keys_module
from gongji.signing.keys import (
    Certificate,
    RsaPrivateKey,
    load_certificate,
    load_private_key,
    load_public_key,
)


def _der_b64(key: rsa.RSAPrivateKey, fmt: serialization.PrivateFormat) -> str:
    der = key.private_bytes(serialization.Encoding.DER, fmt, serialization.NoEncryption())
    return base64.b64encode(der).decode()


def _formats(key: rsa.RSAPrivateKey) -> dict[str, str]:
    pkcs1 = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()
    pkcs8 = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return {
        "pem_pkcs1": pkcs1,
        "pem_pkcs8": pkcs8,
        "one_line_pkcs8": _der_b64(key, serialization.PrivateFormat.PKCS8),
        "one_line_pkcs1": _der_b64(key, serialization.PrivateFormat.TraditionalOpenSSL),
    }


@pytest.mark.parametrize("shape", ["pem_pkcs1", "pem_pkcs8", "one_line_pkcs8", "one_line_pkcs1"])
def test_private_key_loads_from_every_shape_gateways_hand_out(
    rsa_keys: dict[str, rsa.RSAPrivateKey], shape: str
) -> None:
    key = load_private_key(_formats(rsa_keys["stranger"])[shape])
    message = b"same key, same signature"
    expected = rsa_keys["stranger"].sign(
        message,
        keys_module._PKCS1V15,
        keys_module._SHA256,
    )
    assert key.sign_sha256(message) == expected


def test_public_key_loads_from_pem_one_line_pkcs1_and_certificate(
    rsa_keys: dict[str, rsa.RSAPrivateKey], make_cert: object
) -> None:
    public = rsa_keys["alipay"].public_key()
    spki_der = public.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    pkcs1_der = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1)
    shapes = [
        public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
        public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.PKCS1),
        base64.b64encode(spki_der),
        base64.b64encode(pkcs1_der),
        make_cert(rsa_keys["alipay"], serial=7).encode(),  # type: ignore[operator]
    ]
    fingerprints = {load_public_key(shape).fingerprint for shape in shapes}
    assert len(fingerprints) == 1


def test_same_key_material_is_loaded_once_per_process(pem: dict[str, str]) -> None:
    first = load_private_key(pem["merchant"])
    again = load_private_key(pem["merchant"].encode())
    assert first is again


def test_key_file_is_loaded_once_and_reloaded_when_its_content_changes(
    tmp_path: Path, pem: dict[str, str]
) -> None:
    path = tmp_path / "apiclient_key.pem"
    path.write_text(pem["app"])
    assert load_private_key(path) is load_private_key(path)
    path.write_text(pem["stranger"])
    assert load_private_key(path).fingerprint == load_private_key(pem["stranger"]).fingerprint


def test_key_repr_shows_kind_and_fingerprint_never_material(
    rsa_keys: dict[str, rsa.RSAPrivateKey], pem: dict[str, str]
) -> None:
    key = load_private_key(pem["merchant"])
    text = repr(key) + str(key) + repr(key.public_key)
    numbers = rsa_keys["merchant"].private_numbers()
    assert "RSA-2048 private key" in repr(key)
    assert key.fingerprint in repr(key)
    assert len(key.fingerprint) == 16
    for secret in (str(numbers.d), format(numbers.p, "x"), pem["merchant"][40:80]):
        assert secret not in text


def test_private_key_refuses_to_be_pickled(pem: dict[str, str]) -> None:
    with pytest.raises(TypeError, match="never pickled"):
        pickle.dumps(load_private_key(pem["merchant"]))


def test_unloadable_key_raises_config_error_without_echoing_it() -> None:
    garbage = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC-not-a-key-SECRETSECRET"
    with pytest.raises(ConfigError) as caught:
        load_private_key(garbage)
    assert "SECRETSECRET" not in str(caught.value)
    assert "PKCS#1 or PKCS#8" in str(caught.value)


def test_missing_key_file_raises_config_error_naming_the_path(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="could not be read"):
        load_private_key(tmp_path / "absent.pem")


def test_certificate_exposes_serial_validity_and_public_key(
    rsa_keys: dict[str, rsa.RSAPrivateKey], make_cert: object
) -> None:
    cert = load_certificate(make_cert(rsa_keys["platform"], serial=0x5157F09E))  # type: ignore[operator]
    assert isinstance(cert, Certificate)
    assert cert.serial_hex == "5157F09E"
    assert (
        cert.public_key
        == load_private_key(
            rsa_keys["platform"].private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        ).public_key
    )
    assert "5157F09E" in repr(cert)


def test_loaded_key_objects_are_our_type(keys: dict[str, RsaPrivateKey]) -> None:
    assert all(isinstance(key, RsaPrivateKey) for key in keys.values())
