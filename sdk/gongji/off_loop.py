"""How the async driver waits on the journal without blocking its event loop.

A ``Blocking`` step with ``later`` (a durable journal's write) is handed to the
journal's group commit; any other (a read) goes to the driver's own worker threads.
Either way the outcome comes back through the loop's ``Inbox``: the threads that
answer many sales at once (a group commit answers every write of its batch) wake the
loop once for all of them, not once each.
"""

from __future__ import annotations

import asyncio
import queue
import threading
import weakref
from collections.abc import Callable
from typing import Any

from gongji.gateways.exchange import Later, Tell

__all__ = ["THREADS", "handed_over", "off_loop"]

#: The worker threads for calls without ``later`` (the journal's reads). Two: a journal
#: reads through one connection, and more threads would only contend for the GIL.
THREADS = 2


class Inbox:
    """The outcomes told to one event loop from other threads, set on it in one go."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._told: list[tuple[asyncio.Future[Any], Any, BaseException | None]] = []
        self._lock = threading.Lock()

    def soon(self, call: Callable[[], None]) -> None:
        """Run ``call`` on this loop soon, asked from any thread (``Soon``)."""
        self._loop.call_soon_threadsafe(call)

    def future(self) -> tuple[asyncio.Future[Any], Tell]:
        """A future of this loop, and what sets it from any thread."""
        future = self._loop.create_future()
        return future, lambda value, error: self._tell(future, value, error)

    def _tell(self, future: asyncio.Future[Any], value: Any, error: BaseException | None) -> None:
        with self._lock:
            self._told.append((future, value, error))
            if len(self._told) > 1:  # a wake-up is on its way already
                return
        self._loop.call_soon_threadsafe(self._settle)

    def _settle(self) -> None:
        with self._lock:
            told, self._told = self._told, []
        for future, value, error in told:
            if future.done():  # its sale was cancelled meanwhile
                continue
            if error is not None:
                future.set_exception(error)
            else:
                future.set_result(value)


#: Each running loop's inbox; a loop that ends takes its inbox with it.
_inboxes: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Inbox] = weakref.WeakKeyDictionary()


def _inbox() -> Inbox:
    loop = asyncio.get_running_loop()
    inbox = _inboxes.get(loop)
    if inbox is None:
        inbox = _inboxes[loop] = Inbox(loop)
    return inbox


def handed_over(later: Later) -> asyncio.Future[Any]:
    """The outcome of a call handed over with ``later`` (it tells from any thread, and
    may do its quick part on this loop)."""
    inbox = _inbox()
    future, tell = inbox.future()
    later(tell, inbox.soon)
    return future


class _Workers:
    """Threads that run calls from one queue and tell each outcome: started on first use,
    kept for the process (daemons: a call in flight never holds the process up)."""

    def __init__(self, threads: int) -> None:
        self._calls: queue.SimpleQueue[tuple[Callable[[], Any], Tell]] = queue.SimpleQueue()
        self._threads = threads
        self._started = False
        self._lock = threading.Lock()

    def run(self, call: Callable[[], Any], tell: Tell) -> None:
        if not self._started:
            with self._lock:
                if not self._started:
                    for number in range(self._threads):
                        threading.Thread(
                            target=self._work, name=f"gongji-journal-{number}", daemon=True
                        ).start()
                    self._started = True
        self._calls.put((call, tell))

    def _work(self) -> None:
        while True:
            call, tell = self._calls.get()
            value: Any = None
            try:
                value = call()
            except BaseException as error:  # told to the flow, raised where it was asked
                tell(None, error)
            else:
                tell(value, None)
            del call, tell, value  # hold nothing between calls


_workers = _Workers(THREADS)


def off_loop(call: Callable[[], Any]) -> asyncio.Future[Any]:
    """``call()``'s outcome, run in one of the driver's worker threads."""
    future, tell = _inbox().future()
    _workers.run(call, tell)
    return future
