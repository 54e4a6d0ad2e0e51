"""Domain <-> Alipay wire: ``Fen`` to yuan strings and back, trade states, answers to domain objects.

Pure functions: no I/O, no signing. Amounts cross the wire as yuan strings with
exactly two decimals, written by ``Fen.to_yuan`` and read by ``Fen.from_yuan``;
a third decimal or a JSON number is refused (``GatewayError``), never rounded,
never a float.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping

from gongji.errors import GatewayError, InvalidInput
from gongji.gateways import CashOrder, ChannelNotification, ChannelPayment, ChannelRefund
from gongji.gateways import PaymentState as State
from gongji.money import ZERO, Fen
from gongji_alipay import wire

__all__ = [
    "BEIJING",
    "GATEWAY",
    "MAX_AMOUNT",
    "TRADE_STATES",
    "fen",
    "notification_from_params",
    "pay_content",
    "payment_from_pay",
    "payment_from_query",
    "reason_of",
    "refund_content",
    "refund_from_reply",
    "trade_state",
]

GATEWAY = "alipay"
#: Alipay reads and writes its times in Beijing time.
BEIJING = datetime.timezone(datetime.timedelta(hours=8), "Asia/Shanghai")
#: The largest ``total_amount`` Alipay accepts: 100,000,000.00 yuan.
MAX_AMOUNT = Fen(100_000_000_00)

#: ``trade_status`` (query, notification) -> the domain's state.
TRADE_STATES: Mapping[str, State] = {
    "WAIT_BUYER_PAY": State.PENDING,
    "TRADE_SUCCESS": State.PAID,
    "TRADE_FINISHED": State.PAID,  # paid, and no longer refundable
    "TRADE_CLOSED": State.CLOSED,  # unpaid and closed, cancelled, or refunded in full
}

_REASON_LIMIT = 300


# ---------------------------------------------------------------- amounts


def fen(text: str, field: str, method: str) -> Fen:
    """A yuan string from a verified answer, as ``Fen``; ``GatewayError`` if it is not whole fen."""
    try:
        amount = Fen.from_yuan(text)
    except InvalidInput as exc:
        raise GatewayError(
            f"Alipay's answer to {method} has {field} {text[:20]!r}: {exc.message}",
            code="alipay_unreadable",
            gateway=GATEWAY,
            next_step=(
                "The answer was signed by Alipay but cannot be read exactly; query the trade "
                "and treat its outcome as unknown until then."
            ),
        ) from None
    if amount < 0:
        raise GatewayError(
            f"Alipay's answer to {method} has a negative {field}.",
            code="alipay_unreadable",
            gateway=GATEWAY,
            next_step="Query the trade; treat its outcome as unknown until then.",
        )
    return amount


def _optional_fen(text: str, field: str, method: str) -> Fen:
    return fen(text, field, method) if text else ZERO


# ---------------------------------------------------------------- requests


def pay_content(order: CashOrder, *, store_id: str = "", terminal_id: str = "") -> wire.PayContent:
    """``alipay.trade.pay``'s ``biz_content`` for a payment code scanned at the till."""
    return wire.PayContent(
        out_trade_no=order.out_trade_no,
        scene="bar_code",
        auth_code=order.auth_code,
        subject=order.description,
        total_amount=order.amount.to_yuan(),
        store_id=store_id,
        terminal_id=terminal_id,
    )


def refund_content(
    out_trade_no: str, out_refund_no: str, amount: Fen, reason: str = ""
) -> wire.RefundContent:
    return wire.RefundContent(
        out_trade_no=out_trade_no,
        refund_amount=amount.to_yuan(),
        out_request_no=out_refund_no,
        refund_reason=reason,
    )


# ---------------------------------------------------------------- answers


def reason_of(reply: wire.Reply) -> str:
    """Alipay's own words for a refusal: ``sub_code: sub_msg`` (bounded)."""
    words = f"{reply.sub_code}: {reply.sub_msg}" if reply.sub_code else f"{reply.code}: {reply.msg}"
    return words[:_REASON_LIMIT]


