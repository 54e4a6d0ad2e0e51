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
import codecs
import datetime
import json
import time
from collections.abc import Generator, Iterable, Mapping
from json.encoder import encode_basestring_ascii
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
    if isinstance(biz_content, msgspec.Struct):
        return _struct_json(biz_content)
    _check_json_without_floats(biz_content)
    return _COMPACT_ASCII_JSON.encode(biz_content)


# --- biz_content from a msgspec.Struct: msgspec writes it, non-ASCII escaped as json does ---------

_STRUCT_ENCODER = msgspec.json.Encoder()
_JSON_ASCII_ERRORS = "gongji.json_ascii"


def _escape_as_json_does(error: UnicodeError) -> tuple[str, int]:
    """A codec error handler: a run of non-ASCII characters as ``json.dumps`` escapes it
    (``\\u836f``; astral characters as a surrogate pair), one call per run, in C."""
    if not isinstance(error, UnicodeEncodeError):
        raise error
    run = error.object[error.start : error.end]
    return encode_basestring_ascii(run)[1:-1], error.end


codecs.register_error(_JSON_ASCII_ERRORS, _escape_as_json_does)

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


def _struct_json(content: msgspec.Struct) -> str:
    """Compact JSON of ``content``, byte for byte what ``biz_content_json`` writes for
    ``msgspec.to_builtins(content)``, at a fraction of the cost."""
    if type(content) not in _CHECKED_STRUCTS:
        _check_struct_class(type(content))
    try:
        raw = _STRUCT_ENCODER.encode(content)
    except UnicodeEncodeError:  # a lone surrogate: json escapes it, msgspec cannot
        return _COMPACT_ASCII_JSON.encode(msgspec.to_builtins(content))
    if not raw.isascii():
        raw = raw.decode().encode("ascii", _JSON_ASCII_ERRORS)
    text = raw.decode("ascii")
    # json escapes DEL too; msgspec leaves it (JSON allows it).
    return text.replace("\x7f", "\\u007f") if "\x7f" in text else text


# What quote_plus leaves alone; everything else is %XX of its UTF-8 bytes, space is '+'.
_SAFE_CHARACTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.~-")
_QUOTED_BYTE = [
    chr(byte) if chr(byte) in _SAFE_CHARACTERS else ("+" if byte == 0x20 else f"%{byte:02X}")
    for byte in range(256)
]
# The printable ASCII characters that need an escape, '%' and the space apart (see below).
_PRINTABLE_ESCAPES = tuple(
    (chr(byte), _QUOTED_BYTE[byte])
    for byte in range(0x21, 0x7F)
    if chr(byte) not in _SAFE_CHARACTERS and byte != 0x25
)


def _quote_plus(value: str) -> str:
    """``urllib.parse.quote_plus``, the same output, without its per-byte Python loop."""
    if value.isascii() and value.isprintable():
        return _quote_printable(value)
    return "".join(map(_QUOTED_BYTE.__getitem__, value.encode()))


def _quote_printable(value: str) -> str:
    """Quote printable ASCII one character at a time, with ``str.replace`` (in C).

    biz_content (JSON, non-ASCII escaped) holds a handful of distinct unsafe characters
    (braces, quotes, colons, commas, backslashes) among hundreds of safe ones: a fixed
    list of membership tests and a few passes in C beat a lookup per byte, and beat
    collecting the set of its characters first. ``%`` goes first (every escape adds
    one) and the space last (it becomes ``+``, which must itself have been escaped before).
    """
    if "%" in value:
        value = value.replace("%", "%25")
    for character, escape in _PRINTABLE_ESCAPES:
        if character in value:
            value = value.replace(character, escape)
    return value.replace(" ", "+")


def content_to_sign(
    params: Iterable[tuple[str, str]], *, exclude: tuple[str, ...] = ("sign",)
) -> str:
    """Sorted ``k=v&...`` of the non-empty parameters not in ``exclude``."""
    kept = sorted((key, value) for key, value in params if value != "" and key not in exclude)
    return "&".join(f"{key}={value}" for key, value in kept)


