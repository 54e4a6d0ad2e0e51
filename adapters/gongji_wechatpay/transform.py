"""Domain <-> wire for WeChat Pay APIv3: integer fen on both sides, states mapped, numbers checked.

Nothing here does I/O or knows about HTTP: ``gateway.py`` builds the requests and
decodes the (verified) responses, and calls these to move between the SDK's
objects (``CashOrder``, ``ChannelPayment``, ``ChannelRefund``,
``ChannelNotification``, ``MedInsOrder``) and WeChat Pay's structs.
"""

from __future__ import annotations

import re
import zoneinfo
from typing import Literal

from gongji.errors import GatewayError, InvalidInput
from gongji.gateways import (
    CashOrder,
    ChannelNotification,
    ChannelPayment,
    ChannelRefund,
    PaymentState,
)
from gongji.money import Fen
from gongji.signing.wechatpay_medins import SensitiveFields
from gongji_wechatpay import wire
from gongji_wechatpay.medins import MedInsOrder, MedInsOrderResult

CURRENCY = "CNY"
#: WeChat Pay's times are Beijing time (RFC 3339, +08:00).
BEIJING = zoneinfo.ZoneInfo("Asia/Shanghai")

# WeChat Pay's rules: out_trade_no 1-32 of digits, letters and _-*| (codepay documents _-*);
# out_refund_no 1-64 of digits, letters and _-|*@; a payment code is 18 digits starting 10-15.
_OUT_TRADE_NO = re.compile(r"[0-9A-Za-z_\-*|]{1,32}")
_OUT_REFUND_NO = re.compile(r"[0-9A-Za-z_\-*|@]{1,64}")
_AUTH_CODE = re.compile(r"1[0-5][0-9]{16}")

#: The query's ``trade_state`` -> the SDK's payment state.
TRADE_STATES: dict[str, PaymentState] = {
    "SUCCESS": PaymentState.PAID,
    "REFUND": PaymentState.REFUNDED,  # paid, then (partly or wholly) refunded
    "USERPAYING": PaymentState.PENDING,  # waiting for the payer's password
    "NOTPAY": PaymentState.PENDING,  # not paid (yet): not a definitive refusal
    "CLOSED": PaymentState.CLOSED,
    "REVOKED": PaymentState.CLOSED,  # reversed (撤销)
    "PAYERROR": PaymentState.FAILED,  # definitively not charged (insufficient funds, say)
}

RefundState = Literal["success", "processing", "failed"]

#: A refund's ``status`` / ``refund_status`` -> ``ChannelRefund.state``.
REFUND_STATES: dict[str, RefundState] = {
    "SUCCESS": "success",
    "PROCESSING": "processing",
    "CLOSED": "failed",
    "ABNORMAL": "failed",
}

_REFUND_REASONS = {
    "CLOSED": "CLOSED: the refund was closed; nothing was given back",
    "ABNORMAL": (
        "ABNORMAL: the money could not be returned to the payer's account (a closed bank "
        "card, say); resolve it on the merchant platform (退款异常)"
    ),
}

#: A med-ins order's ``mix_pay_status`` -> the SDK's payment state.
MIX_PAY_STATES: dict[str, PaymentState] = {
    "MIX_PAY_CREATED": PaymentState.PENDING,
    "MIX_PAY_SUCCESS": PaymentState.PAID,
    "MIX_PAY_REFUND": PaymentState.REFUNDED,
    "MIX_PAY_FAIL": PaymentState.FAILED,
}


def unexpected(message: str) -> GatewayError:
    """A verified answer the adapter cannot read: refused, never guessed at."""
    return GatewayError(
        message,
        code="unexpected_response",
        gateway="wechatpay",
        next_step=(
            "Query the order by its out_trade_no (or the refund by its out_refund_no) before "
            "doing anything else with it; the answer was not trusted."
        ),
    )


# ------------------------------------------------------------------ identifiers and money


def check_out_trade_no(value: str) -> str:
    if not isinstance(value, str) or not _OUT_TRADE_NO.fullmatch(value):
        raise InvalidInput(
            f"out_trade_no {str(value)[:40]!r} is not 1-32 digits, letters or _-*|.",
            next_step="Use the settlement's own order number in that form; nothing was sent.",
        )
    return value


def check_out_refund_no(value: str) -> str:
    if not isinstance(value, str) or not _OUT_REFUND_NO.fullmatch(value):
        raise InvalidInput(
            f"out_refund_no {str(value)[:70]!r} is not 1-64 digits, letters or _-*|@.",
            next_step="Use a refund number in that form; nothing was sent.",
        )
    return value


