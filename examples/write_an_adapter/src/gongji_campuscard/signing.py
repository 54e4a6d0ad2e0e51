"""The campus card office's signatures: HMAC-SHA256 with the terminal's secret.

A request carries ``X-Campus-Terminal``, ``X-Campus-Timestamp`` (unix seconds),
``X-Campus-Nonce`` and ``X-Campus-Signature``, the hex HMAC of::

    METHOD \\n PATH?QUERY \\n TIMESTAMP \\n NONCE \\n BODY

An answer carries the same three last headers over ``STATUS \\n TIMESTAMP \\n NONCE \\n
BODY`` and a callback over ``NOTIFY \\n TIMESTAMP \\n NONCE \\n BODY``. Always the exact
bytes sent or received, never a re-serialisation; an answer is verified before a byte
of it is decoded.

``CampusCardAuth`` is an ``httpx.Auth``: gongji's flows run its ``auth_flow`` around
every request (``gongji.gateways.exchange.exchange``), so the sync and the async client
sign and verify alike.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable, Generator, Mapping

import httpx
from gongji.errors import SignatureError

TERMINAL, TIMESTAMP, NONCE, SIGNATURE = (
    "X-Campus-Terminal",
    "X-Campus-Timestamp",
    "X-Campus-Nonce",
    "X-Campus-Signature",
)
#: How far a signed answer's or callback's time may be from ours, either way.
TOLERANCE_SECONDS = 300

#: Whole seconds since the epoch; injectable, so tests never sleep.
Clock = Callable[[], int]


def system_clock() -> int:
    return int(time.time())


def signature(secret: str, head: str, timestamp: str, nonce: str, body: bytes) -> str:
    message = f"{head}\n{timestamp}\n{nonce}\n".encode() + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signed_headers(secret: str, head: str, body: bytes, now: int) -> dict[str, str]:
    """The timestamp, nonce and signature headers of one message."""
    timestamp, nonce = str(now), secrets.token_hex(16)
    return {
        TIMESTAMP: timestamp,
        NONCE: nonce,
        SIGNATURE: signature(secret, head, timestamp, nonce, body),
    }


def verify(secret: str, head: str, headers: Mapping[str, str], body: bytes, now: int) -> None:
    """Refuse a message whose signature does not verify or whose time is out of the window."""
    timestamp = headers.get(TIMESTAMP, "")
    nonce = headers.get(NONCE, "")
    given = headers.get(SIGNATURE, "")
    if not (timestamp.isdigit() and nonce and given):
        raise SignatureError("The campus card message carries no signature; nothing was read.")
    expected = signature(secret, head, timestamp, nonce, body)
    if not hmac.compare_digest(expected, given):
        raise SignatureError(
            "The campus card message's signature does not verify; nothing was read."
        )
    if abs(now - int(timestamp)) > TOLERANCE_SECONDS:
        raise SignatureError(
            "The campus card message is signed too far from now; nothing was read.",
            next_step="Check the till's clock; a replayed old message is refused on purpose.",
        )


def request_head(request: httpx.Request) -> str:
    return f"{request.method}\n{request.url.raw_path.decode()}"


class CampusCardAuth(httpx.Auth):
    """Signs each request on its exact body, verifies each answer on its exact body."""

    requires_request_body = True
    requires_response_body = True

    def __init__(self, terminal_id: str, secret: str, clock: Clock = system_clock) -> None:
        self.terminal_id = terminal_id
        self._secret = secret
        self._clock = clock

    def __repr__(self) -> str:  # the secret never shows
        return f"CampusCardAuth(terminal_id={self.terminal_id!r}, secret=<hidden>)"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers[TERMINAL] = self.terminal_id
        request.headers.update(
            signed_headers(self._secret, request_head(request), request.content, self._clock())
        )
        response = yield request
        verify(
            self._secret,
            str(response.status_code),
            response.headers,
            response.content,
            self._clock(),
        )

    def verify_callback(self, headers: Mapping[str, str], body: bytes) -> None:
        verify(self._secret, "NOTIFY", headers, body, self._clock())
