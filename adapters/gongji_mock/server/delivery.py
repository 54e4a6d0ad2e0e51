"""Callbacks delivered over HTTP: WeChat Pay's signed, encrypted callbacks and Alipay's signed
notifications POSTed to their URL, as the real channels do, with bounded retries.

A channel hands a callback to ``submit`` while it answers a request (under its own
lock); ``submit`` only queues it, never waits, and a full queue drops the callback
(recorded as such) rather than block a till. The I/O happens elsewhere, with no lock
held: on a background thread after ``start()`` (``gongji mock serve`` starts it), or
in the caller's thread in ``flush()``, which is how tests deliver deterministically.

Each callback goes to the mock-wide ``notify_url`` when one is set, else to its own
URL (WeChat ``notify_url`` / ``callback_url``, Alipay ``notify_url``) when that is
http(s). It is tried once, then again after each delay in ``backoff``; an attempt
succeeds when the receiver answers as the channel requires (WeChat: any 2xx; Alipay:
a 2xx whose body is ``success``). Every attempt is recorded.
"""

from __future__ import annotations

import collections
import itertools
import threading
import time
import urllib.parse
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import attrs
import httpx

from gongji.errors import ConfigError

DEFAULT_BACKOFF = (1.0, 2.0, 4.0)  # seconds before the 2nd, 3rd and 4th attempt


class Deliverable(Protocol):
    """A callback a channel sends: where it asks to go, the POST it is, what counts as received."""

    @property
    def url(self) -> str: ...

    @property
    def event(self) -> str: ...

    def request(self, url: str) -> httpx.Request: ...

    def accepted(self, response: httpx.Response) -> bool: ...


@attrs.frozen
class Attempt:
    """One POST: the receiver's HTTP status, or the transport error's name; and whether it
    counted as received."""

    status_code: int | None = None
    error: str | None = None
    accepted: bool = False

    def as_json(self) -> dict[str, Any]:
        if self.error is not None:
            return {"error": self.error}
        return {"status": self.status_code, "accepted": self.accepted}


@attrs.define
class DeliveryRecord:
    """One callback's delivery. ``status``: pending, delivered, failed (every attempt refused),
    dropped (the queue was full), skipped (no http(s) URL to send it to)."""

    number: int
    channel: str
    event: str
    url: str
    callback: Deliverable = attrs.field(repr=False, eq=False)
    status: str = "pending"
    attempts: tuple[Attempt, ...] = ()

    def as_json(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "channel": self.channel,
            "event": self.event,
            "url": self.url,
            "status": self.status,
            "attempts": [attempt.as_json() for attempt in self.attempts],
        }


