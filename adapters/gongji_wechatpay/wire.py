"""WeChat Pay APIv3 wire formats, as ``msgspec`` structs: what the adapter sends and reads.

Field names are WeChat Pay's own (docs/reference/adapter-wechatpay.md cites the
pages). Amounts are integer fen: every amount field is ``int`` (non-negative),
so msgspec refuses ``12.5``, ``1250.0`` or ``"1250"`` on a response outright and
no float ever reaches the SDK. Responses tolerate unknown fields, because WeChat
Pay adds fields over time; requests leave out optional fields that are not set.

Structs that carry a payment code or an encrypted identity hide it in their repr.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

#: An amount on the wire: integer fen, never negative.
FenInt = Annotated[int, msgspec.Meta(ge=0)]


class _Request(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """What we send: optional fields (default ``None``) are left out of the JSON.

    A field that must always be sent therefore has no default.
    """


class _Response(msgspec.Struct, frozen=True, kw_only=True):
    """What we read: unknown fields ignored, missing required ones refused."""


# ------------------------------------------------------------------ payment code (付款码)


class CodePayPayer(_Request, frozen=True, kw_only=True):
    auth_code: str

    def __repr__(self) -> str:
        return "CodePayPayer(auth_code=<hidden>)"


class Amount(_Request, frozen=True, kw_only=True):
    total: int
    currency: str


class StoreInfo(_Request, frozen=True, kw_only=True):
    out_id: str


class SceneInfo(_Request, frozen=True, kw_only=True):
    store_info: StoreInfo | None = None
    device_id: str | None = None
    device_ip: str | None = None


class CodePayRequest(_Request, frozen=True, kw_only=True):
    """``POST /v3/pay/transactions/codepay``."""

    appid: str
    mchid: str
    description: str
    out_trade_no: str
    payer: CodePayPayer
    amount: Amount
    scene_info: SceneInfo | None = None
    attach: str | None = None


class ReverseRequest(_Request, frozen=True, kw_only=True):
    """``POST /v3/pay/transactions/out-trade-no/{out_trade_no}/reverse``."""

    appid: str
    mchid: str


class TransactionAmount(_Response, frozen=True, kw_only=True):
    total: FenInt
    payer_total: FenInt | None = None
    currency: str = "CNY"


class Transaction(_Response, frozen=True, kw_only=True):
    """A transaction, as codepay answers it, the query returns it and TRANSACTION.* carries it."""

    out_trade_no: str
    trade_state: str
    trade_state_desc: str = ""
    transaction_id: str | None = None
    trade_type: str = ""
    appid: str = ""
    mchid: str = ""
    success_time: str | None = None
    amount: TransactionAmount | None = None


# ------------------------------------------------------------------ refunds


class RefundAmountIn(_Request, frozen=True, kw_only=True):
    refund: int
    total: int
    currency: str


class RefundRequest(_Request, frozen=True, kw_only=True):
    """``POST /v3/refund/domestic/refunds``."""

    out_trade_no: str
    out_refund_no: str
    amount: RefundAmountIn
    reason: str | None = None
    notify_url: str | None = None


class RefundAmount(_Response, frozen=True, kw_only=True):
    total: FenInt
    refund: FenInt
    payer_total: FenInt | None = None
    payer_refund: FenInt | None = None
    currency: str = "CNY"


class Refund(_Response, frozen=True, kw_only=True):
    """A refund, as the refund call and the refund query answer it."""

    out_refund_no: str
    status: str
    amount: RefundAmount
    refund_id: str = ""
    out_trade_no: str = ""
    transaction_id: str = ""
    user_received_account: str = ""
    success_time: str | None = None


class RefundNotice(_Response, frozen=True, kw_only=True):
    """The decrypted resource of a REFUND.SUCCESS / REFUND.ABNORMAL / REFUND.CLOSED callback."""

    out_trade_no: str
    out_refund_no: str
    refund_status: str
    amount: RefundAmount
    refund_id: str = ""
    transaction_id: str = ""
    success_time: str | None = None


# ------------------------------------------------------------------ errors


class ErrorDetail(_Response, frozen=True, kw_only=True):
    field: str = ""
    location: str = ""
    issue: str = ""


class Error(_Response, frozen=True, kw_only=True):
    """WeChat Pay's error body: ``code``, ``message`` and, for PARAM_ERROR, ``detail``."""

    code: str = ""
    message: str = ""
    detail: ErrorDetail | None = None


# ------------------------------------------------------------------ medical-insurance orders


class MedInsPerson(_Request, frozen=True, kw_only=True):
    """``payer`` / ``relative``: name and id_digest RSA-OAEP encrypted under the platform key."""

    name: str
    id_digest: str
    card_type: str

    def __repr__(self) -> str:
        return (
            f"MedInsPerson(name=<encrypted>, id_digest=<encrypted>, card_type={self.card_type!r})"
        )


class CashAdd(_Request, frozen=True, kw_only=True):
    cash_add_fee: int
    cash_add_type: str


class CashReduce(_Request, frozen=True, kw_only=True):
    cash_reduce_fee: int
    cash_reduce_type: str


class MedInsOrderRequest(_Request, frozen=True, kw_only=True):
    """``POST /v3/med-ins/orders`` (医保自费混合收款下单), merchant mode."""

    mix_pay_type: str
    order_type: str
    appid: str
    openid: str
    payer: MedInsPerson
    pay_for_relatives: bool
    relative: MedInsPerson | None = None
    out_trade_no: str
    serial_no: str
    pay_order_id: str | None = None
    pay_auth_no: str | None = None
    geo_location: str | None = None
    city_id: str
    med_inst_name: str
    med_inst_no: str
    med_ins_order_create_time: str | None = None
    total_fee: int
    med_ins_gov_fee: int
    med_ins_self_fee: int
    med_ins_other_fee: int
    med_ins_cash_fee: int
    wechat_pay_cash_fee: int
    cash_add_detail: tuple[CashAdd, ...] | None = None
    cash_reduce_detail: tuple[CashReduce, ...] | None = None
    callback_url: str
    prepay_id: str | None = None
    passthrough_request_content: str | None = None
    extends: str | None = None
    attach: str | None = None
    channel_no: str | None = None
    med_ins_test_env: bool | None = None


class MedInsOrderEntity(_Response, frozen=True, kw_only=True):
    """A med-ins order (WeChat Pay's OrderEntity), as the order call, the queries and MEDICAL_INSURANCE.* carry it."""

    out_trade_no: str
    mix_trade_no: str = ""
    mix_pay_status: str = ""
    self_pay_status: str = ""
    med_ins_pay_status: str = ""
    mix_pay_type: str = ""
    order_type: str = ""
    paid_time: str | None = None
    total_fee: FenInt = 0
    med_ins_gov_fee: FenInt = 0
    med_ins_self_fee: FenInt = 0
    med_ins_other_fee: FenInt = 0
    med_ins_cash_fee: FenInt = 0
    wechat_pay_cash_fee: FenInt = 0
    med_ins_fail_reason: str = ""
