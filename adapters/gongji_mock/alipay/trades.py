"""The mock Alipay's trades: ``alipay.trade.pay`` (bar code), ``.query``, ``.cancel``, ``.refund``.

Idempotent by ``out_trade_no`` for payments and ``out_request_no`` for refunds: the
same key with the same content answers the same trade, charged once; other content is
refused (``ACQ.CONTEXT_INCONSISTENT``). The payment code decides the outcome
(``outcome_of``): docs/reference/mock-channels.md. Methods run under the endpoint's lock.
"""

from __future__ import annotations

import datetime
import decimal
import hashlib
import re
from collections.abc import Callable
from typing import Any, TypeVar

import attrs
import msgspec

from gongji import jsonwire
from gongji.money import ZERO, Fen
from gongji_mock.alipay import wire
from gongji_mock.alipay.amounts import AmountRefused, fen_of
from gongji_mock.codes import Outcome, outcome_by_pattern
from gongji_mock.records import Serial, Table

_AUTH_CODE = re.compile(r"(2[5-9]|30)[0-9]{14,22}")
_BEIJING = datetime.timezone(datetime.timedelta(hours=8))
_B = TypeVar("_B", bound=msgspec.Struct)

Clock = Callable[[], float]


def outcome_of(auth_code: str) -> Outcome | None:
    """The outcome of an Alipay payment code; None unless 16-24 digits starting 25-30."""
    return outcome_by_pattern(auth_code, _AUTH_CODE)


class Answer(Exception):
    """A business answer other than success: ``code`` (40002/40004), ``sub_code`` and messages."""

    def __init__(
        self, code: str, sub_code: str, zh: str, en: str, *, status: int = 200, **extra: str
    ) -> None:
        super().__init__(en)
        self.status = status
        #: Refusals before the method is trusted (app, signature) go under error_response.
        self.under_error_response = False
        self.content: dict[str, str] = {
            "code": code,
            "msg": "Business Failed" if code == "40004" else "Invalid Arguments",
            "sub_code": sub_code,
            "sub_msg": f"{zh} / {en}",
            **extra,
        }


@attrs.frozen
class Trade:
    app_id: str
    out_trade_no: str
    trade_no: str
    fingerprint: str
    total: Fen
    status: str  # WAIT_BUYER_PAY, TRADE_SUCCESS, TRADE_CLOSED
    outcome: Outcome | None  # None: a number closed by cancel before any payment was seen
    notify_url: str = ""
    gmt_create: str = ""
    gmt_payment: str | None = None
    gmt_close: str | None = None
    cancel_action: str | None = None
    refunded: Fen = ZERO
    refunds: dict[str, tuple[Fen, str]] = attrs.field(
        factory=dict
    )  # out_request_no -> (amount, time)

    @property
    def paid(self) -> bool:
        return self.gmt_payment is not None


#: Sends a trade's notification: the trade, and ``(out_request_no, amount)`` for a refund.
Notify = Callable[[Trade, "tuple[str, Fen] | None"], None]


