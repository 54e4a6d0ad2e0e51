"""Alipay OpenAPI ``biz_content`` formats the mock reads (``msgspec``).

Amounts are yuan strings (``"12.50"``): a JSON number is refused by the decoder,
so no float reaches the mock, and ``Fen.from_yuan`` turns the string into fen
(more than two decimals refused, not rounded). Unknown fields are tolerated.
"""

from __future__ import annotations

import msgspec


class _Biz(msgspec.Struct, frozen=True, kw_only=True):
    """``biz_content`` structs: unknown fields ignored, missing required ones refused."""


class TradePay(_Biz, frozen=True, kw_only=True):
    """``alipay.trade.pay``: the cashier scanned the buyer's payment code."""

    out_trade_no: str
    scene: str
    auth_code: str
    subject: str
    total_amount: str
    product_code: str = ""
    store_id: str = ""
    terminal_id: str = ""
    #: Medical fields ride here (``medical_card_id``, ``medical_card_inst_id``); kept, not checked.
    extend_params: dict[str, str] | None = None


class TradeRef(_Biz, frozen=True, kw_only=True):
    """``alipay.trade.query`` / ``alipay.trade.cancel``: one trade, by either number."""

    out_trade_no: str = ""
    trade_no: str = ""


class TradeRefund(_Biz, frozen=True, kw_only=True):
    """``alipay.trade.refund``: ``out_request_no`` names a partial refund (idempotency key)."""

    refund_amount: str
    out_trade_no: str = ""
    trade_no: str = ""
    out_request_no: str = ""
    refund_reason: str = ""
