"""``CampusCardChannel``: the campus card office as a gongji payment channel.

The adapter's four files: ``plugin.py`` registers it, ``wire.py`` is the office's JSON,
``transform.py`` turns gongji's objects into it and back, and this one builds the
requests and reads the answers.

A gongji adapter is sans-I/O. Every operation is a *flow*: a generator that builds
one ``httpx.Request``, yields it (through ``exchange``, which signs it with the
channel's ``httpx.Auth`` and verifies the answer), receives the ``httpx.Response`` and
returns a domain object. It never sends anything itself: ``SettlementClient`` and
``AsyncSettlementClient`` do, so one adapter serves both, and tests drive it by hand.

=============  ==========================================================
operation      campus card office
=============  ==========================================================
charge         ``POST /v1/payments``
query          ``GET /v1/payments/{out_trade_no}`` (404: never arrived)
reverse        ``POST /v1/payments/{out_trade_no}/reverse``
refund         ``POST /v1/refunds``
notification   a callback the office posts: verified, then decoded
=============  ==========================================================

How answers map, which the flows rely on: a refusal on the payer's side (too little
on the card) is a ``FAILED`` payment, not an exception; 5xx and 429 are
``Unavailable`` (the flows query, then decide); an answer whose signature does not
verify raises ``SignatureError`` from the auth, before it is read (a wrong secret shows
this way too); any other refusal of the request is ``Declined`` with the office's code.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
import msgspec
from gongji.errors import ConfigError, Declined, InvalidInput, Unavailable, UntrustedAnswer
from gongji.gateways import (
    Capability,
    CashOrder,
    ChannelNotification,
    ChannelPayment,
    ChannelRefund,
    PaymentState,
    require,
)
from gongji.gateways.exchange import Flow, exchange
from gongji.gateways.secrets import read_secret
from gongji.money import Fen

from gongji_campuscard import transform, wire
from gongji_campuscard.signing import CampusCardAuth, Clock, system_clock

__all__ = ["CAPABILITIES", "DEFAULT_BASE_URL", "CampusCardChannel"]

DEFAULT_BASE_URL = "https://card.campus.test"
#: What this channel can do; the client refuses anything else before the network.
CAPABILITIES = frozenset(
    {
        Capability.CODE_PAYMENT,
        Capability.QUERY,
        Capability.REVERSE,
        Capability.REFUND,
        Capability.NOTIFY,
    }
)
#: The campus card app's payment code: "CC", the 8-digit card number, an 8-digit counter.
CARD_CODE = re.compile(r"CC[0-9]{16}", re.ASCII)

T = TypeVar("T")


class CampusCardChannel:
    """``gongji.gateways.PaymentChannel`` for the campus card office."""

    name = "campuscard"

    def __init__(
        self,
        *,
        terminal_id: str,
        secret: str,
        base_url: str = DEFAULT_BASE_URL,
        clock: Clock = system_clock,
    ) -> None:
        if not terminal_id or not secret:
            raise ConfigError(
                "The campus card channel needs its terminal_id and secret.",
                next_step="Set them under [channels.campuscard] (the secret via secret_file or secret_env).",
            )
        self.capabilities = CAPABILITIES
        self.terminal_id = terminal_id
        self._base_url = base_url.rstrip("/")
        self._auth = CampusCardAuth(terminal_id, secret, clock)

    @classmethod
    def from_settings(
        cls, settings: Mapping[str, Any], config_dir: Path | None = None
    ) -> CampusCardChannel:
        """The factory the plugin registers: a ``[channels.campuscard]`` table and the
        configuration file's folder in, a channel out. The secret comes through gongji's
        one secrets module: ``secret_file`` (a relative path is read from ``config_dir``)
        or ``secret_env``, never the table itself."""
        secret = read_secret(settings, "secret", where="campuscard", config_dir=config_dir)
        return cls(
            terminal_id=str(settings.get("terminal_id", "")),
            secret=secret or "",
            base_url=str(settings.get("base_url", DEFAULT_BASE_URL)),
        )

    def __repr__(self) -> str:
        return f"CampusCardChannel(terminal_id={self.terminal_id!r}, base_url={self._base_url!r})"

    # ------------------------------------------------------------ the operations

    def charge(self, order: CashOrder) -> Flow[ChannelPayment]:
        require(self, Capability.CODE_PAYMENT)
        if not CARD_CODE.fullmatch(order.auth_code):
            # Refused before anything is sent: a code scanned under the wrong button.
            raise InvalidInput(
                "That is not a campus card payment code.",
                next_step="Scan the code the campus card app shows; nothing was charged.",
            )
        response = yield from self._send("POST", "/v1/payments", transform.payment_in(order))
        return transform.payment(self._decode(response, wire.Payment))

    def query(self, out_trade_no: str) -> Flow[ChannelPayment]:
        require(self, Capability.QUERY)
        response = yield from self._send("GET", f"/v1/payments/{quote(out_trade_no, safe='')}")
        if response.status_code == 404:
            return ChannelPayment(out_trade_no=out_trade_no, state=PaymentState.NOT_FOUND)
        return transform.payment(self._decode(response, wire.Payment))

    def reverse(self, out_trade_no: str) -> Flow[ChannelPayment]:
        require(self, Capability.REVERSE)
        path = f"/v1/payments/{quote(out_trade_no, safe='')}/reverse"
        response = yield from self._send("POST", path, {})
        if response.status_code == 404:  # never arrived: nothing to undo, nothing charged
            return ChannelPayment(out_trade_no=out_trade_no, state=PaymentState.CLOSED)
        return transform.payment(self._decode(response, wire.Payment))

    def refund(
        self, out_trade_no: str, out_refund_no: str, amount: Fen, total: Fen
    ) -> Flow[ChannelRefund]:
        require(self, Capability.REFUND)
        if not 0 < amount <= total:
            raise InvalidInput(
                f"A refund of {amount} for a trade of {total} cannot be right.",
                next_step="Refund between one fen and the trade's amount; nothing was sent.",
            )
        body = transform.refund_in(out_trade_no, out_refund_no, amount)
        response = yield from self._send("POST", "/v1/refunds", body)
        return transform.refund(self._decode(response, wire.Refund))

    def notification(self, headers: Mapping[str, str], body: bytes) -> ChannelNotification:
        """A callback the office posted: verified on its exact bytes before it is decoded."""
        require(self, Capability.NOTIFY)
        self._auth.verify_callback(httpx.Headers(headers), body)
        return transform.notification(_decoded(body, wire.Payment))

    # ------------------------------------------------------------ the wire

    def _send(
        self, method: str, path: str, body: msgspec.Struct | dict[str, Any] | None = None
    ) -> Flow[httpx.Response]:
        request = httpx.Request(
            method,
            self._base_url + path,
            content=None if body is None else msgspec.json.encode(body),
            headers={"Content-Type": "application/json"},
        )
        # exchange() runs CampusCardAuth: signs the bytes above, verifies the answer's.
        response = yield from exchange(request, self._auth)
        if response.status_code >= 500 or response.status_code == 429:
            raise Unavailable(
                f"The campus card office answered HTTP {response.status_code}.", gateway=self.name
            )
        return response

    def _decode(self, response: httpx.Response, kind: type[T]) -> T:
        if response.status_code == 200:
            return _decoded(response.content, kind)
        problem = _decoded(response.content, wire.Problem)
        raise Declined(
            f"The campus card office refused the request: {problem.code} {problem.message[:200]}",
            gateway=self.name,
        )


def _decoded(body: bytes, kind: type[T]) -> T:
    try:
        return msgspec.json.decode(body, type=kind)
    except (msgspec.DecodeError, msgspec.ValidationError) as error:
        raise UntrustedAnswer(
            f"The campus card office's answer is not as documented ({error}).",
            next_step="Nothing was trusted from it; the sale is checked again before anything else.",
        ) from error
