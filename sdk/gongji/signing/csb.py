"""CSB gateway headers (Jiangsu style: Alibaba Cloud Service Bus in front of the national interface).

The signed set is the four ``_api_*`` headers (name, version, millisecond
timestamp, access key) plus the request's query parameters, and its form
parameters when the body is ``application/x-www-form-urlencoded``; it is sorted
by key and written ``k=v&k=v``. ``_api_signature = base64(hmac_sha1(secret, that))``.
A JSON body is not part of the CSB signature: the gateway authenticates the
caller, the national envelope inside carries its own integrity.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Generator, Iterable, Mapping
from urllib.parse import parse_qsl

import httpx

from gongji.errors import ConfigError, SignatureError
from gongji.identity import mask_secret
from gongji.signing._common import (
    Clock,
    NonceCache,
    UnixTime,
    check_replay,
    check_timestamp,
    lower_keys,
    require_header,
    sorted_pairs,
    system_clock,
)

API_NAME = "_api_name"
API_VERSION = "_api_version"
API_TIMESTAMP = "_api_timestamp"
API_ACCESS_KEY = "_api_access_key"
API_SIGNATURE = "_api_signature"
_SIGNED_HEADERS = (API_NAME, API_VERSION, API_TIMESTAMP, API_ACCESS_KEY)


def csb_string_to_sign(params: Iterable[tuple[str, str]]) -> str:
    """Sorted ``k=v&...`` of every parameter except ``_api_signature``."""
    return sorted_pairs((key, value) for key, value in params if key != API_SIGNATURE)


def csb_signature(secret: str, params: Iterable[tuple[str, str]]) -> str:
    """``base64(hmac_sha1(secret, sorted k=v&...))``."""
    mac = hmac.new(secret.encode(), csb_string_to_sign(params).encode(), hashlib.sha1)
    return base64.b64encode(mac.digest()).decode("ascii")


def request_params(request: httpx.Request) -> list[tuple[str, str]]:
    """Query parameters, plus form parameters of a url-encoded body, as the gateway decodes them."""
    params = list(request.url.params.multi_items())
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("application/x-www-form-urlencoded"):
        params.extend(parse_qsl(request.content.decode(), keep_blank_values=True))
    return params


class CsbSigner:
    """Makes the ``_api_*`` headers for one access key, API name and version."""

    __slots__ = ("_clock", "_secret", "access_key", "api_name", "api_version")

    def __init__(
        self,
        *,
        access_key: str,
        secret: str,
        api_name: str,
        api_version: str = "1.0.0",
        clock: Clock = system_clock,
    ) -> None:
        if not access_key or not secret or not api_name:
            raise ConfigError(
                "The CSB gateway needs an access key, a secret and an API name; one is empty.",
                next_step="Set them in the city's gateway profile.",
            )
        self.access_key = access_key
        self._secret = secret
        self.api_name = api_name
        self.api_version = api_version
        self._clock = clock

    def headers(
        self, params: Iterable[tuple[str, str]] = (), *, timestamp_ms: int | None = None
    ) -> dict[str, str]:
        """Signed headers for a request whose own signed parameters are ``params``."""
        stamp = int(self._clock() * 1000) if timestamp_ms is None else timestamp_ms
        signed = {
            API_NAME: self.api_name,
            API_VERSION: self.api_version,
            API_TIMESTAMP: str(stamp),
            API_ACCESS_KEY: self.access_key,
        }
        signed[API_SIGNATURE] = csb_signature(self._secret, [*signed.items(), *params])
        return signed

    def __repr__(self) -> str:
        return (
            f"CsbSigner(access_key={self.access_key!r}, secret={mask_secret(self._secret)}, "
            f"api={self.api_name!r} v{self.api_version})"
        )


class CsbAuth(httpx.Auth):
    """``httpx.Auth`` signing each request's query and form parameters with the CSB headers."""

    requires_request_body = True

    def __init__(self, signer: CsbSigner) -> None:
        self.signer = signer

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers.update(self.signer.headers(request_params(request)))
        yield request

    def __repr__(self) -> str:
        return f"CsbAuth({self.signer!r})"


def verify_csb_request(
    headers: Mapping[str, str],
    params: Iterable[tuple[str, str]],
    *,
    secrets_by_access_key: Mapping[str, str],
    now: UnixTime,
    tolerance_seconds: int = 300,
    nonce_cache: NonceCache | None = None,
) -> str:
    """The gateway's side (the mock's): check a CSB request and return its access key.

    ``params`` are the request's query and form parameters (``request_params``).
    CSB has no nonce; with a ``nonce_cache`` the signature itself is refused a
    second time within the window.
    """
    what = "The CSB request"
    found = lower_keys(headers)
    signed = {name: require_header(found, name, what) for name in _SIGNED_HEADERS}
    signature = require_header(found, API_SIGNATURE, what)
    secret = secrets_by_access_key.get(signed[API_ACCESS_KEY])
    if secret is None:
        raise SignatureError(
            f"{what} names access key {signed[API_ACCESS_KEY][:40]!r}, which is not known."
        )
    check_timestamp(
        signed[API_TIMESTAMP],
        now=now,
        tolerance_seconds=tolerance_seconds,
        what=what,
        milliseconds=True,
    )
    expected = csb_signature(secret, [*signed.items(), *params])
    if not hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace")):
        raise SignatureError(f"{what} _api_signature did not verify for API {signed[API_NAME]!r}.")
    check_replay(nonce_cache, signature, now=now, window_seconds=tolerance_seconds, what=what)
    return signed[API_ACCESS_KEY]
