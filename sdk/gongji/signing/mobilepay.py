"""The medical-insurance mobile-payment channel (医保移动支付): SM4 payload, SM2 signature.

What the public material says, and what is assumed (docs/explanation/signing.md):

* Signature (published in the provinces' interface specifications, e.g. the
  Tianjin one): take every request parameter except ``signData``, ``encData``
  and ``extra``, drop empty ones, sort by name, write ``name=value`` joined by
  ``&``; ``data`` is written as JSON with its own keys sorted and empty values
  dropped; append ``&key=<appSecret>``; sign with SM2-with-SM3 (ID
  ``1234567812345678``); ``signData`` is the base64 of raw ``r || s``.
* Payload key (from a public client of the national medical-insurance service
  platform, not from a specification): SM4-ECB/PKCS#7-encrypt the appSecret
  under the first 16 characters of the appId; the upper-case hex of that,
  truncated to 16 characters, is the 16-byte (ASCII) data key.
* Payload: ``encData`` = upper-case hex of SM4-ECB/PKCS#7 of ``data`` as compact
  JSON with non-ASCII characters escaped; ``data`` itself is not sent.
* Assumption: responses are signed the same way by the platform, over the
  decrypted ``data``; so a response is decrypted, then verified, and only then
  returned. Numbers in ``data`` are written as strings in the signed JSON;
  floats are refused outright (amounts travel as yuan strings).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Generator, Mapping

import httpx

from gongji import clock as beijing
from gongji.errors import ConfigError, InvalidInput, SignatureError
from gongji.signing._common import Clock, system_clock
from gongji.signing.sm import Sm2PrivateKey, Sm2PublicKey, sm4_ecb_decrypt, sm4_ecb_encrypt

_UNSIGNED = ("signData", "encData", "extra")
VERIFIED_DATA = "gongji.mobilepay.data"


def derive_data_key(app_id: str, app_secret: str) -> bytes:
    """The SM4 data key: ``hex_upper(SM4-ECB(appId[:16], appSecret))[:16]`` as ASCII bytes."""
    head = app_id[:16].encode()
    if len(head) != 16:
        raise ConfigError(
            "The mobile-payment appId is shorter than 16 characters; the data key cannot be derived.",
            next_step="Configure the appId exactly as the channel issued it.",
        )
    return sm4_ecb_encrypt(head, app_secret.encode()).hex().upper()[:16].encode("ascii")


def _stringify(value: object, path: str) -> object:
    if isinstance(value, float):
        raise InvalidInput(
            f"data{path} is a float; amounts go to the channel as yuan strings such as '12.50'.",
            next_step="Convert with gongji.Fen(...).yuan(); nothing was sent.",
        )
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return value


def _empty(value: object) -> bool:
    return value is None or value == "" or value == [] or value == {}


def canonical_data(data: Mapping[str, object]) -> str:
    """``data`` as the signature sees it: keys sorted, empties dropped, numbers as strings."""
    kept: dict[str, object] = {}
    for key in sorted(data):
        value = _stringify(data[key], f".{key}")
        if _empty(value):
            continue
        if isinstance(value, list):
            value = [
                {inner: item[inner] for inner in sorted(item)}
                if isinstance(item, Mapping)
                else item
                for item in value
            ]
        kept[key] = value
    return json.dumps(kept, ensure_ascii=False, separators=(",", ":"))


def sign_string(params: Mapping[str, object], app_secret: str) -> str:
    """The string to sign: sorted ``k=v&...`` of the signed parameters, then ``&key=appSecret``."""
    parts = []
    for key in sorted(params):
        if key in _UNSIGNED:
            continue
        value = params[key]
        if key == "data" and isinstance(value, Mapping):
            parts.append(f"data={canonical_data(value)}")
            continue
        text = _stringify(value, f" parameter {key}")
        if not _empty(text):
            parts.append(f"{key}={text}")
    parts.append(f"key={app_secret}")
    return "&".join(parts)


class MobilePayChannel:
    """Seals requests and opens responses for one app on the mobile-payment channel."""

    __slots__ = (
        "_app_secret",
        "_clock",
        "_data_key",
        "app_id",
        "app_id_field",
        "platform_public_key",
        "private_key",
        "version",
    )

    def __init__(
        self,
        *,
        app_id: str,
        app_secret: str,
        private_key: Sm2PrivateKey,
        platform_public_key: Sm2PublicKey,
        version: str = "1.0.0",
        app_id_field: str = "appId",
        clock: Clock = system_clock,
    ) -> None:
        if not app_secret:
            raise ConfigError(
                "The mobile-payment appSecret is empty.", next_step="Configure it as issued."
            )
        self.app_id = app_id
        self._app_secret = app_secret
        self._data_key = derive_data_key(app_id, app_secret)
        self.private_key = private_key
        self.platform_public_key = platform_public_key
        self.version = version
        self.app_id_field = app_id_field
        self._clock = clock

    def seal(self, data: Mapping[str, object], *, timestamp: str | None = None) -> bytes:
        """The request body: envelope with ``encData`` and ``signData``, as exact JSON bytes."""
        stamp = timestamp or str(int(self._clock() * 1000))
        plain = json.dumps(data, ensure_ascii=True, separators=(",", ":"))
        canonical_data(data)  # refuses floats before anything is encrypted
        envelope: dict[str, object] = {
            self.app_id_field: self.app_id,
            "encType": "SM4",
            "signType": "SM2",
            "timestamp": stamp,
            "version": self.version,
        }
        signed = sign_string({**envelope, "data": data}, self._app_secret)
        envelope["encData"] = sm4_ecb_encrypt(self._data_key, plain.encode()).hex().upper()
        envelope["signData"] = base64.b64encode(self.private_key.sign(signed.encode())).decode(
            "ascii"
        )
        return json.dumps(envelope, ensure_ascii=False, separators=(",", ":")).encode()

    def open(self, body: bytes) -> dict[str, object]:
        """Decrypt and verify a response; returns its ``data`` only if the signature holds."""
        what = "The mobile-payment response"
        try:
            envelope = json.loads(body)
        except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: [[[[...]]]]
            raise SignatureError(f"{what} is not JSON; it was not trusted.") from None
        if not isinstance(envelope, dict):
            raise SignatureError(f"{what} is not a JSON object; it was not trusted.")
        encoded_signature = envelope.get("signData")
        if not isinstance(encoded_signature, str) or not encoded_signature:
            raise SignatureError(f"{what} carries no signData.")
        try:
            signature = base64.b64decode(encoded_signature, validate=True)
        except (binascii.Error, ValueError):
            signature = b""
        if len(signature) != 64:
            raise SignatureError(f"{what} signData is malformed or truncated (not 64 bytes r||s).")
        data: dict[str, object] = {}
        enc_data = envelope.get("encData")
        if isinstance(enc_data, str) and enc_data:
            try:
                decoded = json.loads(sm4_ecb_decrypt(self._data_key, bytes.fromhex(enc_data)))
            except (ValueError, RecursionError):
                raise SignatureError(
                    f"{what} encData did not decrypt with this app's data key."
                ) from None
            if not isinstance(decoded, dict):
                raise SignatureError(f"{what} encData is not a JSON object.")
            data = decoded
        signed = sign_string({**envelope, "data": data}, self._app_secret)
        if not self.platform_public_key.verify(signed.encode(), signature):
            raise SignatureError(
                f"{what} signData did not verify against the platform SM2 key "
                f"sha256:{self.platform_public_key.fingerprint} (fields or data altered, or another key)."
            )
        return data

    def __repr__(self) -> str:
        return f"MobilePayChannel(app_id={self.app_id!r}, app_secret=<hidden>, key={self.private_key!r})"


class MobilePayAuth(httpx.Auth):
    """Seals a JSON ``data`` request body and verifies the response before it is returned.

    The adapter sends ``data`` as the JSON body; the flow replaces it with the
    sealed envelope. The verified ``data`` is left in ``response.extensions``
    under ``VERIFIED_DATA``.
    """

    requires_request_body = True
    requires_response_body = True

    def __init__(self, channel: MobilePayChannel) -> None:
        self.channel = channel

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        data = json.loads(request.content or b"{}")
        sealed = httpx.Request(
            request.method,
            request.url,
            headers={**request.headers, "content-type": "application/json"},
            content=self.channel.seal(data),
            extensions=request.extensions,
        )
        response = yield sealed
        response.extensions[VERIFIED_DATA] = self.channel.open(response.content)

    def __repr__(self) -> str:
        return f"MobilePayAuth({self.channel!r})"


def platform_reply(
    channel_app_id: str,
    app_secret: str,
    platform_key: Sm2PrivateKey,
    data: Mapping[str, object],
    *,
    code: str = "0",
    message: str = "success",
    timestamp: str | None = None,
) -> bytes:
    """A response as the platform would sign it (for the mock gateway and tests)."""
    stamp = timestamp or beijing.msgid_time(beijing.now())
    envelope: dict[str, object] = {
        "appId": channel_app_id,
        "code": code,
        "message": message,
        "encType": "SM4",
        "signType": "SM2",
        "timestamp": stamp,
    }
    signed = sign_string({**envelope, "data": data}, app_secret)
    key = derive_data_key(channel_app_id, app_secret)
    envelope["encData"] = (
        sm4_ecb_encrypt(key, json.dumps(data, ensure_ascii=True, separators=(",", ":")).encode())
        .hex()
        .upper()
    )
    envelope["signData"] = base64.b64encode(platform_key.sign(signed.encode())).decode("ascii")
    return json.dumps(envelope, ensure_ascii=False, separators=(",", ":")).encode()