class CallbackDelivery:
    """A bounded queue of callbacks and the one worker that POSTs them.

    ``transport`` replaces the network (an ``httpx.MockTransport`` in tests); ``sleep``
    replaces the wait between attempts (by default a wait that ``stop()`` interrupts).
    """

    def __init__(
        self,
        *,
        notify_url: str | None = None,
        backoff: Sequence[float] = DEFAULT_BACKOFF,
        timeout: float = 5.0,  # float-ok: seconds
        queue_size: int = 1_000,
        keep: int = 10_000,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], object] | None = None,
    ) -> None:
        if notify_url is not None and not _is_http(notify_url):
            raise ConfigError(
                f"The callback URL {notify_url[:80]!r} is not an absolute http(s) URL.",
                next_step="Pass --notify-url http://host:port/path.",
            )
        if queue_size < 1 or any(delay < 0 for delay in backoff):
            raise ConfigError(
                "Callback delivery needs queue_size >= 1 and no negative backoff.",
                next_step="Fix the CallbackDelivery arguments.",
            )
        self.notify_url = notify_url
        self.backoff = tuple(backoff)
        self.queue_size = queue_size
        self._stopping = threading.Event()
        self._sleep: Callable[[float], object] = sleep or self._stopping.wait
        self._client = httpx.Client(
            transport=transport,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 2.0)),
            follow_redirects=False,
            trust_env=False,
        )
        self._cond = threading.Condition()
        self._queue: collections.deque[DeliveryRecord] = collections.deque()
        self._records: collections.deque[DeliveryRecord] = collections.deque(maxlen=keep)
        self._numbers = itertools.count(1)
        self._busy = 0
        self._worker: threading.Thread | None = None

    # ------------------------------------------------------------------ the channels' side

    def submit(self, channel: str, callback: Deliverable, *, first: bool = False) -> None:
        """Queue ``callback`` (ahead of every queued one with ``first``). Never blocks."""
        url = self.notify_url or callback.url
        with self._cond:
            record = DeliveryRecord(next(self._numbers), channel, callback.event, url, callback)
            self._records.append(record)
            if not _is_http(url):
                record.status = "skipped"
            elif len(self._queue) >= self.queue_size:
                record.status = "dropped"
            else:
                if first:
                    self._queue.appendleft(record)
                else:
                    self._queue.append(record)
                self._cond.notify()

    # ------------------------------------------------------------------ running it

    def flush(self, timeout: float = 30.0) -> tuple[DeliveryRecord, ...]:  # float-ok: seconds
        """Deliver every queued callback now, in this thread, retries included; then wait (up
        to ``timeout``) for what the background worker has in hand. Returns the records."""
        with self._cond:
            queued = len(self._queue)
        for _ in range(queued):  # bounded: callbacks queued meanwhile wait for the next flush
            record = self._take(block=False)
            if record is None:
                break
            self._work(record)
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._busy:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"Callbacks still in flight after {timeout} s.")
                self._cond.wait(left)
        return self.records()

    def start(self) -> None:
        """Deliver in the background from now on (idempotent)."""
        with self._cond:
            if self._worker is not None and self._worker.is_alive():
                return
            self._stopping.clear()
            self._worker = threading.Thread(
                target=self._run, name="gongji-mock-callbacks", daemon=True
            )
            self._worker.start()

    def stop(self, timeout: float = 10.0) -> None:  # float-ok: seconds
        """Stop the background worker; what is still queued stays queued (``flush`` sends it)."""
        with self._cond:
            worker, self._worker = self._worker, None
            self._stopping.set()
            self._cond.notify_all()
        if worker is not None:
            worker.join(timeout)

    def close(self) -> None:
        self.stop()
        self._client.close()

    @property
    def running(self) -> bool:
        worker = self._worker
        return worker is not None and worker.is_alive()

    def records(self) -> tuple[DeliveryRecord, ...]:
        """A snapshot of every delivery (the latest ``keep``), oldest first."""
        with self._cond:
            return tuple(attrs.evolve(record) for record in self._records)

    @property
    def pending(self) -> int:
        with self._cond:
            return len(self._queue) + self._busy

    def __repr__(self) -> str:
        return (
            f"CallbackDelivery(notify_url={self.notify_url!r}, pending={self.pending}, "
            f"running={self.running})"
        )

    # ------------------------------------------------------------------ the work

    def _run(self) -> None:
        while True:
            record = self._take(block=True)
            if record is None:  # stopping
                return
            self._work(record, background=True)

    def _take(self, *, block: bool) -> DeliveryRecord | None:
        with self._cond:
            while block and not self._queue and not self._stopping.is_set():
                self._cond.wait()
            if (block and self._stopping.is_set()) or not self._queue:
                return None
            self._busy += 1
            return self._queue.popleft()

    def _work(self, record: DeliveryRecord, *, background: bool = False) -> None:
        try:
            self._deliver(record, background)
        finally:
            with self._cond:
                self._busy -= 1
                self._cond.notify_all()

    def _deliver(self, record: DeliveryRecord, background: bool) -> None:
        while True:
            attempt = self._attempt(record)  # no lock held: this is the I/O
            with self._cond:
                record.attempts = (*record.attempts, attempt)
                if attempt.accepted:
                    record.status = "delivered"
                    return
                tried = len(record.attempts)
                if tried > len(self.backoff):
                    record.status = "failed"
                    return
            self._sleep(self.backoff[tried - 1])
            if background and self._stopping.is_set():
                with self._cond:
                    self._queue.appendleft(record)  # resumed by the next flush or start
                return

    def _attempt(self, record: DeliveryRecord) -> Attempt:
        try:
            response = self._client.send(record.callback.request(record.url))
        except Exception as exc:  # any failure to deliver is an attempt that failed, recorded
            return Attempt(error=type(exc).__name__)
        return Attempt(
            status_code=response.status_code, accepted=record.callback.accepted(response)
        )


def _is_http(url: str) -> bool:
    parts = urllib.parse.urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.netloc)
