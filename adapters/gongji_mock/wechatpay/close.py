"""The mock's WeChat Pay close (关闭订单) and query by ``transaction_id`` (微信支付订单号查询订单).

* ``POST /v3/pay/transactions/out-trade-no/{out_trade_no}/close`` with ``{"mchid"}``:
  an unpaid order (the payer never entered the password) is closed, HTTP 204 and
  no body, and can never be paid afterwards; closing it again is 204 again. A paid
  order is not closed (refund or reverse it), and an unknown one is not found.
* ``GET /v3/pay/transactions/id/{transaction_id}?mchid=``: the transaction, as the
  query by ``out_trade_no`` answers it. Only a paid order has a ``transaction_id``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import attrs

from gongji_mock.wechatpay import wire
from gongji_mock.wechatpay.errors import Refusal, param_error
from gongji_mock.wechatpay.trades import Trade

CLOSE = re.compile(r"/v3/pay/transactions/out-trade-no/([^/]+)/close")
BY_TRANSACTION_ID = re.compile(r"/v3/pay/transactions/id/([^/]+)")


class CloseRequest(wire._In, frozen=True, kw_only=True):
    """The body of a close."""

    mchid: str


def close(trade: Trade | None, body: CloseRequest, *, mchid: str, out_trade_no: str) -> Trade:
    """``trade`` (the order ``out_trade_no`` of ``mchid``) closed, or WeChat Pay's refusal."""
    if body.mchid != mchid:
        raise param_error("mchid", "mchid differs from the Authorization header's mchid.")
    if trade is None or trade.outcome is None:
        raise Refusal(
            404,
            "ORDER_NOT_EXIST",
            "订单不存在",
            f"No order {out_trade_no[:64]!r} for merchant {mchid}; nothing was closed.",
        )
    if trade.paid:
        raise Refusal(
            400,
            "ORDER_PAID",
            "订单已支付，不能关闭",
            f"Order {out_trade_no} is paid ({trade.state}); it cannot be closed. "
            "Give the money back with a refund (or reverse it the same day).",
        )
    if trade.state in ("USERPAYING", "NOTPAY", "PAYERROR"):
        return attrs.evolve(trade, state="CLOSED", state_desc="已关闭")
    # CLOSED or REVOKED already: closing again changes nothing (204, as WeChat Pay answers).
    return trade


def by_transaction_id(trades: Iterable[Trade], *, mchid: str, transaction_id: str) -> Trade:
    """The order of ``mchid`` paid under ``transaction_id``, or WeChat Pay's 404."""
    found = next(
        (
            trade
            for trade in trades
            if trade.mchid == mchid and transaction_id and trade.transaction_id == transaction_id
        ),
        None,
    )
    if found is None:
        raise Refusal(
            404,
            "ORDER_NOT_EXIST",
            "订单不存在",
            f"No order with transaction_id {transaction_id[:64]!r} for merchant {mchid}; "
            "an unpaid order has none: query it by out_trade_no.",
        )
    return found
