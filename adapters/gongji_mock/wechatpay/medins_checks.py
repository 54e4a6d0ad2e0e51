"""What a new med-ins order must carry: the enumerations, the fields each ``mix_pay_type``
must and must not send (400 ``PARAM_ERROR``), and the two documented amount rules
(403 ``RULE_LIMIT``). See ``medins`` for the order of the checks."""

from __future__ import annotations

import datetime
import re
import urllib.parse

from gongji_mock.wechatpay import wire
from gongji_mock.wechatpay.errors import Refusal, param_error

MIX_PAY_TYPES = frozenset({"CASH_ONLY", "INSURANCE_ONLY", "CASH_AND_INSURANCE"})
ORDER_TYPES = frozenset(
    {
        "REG_PAY",
        "DIAG_PAY",
        "COVID_EXAM_PAY",
        "IN_HOSP_PAY",
        "PHARMACY_PAY",
        "INSURANCE_PAY",
        "INT_REG_PAY",
        "INT_RE_DIAG_PAY",
        "INT_RX_PAY",
        "COVID_ANTIGEN_PAY",
        "MED_PAY",
    }
)
CASH_ADD_TYPES = frozenset({"DEFAULT_ADD_TYPE", "FREIGHT", "OTHER_MEDICAL_EXPENSES"})
CASH_REDUCE_TYPES = frozenset(
    {
        "DEFAULT_REDUCE_TYPE",
        "HOSPITAL_REDUCE",
        "PHARMACY_DISCOUNT",
        "DISCOUNT",
        "PRE_PAYMENT",
        "DEPOSIT_DEDUCTION",
    }
)
#: The insurance order's own fields: never with CASH_ONLY, always with the other two types.
INSURANCE_FIELDS = ("pay_order_id", "pay_auth_no", "geo_location", "med_ins_order_create_time")
INSURANCE_FEES = ("med_ins_gov_fee", "med_ins_self_fee", "med_ins_other_fee", "med_ins_cash_fee")

_GEO = re.compile(r"-?[0-9]{1,3}(\.[0-9]{1,10})?,-?[0-9]{1,2}(\.[0-9]{1,10})?")


