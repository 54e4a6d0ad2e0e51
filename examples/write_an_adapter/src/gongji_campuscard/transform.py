"""gongji's objects to the office's wire and back: amounts stay integer fen, states map
onto ``PaymentState``. Pure functions; the requests themselves are ``gateway.py``'s."""

from __future__ import annotations

from gongji.gateways import (
    CashOrder,
    ChannelNotification,
    ChannelPayment,
    ChannelRefund,
    PaymentState,
)
from gongji.money import Fen

from gongji_campuscard import wire

#: The office's trade states, as the flows read them: a payer-side refusal is FAILED.
STATES = {
    "PAID": PaymentState.PAID,
    "DECLINED": PaymentState.FAILED,
    "CLOSED": PaymentState.CLOSED,
    "REFUNDED": PaymentState.REFUNDED,
}


def payment_in(order: CashOrder) -> wire.PaymentIn:
    return wire.PaymentIn(
        out_trade_no=order.out_trade_no,
        amount_fen=int(order.amount),
        card_code=order.auth_code,
        description=order.description,
        notify_url=order.notify_url,
    )


def payment(trade: wire.Payment) -> ChannelPayment:
    return ChannelPayment(
        out_trade_no=trade.out_trade_no,
        state=STATES[trade.state],
        amount=Fen(trade.amount_fen),
        transaction_id=trade.transaction_id,
        reason=trade.reason,
    )


def refund_in(out_trade_no: str, out_refund_no: str, amount: Fen) -> wire.RefundIn:
    return wire.RefundIn(
        out_trade_no=out_trade_no, out_refund_no=out_refund_no, amount_fen=int(amount)
    )


def refund(answer: wire.Refund) -> ChannelRefund:
    return ChannelRefund(
        out_trade_no=answer.out_trade_no,
        out_refund_no=answer.out_refund_no,
        amount=Fen(answer.amount_fen),
        state="success" if answer.state == "SUCCESS" else "failed",
        refund_id=answer.refund_id,
        reason=answer.reason,
    )


def notification(trade: wire.Payment) -> ChannelNotification:
    return ChannelNotification(
        out_trade_no=trade.out_trade_no,
        state=STATES[trade.state],
        amount=Fen(trade.amount_fen),
        transaction_id=trade.transaction_id,
    )
