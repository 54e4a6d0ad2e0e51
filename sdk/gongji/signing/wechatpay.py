"""WeChat Pay APIv3: request signing, response and callback verification, callback decryption.

Requests carry ``Authorization: WECHATPAY2-SHA256-RSA2048 mchid=..,nonce_str=..,
signature=..,timestamp=..,serial_no=..`` where the signature is SHA256withRSA over
``METHOD\\nPATH?QUERY\\nTIMESTAMP\\nNONCE\\nBODY\\n`` - the path and query exactly
as sent, the body bytes exactly as sent. Responses and callbacks are signed by
WeChat Pay over ``TIMESTAMP\\nNONCE\\nBODY\\n`` with the platform key named by
``Wechatpay-Serial``. Everything is checked on the received bytes before a single
field is decoded. Callbacks also get a timestamp window (300 s by default) and,
when the caller supplies a nonce cache, replay refusal; their ``resource`` is
AEAD_AES_256_GCM under the APIv3 key.

The platform side (signing responses, checking a merchant's Authorization,
encrypting a callback resource) is here too, for the mock gateway and the tests.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import re
import secrets
from collections.abc import Generator, Mapping

import attrs
import httpx
import msgspec
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

import gongji.jsonwire as jsonwire
from gongji.errors import ConfigError, SignatureError
from gongji.signing._common import (
    Clock,
    NonceCache,
    UnixTime,
    check_replay,
    check_timestamp,
    lower_keys,
    new_nonce,
    require_header,
    system_clock,
)
from gongji.signing.keys import RsaPrivateKey, RsaPublicKey, decode_rsa_signature
from gongji.signing.wechatpay_keys import PlatformKeyStore

SCHEMA = "WECHATPAY2-SHA256-RSA2048"
CALLBACK_TOLERANCE_SECONDS = 300

SERIAL = "wechatpay-serial"
SIGNATURE = "wechatpay-signature"
TIMESTAMP = "wechatpay-timestamp"
NONCE = "wechatpay-nonce"
SIGNATURE_TYPE = "wechatpay-signature-type"

_AUTH_FIELD = re.compile(r'(\w+)="([^"]*)"')


def _utc(seconds: UnixTime) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(seconds, datetime.UTC)


def request_message(method: str, target: str, timestamp: str, nonce: str, body: bytes) -> bytes:
    """``METHOD\\nTARGET\\nTIMESTAMP\\nNONCE\\nBODY\\n``: what a merchant signs."""
    return f"{method}\n{target}\n{timestamp}\n{nonce}\n".encode() + body + b"\n"


def platform_message(timestamp: str, nonce: str, body: bytes) -> bytes:
    """``TIMESTAMP\\nNONCE\\nBODY\\n``: what WeChat Pay signs on responses and callbacks."""
    return f"{timestamp}\n{nonce}\n".encode() + body + b"\n"


class WechatPayMerchant:
    """A merchant's signing identity: mchid, API certificate serial and private key."""

    __slots__ = ("mchid", "private_key", "serial_no")

    def __init__(self, *, mchid: str, serial_no: str, private_key: RsaPrivateKey) -> None:
        if not mchid or not serial_no:
            raise ConfigError(
                "WeChat Pay needs the merchant id (mchid) and the API certificate serial number.",
                next_step="Copy both from the merchant platform's API security page.",
            )
        self.mchid = mchid
        self.serial_no = serial_no
        self.private_key = private_key

    def authorization(
        self, method: str, target: str | bytes, body: bytes, *, timestamp: int, nonce: str
    ) -> str:
        """The ``Authorization`` header value for one request.

        ``target`` is the path and query as sent (``httpx.URL.raw_path``), ``body`` the exact bytes.
        """
        path = target.decode("ascii") if isinstance(target, bytes) else target
        stamp = str(timestamp)
        signature = self.private_key.sign_sha256(request_message(method, path, stamp, nonce, body))
        encoded = base64.b64encode(signature).decode("ascii")
        return (
            f'{SCHEMA} mchid="{self.mchid}",nonce_str="{nonce}",signature="{encoded}",'
            f'timestamp="{stamp}",serial_no="{self.serial_no}"'
        )

    def __repr__(self) -> str:
        return f"WechatPayMerchant(mchid={self.mchid!r}, serial_no={self.serial_no!r}, key={self.private_key!r})"


