"""A WeChat Pay medical-insurance order (医保自费混合收款), on the SDK's side: who pays, and the split.

``POST /v3/med-ins/orders`` tells WeChat Pay how a medical bill was split by the
insurance centre (pooled fund, personal account, other funds, the cash share)
and which cash order (``prepay_id``) collects the rest. The amount rules are
WeChat Pay's and are checked here, before anything is sent:

    total = fund + personal_account + other_fund + cash + Σ cash_add
    wechat_cash = cash + Σ cash_add - Σ cash_reduce            (what WeChat Pay collects)

and ``mix_pay_type`` decides which fields must or must not be given
(docs/reference/adapter-wechatpay.md has the table and the sources).
"""

from __future__ import annotations

import datetime
import enum

from attrs import field, frozen

from gongji.errors import InvalidInput
from gongji.gateways import PaymentState
from gongji.identity import IdNumber
from gongji.money import ZERO, Fen

__all__ = [
    "CashAdd",
    "CashAddType",
    "CashReduce",
    "CashReduceType",
    "MedInsOrder",
    "MedInsOrderResult",
    "MixPayType",
]


class MixPayType(enum.StrEnum):
    CASH_ONLY = "CASH_ONLY"  # self-pay only; the insurance share is settled elsewhere (or is zero)
    INSURANCE_ONLY = "INSURANCE_ONLY"  # the insurance pays everything; no cash to collect
    CASH_AND_INSURANCE = "CASH_AND_INSURANCE"


class CashAddType(enum.StrEnum):
    DEFAULT_ADD_TYPE = "DEFAULT_ADD_TYPE"
    FREIGHT = "FREIGHT"
    OTHER_MEDICAL_EXPENSES = "OTHER_MEDICAL_EXPENSES"


class CashReduceType(enum.StrEnum):
    DEFAULT_REDUCE_TYPE = "DEFAULT_REDUCE_TYPE"
    HOSPITAL_REDUCE = "HOSPITAL_REDUCE"
    PHARMACY_DISCOUNT = "PHARMACY_DISCOUNT"
    DISCOUNT = "DISCOUNT"
    PRE_PAYMENT = "PRE_PAYMENT"
    DEPOSIT_DEDUCTION = "DEPOSIT_DEDUCTION"


def _non_negative(instance: object, attribute: object, value: Fen) -> None:
    if value < 0:
        name = getattr(attribute, "name", "amount")
        raise InvalidInput(
            f"The med-ins order's {name} is {value}; amounts are never negative.",
            next_step="Pass the amounts as the centre's settlement gives them, in fen.",
        )


@frozen
class CashAdd:
    """Cash the institution adds on top of the insurance's self-pay share (freight, say)."""

    amount: Fen = field(converter=Fen, validator=_non_negative)
    kind: CashAddType = CashAddType.DEFAULT_ADD_TYPE


@frozen
class CashReduce:
    """Cash the institution takes off the self-pay share (a discount, a deposit)."""

    amount: Fen = field(converter=Fen, validator=_non_negative)
    kind: CashReduceType = CashReduceType.DEFAULT_REDUCE_TYPE


def _mix_pay_type(value: str) -> MixPayType:
    try:
        return MixPayType(value)
    except ValueError:
        accepted = ", ".join(kind.value for kind in MixPayType)
        raise InvalidInput(
            f"{str(value)[:40]!r} is not a mix_pay_type.", next_step=f"Use one of: {accepted}."
        ) from None


def _optional_id(value: str | IdNumber | None) -> IdNumber | None:
    return None if value is None else IdNumber(value)


