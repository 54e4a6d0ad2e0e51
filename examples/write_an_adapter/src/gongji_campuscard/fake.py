"""A campus card office in this process: something for the channel to talk to.

``CampusCardOffice`` answers the office's API as an ``httpx.MockTransport`` handler, with
deterministic magic cards (like active_merchant's bogus gateway), so the adapter's
tests - and an integrator's - run with no network and no real money:

=====================  ==========================================
payment code           what happens
=====================  ==========================================
``CC20260001xxxxxxxx``  card 20260001, 1,000.00 yuan: pays
``CC20260002xxxxxxxx``  card 20260002, 1.00 yuan: declined beyond it
any other card          declined, ``CARD_UNKNOWN``
=====================  ==========================================

It checks what the real office checks: the terminal's signature (401 when it does not
verify, before the body is read), one trade per ``out_trade_no`` (a repeat answers the
first trade), one refund per ``out_refund_no``, never more back than was paid.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Mapping

import httpx
import msgspec
from gongji.errors import SignatureError
from gongji.money import Fen

from gongji_campuscard import wire
from gongji_campuscard.signing import (
    TERMINAL,
    Clock,
    request_head,
    signed_headers,
    system_clock,
    verify,
)

#: The terminal the fake office knows unless told otherwise: documented test values, like
#: the gongji mock's own keys. A real terminal's secret comes from a file or the environment.
DEMO_TERMINAL = "CLINIC-CANTEEN-01"
DEMO_SECRET = "campuscard-demo-secret"  # noqa: S105 - a documented test credential
PAYING_CODE = "CC2026000100000001"
POOR_CODE = "CC2026000200000001"
DEMO_CARDS = {"20260001": Fen(100_000), "20260002": Fen(100)}


class CampusCardOffice:
    """The office's state (cards, trades, refunds) and its HTTP API, in process."""

    def __init__(
        self,
        *,
        terminals: Mapping[str, str] | None = None,
        cards: Mapping[str, Fen] = DEMO_CARDS,
        clock: Clock = system_clock,
    ) -> None:
        # terminal id -> secret
        self._secrets = dict(terminals) if terminals is not None else {DEMO_TERMINAL: DEMO_SECRET}
        self._balances = dict(cards)
        self._clock = clock
        self._trades: dict[str, tuple[str, wire.Payment]] = {}  # out_trade_no -> (card, trade)
        self._refunds: dict[str, wire.Refund] = {}
        self._serial = itertools.count(1)
        self._lock = threading.Lock()

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def balance(self, card: str) -> Fen:
        with self._lock:
            return self._balances[card]

    def callback(self, terminal_id: str, out_trade_no: str) -> tuple[dict[str, str], bytes]:
        """The signed callback the office would post about a trade: headers and body."""
        with self._lock:
            _card, trade = self._trades[out_trade_no]
        body = msgspec.json.encode(trade)
        secret = self._secrets[terminal_id]
        return signed_headers(secret, "NOTIFY", body, self._clock()), body

    # ------------------------------------------------------------ HTTP

    def handle(self, request: httpx.Request) -> httpx.Response:
        secret = self._secrets.get(request.headers.get(TERMINAL, ""))
        if secret is None:
            return _answer(401, "", wire.Problem(code="TERMINAL_UNKNOWN"), self._clock())
        try:
            verify(secret, request_head(request), request.headers, request.content, self._clock())
        except SignatureError:
            return _answer(401, secret, wire.Problem(code="SIGNATURE_INVALID"), self._clock())
        status, answer = self._route(request)
        return _answer(status, secret, answer, self._clock())

    def _route(self, request: httpx.Request) -> tuple[int, msgspec.Struct]:
        path = request.url.path
        with self._lock:
            try:
                if request.method == "POST" and path == "/v1/payments":
                    return self._pay(msgspec.json.decode(request.content, type=wire.PaymentIn))
                if request.method == "POST" and path == "/v1/refunds":
                    return self._refund(msgspec.json.decode(request.content, type=wire.RefundIn))
                if path.startswith("/v1/payments/"):
                    out_trade_no, _, action = path.removeprefix("/v1/payments/").partition("/")
                    if request.method == "GET" and not action:
                        return self._trade(out_trade_no)
                    if request.method == "POST" and action == "reverse":
                        return self._reverse(out_trade_no)
            except msgspec.ValidationError as error:
                return 400, wire.Problem(code="PARAM_ERROR", message=str(error))
        return 404, wire.Problem(code="NO_SUCH_ENDPOINT", message=f"{request.method} {path}")

    def _pay(self, asked: wire.PaymentIn) -> tuple[int, msgspec.Struct]:
        seen = self._trades.get(asked.out_trade_no)
        if seen is not None:  # one trade per out_trade_no: a repeat answers the first
            return 200, seen[1]
        if asked.amount_fen <= 0:
            return 400, wire.Problem(code="PARAM_ERROR", message="amount_fen must be positive")
        card = asked.card_code[2:10]
        balance = self._balances.get(card)
        if balance is None or balance < asked.amount_fen:
            trade = wire.Payment(
                out_trade_no=asked.out_trade_no,
                state="DECLINED",
                amount_fen=asked.amount_fen,
                reason="CARD_UNKNOWN" if balance is None else "余额不足 / balance too low",
            )
        else:
            self._balances[card] = balance - Fen(asked.amount_fen)
            trade = wire.Payment(
                out_trade_no=asked.out_trade_no,
                state="PAID",
                amount_fen=asked.amount_fen,
                transaction_id=f"CT{next(self._serial):010d}",
            )
        self._trades[asked.out_trade_no] = (card, trade)
        return 200, trade

    def _trade(self, out_trade_no: str) -> tuple[int, msgspec.Struct]:
        seen = self._trades.get(out_trade_no)
        if seen is None:
            return 404, wire.Problem(code="TRADE_NOT_FOUND")
        return 200, seen[1]

    def _reverse(self, out_trade_no: str) -> tuple[int, msgspec.Struct]:
        seen = self._trades.get(out_trade_no)
        if seen is None:
            return 404, wire.Problem(code="TRADE_NOT_FOUND")
        card, trade = seen
        if trade.state == "PAID":  # the money goes back to the card, once
            self._balances[card] += Fen(trade.amount_fen)
        if trade.state in ("PAID", "DECLINED"):
            trade = msgspec.structs.replace(trade, state="CLOSED")
            self._trades[out_trade_no] = (card, trade)
        return 200, trade

    def _refund(self, asked: wire.RefundIn) -> tuple[int, msgspec.Struct]:
        done = self._refunds.get(asked.out_refund_no)
        if done is not None:  # one refund per out_refund_no
            return 200, done
        seen = self._trades.get(asked.out_trade_no)
        if seen is None or seen[1].state != "PAID":
            return 400, wire.Problem(code="TRADE_NOT_PAID", message="only a paid trade is refunded")
        card, trade = seen
        given_back = sum(
            r.amount_fen for r in self._refunds.values() if r.out_trade_no == asked.out_trade_no
        )
        if asked.amount_fen <= 0 or given_back + asked.amount_fen > trade.amount_fen:
            return 400, wire.Problem(code="REFUND_TOO_LARGE", message="more than was paid")
        self._balances[card] += Fen(asked.amount_fen)
        refund = wire.Refund(
            out_trade_no=asked.out_trade_no,
            out_refund_no=asked.out_refund_no,
            state="SUCCESS",
            amount_fen=asked.amount_fen,
            refund_id=f"CR{next(self._serial):010d}",
        )
        self._refunds[asked.out_refund_no] = refund
        return 200, refund


def _answer(status: int, secret: str, answer: msgspec.Struct, now: int) -> httpx.Response:
    body = msgspec.json.encode(answer)
    headers = {"Content-Type": "application/json"}
    if secret:  # a terminal the office does not know gets an unsigned refusal
        headers |= signed_headers(secret, str(status), body, now)
    return httpx.Response(status, content=body, headers=headers)
