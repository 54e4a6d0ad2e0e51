"""TIF gateway headers (city insurance gateways in front of the national interface).

``x-tif-signature = hex(sha256(timestamp + secret + nonce + timestamp))`` over
the unix-seconds timestamp and a fresh nonce. The body is not signed by this
scheme; the gateway authenticates the caller and bounds replay by timestamp.
Cities differ only in the hex case of the signature, so it is a setting.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Generator, Mapping
from typing import Literal

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
    new_nonce,
    require_header,
    system_clock,
)

HexCase = Literal["lower", "upper"]

PAASID = "x-tif-paasid"
TIMESTAMP = "x-tif-timestamp"
NONCE = "x-tif-nonce"
SIGNATURE = "x-tif-signature"


def tif_signature(timestamp: str, secret: str, nonce: str, *, hex_case: HexCase = "lower") -> str:
    """``hex(sha256(timestamp + secret + nonce + timestamp))`` in the city's hex case."""
    digest = hashlib.sha256(f"{timestamp}{secret}{nonce}{timestamp}".encode()).hexdigest()
    return digest.upper() if hex_case == "upper" else digest


class TifSigner:
    """Makes the four ``x-tif-*`` headers for one paasid and secret."""

    __slots__ = ("_clock", "_secret", "_secret_bytes", "_upper", "hex_case", "paasid")

    def __init__(
        self, paasid: str, secret: str, *, hex_case: HexCase = "lower", clock: Clock = system_clock
    ) -> None:
        if not paasid or not secret:
            raise ConfigError(
                "The TIF gateway needs a paasid and a secret; one of them is empty.",
                next_step="Set both in the city's gateway profile.",
            )
        if hex_case not in ("lower", "upper"):
            raise ConfigError(f"TIF hex_case must be 'lower' or 'upper', not {hex_case!r}.")
        self.paasid = paasid
        self._secret = secret
        self._secret_bytes = secret.encode()
        self.hex_case: HexCase = hex_case
        self._upper = hex_case == "upper"
        self._clock = clock

    def headers(self, *, timestamp: int | None = None, nonce: str | None = None) -> dict[str, str]:
        """The signed headers; ``timestamp`` and ``nonce`` are for reproducible tests only."""
        stamp = str(int(self._clock()) if timestamp is None else timestamp)
        once = new_nonce() if nonce is None else nonce
        stamp_bytes = stamp.encode()
        digest = hashlib.sha256(
            b"".join((stamp_bytes, self._secret_bytes, once.encode(), stamp_bytes))
        ).hexdigest()
        return {
            PAASID: self.paasid,
            TIMESTAMP: stamp,
            NONCE: once,
            SIGNATURE: digest.upper() if self._upper else digest,
        }

    def __repr__(self) -> str:
        return f"TifSigner(paasid={self.paasid!r}, secret={mask_secret(self._secret)}, hex_case={self.hex_case!r})"


class TifAuth(httpx.Auth):
    """``httpx.Auth`` adding the TIF headers to every request."""

    def __init__(self, signer: TifSigner) -> None:
        self.signer = signer

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers.update(self.signer.headers())
        yield request

    def __repr__(self) -> str:
        return f"TifAuth({self.signer!r})"


def verify_tif_headers(
    headers: Mapping[str, str],
    *,
    secrets_by_paasid: Mapping[str, str],
    now: UnixTime,
    tolerance_seconds: int = 300,
    nonce_cache: NonceCache | None = None,
) -> str:
    """The gateway's side (the mock's): check the headers and return the caller's paasid.

    The signature is compared in either hex case; the timestamp must be within
    ``tolerance_seconds`` of ``now``; a nonce seen before in the window is refused
    when a ``nonce_cache`` is given.
    """
    what = "The TIF request"
    found = lower_keys(headers)
    paasid = require_header(found, PAASID, what)
    stamp = require_header(found, TIMESTAMP, what)
    nonce = require_header(found, NONCE, what)
    signature = require_header(found, SIGNATURE, what)
    secret = secrets_by_paasid.get(paasid)
    if secret is None:
        raise SignatureError(f"{what} names paasid {paasid[:40]!r}, which is not known.")
    check_timestamp(stamp, now=now, tolerance_seconds=tolerance_seconds, what=what)
    expected = tif_signature(stamp, secret, nonce)
    if not hmac.compare_digest(expected.encode(), signature.lower().encode("utf-8", "replace")):
        raise SignatureError(f"{what} x-tif-signature did not verify for paasid {paasid!r}.")
    check_replay(nonce_cache, nonce, now=now, window_seconds=tolerance_seconds, what=what)
    return paasid
