"""Alipay OpenAPI wire formats (``msgspec``): what goes into ``biz_content``, what comes back.

Requests: one struct per method's ``biz_content``; optional fields default to empty
and are left out of the JSON (``omit_defaults``). Amounts are yuan strings with two
decimals (``"12.50"``), written by ``transform`` from ``Fen``; never a JSON number.

Responses: the verified ``<method>_response`` member, decoded after its signature
has been checked. Unknown fields are tolerated (Alipay adds fields over time);
amounts stay strings here and become ``Fen`` in ``transform`` (a JSON number, or a
third decimal, is refused there, never rounded).

Field names follow Alipay's public reference for ``alipay.trade.pay``,
``alipay.trade.query``, ``alipay.trade.cancel``, ``alipay.trade.refund`` and the
asynchronous notification (``trade_status_sync``).
"""

from __future__ import annotations

import msgspec

__all__ = [
    "CancelReply",
    "PayContent",
    "PayReply",
    "QueryReply",
    "RefundContent",
    "RefundReply",
    "Reply",
    "TradeNotification",
    "TradeRef",
]


# ---------------------------------------------------------------- requests (biz_content)


class _Content(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """A ``biz_content``: defaulted (empty) fields are not sent."""


class PayContent(_Content, frozen=True, kw_only=True, omit_defaults=True):
    """``alipay.trade.pay``: the cashier scanned the buyer's payment code (``scene`` bar_code)."""

    out_trade_no: str
    scene: str
    auth_code: str
    subject: str
    total_amount: str  # yuan, two decimals
    store_id: str = ""
    terminal_id: str = ""


class TradeRef(_Content, frozen=True, kw_only=True, omit_defaults=True):
    """``alipay.trade.query`` / ``alipay.trade.cancel``: one trade by the merchant's number."""

    out_trade_no: str


class RefundContent(_Content, frozen=True, kw_only=True, omit_defaults=True):
    """``alipay.trade.refund``; ``out_request_no`` names one (partial) refund: its idempotency key."""

    out_trade_no: str
    refund_amount: str  # yuan, two decimals
    out_request_no: str
    refund_reason: str = ""


# ---------------------------------------------------------------- responses


class Reply(msgspec.Struct, frozen=True, kw_only=True):
    """The members every ``<method>_response`` (and ``error_response``) carries."""

    code: str
    msg: str = ""
    sub_code: str = ""
    sub_msg: str = ""
    out_trade_no: str = ""
    trade_no: str = ""


class PayReply(Reply, frozen=True, kw_only=True):
    total_amount: str = ""
    receipt_amount: str = ""
    buyer_pay_amount: str = ""
    gmt_payment: str = ""


class QueryReply(Reply, frozen=True, kw_only=True):
    trade_status: str = ""
    total_amount: str = ""
    receipt_amount: str = ""
    buyer_pay_amount: str = ""
    send_pay_date: str = ""


class CancelReply(Reply, frozen=True, kw_only=True):
    retry_flag: str = ""  # "Y": not done, call cancel again
    action: str = ""  # "close" (nothing was paid), "refund" (paid: given back), "" (nothing to do)


class RefundReply(Reply, frozen=True, kw_only=True):
    fund_change: str = ""  # "Y": this request moved money back; otherwise ask the refund query
    refund_fee: str = ""  # every refund of the trade so far, yuan
    gmt_refund_pay: str = ""


class TradeNotification(msgspec.Struct, frozen=True, kw_only=True):
    """An asynchronous notification's form parameters, after ``sign`` has verified."""

    notify_id: str
    notify_type: str
    notify_time: str  # "yyyy-MM-dd HH:mm:ss", Beijing time
    app_id: str
    out_trade_no: str
    trade_status: str
    total_amount: str
    trade_no: str = ""
    receipt_amount: str = ""
    buyer_pay_amount: str = ""
    gmt_payment: str = ""
    gmt_close: str = ""
    # present on a refund's notification
    out_biz_no: str = ""
    refund_fee: str = ""
    gmt_refund: str = ""
