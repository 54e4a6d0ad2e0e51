"""The end of a till's session at the centre: its sign-in ends when the client closes.

A gateway of a centre that keeps sign-ins (``Capability.SIGN_OUT``, a ``SessionGateway``)
signs in by itself before its first message of each day; ``close()`` runs this flow to
end that sign-in (9002). It is best-effort: a sign-out the centre refuses, or whose
answer is lost, leaves nothing a sale depends on undone (a sign-in is no sale, and the
next message of any process signs in anew), so the failure is logged, never raised,
and the client still closes its connections and its journal.
"""

from __future__ import annotations

import logging

import httpx

from gongji.errors import GongjiError
from gongji.flows.setup import Setup
from gongji.gateways import Capability, SessionGateway
from gongji.gateways.exchange import Flow

__all__ = ["sign_out"]

_log = logging.getLogger("gongji")


def sign_out(setup: Setup) -> Flow[bool]:
    """End the gateway's sign-in; True when the centre ended one. A gateway that never
    signed in, or keeps no sign-in, sends nothing."""
    gateway = setup.gateway
    if Capability.SIGN_OUT not in gateway.capabilities or not isinstance(gateway, SessionGateway):
        return False
    try:
        return (yield from gateway.sign_out())
    except (GongjiError, httpx.HTTPError) as error:
        # The error's kind and code only: a centre's words may echo what it was sent.
        code = getattr(error, "code", "transport")
        _log.warning(
            "The %s gateway's sign-out (9002) failed (%s, %s); the sign-in is left to the "
            "centre to end.",
            gateway.name,
            type(error).__name__,
            code,
        )
        return False
