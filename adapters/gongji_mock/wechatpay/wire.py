"""WeChat Pay APIv3 wire formats the mock reads and writes (``msgspec``).

Field names are WeChat Pay's (docs/reference/mock-channels.md cites the pages).
Amounts are integer fen: msgspec decodes ``amount.total`` into ``int`` and
refuses ``12.5`` or ``"1250"`` outright, so no float ever reaches the mock.
Unknown fields are tolerated on input, as WeChat Pay adds fields over time.
"""

from __future__ import annotations

from typing import Annotated

import msgspec


class _In(msgspec.Struct, frozen=True, kw_only=True):
    """Input structs: unknown fields ignored, missing required ones refused."""


class _Out(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """Output structs: optional (``None``) fields left out, as WeChat Pay does; so every
    field that is always sent has no default."""


# ------------------------------------------------------------------ requests


class CodePayPayer(_In, frozen=True, kw_only=True):
    auth_code: str


class CodePayAmount(_In, frozen=True, kw_only=True):
    total: int
    currency: str = "CNY"


class StoreInfo(_In, frozen=True, kw_only=True):
    out_id: str = ""


class SceneInfo(_In, frozen=True, kw_only=True):
    store_info: StoreInfo | None = None
    device_ip: str = ""


class CodePayRequest(_In, frozen=True, kw_only=True):
    """``POST /v3/pay/transactions/codepay``."""

    appid: str
    mchid: str
    description: str
    out_trade_no: str
    payer: CodePayPayer
    amount: CodePayAmount
    scene_info: SceneInfo | None = None
    attach: str = ""


class ReverseRequest(_In, frozen=True, kw_only=True):
    """``POST /v3/pay/transactions/out-trade-no/{out_trade_no}/reverse``."""

    appid: str = ""
    mchid: str


class RefundAmountIn(_In, frozen=True, kw_only=True):
    refund: int
    total: int
    currency: str = "CNY"


class RefundRequest(_In, frozen=True, kw_only=True):
    """``POST /v3/refund/domestic/refunds``."""

    out_refund_no: str
    amount: RefundAmountIn
    out_trade_no: str = ""
    transaction_id: str = ""
    reason: str = ""
    notify_url: str = ""


# ------------------------------------------------------------------ responses


class Payer(_Out, frozen=True, kw_only=True):
    openid: str


class TransactionAmount(_Out, frozen=True, kw_only=True):
    total: int
    payer_total: int | None = None
    currency: str
    payer_currency: str


class Transaction(_Out, frozen=True, kw_only=True):
    """A transaction as codepay and the query answer it."""

    appid: str
    mchid: str
    out_trade_no: str
    transaction_id: str | None = None
    trade_type: str
    trade_state: str
    trade_state_desc: str
    bank_type: str | None = None
    attach: str | None = None
    success_time: str | None = None
    payer: Payer | None = None
    amount: TransactionAmount


class ReverseResponse(_Out, frozen=True, kw_only=True):
    appid: str | None = None
    mchid: str
    out_trade_no: str


class RefundAmountOut(_Out, frozen=True, kw_only=True):
    total: int
    refund: int
    payer_total: int
    payer_refund: int
    settlement_total: int
    settlement_refund: int
    discount_refund: int
    currency: str


class Refund(_Out, frozen=True, kw_only=True):
    """A refund as the refund call and the refund query answer it."""

    refund_id: str
    out_refund_no: str
    transaction_id: str
    out_trade_no: str
    channel: str
    user_received_account: str
    success_time: str | None = None
    create_time: str
    status: str
    funds_account: str
    amount: RefundAmountOut


class RefundNotice(_Out, frozen=True, kw_only=True):
    """The decrypted ``resource`` of a REFUND.SUCCESS callback."""

    mchid: str
    out_trade_no: str
    transaction_id: str
    out_refund_no: str
    refund_id: str
    refund_status: str
    success_time: str
    user_received_account: str
    amount: RefundAmountOut


class ErrorDetail(_Out, frozen=True, kw_only=True):
    field: str
    location: str
    value: str | None = None
    issue: str


class Error(_Out, frozen=True, kw_only=True):
    """WeChat Pay's error body: ``code``, ``message`` and, for PARAM_ERROR, ``detail``."""

    code: str
    message: str
    detail: ErrorDetail | None = None


class CallbackResource(_Out, frozen=True, kw_only=True):
    original_type: str
    algorithm: str
    ciphertext: str
    associated_data: str
    nonce: str


class CallbackEnvelope(_Out, frozen=True, kw_only=True):
    id: str
    create_time: str
    resource_type: str
    event_type: str
    summary: str
    resource: CallbackResource


# ------------------------------------------------------------------ medical-insurance orders
#
# ``POST /v3/med-ins/orders`` and its queries (WeChat Pay merchant documentation,
# 医保自费混合收款下单 / 使用医保自费混合订单号查看下单结果). Lengths are the documented
# ones; amounts are non-negative integer fen. ``payer`` and ``relative`` arrive
# encrypted (RSA-OAEP under the platform key) and are never echoed back.

Fee = Annotated[int, msgspec.Meta(ge=0)]
Sealed = Annotated[str, msgspec.Meta(min_length=1, max_length=2048)]
Text8 = Annotated[str, msgspec.Meta(min_length=1, max_length=8)]
Text20 = Annotated[str, msgspec.Meta(min_length=1, max_length=20)]
Text32 = Annotated[str, msgspec.Meta(min_length=1, max_length=32)]
Text40 = Annotated[str, msgspec.Meta(min_length=1, max_length=40)]
Text64 = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
Text128 = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
Text256 = Annotated[str, msgspec.Meta(min_length=1, max_length=256)]
Text2048 = Annotated[str, msgspec.Meta(max_length=2048)]


class PersonIdentification(_In, frozen=True, kw_only=True):
    """``payer`` / ``relative``: ``name`` and ``id_digest`` RSA-OAEP encrypted, base64."""

    name: Sealed
    id_digest: Sealed
    card_type: str = "ID_CARD"


class CashAdd(_In, frozen=True, kw_only=True):
    cash_add_fee: Fee
    cash_add_type: str = "DEFAULT_ADD_TYPE"


class CashReduce(_In, frozen=True, kw_only=True):
    cash_reduce_fee: Fee
    cash_reduce_type: str = "DEFAULT_REDUCE_TYPE"


class MedInsOrderRequest(_In, frozen=True, kw_only=True):
    """``POST /v3/med-ins/orders``, merchant mode (the mchid is the Authorization's)."""

    mix_pay_type: str
    order_type: str
    appid: Text32
    openid: Text128
    payer: PersonIdentification
    pay_for_relatives: bool = False
    relative: PersonIdentification | None = None
    out_trade_no: Text64
    serial_no: Text20
    pay_order_id: Text64 | None = None
    pay_auth_no: Text40 | None = None
    geo_location: Text40 | None = None
    city_id: Text8
    med_inst_name: Text128
    med_inst_no: Text32
    med_ins_order_create_time: Text64 | None = None
    total_fee: Fee
    med_ins_gov_fee: Fee | None = None
    med_ins_self_fee: Fee | None = None
    med_ins_other_fee: Fee | None = None
    med_ins_cash_fee: Fee | None = None
    wechat_pay_cash_fee: Fee | None = None
    cash_add_detail: list[CashAdd] = msgspec.field(default_factory=list)
    cash_reduce_detail: list[CashReduce] = msgspec.field(default_factory=list)
    callback_url: Text256
    prepay_id: Text64 | None = None
    passthrough_request_content: Text2048 | None = None
    extends: Text2048 | None = None
    attach: Text128 | None = None
    channel_no: Text32 | None = None
    med_ins_test_env: bool = False


class MedInsOrder(_Out, frozen=True, kw_only=True):
    """An order as the create call, both queries and the MEDICAL_INSURANCE.SUCCESS callback
    answer it: the request's fields (never ``payer`` / ``relative``) and its three states."""

    mix_trade_no: str
    mix_pay_status: str
    self_pay_status: str
    med_ins_pay_status: str
    paid_time: str | None = None
    mix_pay_type: str
    order_type: str
    appid: str
    openid: str
    pay_for_relatives: bool
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
    cash_add_detail: list[CashAdd] | None = None
    cash_reduce_detail: list[CashReduce] | None = None
    callback_url: str
    prepay_id: str | None = None
    passthrough_request_content: str | None = None
    extends: str | None = None
    attach: str | None = None
    channel_no: str | None = None
    med_ins_test_env: bool
