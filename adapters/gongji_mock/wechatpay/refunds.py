"""The mock WeChat Pay's refunds of payment-code trades: create (idempotent by
``out_refund_no``), query, and the REFUND.SUCCESS callback. Methods run under the endpoint's lock."""

from __future__ import annotations

from collections.abc import Callable

import attrs
import msgspec

from gongji.money import Fen
from gongji_mock.records import Serial, Table
from gongji_mock.wechatpay import wire
from gongji_mock.wechatpay.errors import Refusal, param_error
from gongji_mock.wechatpay.trades import Trade, Trades, digest

#: Where a refund goes back to: the customer's WeChat balance (零钱), in this mock always.
RECEIVED_ACCOUNT = "支付用户零钱"

#: ``(url, event_type, summary, original_type, plaintext)``: the endpoint seals and sends it.
Notify = Callable[[str, str, str, str, bytes], None]


@attrs.frozen
class Refund:
    out_trade_no: str
    out_refund_no: str
    refund_id: str
    amount: Fen
    fingerprint: str
    create_time: str


class Refunds:
    """Refunds by ``(mchid, out_refund_no)``, of the trades in ``trades``."""

    def __init__(self, trades: Trades, *, serial: Serial, notify: Notify) -> None:
        self._trades = trades
        self._serial = serial
        self._notify = notify
        self.table: Table[tuple[str, str], Refund] = Table(
            "wechatpay.refunds", tuple[str, str], Refund
        )

    def refund(self, order: wire.RefundRequest, mchid: str) -> tuple[int, msgspec.Struct]:
        if not order.out_refund_no or len(order.out_refund_no) > 64:
            raise param_error("out_refund_no", "out_refund_no must be 1 to 64 characters.")
        trade = self._trade_for_refund(order, mchid)
        fingerprint = digest(trade.out_trade_no, str(order.amount.refund), str(order.amount.total))
        known = self.table.get((mchid, order.out_refund_no))
        if known is not None:
            if known.fingerprint != fingerprint:
                raise Refusal(
                    400,
                    "INVALID_REQUEST",
                    "订单金额或退款金额与之前请求不一致，请核实后再试",
                    f"out_refund_no {order.out_refund_no} was already used for another refund; "
                    "nothing more was refunded. Use a new out_refund_no for a new refund.",
                )
            return 200, self.answer(mchid, known)
        if not trade.paid or trade.state == "REVOKED":
            raise Refusal(
                400,
                "INVALID_REQUEST",
                "订单未支付或已撤销，不能退款",
                f"Order {trade.out_trade_no} is {trade.state}, not paid; nothing was refunded.",
            )
        if order.amount.total != int(trade.total):
            raise param_error(
                "amount.total",
                f"amount.total must be the order's total, {int(trade.total)} fen.",
            )
        remaining = trade.total - trade.refunded
        if order.amount.refund <= 0 or order.amount.refund > int(remaining):
            raise Refusal(
                400,
                "INVALID_REQUEST",
                "申请退款金额超过订单可退金额",
                f"The refund of {order.amount.refund} fen is not within the {int(remaining)} fen "
                "still refundable on this order; nothing was refunded.",
            )
        refund = Refund(
            out_trade_no=trade.out_trade_no,
            out_refund_no=order.out_refund_no,
            refund_id=f"50{self._serial.next():030d}"[-32:],
            amount=Fen(order.amount.refund),
            fingerprint=fingerprint,
            create_time=self._trades.now_text(),
        )
        trade = self._trades.table.put(
            (mchid, trade.out_trade_no),
            attrs.evolve(
                trade,
                refunded=trade.refunded + refund.amount,
                state="REFUND",
                state_desc="转入退款",
            ),
        )
        self.table.put((mchid, order.out_refund_no), refund)
        self._notify_refund(trade, refund, order.notify_url)
        return 200, self._refund_out(trade, refund)

    def query(self, mchid: str, out_refund_no: str) -> wire.Refund:
        found = self.table.get((mchid, out_refund_no))
        if found is None:
            raise Refusal(
                404,
                "RESOURCE_NOT_EXISTS",
                "退款单不存在",
                f"No refund {out_refund_no[:64]!r} for merchant {mchid}; check out_refund_no.",
            )
        return self.answer(mchid, found)

    def answer(self, mchid: str, refund: Refund) -> wire.Refund:
        return self._refund_out(self._trades.table[(mchid, refund.out_trade_no)], refund)

    def _trade_for_refund(self, order: wire.RefundRequest, mchid: str) -> Trade:
        trades = self._trades.table
        if order.out_trade_no:
            trade = trades.get((mchid, order.out_trade_no))
        else:
            trade = next(
                (
                    t
                    for t in trades.values()
                    if t.mchid == mchid
                    and order.transaction_id
                    and t.transaction_id == order.transaction_id
                ),
                None,
            )
        if trade is None or trade.outcome is None:
            raise Refusal(
                404,
                "RESOURCE_NOT_EXISTS",
                "订单不存在",
                "No such order for this merchant; check out_trade_no or transaction_id. Nothing was refunded.",
            )
        return trade

    def _refund_amount(self, trade: Trade, refund: Refund) -> wire.RefundAmountOut:
        return wire.RefundAmountOut(
            total=int(trade.total),
            refund=int(refund.amount),
            payer_total=int(trade.total),
            payer_refund=int(refund.amount),
            settlement_total=int(trade.total),
            settlement_refund=int(refund.amount),
            discount_refund=0,
            currency="CNY",
        )

    def _refund_out(self, trade: Trade, refund: Refund) -> wire.Refund:
        return wire.Refund(
            refund_id=refund.refund_id,
            out_refund_no=refund.out_refund_no,
            transaction_id=trade.transaction_id or "",
            out_trade_no=trade.out_trade_no,
            channel="ORIGINAL",
            user_received_account=RECEIVED_ACCOUNT,
            success_time=refund.create_time,
            create_time=refund.create_time,
            status="SUCCESS",
            funds_account="AVAILABLE",
            amount=self._refund_amount(trade, refund),
        )

    def _notify_refund(self, trade: Trade, refund: Refund, url: str) -> None:
        notice = wire.RefundNotice(
            mchid=trade.mchid,
            out_trade_no=trade.out_trade_no,
            transaction_id=trade.transaction_id or "",
            out_refund_no=refund.out_refund_no,
            refund_id=refund.refund_id,
            refund_status="SUCCESS",
            success_time=refund.create_time,
            user_received_account=RECEIVED_ACCOUNT,
            amount=self._refund_amount(trade, refund),
        )
        self._notify(url, "REFUND.SUCCESS", "退款成功", "refund", msgspec.json.encode(notice))
