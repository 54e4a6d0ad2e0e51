"""Alipay OpenAPI, RSA2: request signing, response and notification verification.

A request is signed with SHA256withRSA over its parameters sorted by name and
written ``k=v&k=v`` (values as sent, not URL-encoded; ``sign`` and empty values
left out). The synchronous response is verified over the raw bytes of the
``<method>_response`` (or ``error_response``) JSON value exactly as received,
never over a re-serialisation: the value is located by a small scanner that
understands JSON strings, so braces inside strings cannot shift it. An
asynchronous notification is verified over its form parameters without
``sign`` and ``sign_type``.

Public-key mode and certificate mode are both supported: in certificate mode a
request also carries ``app_cert_sn`` and ``alipay_root_cert_sn``, and a response
names the signing certificate by ``alipay_cert_sn``.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import json
import time
from collections.abc import Generator, Iterable, Mapping
from typing import NamedTuple
from urllib.parse import parse_qsl

import httpx
import msgspec
import msgspec.inspect

from gongji.errors import ConfigError, InvalidInput, SignatureError
from gongji.signing._common import Clock, system_clock
from gongji.signing.alipay_certs import AlipayPublicKeys, alipay_cert_sn, alipay_root_cert_sn
from gongji.signing.keys import (
    Certificate,
    RsaPrivateKey,
    RsaPublicKey,
    decode_rsa_signature,
    load_certificate,
)

__all__ = [
    "AlipayAuth",
    "AlipayPublicKeys",
    "AlipaySigner",
    "AlipayVerifier",
    "alipay_cert_sn",
    "alipay_root_cert_sn",
    "biz_content_json",
    "content_to_sign",
    "response_content",
]

SIGN_TYPE = "RSA2"
#: Alipay reads ``timestamp`` as Beijing time, whatever the POS machine's zone.
BEIJING = datetime.timezone(datetime.timedelta(hours=8), "Asia/Shanghai")

_JsonValue = str | int | bool | None | list["_JsonValue"] | Mapping[str, "_JsonValue"]


def _refuse_floats(value: object, path: str) -> None:
    """Walk again, slowly, to name where the float (or the non-JSON value) is."""
    if isinstance(value, float):
        raise InvalidInput(
            f"biz_content{path} is a float; amounts go to Alipay as yuan strings such as '12.50'.",
            next_step="Convert with gongji.Fen(...).yuan() (or pass a string); nothing was sent.",
        )
    if isinstance(value, Mapping):
        for key, item in value.items():
            _refuse_floats(item, f"{path}.{key}")
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _refuse_floats(item, f"{path}[{index}]")
    elif not isinstance(value, str | int | bool | None):
        raise InvalidInput(f"biz_content{path} is a {type(value).__name__}, which is not JSON.")


_PLAIN_JSON = (str, int, bool, type(None))
# Made once: json.dumps with options builds a new encoder on every call.
_COMPACT_ASCII_JSON = json.JSONEncoder(separators=(",", ":"), ensure_ascii=True)


def _check_json_without_floats(biz_content: Mapping[str, object]) -> None:
    """A fast iterative check on every call; the slow walk runs only to word the refusal."""
    pending: list[object] = [biz_content]
    while pending:
        value = pending.pop()
        kind = type(value)
        if kind in _PLAIN_JSON:
            continue
        if kind is dict:
            pending.extend(value.values())  # type: ignore[attr-defined]
        elif kind is list or kind is tuple:
            pending.extend(value)  # type: ignore[arg-type]
        elif isinstance(value, Mapping):
            pending.extend(value.values())
        else:
            _refuse_floats(biz_content, "")
            raise InvalidInput("biz_content holds a value that is not JSON.")


def biz_content_json(biz_content: Mapping[str, object] | msgspec.Struct | str) -> str:
    """The ``biz_content`` string: given as is, or compact JSON with non-ASCII escaped.

    Escaping (``ensure_ascii``) keeps the signed string pure ASCII, so no charset
    handling between here and Alipay can alter it; python-alipay-sdk serialises
    the same way, which keeps signatures comparable. Floats are refused: a mapping
    is walked on every call, a ``msgspec.Struct`` class once, by its field types.
    """
    if isinstance(biz_content, str):
        return biz_content
    return _biz_content_bytes(biz_content).decode()


def _biz_content_bytes(biz_content: Mapping[str, object] | msgspec.Struct | str) -> bytes:
    """``biz_content_json``, UTF-8 encoded: what is signed and quoted.

    A ``msgspec.Struct`` of a class already checked (``_check_struct_class``) is the
    channel's hot path: msgspec writes it, and a few passes in C escape it exactly as
    ``json`` does; the rare text they cannot (a backslash escape next to non-ASCII, a
    character beyond the BMP, DEL, a lone surrogate) goes through ``json`` itself.
    """
    if type(biz_content) in _CHECKED_STRUCTS:
        try:
            raw = _STRUCT_ENCODER.encode(biz_content)
        except UnicodeEncodeError:  # a lone surrogate: json escapes it, msgspec cannot
            raw = b"\x7f"  # so it takes json's way, below
        if b"\x7f" not in raw:  # json escapes DEL; msgspec leaves it (JSON allows it)
            if raw.isascii():
                return raw
            if b"\\" not in raw:
                # Every backslash is now backslashreplace's: \u836f is json's escape already,
                # \xd7 is json's \u00d7, \U0001f48a would have to be a surrogate pair.
                raw = raw.decode().encode("ascii", "backslashreplace")
                if b"\\U" not in raw:
                    return raw.replace(b"\\x", b"\\u00")
        return _COMPACT_ASCII_JSON.encode(msgspec.to_builtins(biz_content)).encode()
    if isinstance(biz_content, msgspec.Struct):
        _check_struct_class(type(biz_content))
        return _biz_content_bytes(biz_content)
    if isinstance(biz_content, str):
        return biz_content.encode()
    _check_json_without_floats(biz_content)
    return _COMPACT_ASCII_JSON.encode(biz_content).encode()


# --- biz_content from a msgspec.Struct: msgspec writes it, non-ASCII escaped as json does ---------

_STRUCT_ENCODER = msgspec.json.Encoder()

_PLAIN_TYPES = (
    msgspec.inspect.StrType,
    msgspec.inspect.IntType,
    msgspec.inspect.BoolType,
    msgspec.inspect.NoneType,
    msgspec.inspect.LiteralType,
)
_ITEM_TYPES = (
    msgspec.inspect.ListType,
    msgspec.inspect.VarTupleType,
    msgspec.inspect.SetType,
    msgspec.inspect.FrozenSetType,
)
#: Struct classes whose fields can hold only JSON strings, integers, booleans and nulls.
_CHECKED_STRUCTS: set[type] = set()


def _unfit_field(info: msgspec.inspect.Type, path: str, seen: set[type]) -> str | None:
    """The path of a field that may hold a float (or anything not plain JSON), or None."""
    if isinstance(info, _PLAIN_TYPES):
        return None
    if isinstance(info, msgspec.inspect.StructType):
        if info.cls in seen:
            return None
        seen.add(info.cls)
        fields = [(f".{field.encode_name}", field.type) for field in info.fields]
    elif isinstance(info, _ITEM_TYPES):
        fields = [("[]", info.item_type)]
    elif isinstance(info, msgspec.inspect.TupleType):
        fields = [(f"[{index}]", item) for index, item in enumerate(info.item_types)]
    elif isinstance(info, msgspec.inspect.UnionType):
        fields = [("", member) for member in info.types]
    elif isinstance(info, msgspec.inspect.DictType) and isinstance(
        info.key_type, msgspec.inspect.StrType
    ):
        fields = [("[]", info.value_type)]
    else:
        return f"{path} ({type(info).__name__.removesuffix('Type').lower()})"
    for suffix, field_type in fields:
        unfit = _unfit_field(field_type, path + suffix, seen)
        if unfit is not None:
            return unfit
    return None


def _check_struct_class(cls: type[msgspec.Struct]) -> None:
    unfit = _unfit_field(msgspec.inspect.type_info(cls), "", set())
    if unfit is not None:
        raise InvalidInput(
            f"biz_content{unfit} of {cls.__name__} may hold a value other than a string, an "
            "integer, a boolean or null; amounts go to Alipay as yuan strings such as '12.50'.",
            next_step="Declare the field as str and fill it with gongji.Fen(...).to_yuan(); nothing was sent.",
        )
    _CHECKED_STRUCTS.add(cls)


# What quote_plus leaves alone; everything else is %XX of its UTF-8 bytes, space is '+'.
_SAFE_BYTES = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.~-"
_ONE_BYTE = [bytes((byte,)) for byte in range(256)]
_QUOTED_BYTE = [b"%%%02X" % byte for byte in range(256)]


def _quote_plus(value: str) -> str:
    """``urllib.parse.quote_plus``, the same output, without its per-byte Python loop."""
    return _quote_bytes(value.encode()).decode()


def _quote_bytes(value: bytes) -> bytes:
    """``quote_plus`` of UTF-8 bytes, one distinct unsafe byte at a time, in C.

    biz_content (JSON, non-ASCII escaped) holds a handful of distinct unsafe bytes
    (braces, quotes, colons, commas, backslashes) among hundreds of safe ones: one
    ``translate`` finds them, and one ``replace`` each escapes them, which beats a
    look-up per byte. ``%`` goes first (every escape adds one) and the space last (it
    becomes ``+``, which must itself have been escaped before).
    """
    unsafe = set(value.translate(None, _SAFE_BYTES))
    if not unsafe:
        return value
    if 0x25 in unsafe:
        value = value.replace(b"%", b"%25")
        unsafe.discard(0x25)
    space = 0x20 in unsafe
    unsafe.discard(0x20)
    for byte in unsafe:
        value = value.replace(_ONE_BYTE[byte], _QUOTED_BYTE[byte])
    return value.replace(b" ", b"+") if space else value


def content_to_sign(
    params: Iterable[tuple[str, str]], *, exclude: tuple[str, ...] = ("sign",)
) -> str:
    """Sorted ``k=v&...`` of the non-empty parameters not in ``exclude``."""
    kept = sorted((key, value) for key, value in params if value != "" and key not in exclude)
    return "&".join(f"{key}={value}" for key, value in kept)


#: ``timestamp`` is Beijing wall-clock time, ``yyyy-MM-dd HH:mm:ss``: UTC + 8 h (China keeps
#: no daylight saving), whatever the machine's zone.
_BEIJING_OFFSET = 8 * 3600
_TWO_DIGITS = [b"%02d" % number for number in range(60)]
#: Calls of distinct shapes (method, notify_url...) remembered per signer.
_MAX_TEMPLATES = 256


class _Template(NamedTuple):
    """``bytes % values`` templates of one call shape: the signed content and the form."""

    content: bytes
    form: bytes


def _literal(text: bytes) -> bytes:
    return text.replace(b"%", b"%%")


class AlipaySigner:
    """Signs OpenAPI requests for one app, in public-key or certificate mode."""

    __slots__ = (
        "_clock",
        "_day",
        "_templates",
        "alipay_root_cert_sn",
        "app_cert_sn",
        "app_id",
        "private_key",
    )

    def __init__(
        self,
        *,
        app_id: str,
        private_key: RsaPrivateKey,
        app_cert_sn: str | None = None,
        alipay_root_cert_sn: str | None = None,
        clock: Clock = system_clock,
    ) -> None:
        if not app_id:
            raise ConfigError(
                "Alipay needs the app_id.",
                next_step="Copy it from the Alipay open platform console.",
            )
        if (app_cert_sn is None) != (alipay_root_cert_sn is None):
            raise ConfigError(
                "Alipay certificate mode needs both app_cert_sn and alipay_root_cert_sn.",
                next_step="Configure the app public-key certificate and the Alipay root certificate together.",
            )
        self.app_id = app_id
        self.private_key = private_key
        self.app_cert_sn = app_cert_sn
        self.alipay_root_cert_sn = alipay_root_cert_sn
        self._clock = clock
        self._templates: dict[tuple[object, ...], _Template] = {}
        self._day: tuple[int, bytes, bytes] = (-1, b"", b"")  # the Beijing day, its date, quoted

    @classmethod
    def with_certificates(
        cls,
        *,
        app_id: str,
        private_key: RsaPrivateKey,
        app_certificate: Certificate | str | bytes,
        alipay_root_certificates: str | bytes,
        clock: Clock = system_clock,
    ) -> AlipaySigner:
        """Certificate mode: the SNs come from the app certificate and the Alipay root chain."""
        cert = (
            app_certificate
            if isinstance(app_certificate, Certificate)
            else load_certificate(app_certificate)
        )
        return cls(
            app_id=app_id,
            private_key=private_key,
            app_cert_sn=alipay_cert_sn(cert),
            alipay_root_cert_sn=alipay_root_cert_sn(alipay_root_certificates),
            clock=clock,
        )

    def common_params(
        self, method: str, *, timestamp: str | None = None, **extra: str | None
    ) -> dict[str, str]:
        """The system parameters of a call (``app_id``, ``method``, ``timestamp``...), plus ``extra``."""
        stamp = timestamp or datetime.datetime.fromtimestamp(self._clock(), BEIJING).strftime(
            "%Y-%m-%d %H:%M:%S"
        )
        params = {
            "app_id": self.app_id,
            "method": method,
            "charset": "utf-8",
            "sign_type": SIGN_TYPE,
            "timestamp": stamp,
            "version": "1.0",
        }
        if self.app_cert_sn is not None and self.alipay_root_cert_sn is not None:
            params["app_cert_sn"] = self.app_cert_sn
            params["alipay_root_cert_sn"] = self.alipay_root_cert_sn
        params.update({key: value for key, value in extra.items() if value})
        return params

    def sign(self, params: Mapping[str, str] | Iterable[tuple[str, str]]) -> str:
        """The base64 ``sign`` over ``params`` (``sign`` itself and empty values left out)."""
        items = params.items() if isinstance(params, Mapping) else params
        signature = self.private_key.sign_sha256(content_to_sign(items).encode())
        return base64.b64encode(signature).decode("ascii")

    def signed_params(
        self,
        method: str,
        biz_content: Mapping[str, object] | str | None = None,
        *,
        timestamp: str | None = None,
        **extra: str | None,
    ) -> dict[str, str]:
        """Every parameter of the call, ``sign`` last: a form to POST or a query to send."""
        params = self.common_params(method, timestamp=timestamp, **extra)
        if biz_content is not None:
            params["biz_content"] = biz_content_json(biz_content)
        params["sign"] = self.sign(params)
        return params

    def signed_form(
        self,
        method: str,
        biz_content: Mapping[str, object] | msgspec.Struct | str | None = None,
        *,
        timestamp: str | None = None,
        notify_url: str | None = None,
        **extra: str | None,
    ) -> bytes:
        """The body of a gateway request: every parameter and ``sign``, form-encoded.

        Byte for byte python-alipay-sdk's ``sign_data``: the parameters sorted by name
        (empty ones left out), values ``quote_plus``-ed, ``sign`` last. The channel POSTs
        it as it is (``AlipayChannel``): the hot path of every Alipay call, kept flat
        (bench/bench_signing.py: after an RSA signature, each step runs from a cold cache).
        """
        biz = b"" if biz_content is None else _biz_content_bytes(biz_content)
        key = (
            (method, notify_url, not biz, *extra.items())
            if extra
            else (method, notify_url, not biz)
        )
        template = self._templates.get(key)
        if template is None:
            template = self._new_template(key, method, notify_url, extra, with_biz=bool(biz))
        if timestamp:
            stamp = timestamp.encode()
            quoted_stamp = _quote_bytes(stamp)
        else:  # now: the date written once a day, the time of day from a table
            day, second = divmod(int(self._clock()) + _BEIJING_OFFSET, 86400)
            if day != self._day[0]:
                written = time.strftime("%Y-%m-%d", time.gmtime(day * 86400)).encode()
                self._day = (day, written + b" ", written + b"+")
            _, date, quoted_date = self._day
            hour, second = divmod(second, 3600)
            minute, second = divmod(second, 60)
            clock = (_TWO_DIGITS[hour], _TWO_DIGITS[minute], _TWO_DIGITS[second])
            stamp = date + b"%s:%s:%s" % clock
            quoted_stamp = quoted_date + b"%s%%3A%s%%3A%s" % clock
        content = template.content % ((biz, stamp) if biz else (stamp,))
        # Quoted before the signature, while biz_content is still in the cache: the RSA
        # signature evicts it, and quoting it after cost a cold pass (bench_signing).
        quoted_biz = _quote_bytes(biz) if biz else b""
        sign = binascii.b2a_base64(self.private_key.sign_sha256(content), newline=False)
        # Base64 needs only three escapes.
        sign = sign.replace(b"+", b"%2B").replace(b"/", b"%2F").replace(b"=", b"%3D")
        if biz:
            return template.form % (quoted_biz, quoted_stamp, sign)
        return template.form % (quoted_stamp, sign)

    def order_string(
        self,
        method: str,
        biz_content: Mapping[str, object] | msgspec.Struct | str | None = None,
        *,
        timestamp: str | None = None,
        **extra: str | None,
    ) -> str:
        """The signed, URL-encoded order string (app payments): ``signed_form`` as text."""
        return self.signed_form(method, biz_content, timestamp=timestamp, **extra).decode()

    def _new_template(
        self,
        key: tuple[object, ...],
        method: str,
        notify_url: str | None,
        extra: Mapping[str, str | None],
        *,
        with_biz: bool,
    ) -> _Template:
        template = self._template(method, {"notify_url": notify_url, **extra}, with_biz=with_biz)
        if len(self._templates) >= _MAX_TEMPLATES:  # notify_urls that vary per order
            self._templates.clear()
        self._templates[key] = template
        return template

    def _template(
        self, method: str, extra: Mapping[str, str | None], *, with_biz: bool
    ) -> _Template:
        """The signed content and the form of a call, its constant parameters written and
        quoted once: only ``biz_content`` and ``timestamp`` are left to fill in, in that order
        (the order of their names), and the form's ``sign``, last."""
        params: dict[str, str | None] = dict(self.common_params(method, timestamp="-", **extra))
        params.pop("sign", None)  # made here, never taken from the caller
        params["timestamp"] = None
        if with_biz:
            params["biz_content"] = None
        content: list[bytes] = []
        form: list[bytes] = []
        for name in sorted(params):
            value = params[name]
            if value is None:
                content.append(_literal(f"{name}=".encode()) + b"%s")
                form.append(_literal(f"{name}=".encode()) + b"%s")
            elif value != "":
                content.append(_literal(f"{name}={value}".encode()))
                form.append(_literal(f"{name}=".encode() + _quote_bytes(value.encode())))
        form.append(b"sign=%s")
        return _Template(b"&".join(content), b"&".join(form))

    def __repr__(self) -> str:
        mode = "certificate" if self.app_cert_sn else "public-key"
        return f"AlipaySigner(app_id={self.app_id!r}, {mode} mode, key={self.private_key!r})"


