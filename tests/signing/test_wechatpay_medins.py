"""Med-ins order sensitive fields: the documented id_digest rule and RSA-OAEP under the platform key."""

from __future__ import annotations

import base64
import datetime
import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from wechatpayv3 import utils as peer

from gongji.errors import ConfigError, InvalidInput
from gongji.identity import IdNumber
from gongji.signing import PlatformKeyStore, encrypt_med_ins_fields, id_digest
from gongji.signing.keys import RsaPrivateKey
from tests.signing.conftest import NOW_UTC, CertFactory

PAYER = "210202198503170036"  # valid check digit
RELATIVE = "21020219580912002X"  # valid, check digit X


def _valid(number: str) -> str:
    IdNumber(number)  # raises if the fixture number were invalid
    return number


def test_id_digest_reproduces_the_documented_example() -> None:
    # WeChat Pay's med-ins guide: 44030019000101123x -> 09eb26e839ff3a2e3980352ae45ef09e
    assert id_digest("44030019000101123x", validate=False) == "09eb26e839ff3a2e3980352ae45ef09e"


def test_id_digest_is_md5_of_the_uppercased_18_digit_number() -> None:
    lower = RELATIVE.lower()
    assert id_digest(lower, validate=False) == hashlib.md5(RELATIVE.encode()).hexdigest()  # noqa: S324


def test_id_digest_upgrades_a_15_digit_number_first() -> None:
    assert id_digest("210202850317003") == id_digest(_valid(PAYER))


def test_id_digest_refuses_an_invalid_id_number_without_echoing_it() -> None:
    with pytest.raises(InvalidInput) as caught:
        id_digest("210202198503170037")
    assert "210202198503170037" not in str(caught.value)


def test_sensitive_fields_decrypt_with_the_platform_key_to_name_and_digest(
    keys: dict[str, RsaPrivateKey],
    public_pem: dict[str, str],
    rsa_keys: dict[str, rsa.RSAPrivateKey],
) -> None:
    store = PlatformKeyStore(public_keys={"PUB_KEY_ID_0114": public_pem["platform"]})
    fields = encrypt_med_ins_fields(
        store,
        payer_name="张三",
        payer_id=PAYER,
        relative_name="李四",
        relative_id=RELATIVE,
        at=NOW_UTC,
    )
    assert fields.serial == "PUB_KEY_ID_0114"
    assert fields.relative is not None
    opened = {
        "payer.name": keys["platform"]
        .decrypt_oaep_sha1(base64.b64decode(fields.payer.name))
        .decode(),
        "payer.id_digest": peer.rsa_decrypt(fields.payer.id_digest, rsa_keys["platform"]),
        "relative.name": peer.rsa_decrypt(fields.relative.name, rsa_keys["platform"]),
        "relative.id_digest": peer.rsa_decrypt(fields.relative.id_digest, rsa_keys["platform"]),
    }
    assert opened == {
        "payer.name": "张三",
        "payer.id_digest": id_digest(PAYER),
        "relative.name": "李四",
        "relative.id_digest": id_digest(RELATIVE),
    }
    assert "张三" not in repr(fields)
    assert fields.payer.as_wire().keys() == {"name", "id_digest"}


def test_certificate_mode_encrypts_with_the_newest_valid_certificate(
    make_cert: CertFactory, rsa_keys: dict[str, rsa.RSAPrivateKey], keys: dict[str, RsaPrivateKey]
) -> None:
    older = make_cert(
        rsa_keys["platform"], serial=0x111, not_before=NOW_UTC - datetime.timedelta(days=300)
    )
    newer = make_cert(
        rsa_keys["platform_next"], serial=0x222, not_before=NOW_UTC - datetime.timedelta(days=3)
    )
    store = PlatformKeyStore(certificates=(older, newer))
    fields = encrypt_med_ins_fields(store, payer_name="张三", payer_id=PAYER, at=NOW_UTC)
    assert fields.serial == "222"
    assert (
        keys["platform_next"].decrypt_oaep_sha1(base64.b64decode(fields.payer.name))
        == "张三".encode()
    )


def test_no_valid_platform_key_is_a_config_error(
    make_cert: CertFactory, rsa_keys: dict[str, rsa.RSAPrivateKey]
) -> None:
    expired = make_cert(
        rsa_keys["platform"], serial=0x1, not_after=NOW_UTC - datetime.timedelta(days=1)
    )
    with pytest.raises(ConfigError, match="No valid WeChat Pay platform"):
        encrypt_med_ins_fields(
            PlatformKeyStore(certificates=(expired,)), payer_name="张三", payer_id=PAYER, at=NOW_UTC
        )


def test_a_relative_needs_both_name_and_id(public_pem: dict[str, str]) -> None:
    store = PlatformKeyStore(public_keys={"PUB_KEY_ID_0114": public_pem["platform"]})
    with pytest.raises(InvalidInput, match="both a name and an ID number"):
        encrypt_med_ins_fields(
            store, payer_name="张三", payer_id=PAYER, relative_name="李四", at=NOW_UTC
        )
