"""WeChat Pay APIv3 wire formats the mock reads and writes (``msgspec``).

Field names are WeChat Pay's (docs/reference/mock-channels.md cites the pages).
Amounts are integer fen: msgspec decodes ``amount.total`` into ``int`` and
refuses ``12.5`` or ``"1250"`` outright, so no float ever reaches the mock.
Unknown fields are tolerated on input, as WeChat Pay adds fields over time.
"""

from __future__ import annotations

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