# --- Locating the signed substring of a synchronous response --------------------------------------


def _skip_ws(raw: bytes, at: int) -> int:
    while at < len(raw) and raw[at] in b" \t\r\n":
        at += 1
    return at


def _string_end(raw: bytes, at: int) -> int:
    """Index just past the JSON string starting at ``raw[at] == '"'``."""
    at += 1
    while at < len(raw):
        byte = raw[at]
        if byte == 0x5C:  # backslash: the next byte is escaped, whatever it is
            at += 2
            continue
        if byte == 0x22:
            return at + 1
        at += 1
    raise ValueError("unterminated string")


def _value_end(raw: bytes, at: int) -> int:
    """Index just past the JSON value starting at ``at``."""
    if at >= len(raw):
        raise ValueError("missing value")
    opener = raw[at]
    if opener == 0x22:
        return _string_end(raw, at)
    if opener in b"{[":
        depth = 0
        while at < len(raw):
            byte = raw[at]
            if byte == 0x22:
                at = _string_end(raw, at)
                continue
            if byte in b"{[":
                depth += 1
            elif byte in b"}]":
                depth -= 1
                if depth == 0:
                    return at + 1
            at += 1
        raise ValueError("unterminated object")
    end = at
    while end < len(raw) and raw[end] not in b",}] \t\r\n":
        end += 1
    if end == at:
        raise ValueError("missing value")
    return end


