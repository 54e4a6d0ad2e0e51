"""The soak's wire between the supervisor and its till processes, and the virtual clock.

Each till process talks to the world only through its stdin and stdout: every HTTP
request it would send is a frame to the supervisor, which answers it from the mock in
its own process, when its seeded scheduler says so, with the virtual time of that
moment. So exactly one process runs at a time, and what runs next, what time it is and
which request a fault hits are decided by the seed, never by the machine's load
(TigerBeetle's VOPR: time is a value passed in, never read).

A frame is a 4-byte big-endian length and a pickled tuple (both ends are this run's own
processes). What a frame says:

- supervisor to till: ``("op", now, command)``, ``("answer", now, status, headers, body)``,
  ``("error", now, name, message)`` (an ``httpx`` transport error), ``("quit", now)``;
- till to supervisor: ``("request", method, url, headers, body)``, ``("done", outcome)``.

A till that dies (``SIGKILL`` at a planned checkpoint) ends its stdout: the supervisor
reads end-of-file.
"""

from __future__ import annotations

import datetime
import pickle
import struct
from typing import IO, Any, Protocol

import httpx

from gongji.clock import BEIJING

_LENGTH = struct.Struct(">I")

#: The virtual day the soak's clock starts on (09:00 Beijing time): fixed, so that ages,
#: policy years and the centre's ids are the same on every run of a seed.
START = datetime.datetime(2026, 11, 23, 9, 0, tzinfo=BEIJING)


class Closed(Exception):
    """The other end of the wire is gone (a till killed, or the supervisor gone)."""


def send(stream: IO[bytes], frame: tuple[Any, ...]) -> None:
    data = pickle.dumps(frame, protocol=pickle.HIGHEST_PROTOCOL)
    view = memoryview(_LENGTH.pack(len(data)) + data)
    while view:  # bounded: a raw pipe write takes at least one byte or raises
        written = stream.write(view)
        view = view[written if written is not None else len(view) :]
    stream.flush()


class Readable(Protocol):
    def read(self, size: int, /) -> bytes | None: ...


def receive(stream: Readable) -> tuple[Any, ...]:
    head = _read_exactly(stream, _LENGTH.size)
    frame = pickle.loads(_read_exactly(stream, _LENGTH.unpack(head)[0]))  # noqa: S301 - our own processes
    assert isinstance(frame, tuple)
    return frame


def _read_exactly(stream: Readable, size: int) -> bytes:
    data = b""
    while len(data) < size:  # bounded: each read returns at least one byte or ends the loop
        chunk = stream.read(size - len(data))
        if not chunk:
            raise Closed
        data += chunk
    return data


class VirtualClock:
    """The soak's time: microseconds since ``START``, moved only by the supervisor."""

    def __init__(self, micros: int = 0) -> None:
        self.micros = micros

    def beijing(self) -> datetime.datetime:
        """As ``gongji.clock.now``: a Beijing-aware moment (flows, the city gateway, the mock)."""
        return START + datetime.timedelta(microseconds=self.micros)

    def unix(self) -> float:  # float-ok: seconds since the epoch, as the signers take them
        """As ``time.time``: what the signers stamp and check their messages with."""
        return self.beijing().timestamp()


class PipeTransport(httpx.BaseTransport):
    """A till's network: each request goes to the supervisor as a frame, and the till
    waits for its answer (or its transport error), which also brings the new time."""

    def __init__(self, inbound: IO[bytes], outbound: IO[bytes], clock: VirtualClock) -> None:
        self.inbound, self.outbound, self.clock = inbound, outbound, clock
        #: The supervisor said quit: it reads no more frames, and its socket stays open in
        #: the tills forked after this one, so a request now would wait for ever. What the
        #: till sends while it closes (the sign-out, 9002) fails at once instead.
        self.hung_up = False

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self.hung_up:
            raise httpx.ConnectError("the supervisor has hung up", request=request)
        body = request.read()
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers.raw]
        send(self.outbound, ("request", request.method, str(request.url), headers, body))
        frame = receive(self.inbound)
        self.clock.micros = frame[1]
        if frame[0] == "error":
            error = getattr(httpx, frame[2], httpx.ReadTimeout)
            raise error(frame[3], request=request)
        if frame[0] != "answer":
            raise Closed(f"a till waiting for an answer was sent {frame[0]!r}")
        return httpx.Response(frame[2], headers=frame[3], content=frame[4], request=request)