def trade_state(status: str, method: str) -> State:
    """The domain state of a ``trade_status``; an unknown one is not guessed at."""
    state = TRADE_STATES.get(status)
    if state is None:
        raise GatewayError(
            f"Alipay's answer to {method} has trade_status {status[:40]!r}, which gongji does not know.",
            code="alipay_unreadable",
            gateway=GATEWAY,
            next_step="Query the trade again later; treat its outcome as unknown until then.",
        )
    return state


def payment_from_pay(order: CashOrder, reply: wire.PayReply, state: State) -> ChannelPayment:
    """A ``10000`` (paid) or ``10003`` (waiting for the password) answer to ``alipay.trade.pay``."""
    method = "alipay.trade.pay"
    amount = fen(reply.total_amount, "total_amount", method) if reply.total_amount else order.amount
    return ChannelPayment(
        out_trade_no=order.out_trade_no,
        state=state,
        amount=amount,
        transaction_id=reply.trade_no,
    )


def _held(state: State, total: Fen) -> Fen:
    """What a trade in ``state`` holds or asks for: its total when paid or waiting, else nothing."""
    return total if state in (State.PAID, State.PENDING) else ZERO


def payment_from_query(out_trade_no: str, reply: wire.QueryReply) -> ChannelPayment:
    method = "alipay.trade.query"
    state = trade_state(reply.trade_status, method)
    return ChannelPayment(
        out_trade_no=out_trade_no,
        state=state,
        amount=_held(state, _optional_fen(reply.total_amount, "total_amount", method)),
        transaction_id=reply.trade_no,
    )


def refund_from_reply(
    out_trade_no: str, out_refund_no: str, amount: Fen, reply: wire.RefundReply
) -> ChannelRefund:
    """A ``10000`` answer to ``alipay.trade.refund``.

    Alipay's rule: only ``fund_change`` ``Y`` says this request gave money back.
    ``N`` (a repeat of a refund already made, or one not done) needs the refund
    query to be sure, so it is reported as ``processing``, never as success.
    """
    _optional_fen(reply.refund_fee, "refund_fee", "alipay.trade.refund")  # readable, or refused
    if reply.fund_change == "Y":
        return ChannelRefund(out_trade_no, out_refund_no, amount, "success")
    return ChannelRefund(
        out_trade_no,
        out_refund_no,
        amount,
        "processing",
        reason=(
            f"Alipay moved no money on this request (fund_change {reply.fund_change or 'absent'}): "
            "either this out_refund_no was already refunded, or the refund is not done. "
            "Confirm in the Alipay merchant console (alipay.trade.fastpay.refund.query is not "
            "supported by this adapter yet); repeating the refund with the same out_refund_no "
            "never refunds twice."
        ),
    )


def notification_from_params(params: wire.TradeNotification) -> ChannelNotification:
    """A verified ``trade_status_sync`` notification as the domain sees it.

    A notification about a refund (it carries ``out_biz_no`` / ``refund_fee``) is
    ``REFUNDED`` with ``amount`` the trade's refunds so far; any other is the
    trade's state with ``amount`` its total when paid or waiting (nothing when closed).
    """
    method = "the notification"
    total = fen(params.total_amount, "total_amount", method)
    if params.refund_fee or params.out_biz_no:
        return ChannelNotification(
            out_trade_no=params.out_trade_no,
            state=State.REFUNDED,
            amount=_optional_fen(params.refund_fee, "refund_fee", method),
            transaction_id=params.trade_no,
            event_id=params.notify_id,
        )
    state = trade_state(params.trade_status, method)
    return ChannelNotification(
        out_trade_no=params.out_trade_no,
        state=state,
        amount=_held(state, total),
        transaction_id=params.trade_no,
        event_id=params.notify_id,
    )
