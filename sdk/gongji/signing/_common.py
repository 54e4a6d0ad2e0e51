"""Small pieces every signer shares: a clock, a replay cache, header look-up, canonical strings.

Kept apart so that each gateway module holds only its own protocol.
"""

from __future__ import annotations

import os
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from typing import Protocol

from gongji.errors import SignatureError

#: Seconds since the epoch, as time.time() gives them. A time, never money.
UnixTime = float  # float-ok

#: Seconds since the epoch; injectable so tests never sleep and never depend on the wall clock.
Clock = Callable[[], float]

system_clock: Clock = time.time


class NonceCache(Protocol):
    """Remembers nonces seen inside a replay window; supplied by the caller.

    ``seen_before`` records ``nonce`` and answers whether it had already been
    recorded within the last ``window_seconds``. A shared store (Redis, the
    journal) makes replay protection hold across processes; ``MemoryNonceCache``
    holds it within one.
    """

    def seen_before(self, nonce: str, *, now: UnixTime, window_seconds: int) -> bool: ...


class MemoryNonceCache:
    """An in-process ``NonceCache``: bounded, forgets nonces older than the window."""

    __slots__ = ("_lock", "_max_entries", "_seen")

    def __init__(self, *, max_entries: int = 100_000) -> None:
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()
        self._max_entries = max_entries

    def seen_before(self, nonce: str, *, now: UnixTime, window_seconds: int) -> bool:
        with self._lock:
            horizon = now - window_seconds
            # Entries are in insertion order, which is time order for one clock: drop the stale head.
            while self._seen:
                oldest_nonce, oldest_at = next(iter(self._seen.items()))
                if oldest_at >= horizon and len(self._seen) < self._max_entries:
                    break
                del self._seen[oldest_nonce]
            if nonce in self._seen:
                return True
            self._seen[nonce] = now
            return False

    def __repr__(self) -> str:
        return f"MemoryNonceCache({len(self._seen)} nonces)"


class _NoncePool:
    """Hex nonces cut from one block of ``secrets`` output: one getrandom call per 256 nonces.

    Each nonce is 32 hex digits (128 bits) that no one has seen. A forked child
    starts a fresh block, so parent and child never hand out the same nonce.
    """

    __slots__ = ("_at", "_block", "_lock")

    _NONCES_PER_BLOCK = 256

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._block = ""
        self._at = 0

    def reset(self) -> None:
        self._block = ""
        self._at = 0

    def take(self) -> str:
        with self._lock:
            if self._at >= len(self._block):
                self._block = secrets.token_hex(16 * self._NONCES_PER_BLOCK)
                self._at = 0
            start = self._at
            self._at = start + 32
        return self._block[start : start + 32]


_nonce_pool = _NoncePool()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_nonce_pool.reset)


def new_nonce() -> str:
    """A fresh 128-bit nonce as 32 lower-case hex digits, from ``secrets``."""
    return _nonce_pool.take()


def lower_keys(headers: Mapping[str, str]) -> dict[str, str]:
    """Header names compared case-insensitively, whatever mapping the web framework hands over."""
    return {name.lower(): value for name, value in headers.items()}


def require_header(headers: Mapping[str, str], name: str, what: str) -> str:
    """The value of header ``name`` (lower-case key), or a ``SignatureError`` naming it."""
    value = headers.get(name.lower())
    if value is None or value == "":
        raise SignatureError(f"{what} carries no {name} header.")
    return value


def check_timestamp(
    raw: str, *, now: UnixTime, tolerance_seconds: int, what: str, milliseconds: bool = False
) -> int:
    """Parse a decimal timestamp header and refuse it outside ``now ± tolerance``."""
    if not raw.isascii() or not raw.isdigit() or len(raw) > 16:
        raise SignatureError(f"{what} timestamp {raw[:20]!r} is not a decimal number.")
    stamp = int(raw)
    seconds = stamp / 1000 if milliseconds else stamp
    skew = seconds - now
    if abs(skew) > tolerance_seconds:
        direction = "ahead of" if skew > 0 else "behind"
        raise SignatureError(
            f"{what} timestamp is {abs(int(skew))} s {direction} this machine's clock, "
            f"outside the {tolerance_seconds} s window (expired or replayed).",
            next_step=(
                "Check this machine's clock (NTP); a message older than the window is "
                "refused as a possible replay and nothing was parsed."
            ),
        )
    return stamp


def check_replay(
    cache: NonceCache | None, nonce: str, *, now: UnixTime, window_seconds: int, what: str
) -> None:
    """Refuse a nonce already seen in the window; no-op without a cache."""
    if cache is not None and cache.seen_before(nonce, now=now, window_seconds=window_seconds):
        raise SignatureError(
            f"{what} nonce was already seen within the last {window_seconds} s (replayed).",
            next_step="Drop the duplicate; the original delivery was already accepted.",
        )


def sorted_pairs(items: Iterable[tuple[str, str]]) -> str:
    """``k1=v1&k2=v2`` in ascending key order, the canonical string of several gateways."""
    return "&".join(f"{key}={value}" for key, value in sorted(items))