def check_fields(order: wire.MedInsOrderRequest) -> None:
    """Enumerations, and what each ``mix_pay_type`` must and must not carry (PARAM_ERROR)."""
    if order.mix_pay_type not in MIX_PAY_TYPES:
        raise param_error(
            "mix_pay_type", f"mix_pay_type must be one of {', '.join(sorted(MIX_PAY_TYPES))}."
        )
    if order.order_type not in ORDER_TYPES:
        raise param_error(
            "order_type", "order_type must be a documented type (PHARMACY_PAY at a pharmacy)."
        )
    for index, add in enumerate(order.cash_add_detail):
        if add.cash_add_type not in CASH_ADD_TYPES:
            raise param_error(
                f"cash_add_detail[{index}].cash_add_type",
                f"cash_add_type must be one of {', '.join(sorted(CASH_ADD_TYPES))}.",
            )
    for index, reduce in enumerate(order.cash_reduce_detail):
        if reduce.cash_reduce_type not in CASH_REDUCE_TYPES:
            raise param_error(
                f"cash_reduce_detail[{index}].cash_reduce_type",
                f"cash_reduce_type must be one of {', '.join(sorted(CASH_REDUCE_TYPES))}.",
            )
    if order.pay_for_relatives and order.relative is None:
        raise param_error(
            "relative",
            "pay_for_relatives is true: relative (name, id_digest, card_type) is required.",
        )
    if not order.pay_for_relatives and order.relative is not None:
        raise param_error(
            "relative",
            "relative is sent only with pay_for_relatives true; the payer pays for self.",
        )
    kind = order.mix_pay_type
    sent = {name: getattr(order, name) is not None for name in (*INSURANCE_FIELDS, *INSURANCE_FEES)}
    if kind == "CASH_ONLY":
        for name in INSURANCE_FIELDS:
            if sent[name]:
                raise param_error(name, f"{name} is not sent with CASH_ONLY (no insurance order).")
        if sum(getattr(order, name) or 0 for name in INSURANCE_FEES):
            raise param_error(
                "med_ins_cash_fee",
                "With CASH_ONLY the four med_ins_*_fee must sum to 0; the self-pay amount is "
                "wechat_pay_cash_fee, carried in cash_add_detail.",
            )
    else:
        for name in (*INSURANCE_FIELDS, *INSURANCE_FEES):
            if not sent[name]:
                raise param_error(name, f"{name} is required with {kind}.")
    if kind == "INSURANCE_ONLY":
        if order.wechat_pay_cash_fee:
            raise param_error(
                "wechat_pay_cash_fee", "With INSURANCE_ONLY wechat_pay_cash_fee must be 0."
            )
        if order.prepay_id is not None:
            raise param_error("prepay_id", "prepay_id is not sent with INSURANCE_ONLY.")
    else:
        if not order.wechat_pay_cash_fee:
            raise param_error(
                "wechat_pay_cash_fee", f"With {kind} wechat_pay_cash_fee must be more than 0."
            )
        if not order.prepay_id:
            raise param_error(
                "prepay_id", f"With {kind} the self-pay order's prepay_id is required."
            )
    if kind == "CASH_AND_INSURANCE" and not sum(getattr(order, n) or 0 for n in INSURANCE_FEES):
        raise param_error(
            "med_ins_gov_fee",
            "With CASH_AND_INSURANCE the four med_ins_*_fee cannot all be 0; use CASH_ONLY.",
        )
    if order.total_fee <= 0:
        raise param_error("total_fee", "total_fee must be more than 0 fen.")
    if order.med_ins_order_create_time is not None and not _rfc3339(
        order.med_ins_order_create_time
    ):
        raise param_error(
            "med_ins_order_create_time",
            "med_ins_order_create_time must be RFC 3339 with its offset, e.g. 2026-11-23T09:00:00+08:00.",
        )
    if order.geo_location is not None and not _GEO.fullmatch(order.geo_location):
        raise param_error(
            "geo_location", "geo_location must be 'longitude,latitude', e.g. 121.614682,38.914003."
        )
    url = urllib.parse.urlsplit(order.callback_url)
    if url.scheme not in ("http", "https") or not url.netloc or url.query or url.fragment:
        raise param_error(
            "callback_url",
            "callback_url must be an absolute http(s) URL without query parameters.",
        )


def check_amounts(order: wire.MedInsOrderRequest) -> None:
    """The two documented amount rules, in integer fen (RULE_LIMIT)."""
    added = sum(add.cash_add_fee for add in order.cash_add_detail)
    reduced = sum(reduce.cash_reduce_fee for reduce in order.cash_reduce_detail)
    gov, own, other, cash_share = (getattr(order, name) or 0 for name in INSURANCE_FEES)
    wechat = order.wechat_pay_cash_fee or 0
    parts = gov + own + other + wechat + reduced
    if order.total_fee != parts:
        raise Refusal(
            403,
            "RULE_LIMIT",
            "订单总金额校验不通过",
            f"total_fee is {order.total_fee} fen but med_ins_gov_fee + med_ins_self_fee + "
            f"med_ins_other_fee + wechat_pay_cash_fee + cash_reduce_detail make {parts} fen. "
            "Nothing was processed.",
        )
    if wechat != cash_share + added - reduced:
        raise Refusal(
            403,
            "RULE_LIMIT",
            "自费金额校验不通过",
            f"wechat_pay_cash_fee is {wechat} fen but med_ins_cash_fee + cash_add_detail - "
            f"cash_reduce_detail make {cash_share + added - reduced} fen. Nothing was processed.",
        )


def _rfc3339(text: str) -> bool:
    try:
        moment = datetime.datetime.fromisoformat(text)
    except ValueError:
        return False
    return "T" in text and moment.tzinfo is not None