@frozen(kw_only=True)
class MedInsOrder:
    """One medical-insurance order. Names and ID numbers never show in its repr.

    ``payer_id`` / ``relative_id`` are resident ID numbers; only their
    ``id_digest`` (MD5) leaves the SDK, encrypted under the platform key.
    """

    out_trade_no: str
    mix_pay_type: MixPayType = field(converter=_mix_pay_type)
    openid: str
    payer_name: str = field(repr=False)
    payer_id: IdNumber = field(converter=IdNumber)
    serial_no: str  # the institution's own order number (医疗机构订单号)
    city_id: str  # WeChat's medical-insurance city ID (not always the division code)
    med_inst_name: str
    med_inst_no: str
    callback_url: str
    total: Fen = field(converter=Fen, validator=_non_negative)
    fund: Fen = field(default=ZERO, converter=Fen, validator=_non_negative)  # med_ins_gov_fee
    personal_account: Fen = field(default=ZERO, converter=Fen, validator=_non_negative)
    other_fund: Fen = field(default=ZERO, converter=Fen, validator=_non_negative)
    cash: Fen = field(default=ZERO, converter=Fen, validator=_non_negative)  # med_ins_cash_fee
    cash_add: tuple[CashAdd, ...] = field(default=(), converter=tuple)
    cash_reduce: tuple[CashReduce, ...] = field(default=(), converter=tuple)
    order_type: str = "PHARMACY_PAY"
    relative_name: str | None = field(default=None, repr=False)
    relative_id: IdNumber | None = field(default=None, converter=_optional_id)
    pay_order_id: str | None = None
    pay_auth_no: str | None = field(default=None, repr=False)
    geo_location: str | None = field(default=None, repr=False)
    created_at: datetime.datetime | None = None  # med_ins_order_create_time
    prepay_id: str | None = None
    attach: str | None = None
    channel_no: str | None = None
    passthrough_request_content: str | None = field(default=None, repr=False)
    extends: str | None = None
    test_env: bool = False

    @property
    def pay_for_relatives(self) -> bool:
        return self.relative_name is not None

    @property
    def wechat_cash(self) -> Fen:
        """What WeChat Pay collects: the self-pay share, plus additions, less reductions."""
        added = sum((entry.amount for entry in self.cash_add), ZERO)
        reduced = sum((entry.amount for entry in self.cash_reduce), ZERO)
        return self.cash + added - reduced

    def __attrs_post_init__(self) -> None:
        problems = list(self._problems())
        if problems:
            raise InvalidInput(
                f"The med-ins order {self.out_trade_no} is inconsistent: {'; '.join(problems)}.",
                next_step=(
                    "Fix the order from the centre's settlement (WeChat Pay refuses it with "
                    "RULE_LIMIT otherwise); nothing was sent."
                ),
            )

    def _problems(self) -> list[str]:
        found: list[str] = []
        added = sum((entry.amount for entry in self.cash_add), ZERO)
        expected = self.fund + self.personal_account + self.other_fund + self.cash + added
        if self.total != expected:
            found.append(
                f"total {self.total} is not fund + personal_account + other_fund + cash + "
                f"cash_add = {expected}"
            )
        if self.wechat_cash < 0:
            found.append(f"the reductions exceed the cash share (wechat_cash {self.wechat_cash})")
        if (self.relative_name is None) != (self.relative_id is None):
            found.append("a relative needs both relative_name and relative_id")
        order_fields = {
            "pay_order_id": self.pay_order_id,
            "pay_auth_no": self.pay_auth_no,
            "geo_location": self.geo_location,
            "created_at": self.created_at,
        }
        if self.created_at is not None and self.created_at.utcoffset() is None:
            found.append("created_at needs a time zone (Beijing time is +08:00)")
        insurance = self.fund + self.personal_account + self.other_fund
        if self.mix_pay_type is MixPayType.CASH_ONLY:
            if insurance:
                found.append(f"CASH_ONLY has an insurance share of {insurance}")
            given = [name for name, value in order_fields.items() if value is not None]
            if given:
                found.append(f"CASH_ONLY must not carry {', '.join(given)}")
        else:
            missing = [name for name, value in order_fields.items() if value is None]
            if missing:
                found.append(f"{self.mix_pay_type.value} needs {', '.join(missing)}")
        if self.mix_pay_type is MixPayType.INSURANCE_ONLY:
            if self.wechat_cash:
                found.append(f"INSURANCE_ONLY leaves {self.wechat_cash} of cash to collect")
            if self.prepay_id is not None:
                found.append("INSURANCE_ONLY must not carry a prepay_id")
        else:
            if not self.wechat_cash:
                found.append(f"{self.mix_pay_type.value} needs a cash share above zero")
            if not self.prepay_id:
                found.append(f"{self.mix_pay_type.value} needs the prepay_id of the cash order")
        return found


@frozen
class MedInsOrderResult:
    """WeChat Pay's answer about one med-ins order."""

    out_trade_no: str
    mix_trade_no: str
    state: PaymentState
    mix_pay_status: str
    self_pay_status: str = ""
    med_ins_pay_status: str = ""
    total: Fen = ZERO
    wechat_cash: Fen = ZERO
    reason: str = ""
