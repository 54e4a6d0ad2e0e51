"""Alipay OpenAPI ``biz_content`` formats the mock reads (``msgspec``).

Amounts are yuan, as a string (``"12.50"``) or a JSON number (``12.5``, as Alipay's
own SDK examples send them): either is decoded from the JSON text straight into
``Decimal``, so no float reaches the mock, and ``amounts.fen_of`` turns it
into fen (more than two decimals refused, not rounded). Unknown fields are tolerated.
"""

from __future__ import annotations

import decimal

import msgspec


class _Biz(msgspec.Struct, frozen=True, kw_only=True):
    """``biz_content`` structs: unknown fields ignored, missing required ones refused."""


class TradePay(_Biz, frozen=True, kw_only=True):
    """``alipay.trade.pay``: the cashier scanned the buyer's payment code."""

    out_trade_no: str
    scene: str
    auth_code: str
    subject: str
    total_amount: decimal.Decimal
    product_code: str = ""
    store_id: str = ""
    terminal_id: str = ""
    #: Medical fields ride here (``medical_card_id``, ``medical_card_inst_id``); kept, not checked.
    extend_params: dict[str, str] | None = None


class TradeRef(_Biz, frozen=True, kw_only=True):
    """``alipay.trade.query`` / ``alipay.trade.cancel``: one trade, by either number."""

    out_trade_no: str = ""
    trade_no: str = ""


class RefundQuery(TradeRef, frozen=True, kw_only=True):
    """``alipay.trade.fastpay.refund.query``: the refund's ``out_request_no`` and its trade."""

    out_request_no: str = ""


class TradeRefund(_Biz, frozen=True, kw_only=True):
    """``alipay.trade.refund``: ``out_request_no`` names a partial refund (idempotency key)."""

    refund_amount: decimal.Decimal
    out_trade_no: str = ""
    trade_no: str = ""
    out_request_no: str = ""
    refund_reason: str = ""