def top_level_members(raw: bytes) -> dict[str, tuple[int, int]]:
    """``{name: (start, end)}`` of each top-level member's value in the JSON object ``raw``."""
    spans: dict[str, tuple[int, int]] = {}
    at = _skip_ws(raw, 0)
    if at >= len(raw) or raw[at] != 0x7B:
        raise ValueError("not an object")
    at = _skip_ws(raw, at + 1)
    if at < len(raw) and raw[at] == 0x7D:
        return spans
    while True:
        if at >= len(raw) or raw[at] != 0x22:
            raise ValueError("expected a member name")
        name_end = _string_end(raw, at)
        name = json.loads(raw[at:name_end])
        at = _skip_ws(raw, name_end)
        if at >= len(raw) or raw[at] != 0x3A:
            raise ValueError("expected ':'")
        start = _skip_ws(raw, at + 1)
        end = _value_end(raw, start)
        if name in spans:
            raise ValueError(f"duplicate member {name!r}")
        spans[name] = (start, end)
        at = _skip_ws(raw, end)
        if at < len(raw) and raw[at] == 0x2C:
            at = _skip_ws(raw, at + 1)
            continue
        if at < len(raw) and raw[at] == 0x7D and _skip_ws(raw, at + 1) == len(raw):
            return spans
        raise ValueError("expected ',' or the end of the object")