#: ``timestamp``: Beijing wall-clock time, computed from UTC (China keeps no daylight saving).
_TIMESTAMP = "%Y-%m-%d %H:%M:%S"
_BEIJING_OFFSET = 8 * 3600
#: Calls of distinct shapes (method, notify_url...) remembered per signer.
_MAX_TEMPLATES = 256


class _Template(NamedTuple):
    """``str.format`` templates of one call shape: the signed content and the form."""

    content: str
    form: str


def _format_literal(value: str) -> str:
    return value.replace("{", "{{").replace("}", "}}")


class AlipaySigner:
    """Signs OpenAPI requests for one app, in public-key or certificate mode."""

    __slots__ = (
        "_clock",
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
        **extra: str | None,
    ) -> bytes:
        """The body of a gateway request: every parameter and ``sign``, form-encoded.

        Byte for byte python-alipay-sdk's ``sign_data``: the parameters sorted by name
        (empty ones left out), values ``quote_plus``-ed, ``sign`` last. The channel POSTs
        it as it is (``AlipayChannel``); the hot path of every Alipay call (bench/).
        """
        return self.order_string(method, biz_content, timestamp=timestamp, **extra).encode()

    def order_string(
        self,
        method: str,
        biz_content: Mapping[str, object] | msgspec.Struct | str | None = None,
        *,
        timestamp: str | None = None,
        **extra: str | None,
    ) -> str:
        """The signed, URL-encoded order string (app payments; or a gateway request's form)."""
        biz = None if biz_content is None else biz_content_json(biz_content) or None
        key = (method, biz is not None, *extra.items())
        template = self._templates.get(key)
        if template is None:
            template = self._template(method, extra, with_biz=biz is not None)
            if len(self._templates) >= _MAX_TEMPLATES:  # notify_urls that vary per order
                self._templates.clear()
            self._templates[key] = template
        if timestamp:
            stamp, quoted_stamp = timestamp, _quote_plus(timestamp)
        else:
            stamp = time.strftime(_TIMESTAMP, time.gmtime(self._clock() + _BEIJING_OFFSET))
            # Digits, '-', one space and two colons: two escapes, done in C.
            quoted_stamp = stamp.replace(" ", "+").replace(":", "%3A")
        if biz is None:
            content = template.content.format(stamp)
            form = template.form.format(quoted_stamp)
        else:
            content = template.content.format(biz, stamp)
            form = template.form.format(_quote_plus(biz), quoted_stamp)
        sign = base64.b64encode(self.private_key.sign_sha256(content.encode())).decode("ascii")
        # Base64 needs only three escapes; str.replace does them in C.
        quoted_sign = sign.replace("+", "%2B").replace("/", "%2F").replace("=", "%3D")
        return f"{form}&sign={quoted_sign}"

    def _template(
        self, method: str, extra: Mapping[str, str | None], *, with_biz: bool
    ) -> _Template:
        """The signed content and the form of a call, its constant parameters written and
        quoted once: only ``biz_content`` and ``timestamp`` are left to fill in, in that order
        (the order of their names)."""
        params: dict[str, str | None] = dict(self.common_params(method, timestamp="-", **extra))
        params.pop("sign", None)  # made here, never taken from the caller
        params["timestamp"] = None
        if with_biz:
            params["biz_content"] = None
        content: list[str] = []
        form: list[str] = []
        for name in sorted(params):
            value = params[name]
            if value is None:
                content.append(f"{name}={{}}")
                form.append(f"{name}={{}}")
            elif value != "":
                content.append(f"{name}={_format_literal(value)}")
                form.append(f"{name}={_quote_plus(value)}")  # quoted: no brace is left
        return _Template("&".join(content), "&".join(form))

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
