"""The campus card office's wire: JSON bodies as ``msgspec`` structs, amounts in fen.

Requests are encoded once, to the exact bytes that are signed and sent. Answers are
decoded only after their signature verified; unknown fields are tolerated (the office
may add some), missing ones refused.
"""

from __future__ import annotations

from typing import Literal

import msgspec

#: A trade's state at the office.
TradeState = Literal["PAID", "DECLINED", "CLOSED", "REFUNDED"]


class PaymentIn(msgspec.Struct, frozen=True, kw_only=True):
    """``POST /v1/payments``: charge the card behind a payment code."""

    out_trade_no: str
    amount_fen: int
    card_code: str  # the dynamic code the campus card app shows: a bearer credential
    description: str = ""
    notify_url: str | None = None


class Payment(msgspec.Struct, frozen=True, kw_only=True):
    """A trade as the office states it (charge, query, reverse, callback)."""

    out_trade_no: str
    state: TradeState
    amount_fen: int
    transaction_id: str = ""
    reason: str = ""


class RefundIn(msgspec.Struct, frozen=True, kw_only=True):
    """``POST /v1/refunds``: give back (part of) a paid trade, once per ``out_refund_no``."""

    out_trade_no: str
    out_refund_no: str
    amount_fen: int


class Refund(msgspec.Struct, frozen=True, kw_only=True):
    out_trade_no: str
    out_refund_no: str
    state: Literal["SUCCESS", "FAILED"]
    amount_fen: int
    refund_id: str = ""
    reason: str = ""


class Problem(msgspec.Struct, frozen=True, kw_only=True):
    """Every answer that is not a 200: a code a program branches on, a sentence for people."""

    code: str
    message: str = ""
