"""The one shape every flow has: a generator that yields what it needs done and
receives the answer. ``SettlementClient`` drives it with ``httpx.Client``,
``AsyncSettlementClient`` with ``httpx.AsyncClient``; tests drive it by hand.

A flow yields

* an ``httpx.Request``: the driver sends it and sends back the ``httpx.Response``
  with its body read, or throws the ``httpx.TransportError`` it got into the flow
  (a timeout arrives at the ``yield`` as an exception the flow can handle);
* a ``Pause``: the driver waits that long (``time.sleep`` / ``asyncio.sleep``) and
  sends back ``None``. Polling a payment that waits for the payer's password is the
  only thing that waits, and it is bounded;
* a ``Blocking`` call: a journal's work on a disk or a database. The synchronous driver
  calls it in place; the asynchronous one hands it over (``later``: a durable journal's
  write goes to its group commit) or runs it in a worker thread, so an event loop never
  waits on an fsync; the driver sends back what it returned, or throws in what it
  raised. A journal that blocks nothing (in memory) is called in place by the flow
  itself (``blocking(..., blocks=False)``).

Adapters' operations are flows too (``yield from gateway.person(...)``), so a
signature is made on the exact bytes about to be sent and checked on the exact
bytes received, before anything is parsed, whichever driver runs them.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any, TypeVar

import attrs
import httpx

__all__ = [
    "Blocking",
    "Flow",
    "Later",
    "Pause",
    "Soon",
    "Step",
    "Tell",
    "blocking",
    "exchange",
    "unheard",
]

T = TypeVar("T")


@attrs.frozen
class Pause:
    """Ask the driver to wait ``seconds`` (whole milliseconds, to keep floats out of flows)."""

    milliseconds: int


#: Told a call's outcome, once, from whichever thread has it: ``(value, None)`` or
#: ``(None, error)``.
Tell = Callable[[Any, "BaseException | None"], None]


def unheard(_: Any, __: BaseException | None) -> None:
    """A ``Tell`` for a call no one waits on (a release handed over in passing): what
    fails there is noted where it fails."""


#: Runs a callable soon on the event loop that handed a call over, from any thread (the
#: loop's ``call_soon_threadsafe``); raises once that loop is closed.
Soon = Callable[[Callable[[], None]], None]
#: Starts a call without waiting for it; the call tells its outcome later, and may do its
#: own quick part on the caller's loop through ``Soon`` (a journal's statements, while
#: another thread makes the commit).
Later = Callable[[Tell, Soon], None]


@attrs.frozen
class Blocking:
    """Ask the driver to run ``call`` where it blocks no event loop (a journal's write).
    ``later``, when given, is the same call handed over without waiting (a durable
    journal's group commit): the async driver uses it and waits on no thread of its own."""

    call: Callable[[], Any]
    later: Later | None = None


Step = httpx.Request | Pause | Blocking
#: A flow returning ``T``: yields requests and pauses, receives responses (or ``None``).
Flow = Generator[Step, Any, T]


def blocking(call: Callable[[], T], *, blocks: bool = True, later: Later | None = None) -> Flow[T]:
    """``call()``'s result: through the driver as a ``Blocking`` step when it ``blocks``
    (on a disk or a database), else called here at once."""
    if not blocks:
        return call()
    result: T = yield Blocking(call, later)
    return result


def exchange(request: httpx.Request, auth: httpx.Auth | None = None) -> Flow[httpx.Response]:
    """Send one request through ``auth``'s flow: signed before it leaves, verified on return.

    ``auth`` is any ``httpx.Auth`` (the signers in ``gongji.signing`` are); its own
    generator is run here so that sync and async drivers sign identically. The
    response body is always read by the driver before it comes back.
    """
    if auth is None:
        response: httpx.Response = yield request
        return response
    auth_flow = auth.sync_auth_flow(request)
    outgoing = next(auth_flow)
    while True:
        response = yield outgoing
        try:
            outgoing = auth_flow.send(response)
        except StopIteration:
            return response