def check_auth_code(value: str) -> str:
    """A WeChat payment code (18 digits, 10-15 first). The code itself is never echoed."""
    if not isinstance(value, str) or not _AUTH_CODE.fullmatch(value):
        raise InvalidInput(
            "The scanned code is not a WeChat Pay payment code (18 digits starting 10 to 15).",
            next_step=(
                "Scan the code in the payer's WeChat Pay (付款码) again, or collect with the "
                "channel the code belongs to; nothing was sent or charged."
            ),
        )
    return value


def fen_to_wire(amount: Fen, what: str) -> int:
    """An amount for the WeChat wire: integer fen. Anything but ``Fen`` is refused."""
    if not isinstance(amount, Fen):
        raise InvalidInput(
            f"{what} must be gongji.Fen (integer fen), got {type(amount).__name__}.",
            next_step="Pass Fen(1250) for 12.50 yuan; nothing was sent.",
        )
    return int(amount)


def fen_from_wire(value: int) -> Fen:
    return Fen(value)


# ------------------------------------------------------------------ requests


def code_pay_request(
    order: CashOrder,
    *,
    appid: str,
    mchid: str,
    store_id: str | None = None,
    device_ip: str | None = None,
) -> wire.CodePayRequest:
    total = fen_to_wire(order.amount, "The cash order's amount")
    if total <= 0:
        raise InvalidInput(
            f"The cash order {order.out_trade_no} is for {order.amount}; a payment must be above zero.",
            next_step="Collect nothing when the cash share is zero; nothing was sent.",
        )
    scene = None
    if store_id is not None or device_ip is not None:
        scene = wire.SceneInfo(
            store_info=wire.StoreInfo(out_id=store_id) if store_id is not None else None,
            device_ip=device_ip,
        )
    return wire.CodePayRequest(
        appid=appid,
        mchid=mchid,
        description=order.description,
        out_trade_no=check_out_trade_no(order.out_trade_no),
        payer=wire.CodePayPayer(auth_code=check_auth_code(order.auth_code)),
        amount=wire.Amount(total=total, currency=CURRENCY),
        scene_info=scene,
    )


def refund_request(
    out_trade_no: str,
    out_refund_no: str,
    amount: Fen,
    total: Fen,
    *,
    reason: str | None = None,
    notify_url: str | None = None,
) -> wire.RefundRequest:
    refund = fen_to_wire(amount, "The refund amount")
    whole = fen_to_wire(total, "The order total")
    if refund <= 0 or refund > whole:
        raise InvalidInput(
            f"A refund of {amount} on an order of {total} is not possible; it must be above "
            "zero and at most the order's total.",
            next_step="Refund at most what was paid; nothing was sent.",
        )
    return wire.RefundRequest(
        out_trade_no=check_out_trade_no(out_trade_no),
        out_refund_no=check_out_refund_no(out_refund_no),
        amount=wire.RefundAmountIn(refund=refund, total=whole, currency=CURRENCY),
        reason=reason,
        notify_url=notify_url,
    )


def med_ins_request(
    order: MedInsOrder, *, appid: str, sensitive: SensitiveFields
) -> wire.MedInsOrderRequest:
    """The order body; ``sensitive`` holds the payer's (and relative's) encrypted fields."""
    relative = None
    if sensitive.relative is not None:
        relative = wire.MedInsPerson(
            name=sensitive.relative.name,
            id_digest=sensitive.relative.id_digest,
            card_type="ID_CARD",
        )
    # Beijing time on the wire, as the centre writes its times, whatever zone the caller used.
    created = (
        order.created_at.astimezone(BEIJING).isoformat(timespec="seconds")
        if order.created_at
        else None
    )
    return wire.MedInsOrderRequest(
        mix_pay_type=order.mix_pay_type.value,
        order_type=order.order_type,
        appid=appid,
        openid=order.openid,
        payer=wire.MedInsPerson(
            name=sensitive.payer.name, id_digest=sensitive.payer.id_digest, card_type="ID_CARD"
        ),
        pay_for_relatives=order.pay_for_relatives,
        relative=relative,
        out_trade_no=check_out_trade_no(order.out_trade_no),
        serial_no=order.serial_no,
        pay_order_id=order.pay_order_id,
        pay_auth_no=order.pay_auth_no,
        geo_location=order.geo_location,
        city_id=order.city_id,
        med_inst_name=order.med_inst_name,
        med_inst_no=order.med_inst_no,
        med_ins_order_create_time=created,
        total_fee=fen_to_wire(order.total, "total"),
        med_ins_gov_fee=fen_to_wire(order.fund, "fund"),
        med_ins_self_fee=fen_to_wire(order.personal_account, "personal_account"),
        med_ins_other_fee=fen_to_wire(order.other_fund, "other_fund"),
        med_ins_cash_fee=fen_to_wire(order.cash, "cash"),
        wechat_pay_cash_fee=fen_to_wire(order.wechat_cash, "wechat_cash"),
        cash_add_detail=tuple(
            wire.CashAdd(cash_add_fee=int(entry.amount), cash_add_type=entry.kind.value)
            for entry in order.cash_add
        )
        or None,
        cash_reduce_detail=tuple(
            wire.CashReduce(cash_reduce_fee=int(entry.amount), cash_reduce_type=entry.kind.value)
            for entry in order.cash_reduce
        )
        or None,
        callback_url=order.callback_url,
        prepay_id=order.prepay_id,
        passthrough_request_content=order.passthrough_request_content,
        extends=order.extends,
        attach=order.attach,
        channel_no=order.channel_no,
        med_ins_test_env=order.test_env,
    )


