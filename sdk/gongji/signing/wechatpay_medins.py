"""Sensitive fields of WeChat Pay medical-insurance orders (``POST /v3/med-ins/orders``).

``payer.name``, ``payer.id_digest`` and, when ``pay_for_relatives`` is true,
``relative.name`` and ``relative.id_digest`` travel RSA-OAEP encrypted (SHA-1,
MGF1-SHA-1, base64) under the WeChat Pay platform public key or platform
certificate, and the request's ``Wechatpay-Serial`` header names the key used.

The ``id_digest`` rule, from WeChat Pay's merchant documentation for the
medical-insurance order ("敏感字段加密规范", published with the official
``wechatpay-apiv3/wechatpay-skills`` reference): upper-case the letters of the
resident ID number, convert a 15-digit number to 18 digits, take the MD5, and
write it as 32 lower-case hex digits; e.g. ``44030019000101123x`` ->
``09eb26e839ff3a2e3980352ae45ef09e``. The digest, not the number, is what is
encrypted.
"""

from __future__ import annotations

import base64
import datetime
import hashlib

import attrs
from stdnum.cn import ric

from gongji.errors import InvalidInput
from gongji.identity import IdNumber, mask_id
from gongji.signing.wechatpay_keys import PlatformKeyStore


def id_digest(number: str | IdNumber, *, validate: bool = True) -> str:
    """WeChat Pay's ``id_digest``: MD5 (lower-case hex) of the upper-cased 18-digit ID number.

    With ``validate`` (the default) the number must be a valid resident ID
    (check digit, birth date, region), 15-digit numbers upgraded; without it only
    the documented transformation is applied, for numbers that are not resident
    IDs or for reproducing published examples.
    """
    if validate:
        text = IdNumber(number).number
    else:
        text = str.__str__(number).strip().upper()
        if len(text) == 15 and text.isdigit():
            body = f"{text[:6]}19{text[6:]}"
            text = body + ric.calc_check_digit(body + "0")
        if len(text) != 18:
            raise InvalidInput(
                f"The ID number {mask_id(text)} has {len(text)} characters; an id_digest needs 15 or 18.",
                next_step="Pass the resident ID number as printed on the card.",
            )
    # MD5 is WeChat Pay's documented choice here: a lookup digest, not a security boundary.
    return hashlib.md5(text.encode("ascii")).hexdigest()  # noqa: S324


@attrs.frozen
class EncryptedPerson:
    """``name`` and ``id_digest`` encrypted for one ``payer`` or ``relative`` object."""

    name: str = attrs.field(repr=lambda _: "<encrypted>")
    id_digest: str = attrs.field(repr=lambda _: "<encrypted>")

    def as_wire(self) -> dict[str, str]:
        return {"name": self.name, "id_digest": self.id_digest}


@attrs.frozen
class SensitiveFields:
    """What a med-ins order needs: the encrypted people and the serial for ``Wechatpay-Serial``."""

    serial: str
    payer: EncryptedPerson
    relative: EncryptedPerson | None = None


def encrypt_med_ins_fields(
    store: PlatformKeyStore,
    *,
    payer_name: str,
    payer_id: str | IdNumber,
    relative_name: str | None = None,
    relative_id: str | IdNumber | None = None,
    at: datetime.datetime | None = None,
) -> SensitiveFields:
    """Encrypt the payer's (and a relative's) name and ``id_digest`` with one platform key.

    Every field uses the same key, whose serial the request must send as
    ``Wechatpay-Serial``; WeChat Pay decrypts with the key that serial names.
    """
    moment = at or datetime.datetime.now(datetime.UTC)
    serial, key = store.encryption_key(at=moment)

    def seal(text: str) -> str:
        return base64.b64encode(key.encrypt_oaep_sha1(text.encode())).decode("ascii")

    payer = EncryptedPerson(name=seal(payer_name), id_digest=seal(id_digest(payer_id)))
    relative = None
    if (relative_name is None) != (relative_id is None):
        raise InvalidInput(
            "A relative needs both a name and an ID number, or neither.",
            next_step="Pass relative_name and relative_id together when pay_for_relatives is true.",
        )
    if relative_name is not None and relative_id is not None:
        relative = EncryptedPerson(name=seal(relative_name), id_digest=seal(id_digest(relative_id)))
    return SensitiveFields(serial=serial, payer=payer, relative=relative)