def _decode_signature(encoded: str, key: RsaPublicKey, what: str) -> bytes:
    return decode_rsa_signature(encoded, key, what)


def verify_platform_signature(
    headers: Mapping[str, str],
    body: bytes,
    store: PlatformKeyStore,
    *,
    at: datetime.datetime,
    what: str,
) -> str:
    """Check WeChat Pay's signature over ``body``; return the serial that signed it.

    ``headers`` must have lower-case names (``lower_keys``). Raises ``SignatureError``
    naming what failed: a missing header, the signature type, an unknown or
    expired serial, a malformed signature, or a signature that does not verify.
    """
    signature_type = headers.get(SIGNATURE_TYPE)
    if signature_type is not None and signature_type != SCHEMA:
        raise SignatureError(
            f"{what} uses signature type {signature_type[:40]!r}; only {SCHEMA} is accepted."
        )
    serial = require_header(headers, "Wechatpay-Serial", what)
    stamp = require_header(headers, "Wechatpay-Timestamp", what)
    nonce = require_header(headers, "Wechatpay-Nonce", what)
    encoded = require_header(headers, "Wechatpay-Signature", what)
    key = store.key_for(serial, at=at, what=what)
    signature = _decode_signature(encoded, key, what)
    if not key.verify_sha256(platform_message(stamp, nonce, body), signature):
        raise SignatureError(
            f"{what} signature did not verify against platform key serial {serial} "
            "(body, timestamp or nonce altered, or signed by another key)."
        )
    return serial


class WechatPayAuth(httpx.Auth):
    """Signs every request and verifies every response before it reaches the caller.

    A 2xx response must carry a valid platform signature; any response that
    carries one is verified. An unsigned error response (WeChat Pay does not sign
    some 4xx/5xx, such as a refused signature) passes through: it says only that
    the call failed, and must not be trusted for more.
    """

    requires_request_body = True
    requires_response_body = True

    def __init__(
        self,
        merchant: WechatPayMerchant,
        platform: PlatformKeyStore,
        *,
        clock: Clock = system_clock,
        response_tolerance_seconds: int | None = None,
    ) -> None:
        self.merchant = merchant
        self.platform = platform
        self._clock = clock
        self._tolerance = response_tolerance_seconds

    def sign(self, request: httpx.Request) -> None:
        """Add ``Authorization`` (and ``Wechatpay-Serial`` in public-key mode) to ``request``."""
        key_id = self.platform.public_key_id
        if key_id is not None and SERIAL not in request.headers:
            request.headers["Wechatpay-Serial"] = key_id
        request.headers["Authorization"] = self.merchant.authorization(
            request.method,
            request.url.raw_path,
            request.content,
            timestamp=int(self._clock()),
            nonce=new_nonce(),
        )

    def verify(self, response: httpx.Response) -> None:
        """Raise ``SignatureError`` unless ``response`` is WeChat Pay's, unaltered."""
        headers = lower_keys(response.headers)
        if not response.is_success and SIGNATURE not in headers:
            return
        now = self._clock()
        what = "The WeChat Pay response"
        if self._tolerance is not None:
            stamp = require_header(headers, "Wechatpay-Timestamp", what)
            check_timestamp(stamp, now=now, tolerance_seconds=self._tolerance, what=what)
        verify_platform_signature(headers, response.content, self.platform, at=_utc(now), what=what)

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        self.sign(request)
        response = yield request
        self.verify(response)

    def __repr__(self) -> str:
        return f"WechatPayAuth({self.merchant!r}, {self.platform!r})"


class _Resource(msgspec.Struct, frozen=True):
    algorithm: str
    ciphertext: str
    nonce: str
    associated_data: str = ""
    original_type: str = ""


class _Envelope(msgspec.Struct, frozen=True):
    id: str
    resource: _Resource
    create_time: str = ""
    event_type: str = ""
    resource_type: str = ""
    summary: str = ""