# ------------------------------------------------------------------ responses


def payment_state(trade_state: str, out_trade_no: str) -> PaymentState:
    state = TRADE_STATES.get(trade_state)
    if state is None:
        raise unexpected(
            f"WeChat Pay answered trade_state {trade_state[:40]!r} for {out_trade_no}, "
            "which the adapter does not know."
        )
    return state


def payment_from_transaction(transaction: wire.Transaction) -> ChannelPayment:
    state = payment_state(transaction.trade_state, transaction.out_trade_no)
    total = transaction.amount.total if transaction.amount is not None else 0
    return ChannelPayment(
        out_trade_no=transaction.out_trade_no,
        state=state,
        amount=fen_from_wire(total),
        transaction_id=transaction.transaction_id or "",
        reason=transaction.trade_state_desc if state is PaymentState.FAILED else "",
    )


def refund_state(status: str, out_refund_no: str) -> RefundState:
    state = REFUND_STATES.get(status)
    if state is None:
        raise unexpected(
            f"WeChat Pay answered refund status {status[:40]!r} for {out_refund_no}, "
            "which the adapter does not know."
        )
    return state


def refund_from_wire(refund: wire.Refund) -> ChannelRefund:
    return ChannelRefund(
        out_trade_no=refund.out_trade_no,
        out_refund_no=refund.out_refund_no,
        amount=fen_from_wire(refund.amount.refund),
        state=refund_state(refund.status, refund.out_refund_no),
        refund_id=refund.refund_id,
        reason=_REFUND_REASONS.get(refund.status, ""),
    )


def med_ins_result(entity: wire.MedInsOrderEntity) -> MedInsOrderResult:
    state = MIX_PAY_STATES.get(entity.mix_pay_status)
    if state is None:
        raise unexpected(
            f"WeChat Pay answered mix_pay_status {entity.mix_pay_status[:40]!r} for the "
            f"med-ins order {entity.out_trade_no}, which the adapter does not know."
        )
    return MedInsOrderResult(
        out_trade_no=entity.out_trade_no,
        mix_trade_no=entity.mix_trade_no,
        state=state,
        mix_pay_status=entity.mix_pay_status,
        self_pay_status=entity.self_pay_status,
        med_ins_pay_status=entity.med_ins_pay_status,
        total=fen_from_wire(entity.total_fee),
        wechat_cash=fen_from_wire(entity.wechat_pay_cash_fee),
        reason=entity.med_ins_fail_reason,
    )


# ------------------------------------------------------------------ callbacks


def transaction_notification(transaction: wire.Transaction, event_id: str) -> ChannelNotification:
    payment = payment_from_transaction(transaction)
    return ChannelNotification(
        out_trade_no=payment.out_trade_no,
        state=payment.state,
        amount=payment.amount,
        transaction_id=payment.transaction_id,
        event_id=event_id,
    )


def refund_notification(notice: wire.RefundNotice, event_id: str) -> ChannelNotification:
    """A refund's result. ``amount`` is the refund's; a refund that did not go through leaves
    the trade ``PAID`` (the money stayed with the merchant)."""
    done = refund_state(notice.refund_status, notice.out_refund_no) == "success"
    return ChannelNotification(
        out_trade_no=notice.out_trade_no,
        state=PaymentState.REFUNDED if done else PaymentState.PAID,
        amount=fen_from_wire(notice.amount.refund),
        transaction_id=notice.transaction_id,
        event_id=event_id,
    )


def med_ins_notification(entity: wire.MedInsOrderEntity, event_id: str) -> ChannelNotification:
    """A med-ins result. ``amount`` is the cash WeChat Pay collected; ``transaction_id`` the
    ``mix_trade_no``."""
    result = med_ins_result(entity)
    return ChannelNotification(
        out_trade_no=result.out_trade_no,
        state=result.state,
        amount=result.wechat_cash,
        transaction_id=result.mix_trade_no,
        event_id=event_id,
    )
