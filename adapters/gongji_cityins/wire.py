"""The national interface's wire, as an institution's client writes and reads it.

Written from the published national interface (field names as the centres use
them); ``gongji_*`` fields and code ``X101`` are gongji's documented extensions
(docs/reference/mock-national.md), sent or read only where a city declares them.
Responses tolerate unknown fields (msgspec's default); amounts arrive as yuan
strings or JSON numbers and are decoded into ``Decimal`` from the text, never
through a float.
"""

from __future__ import annotations

import decimal
from typing import Any

import msgspec

Yuan = decimal.Decimal | str


class _Out(msgspec.Struct, frozen=True, kw_only=True):
    """Response structs: unknown fields are ignored, optional ones default."""


# ---------------------------------------------------------------- the envelope


class Envelope(msgspec.Struct, frozen=True, kw_only=True):
    infno: str
    msgid: str
    mdtrtarea_admvs: str
    insuplc_admdvs: str
    recer_sys_code: str
    dev_no: str
    dev_safe_info: str
    cainfo: str
    signtype: str
    infver: str
    opter_type: str
    opter: str
    opter_name: str
    inf_time: str
    fixmedins_code: str
    fixmedins_name: str
    sign_no: str
    input: Any


class Answer(_Out, frozen=True, kw_only=True):
    infcode: int
    err_msg: str | None = None
    warn_msg: str | None = None
    inf_refmsgid: str = ""
    output: msgspec.Raw = msgspec.Raw(b"null")


# ---------------------------------------------------------------- outputs


class SignInOut(_Out, frozen=True, kw_only=True):
    sign_no: str
    sign_time: str = ""


class SignInAnswer(_Out, frozen=True, kw_only=True):
    signinoutb: SignInOut


class BaseInfo(_Out, frozen=True, kw_only=True):
    psn_no: str
    certno: str
    psn_name: str = ""
    psn_cert_type: str = "01"


class InsuInfo(_Out, frozen=True, kw_only=True):
    balc: decimal.Decimal = decimal.Decimal(0)
    insutype: str = ""
    psn_insu_stas: str = "1"
    insuplc_admdvs: str = ""


class PersonAnswer(_Out, frozen=True, kw_only=True):
    baseinfo: BaseInfo
    insuinfo: list[InsuInfo] = msgspec.field(default_factory=list)


class BindingOut(_Out, frozen=True, kw_only=True):
    """Extension X101: one binding; the person fields are the owner's."""

    psn_no: str
    certno: str
    psn_name: str = ""
    relation: str
    status: str
    priority: int = 1
    per_transaction_limit: decimal.Decimal | None = None
    insutype: str = ""
    psn_insu_stas: str = "1"
    insuplc_admdvs: str = ""
    balc: decimal.Decimal = decimal.Decimal(0)


class BindingsAnswer(_Out, frozen=True, kw_only=True):
    gongji_bindings: list[BindingOut] = msgspec.field(default_factory=list)


class SetlInfo(_Out, frozen=True, kw_only=True):
    setl_id: str = ""
    mdtrt_id: str = ""
    psn_no: str = ""
    certno: str = ""
    setl_time: str = ""
    medfee_sumamt: decimal.Decimal
    fund_pay_sumamt: decimal.Decimal
    acct_pay: decimal.Decimal
    acct_mulaid_pay: decimal.Decimal = decimal.Decimal(0)
    psn_cash_pay: decimal.Decimal
    balc: decimal.Decimal = decimal.Decimal(0)
    medins_setl_id: str = ""
    insutype: str = ""
    clr_type: str = ""
    clr_optins: str = ""


class MulaidDetail(_Out, frozen=True, kw_only=True):
    psn_no: str = ""
    certno: str
    relation: str = ""
    amount: decimal.Decimal


class RefusalOut(_Out, frozen=True, kw_only=True):
    rule: str
    psn_no: str = ""
    reason: str = ""
    reason_zh: str = ""


class SettlementAnswer(_Out, frozen=True, kw_only=True):
    setlinfo: SetlInfo
    gongji_mulaid_detail: list[MulaidDetail] = msgspec.field(default_factory=list)
    gongji_refusals: list[RefusalOut] = msgspec.field(default_factory=list)


class ReversalOut(_Out, frozen=True, kw_only=True):
    omsgid: str = ""
    oinfno: str = ""
    setl_id: str = ""
    state: str


class ReversalAnswer(_Out, frozen=True, kw_only=True):
    gongji_reversal: ReversalOut


class RegisteredVisit(_Out, frozen=True, kw_only=True):
    mdtrt_id: str
    psn_no: str = ""
    ipt_otp_no: str = ""


class RegistrationAnswer(_Out, frozen=True, kw_only=True):
    """2201: the visit the centre registered."""

    data: RegisteredVisit


class FeeLineOut(_Out, frozen=True, kw_only=True):
    feedetl_sn: str
    det_item_fee_sumamt: decimal.Decimal
    cnt: decimal.Decimal | None = None
    pric: decimal.Decimal | None = None
    chrgitm_lv: str = ""


class FeeUploadAnswer(_Out, frozen=True, kw_only=True):
    """2204: one result per line accepted."""

    result: list[FeeLineOut] = msgspec.field(default_factory=list)