def _string_member(raw: bytes, spans: Mapping[str, tuple[int, int]], name: str) -> str | None:
    span = spans.get(name)
    if span is None:
        return None
    value = json.loads(raw[span[0] : span[1]])
    return value if isinstance(value, str) else None


def response_content(raw: bytes, method: str) -> tuple[bytes, str | None, str | None]:
    """``(signed bytes, sign, alipay_cert_sn)`` of a synchronous response, located in ``raw``."""
    try:
        spans = top_level_members(raw)
        response_key = method.replace(".", "_") + "_response"
        span = spans.get(response_key) or spans.get("error_response")
        if span is None:
            raise ValueError(f"no {response_key} member")
        return (
            raw[span[0] : span[1]],
            _string_member(raw, spans, "sign"),
            _string_member(raw, spans, "alipay_cert_sn"),
        )
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:  # RecursionError: [[[[...
        raise SignatureError(
            f"The Alipay response for {method} is not a signable response object ({exc})."
        ) from None


def _decode_sign(sign: str, key: RsaPublicKey, what: str) -> bytes:
    return decode_rsa_signature(sign, key, what, field="sign")


class AlipayVerifier:
    """Verifies Alipay's synchronous responses and asynchronous notifications."""

    __slots__ = ("_clock", "keys")

    def __init__(self, keys: AlipayPublicKeys, *, clock: Clock = system_clock) -> None:
        self.keys = keys
        self._clock = clock

    def _now(self) -> datetime.datetime:
        return datetime.datetime.fromtimestamp(self._clock(), datetime.UTC)

    def verify_response(self, raw: bytes, method: str) -> bytes:
        """The verified ``*_response`` JSON bytes of ``raw``; ``SignatureError`` otherwise."""
        what = f"The Alipay response for {method}"
        content, sign, cert_sn = response_content(raw, method)
        if not sign:
            raise SignatureError(f"{what} carries no sign (unsigned responses are not trusted).")
        candidates = self.keys.keys_for(cert_sn, at=self._now(), what=what)
        for key in candidates:
            if key.verify_sha256(content, _decode_sign(sign, key, what)):
                return content
        raise SignatureError(
            f"{what} sign did not verify against the Alipay public key "
            f"{'for alipay_cert_sn ' + cert_sn if cert_sn else '(public-key mode)'} "
            "(response content altered, or signed by another key)."
        )

    def verify_notification(self, params: Mapping[str, str]) -> dict[str, str]:
        """Verify a notification's parameters (``sign`` and ``sign_type`` left out); returns a copy."""
        what = "The Alipay notification"
        sign = params.get("sign")
        if not sign:
            raise SignatureError(f"{what} carries no sign.")
        sign_type = params.get("sign_type", SIGN_TYPE)
        if sign_type != SIGN_TYPE:
            raise SignatureError(
                f"{what} is signed with {sign_type[:20]!r}; only {SIGN_TYPE} is accepted."
            )
        message = content_to_sign(params.items(), exclude=("sign", "sign_type")).encode()
        for key in self.keys.keys_for(params.get("alipay_cert_sn"), at=self._now(), what=what):
            if key.verify_sha256(message, _decode_sign(sign, key, what)):
                return dict(params)
        raise SignatureError(
            f"{what} sign did not verify against the Alipay public key (parameters altered, or another key)."
        )

    def verify_notification_body(self, body: bytes) -> dict[str, str]:
        """Decode an ``application/x-www-form-urlencoded`` notification and verify it."""
        try:
            pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=True)
        except (UnicodeDecodeError, ValueError):
            raise SignatureError("The Alipay notification body is not a UTF-8 form.") from None
        params = dict(pairs)
        if len(params) != len(pairs):
            raise SignatureError("The Alipay notification repeats a parameter; it is not trusted.")
        return self.verify_notification(params)

    def __repr__(self) -> str:
        return f"AlipayVerifier({self.keys!r})"