class Trades:
    """Trades by ``(app_id, out_trade_no)``; ``serial`` numbers trade numbers."""

    def __init__(self, *, clock: Clock, serial: Serial, notify: Notify) -> None:
        self._clock = clock
        self._serial = serial
        self._notify = notify
        self.table: Table[tuple[str, str], Trade] = Table("alipay.trades", tuple[str, str], Trade)

    def collected(self) -> Fen:
        return sum((t.total - t.refunded for t in self.table.values() if t.paid), ZERO)

    def _put(self, trade: Trade) -> Trade:
        return self.table.put((trade.app_id, trade.out_trade_no), trade)

    # ------------------------------------------------------------------ alipay.trade.pay

    def pay(self, app_id: str, params: dict[str, str], biz: bytes) -> dict[str, Any]:
        order = _decode(biz, wire.TradePay)
        if order.scene != "bar_code":
            raise _invalid("scene must be bar_code (the cashier scans the buyer's code).")
        total = _yuan(order.total_amount, "total_amount")
        if not order.out_trade_no or len(order.out_trade_no) > 64:
            raise _invalid("out_trade_no must be 1 to 64 characters.")
        outcome = outcome_of(order.auth_code)
        if outcome is None:
            raise _auth_code_invalid(order.out_trade_no)
        fingerprint = _digest(order.auth_code, str(int(total)), order.subject)
        trade = self.table.get((app_id, order.out_trade_no))
        if trade is not None:
            if trade.outcome is None:
                raise Answer(
                    "40004",
                    "ACQ.TRADE_HAS_CLOSE",
                    "交易已经关闭",
                    f"out_trade_no {order.out_trade_no} was cancelled; nothing was charged. "
                    "Use a new out_trade_no.",
                )
            if trade.fingerprint != fingerprint:
                raise Answer(
                    "40004",
                    "ACQ.CONTEXT_INCONSISTENT",
                    "交易信息被篡改",
                    f"out_trade_no {order.out_trade_no} was already used for another payment; "
                    "nothing was charged. Give every new payment its own out_trade_no.",
                )
            return self._pay_answer(trade)
        if outcome is Outcome.CODE_EXPIRED:
            raise _auth_code_invalid(order.out_trade_no, expired=True)
        trade = self._put(
            Trade(
                app_id=app_id,
                out_trade_no=order.out_trade_no,
                trade_no=self._trade_no(),
                fingerprint=fingerprint,
                total=total,
                status="WAIT_BUYER_PAY",
                outcome=outcome,
                notify_url=params.get("notify_url", ""),
                gmt_create=self.now_text(),
            )
        )
        if outcome is Outcome.PAID:
            trade = self._settle(trade)
        elif outcome is Outcome.INSUFFICIENT_FUNDS:
            trade = self._put(attrs.evolve(trade, status="TRADE_CLOSED", gmt_close=self.now_text()))
        return self._pay_answer(trade)

    def _pay_answer(self, trade: Trade) -> dict[str, Any]:
        if trade.outcome is Outcome.INSUFFICIENT_FUNDS:
            raise Answer(
                "40004",
                "ACQ.BUYER_BALANCE_NOT_ENOUGH",
                "买家余额不足",
                "The buyer's balance is insufficient; nothing was charged. "
                "Ask for another payment method and a new out_trade_no.",
                out_trade_no=trade.out_trade_no,
            )
        content = _trade_amounts(trade)
        if trade.status == "WAIT_BUYER_PAY":
            return {"code": "10003", "msg": "order success pay inprocess", **content}
        return content

    def _settle(self, trade: Trade) -> Trade:
        trade = self._put(attrs.evolve(trade, status="TRADE_SUCCESS", gmt_payment=self.now_text()))
        self._notify(trade, None)
        return trade

    # ------------------------------------------------------------------ query, cancel

    def _find(self, app_id: str, ref: wire.TradeRef | wire.TradeRefund) -> Trade:
        trade = None
        if ref.out_trade_no:
            trade = self.table.get((app_id, ref.out_trade_no))
        elif ref.trade_no:
            trade = next(
                (
                    t
                    for t in self.table.values()
                    if t.app_id == app_id and t.trade_no == ref.trade_no
                ),
                None,
            )
        else:
            raise _invalid("Name the trade with out_trade_no or trade_no.")
        if trade is None or trade.outcome is None:
            raise Answer(
                "40004",
                "ACQ.TRADE_NOT_EXIST",
                "交易不存在",
                "No such trade for this app; check out_trade_no or trade_no.",
            )
        return trade

    def query(self, app_id: str, params: dict[str, str], biz: bytes) -> dict[str, Any]:
        trade = self._find(app_id, _decode(biz, wire.TradeRef))
        if trade.status == "WAIT_BUYER_PAY" and trade.outcome is Outcome.USERPAYING_THEN_PAID:
            trade = self._settle(trade)  # the buyer entered the password while the POS waited
        content = {**_trade_amounts(trade), "trade_status": trade.status}
        if trade.gmt_payment:
            content["send_pay_date"] = trade.gmt_payment
        return content

    def cancel(self, app_id: str, params: dict[str, str], biz: bytes) -> dict[str, Any]:
        ref = _decode(biz, wire.TradeRef)
        if ref.out_trade_no and (app_id, ref.out_trade_no) not in self.table:
            # Remember the number, so that a payment arriving late can never be charged.
            self._put(
                Trade(
                    app_id=app_id,
                    out_trade_no=ref.out_trade_no,
                    trade_no="",
                    fingerprint="",
                    total=ZERO,
                    status="TRADE_CLOSED",
                    outcome=None,
                )
            )
        trade = self._find(app_id, ref)
        if trade.cancel_action is None:
            changes: dict[str, Any] = {"cancel_action": "refund" if trade.paid else "close"}
            if trade.paid:
                changes["refunded"] = trade.total  # the buyer gets back what is left
            closing = trade.status != "TRADE_CLOSED"
            if closing:
                changes.update(status="TRADE_CLOSED", gmt_close=self.now_text())
            trade = self._put(attrs.evolve(trade, **changes))
            if closing:
                self._notify(trade, None)
        return {
            "trade_no": trade.trade_no,
            "out_trade_no": trade.out_trade_no,
            "retry_flag": "N",
            "action": trade.cancel_action,
        }

    # ------------------------------------------------------------------ alipay.trade.refund

    def refund(self, app_id: str, params: dict[str, str], biz: bytes) -> dict[str, Any]:
        order = _decode(biz, wire.TradeRefund)
        amount = _yuan(order.refund_amount, "refund_amount")
        trade = self._find(app_id, order)
        request_no = order.out_request_no or trade.out_trade_no
        known = trade.refunds.get(request_no)
        if known is not None:
            if known[0] != amount:
                raise Answer(
                    "40004",
                    "ACQ.CONTEXT_INCONSISTENT",
                    "交易信息被篡改",
                    f"out_request_no {request_no} was already used for a refund of "
                    f"{known[0].to_yuan()} yuan; nothing more was refunded. "
                    "Use a new out_request_no for a new partial refund.",
                )
            return _refund_answer(trade, fund_change="N")
        if not trade.paid or trade.cancel_action is not None:
            raise Answer(
                "40004",
                "ACQ.TRADE_STATUS_ERROR",
                "交易状态不合法",
                f"Trade {trade.out_trade_no} is {trade.status} and holds no payment to refund; "
                "nothing was refunded.",
            )
        remaining = trade.total - trade.refunded
        if amount > remaining:
            raise Answer(
                "40004",
                "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL",
                "退款金额超限",
                f"{amount.to_yuan()} yuan is more than the {remaining.to_yuan()} yuan still "
                "refundable on this trade; nothing was refunded.",
            )
        refunded = trade.refunded + amount
        changes: dict[str, Any] = {
            "refunded": refunded,
            "refunds": {**trade.refunds, request_no: (amount, self.now_text())},
        }
        if refunded == trade.total:
            changes.update(status="TRADE_CLOSED", gmt_close=self.now_text())
        trade = self._put(attrs.evolve(trade, **changes))
        self._notify(trade, (request_no, amount))
        return _refund_answer(trade, fund_change="Y")

    # ------------------------------------------------------------------ time and numbers

    # ------------------------------------------------------------------ close, refund query

    def close(self, app_id: str, params: dict[str, str], biz: bytes) -> dict[str, Any]:
        """``alipay.trade.close``: a trade the buyer has not paid (waiting for the password)
        is closed and can never be paid afterwards; closing it again answers the same. A
        paid trade is not closed. Unlike cancel, an unknown trade is only reported."""
        trade = self._find(app_id, _decode(biz, wire.TradeRef))
        if trade.paid:
            raise Answer(
                "40004",
                "ACQ.TRADE_STATUS_ERROR",
                "交易状态不合法",
                f"Trade {trade.out_trade_no} is paid ({trade.status}); it cannot be closed. "
                "Refund it (alipay.trade.refund) or cancel it (alipay.trade.cancel).",
            )
        if trade.status != "TRADE_CLOSED":
            trade = self._put(attrs.evolve(trade, status="TRADE_CLOSED", gmt_close=self.now_text()))
            self._notify(trade, None)
        return {"trade_no": trade.trade_no, "out_trade_no": trade.out_trade_no}

    def refund_query(self, app_id: str, params: dict[str, str], biz: bytes) -> dict[str, Any]:
        """``alipay.trade.fastpay.refund.query``: one refund by ``out_request_no`` (for a
        whole refund made without one, the ``out_trade_no``). As Alipay does, a refund that
        does not exist is a success carrying no ``refund_amount``."""
        query = _decode(biz, wire.RefundQuery)
        trade = self._find(app_id, query)
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

    def now_text(self) -> str:
        return datetime.datetime.fromtimestamp(int(self._clock()), _BEIJING).strftime(
            "%Y-%m-%d %H:%M:%S"
        )

    def _trade_no(self) -> str:
        moment = datetime.datetime.fromtimestamp(int(self._clock()), _BEIJING)
        return f"{moment:%Y%m%d}22{self._serial.next():018d}"