@attrs.frozen
class WechatPayNotification:
    """A verified, decrypted callback. ``plaintext`` is the resource's JSON, bytes as decrypted."""

    id: str
    event_type: str
    resource_type: str
    summary: str
    create_time: str
    original_type: str
    serial: str
    plaintext: bytes = attrs.field(repr=False)


def _apiv3_key_bytes(apiv3_key: str | bytes) -> bytes:
    key = apiv3_key.encode() if isinstance(apiv3_key, str) else apiv3_key
    if len(key) != 32:
        raise ConfigError(
            f"The WeChat Pay APIv3 key must be 32 bytes; the configured one has {len(key)}.",
            next_step="Copy the APIv3 key (not the v2 API key) from the merchant platform.",
        )
    return key


def decode_envelope(body: bytes) -> _Envelope:
    """Decode a callback envelope. Only ever called on a body whose signature verified."""
    return jsonwire.decode(body, type=_Envelope)


class WechatPayNotifications:
    """Verifies and decrypts WeChat Pay callbacks (payment results, refunds, med-ins results)."""

    __slots__ = ("_apiv3_key", "_clock", "_nonce_cache", "platform", "tolerance_seconds")

    def __init__(
        self,
        platform: PlatformKeyStore,
        apiv3_key: str | bytes,
        *,
        tolerance_seconds: int = CALLBACK_TOLERANCE_SECONDS,
        nonce_cache: NonceCache | None = None,
        clock: Clock = system_clock,
    ) -> None:
        self.platform = platform
        self._apiv3_key = _apiv3_key_bytes(apiv3_key)
        self.tolerance_seconds = tolerance_seconds
        self._nonce_cache = nonce_cache
        self._clock = clock

    def verify(self, headers: Mapping[str, str], body: bytes) -> str:
        """Check window, signature and replay on the raw body; return the signing serial."""
        what = "The WeChat Pay callback"
        found = lower_keys(headers)
        now = self._clock()
        stamp = require_header(found, "Wechatpay-Timestamp", what)
        check_timestamp(stamp, now=now, tolerance_seconds=self.tolerance_seconds, what=what)
        serial = verify_platform_signature(found, body, self.platform, at=_utc(now), what=what)
        # Replay is checked after the signature so an unsigned forgery cannot burn a real nonce.
        check_replay(
            self._nonce_cache,
            found[NONCE],
            now=now,
            window_seconds=self.tolerance_seconds,
            what=what,
        )
        return serial

    def open(self, headers: Mapping[str, str], body: bytes) -> WechatPayNotification:
        """Verify, then decode the envelope, then decrypt its resource with the APIv3 key."""
        serial = self.verify(headers, body)
        try:
            envelope = decode_envelope(body)
        except msgspec.DecodeError:
            raise SignatureError(
                "The WeChat Pay callback verified but is not a notification envelope.",
                next_step="Check that this endpoint receives WeChat Pay APIv3 callbacks only.",
            ) from None
        resource = envelope.resource
        plaintext = decrypt_resource(
            self._apiv3_key,
            ciphertext=resource.ciphertext,
            nonce=resource.nonce,
            associated_data=resource.associated_data,
            algorithm=resource.algorithm,
        )
        return WechatPayNotification(
            id=envelope.id,
            event_type=envelope.event_type,
            resource_type=envelope.resource_type,
            summary=envelope.summary,
            create_time=envelope.create_time,
            original_type=resource.original_type,
            serial=serial,
            plaintext=plaintext,
        )

    def __repr__(self) -> str:
        return (
            f"WechatPayNotifications({self.platform!r}, apiv3_key=<hidden>, "
            f"tolerance={self.tolerance_seconds}s)"
        )