def _request_params(request: httpx.Request) -> list[tuple[str, str]]:
    params = list(request.url.params.multi_items())
    if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        params.extend(parse_qsl(request.content.decode(), keep_blank_values=True))
    return params


class AlipayAuth(httpx.Auth):
    """Signs a gateway request (query and form parameters) and verifies its response.

    The request is built with the system parameters (``AlipaySigner.common_params``)
    in the query and ``biz_content`` in the form body, as Alipay's own SDKs do;
    ``sign`` is added to the query, the body bytes are left exactly as they are.
    """

    requires_request_body = True
    requires_response_body = True

    def __init__(self, signer: AlipaySigner, verifier: AlipayVerifier) -> None:
        self.signer = signer
        self.verifier = verifier

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        params = _request_params(request)
        names = {key for key, _ in params}
        if "sign" not in names:
            request.url = request.url.copy_add_param("sign", self.signer.sign(params))
        method = next((value for key, value in params if key == "method"), "")
        response = yield request
        self.verifier.verify_response(response.content, method)

    def __repr__(self) -> str:
        return f"AlipayAuth({self.signer!r})"


# --- Alipay's side: for the mock gateway and for tests. -------------------------------------------


def sign_response(
    private_key: RsaPrivateKey, method: str, content: bytes, *, cert_sn: str | None = None
) -> bytes:
    """A synchronous response body as Alipay writes it, signing ``content`` byte for byte."""
    sign = base64.b64encode(private_key.sign_sha256(content)).decode("ascii")
    tail = f',"alipay_cert_sn":"{cert_sn}"' if cert_sn else ""
    key = method.replace(".", "_") + "_response"
    return b'{"' + key.encode() + b'":' + content + f',"sign":"{sign}"{tail}}}'.encode()


def sign_notification(private_key: RsaPrivateKey, params: Mapping[str, str]) -> dict[str, str]:
    """Notification parameters with ``sign_type`` and ``sign`` added, as Alipay sends them."""
    message = content_to_sign(params.items(), exclude=("sign", "sign_type")).encode()
    sign = base64.b64encode(private_key.sign_sha256(message)).decode("ascii")
    return {**params, "sign_type": SIGN_TYPE, "sign": sign}


def verify_request(params: Mapping[str, str], app_public_key: RsaPublicKey) -> None:
    """Alipay's check of a merchant request's ``sign``."""
    what = "The Alipay request"
    sign = params.get("sign")
    if not sign:
        raise SignatureError(f"{what} carries no sign.")
    if not app_public_key.verify_sha256(
        content_to_sign(params.items()).encode(), _decode_sign(sign, app_public_key, what)
    ):
        raise SignatureError(f"{what} sign did not verify against the app's public key.")