def _refund_answer(trade: Trade, *, fund_change: str) -> dict[str, Any]:
    return {
        "trade_no": trade.trade_no,
        "out_trade_no": trade.out_trade_no,
        "buyer_logon_id": _buyer_logon_id(trade),
        "fund_change": fund_change,
        "refund_fee": trade.refunded.to_yuan(),
        "gmt_refund_pay": max(when for _, when in trade.refunds.values()),
    }


def _trade_amounts(trade: Trade) -> dict[str, Any]:
    paid = trade.total.to_yuan() if trade.paid else "0.00"
    content: dict[str, Any] = {
        "trade_no": trade.trade_no,
        "out_trade_no": trade.out_trade_no,
        "buyer_logon_id": _buyer_logon_id(trade),
        "total_amount": trade.total.to_yuan(),
        "receipt_amount": paid,
        "buyer_pay_amount": paid,
    }
    if trade.paid:
        content["gmt_payment"] = trade.gmt_payment
        content["fund_bill_list"] = [{"fund_channel": "ALIPAYACCOUNT", "amount": paid}]
    return content


def _decode(biz: bytes, kind: type[_B]) -> _B:
    try:
        return jsonwire.decode(biz, type=kind)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise _invalid(
            f'biz_content cannot be read ({exc}); amounts are yuan such as "12.50" or 12.5.'
        ) from None


def _yuan(yuan: decimal.Decimal, name: str) -> Fen:
    try:
        return fen_of(yuan, name)
    except AmountRefused as exc:
        raise _invalid(str(exc)) from None


def _invalid(en: str) -> Answer:
    return Answer("40004", "ACQ.INVALID_PARAMETER", "参数无效", f"{en} Nothing was processed.")


def _auth_code_invalid(out_trade_no: str, *, expired: bool = False) -> Answer:
    return Answer(
        "40004",
        "ACQ.PAYMENT_AUTH_CODE_INVALID",
        "支付授权码无效",
        (
            "The payment code has expired; ask the buyer to refresh it and scan again."
            if expired
            else "The payment code is not an Alipay one (16-24 digits starting 25-30); scan it again."
        )
        + " Nothing was charged.",
        out_trade_no=out_trade_no,
    )


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def _buyer_logon_id(trade: Trade) -> str:
    return f"mock***{hashlib.sha256(trade.out_trade_no.encode()).hexdigest()[:4]}@example.com"