def decrypt_resource(
    apiv3_key: str | bytes,
    *,
    ciphertext: str,
    nonce: str,
    associated_data: str,
    algorithm: str = "AEAD_AES_256_GCM",
) -> bytes:
    """AEAD_AES_256_GCM decryption of a callback (or certificate download) resource."""
    if algorithm != "AEAD_AES_256_GCM":
        raise SignatureError(
            f"The WeChat Pay resource uses algorithm {algorithm[:40]!r}; only AEAD_AES_256_GCM is accepted."
        )
    try:
        sealed = base64.b64decode(ciphertext, validate=True)
        return AESGCM(_apiv3_key_bytes(apiv3_key)).decrypt(
            nonce.encode(), sealed, associated_data.encode()
        )
    except (InvalidTag, binascii.Error, ValueError):
        raise SignatureError(
            "The WeChat Pay resource did not decrypt with the configured APIv3 key "
            "(authentication tag mismatch: altered ciphertext, nonce or associated data, or another key)."
        ) from None


# --- The platform's side: for the mock gateway and for tests. -----------------------------------


def encrypt_resource(
    apiv3_key: str | bytes, plaintext: bytes, *, associated_data: str, nonce: str | None = None
) -> dict[str, str]:
    """A callback ``resource`` object, as WeChat Pay builds it."""
    once = secrets.token_hex(6) if nonce is None else nonce
    sealed = AESGCM(_apiv3_key_bytes(apiv3_key)).encrypt(
        once.encode(), plaintext, associated_data.encode()
    )
    return {
        "algorithm": "AEAD_AES_256_GCM",
        "ciphertext": base64.b64encode(sealed).decode("ascii"),
        "nonce": once,
        "associated_data": associated_data,
    }


def platform_headers(
    private_key: RsaPrivateKey,
    body: bytes,
    *,
    serial: str,
    timestamp: int,
    nonce: str | None = None,
) -> dict[str, str]:
    """The ``Wechatpay-*`` headers WeChat Pay puts on a response or callback with ``body``."""
    once = secrets.token_hex(16) if nonce is None else nonce
    stamp = str(timestamp)
    signature = private_key.sign_sha256(platform_message(stamp, once, body))
    return {
        "Wechatpay-Serial": serial,
        "Wechatpay-Timestamp": stamp,
        "Wechatpay-Nonce": once,
        "Wechatpay-Signature": base64.b64encode(signature).decode("ascii"),
        "Wechatpay-Signature-Type": SCHEMA,
    }


def verify_authorization(
    method: str,
    target: str | bytes,
    body: bytes,
    authorization: str,
    *,
    merchant_keys: Mapping[tuple[str, str], RsaPublicKey],
    now: UnixTime,
    tolerance_seconds: int = CALLBACK_TOLERANCE_SECONDS,
    nonce_cache: NonceCache | None = None,
) -> str:
    """WeChat Pay's check of a merchant request; returns the mchid.

    ``merchant_keys`` maps ``(mchid, serial_no)`` to the merchant's API public key.
    """
    what = "The merchant request"
    schema, _, fields_text = authorization.partition(" ")
    if schema != SCHEMA:
        raise SignatureError(f"{what} Authorization scheme is {schema[:40]!r}, not {SCHEMA}.")
    fields: dict[str, str] = dict(_AUTH_FIELD.findall(fields_text))
    missing = [
        name
        for name in ("mchid", "nonce_str", "signature", "timestamp", "serial_no")
        if not fields.get(name)
    ]
    if missing:
        raise SignatureError(f"{what} Authorization lacks {', '.join(missing)}.")
    key = merchant_keys.get((fields["mchid"], fields["serial_no"]))
    if key is None:
        raise SignatureError(
            f"{what} names merchant {fields['mchid']!r} certificate serial {fields['serial_no'][:64]!r}, which is not registered."
        )
    check_timestamp(fields["timestamp"], now=now, tolerance_seconds=tolerance_seconds, what=what)
    signature = _decode_signature(fields["signature"], key, what)
    path = target.decode("ascii") if isinstance(target, bytes) else target
    message = request_message(method, path, fields["timestamp"], fields["nonce_str"], body)
    if not key.verify_sha256(message, signature):
        raise SignatureError(
            f"{what} signature did not verify for merchant {fields['mchid']!r} serial {fields['serial_no']} "
            "(method, path, body, timestamp or nonce altered, or another key)."
        )
    check_replay(
        nonce_cache, fields["nonce_str"], now=now, window_seconds=tolerance_seconds, what=what
    )
    return fields["mchid"]
