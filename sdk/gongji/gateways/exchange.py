"""The one shape every flow has: a generator that yields what it needs done and
receives the answer. ``SettlementClient`` drives it with ``httpx.Client``,
``AsyncSettlementClient`` with ``httpx.AsyncClient``; tests drive it by hand.

A flow yields

* an ``httpx.Request``: the driver sends it and sends back the ``httpx.Response``
  with its body read, or throws the ``httpx.TransportError`` it got into the flow
  (a timeout arrives at the ``yield`` as an exception the flow can handle);
* a ``Pause``: the driver waits that long (``time.sleep`` / ``asyncio.sleep``) and
  sends back ``None``. Polling a payment that waits for the payer's password is the
  only thing that waits, and it is bounded.

Adapters' operations are flows too (``yield from gateway.person(...)``), so a
signature is made on the exact bytes about to be sent and checked on the exact
bytes received, before anything is parsed, whichever driver runs them.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any, TypeVar

import attrs
import httpx

__all__ = ["Flow", "Pause", "Step", "exchange"]

T = TypeVar("T")


@attrs.frozen
class Pause:
    """Ask the driver to wait ``seconds`` (whole milliseconds, to keep floats out of flows)."""

    milliseconds: int


Step = httpx.Request | Pause
#: A flow returning ``T``: yields requests and pauses, receives responses (or ``None``).
Flow = Generator[Step, Any, T]


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
