"""The mock's ``alipay.trade.close`` and ``alipay.trade.fastpay.refund.query``.

* ``alipay.trade.close`` closes a trade the buyer has not paid (waiting for the
  password): it can never be paid afterwards. Closing it again answers the same.
  A paid trade is not closed (``ACQ.TRADE_STATUS_ERROR``: refund or cancel it).
  Unlike ``alipay.trade.cancel``, an unknown trade is only reported
  (``ACQ.TRADE_NOT_EXIST``): nothing is remembered.
* ``alipay.trade.fastpay.refund.query`` answers one refund by ``out_request_no``
  (for a whole refund made without one, the ``out_trade_no``). As Alipay does, a
  refund that does not exist is a success carrying no ``refund_amount``: the
  merchant reads "not refunded".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from gongji.money import Fen
from gongji_mock import alipay_wire as wire


class Refused(Exception):
    """A business refusal (40004): ``sub_code``, and what to do next in English."""

    def __init__(self, sub_code: str, zh: str, en: str) -> None:
        super().__init__(en)
        self.sub_code, self.zh, self.en = sub_code, zh, en


class RefundQuery(wire.TradeRef, frozen=True, kw_only=True):
    """``alipay.trade.fastpay.refund.query``: the refund's ``out_request_no`` and its trade."""

    out_request_no: str = ""


class _Trade(Protocol):
    status: str
    gmt_close: str | None

    @property
    def trade_no(self) -> str: ...

    @property
    def out_trade_no(self) -> str: ...

    @property
    def total(self) -> Fen: ...

    @property
    def paid(self) -> bool: ...

    @property
    def refunds(self) -> Mapping[str, tuple[Fen, str]]: ...


def close(trade: _Trade, *, now: str) -> tuple[dict[str, Any], bool]:
    """Close an unpaid ``trade``; the answer's content, and whether it changed (to notify)."""
    if trade.paid:
        raise Refused(
            "ACQ.TRADE_STATUS_ERROR",
            "交易状态不合法",
            f"Trade {trade.out_trade_no} is paid ({trade.status}); it cannot be closed. "
            "Refund it (alipay.trade.refund) or cancel it (alipay.trade.cancel).",
        )
    changed = trade.status != "TRADE_CLOSED"
    if changed:
        trade.status, trade.gmt_close = "TRADE_CLOSED", now
    return {"trade_no": trade.trade_no, "out_trade_no": trade.out_trade_no}, changed


def refund_query(trade: _Trade, query: RefundQuery) -> dict[str, Any]:
    """The refund ``query.out_request_no`` of ``trade``: its amount when it was made."""
    request_no = query.out_request_no or trade.out_trade_no
    content: dict[str, Any] = {
        "trade_no": trade.trade_no,
        "out_trade_no": trade.out_trade_no,
        "out_request_no": request_no,
    }
    found = trade.refunds.get(request_no)
    if found is not None:
        amount, when = found
        content |= {
            "total_amount": trade.total.to_yuan(),
            "refund_amount": amount.to_yuan(),
            "refund_status": "REFUND_SUCCESS",
            "gmt_refund_pay": when,
        }
    return content
