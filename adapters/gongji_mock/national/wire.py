"""Wire formats of the national interface, as the mock centre reads and writes them.

``msgspec`` structs: requests tolerate unknown fields (real clients send extras),
responses carry exactly the national names plus ``gongji_`` extensions. Amount
fields are strings on this wire; the endpoint converts them to ``Fen``.
"""

from __future__ import annotations

import decimal
from typing import Any, Generic, TypeVar

import msgspec

T = TypeVar("T")


# ====================================================================== wire: the envelope


class _Wire(msgspec.Struct, frozen=True, kw_only=True):
    """Input structs: unknown fields are ignored (msgspec's default), missing ones refused."""


class RequestEnvelope(_Wire, frozen=True, kw_only=True):
    infno: str
    msgid: str
    mdtrtarea_admvs: str | None = None
    insuplc_admdvs: str | None = None
    recer_sys_code: str | None = None
    dev_no: str | None = None
    dev_safe_info: str | None = None
    cainfo: str | None = None
    signtype: str | None = None
    infver: str | None = None
    opter_type: str | None = None
    opter: str | None = None
    opter_name: str | None = None
    inf_time: str | None = None
    fixmedins_code: str
    fixmedins_name: str | None = None
    sign_no: str | None = None
    #: Kept raw: each transaction code decodes its own input, and idempotency compares it.
    input: msgspec.Raw = msgspec.field(default_factory=lambda: msgspec.Raw(b"{}"))


class ResponseEnvelope(msgspec.Struct, frozen=True, kw_only=True):
    infcode: int
    inf_refmsgid: str
    refmsg_time: str
    respond_time: str
    err_msg: str | None
    warn_msg: str | None
    output: Any


class GatewayRefusal(msgspec.Struct, frozen=True, kw_only=True):
    """The body of a refusal before the envelope is read (bad TIF headers, wrong path)."""

    infcode: int
    err_msg: str


# ====================================================================== wire: inputs


class Data(_Wire, Generic[T], frozen=True, kw_only=True):
    """``{"data": {...}}``, the shape of most inputs."""

    data: T


class SignIn(_Wire, frozen=True, kw_only=True):
    opter_no: str
    mac: str = ""
    ip: str = ""


class SignInInput(_Wire, frozen=True, kw_only=True):
    sign_in: SignIn = msgspec.field(name="signIn")


class SignOut(_Wire, frozen=True, kw_only=True):
    sign_no: str
    opter_no: str = ""


class SignOutInput(_Wire, frozen=True, kw_only=True):
    sign_out: SignOut = msgspec.field(name="signOut")


class PersonQuery(_Wire, frozen=True, kw_only=True):
    mdtrt_cert_type: str
    mdtrt_cert_no: str
    card_sn: str | None = None


class BindingsQuery(_Wire, frozen=True, kw_only=True):
    psn_no: str


class TraceCode(_Wire, frozen=True, kw_only=True):
    """One pack's traceability code on a line (``drug_trac_info``, NATIONAL.md §7, §11)."""

    drug_trac_codg: str = ""
    feedetl_sn: str = ""
    trdn_flag: str = ""
    min_prcunt_type: str = ""


class FeeDetail(_Wire, frozen=True, kw_only=True):
    """One line of a basket, with national names; ``gongji_*`` fields are extensions."""

    feedetl_sn: str = ""
    mdtrt_id: str | None = None
    psn_no: str | None = None
    chrg_bchno: str | None = None  # 2204 only
    med_list_codg: str = ""
    medins_list_codg: str = ""
    rxno: str | None = None
    rx_circ_flag: str | None = None
    cnt: decimal.Decimal
    pric: decimal.Decimal
    det_item_fee_sumamt: decimal.Decimal | None = None
    #: The packs' codes, where the region's 2101/2102 lines carry them (a mock option).
    drug_trac_info: list[TraceCode] = msgspec.field(default_factory=list)
    #: Extension: the class (01 A, 02 B, 03 C) and category the till gives, for a code the
    #: mock's catalogue does not list. ``chrgitm_lv`` is the older spelling (an output of
    #: the real interface, never an input).
    gongji_chrgitm_lv: str | None = None
    chrgitm_lv: str | None = None
    gongji_category: str | None = None
    gongji_item_name: str = ""


class SettleData(_Wire, frozen=True, kw_only=True):
    psn_no: str
    mdtrt_cert_type: str
    mdtrt_cert_no: str
    card_sn: str | None = None
    begntime: str | None = None
    med_type: str = ""
    medfee_sumamt: decimal.Decimal | None = None
    psn_setlway: str | None = None
    mdtrt_id: str | None = None
    chrg_bchno: str | None = None
    insutype: str | None = None
    acct_used_flag: str | None = None
    dise_codg: str | None = None  # med_type 14: the registered disease (5301)
    dise_name: str | None = None
    gongji_purpose: str = "medical"
    gongji_agent_certno: str | None = None
    #: "1" when the patient asked for mutual aid; absent, the centre follows acct_used_flag.
    gongji_use_mutual_aid: str | None = None


class SettleInput(_Wire, frozen=True, kw_only=True):
    data: SettleData
    feedetail: list[FeeDetail] = msgspec.field(default_factory=list)


class DrugSettleInput(_Wire, frozen=True, kw_only=True):
    """2101/2102 in the ``druginfo`` / ``drugdetail`` node names (a region setting)."""

    druginfo: SettleData
    drugdetail: list[FeeDetail] = msgspec.field(default_factory=list)


class CancelData(_Wire, frozen=True, kw_only=True):
    setl_id: str
    psn_no: str
    mdtrt_id: str | None = None


class ReversalData(_Wire, frozen=True, kw_only=True):
    omsgid: str
    oinfno: str
    psn_no: str = ""


class RegistrationData(_Wire, frozen=True, kw_only=True):
    psn_no: str
    mdtrt_cert_type: str
    mdtrt_cert_no: str
    card_sn: str | None = None
    insutype: str | None = None
    begntime: str | None = None
    ipt_otp_no: str = ""


class VisitData(_Wire, frozen=True, kw_only=True):
    """2202 (with ``ipt_otp_no``) and 2205 (with ``chrg_bchno``): a visit of a person."""

    psn_no: str
    mdtrt_id: str
    ipt_otp_no: str | None = None
    chrg_bchno: str | None = None


class VisitInfo(_Wire, frozen=True, kw_only=True):
    """2203 ``mdtrtinfo``."""

    mdtrt_id: str
    psn_no: str
    med_type: str = ""


class Diagnosis(_Wire, frozen=True, kw_only=True):
    """2203 ``diseinfo``: one diagnosis."""

    diag_code: str
    diag_name: str = ""


class DiagnosisInput(_Wire, frozen=True, kw_only=True):
    mdtrtinfo: VisitInfo
    diseinfo: list[Diagnosis]


class FeeUploadInput(_Wire, frozen=True, kw_only=True):
    feedetail: list[FeeDetail]


# ====================================================================== wire: outputs


class _Out(msgspec.Struct, frozen=True, kw_only=True):
    pass


class SignInOut(_Out, frozen=True, kw_only=True):
    sign_time: str
    sign_no: str


class SignOutOut(_Out, frozen=True, kw_only=True):
    sign_time: str


class BaseInfo(_Out, frozen=True, kw_only=True):
    psn_no: str
    psn_cert_type: str
    certno: str
    psn_name: str
    gend: str
    brdy: str
    age: str


class InsuInfo(_Out, frozen=True, kw_only=True):
    balc: str
    insutype: str
    psn_insu_stas: str
    insuplc_admdvs: str


class BindingOut(_Out, frozen=True, kw_only=True):
    """gongji extension (X101): one binding with the beneficiary as ``psn_no``'s holder."""

    psn_no: str  # the owner's
    certno: str  # the owner's
    psn_name: str
    relation: str
    status: str
    priority: int
    per_transaction_limit: str | None
    insutype: str
    psn_insu_stas: str
    insuplc_admdvs: str
    balc: str


class SetlInfo(_Out, frozen=True, kw_only=True):
    setl_id: str
    mdtrt_id: str
    psn_no: str
    psn_name: str
    psn_cert_type: str
    certno: str
    gend: str
    brdy: str
    age: str
    insutype: str
    setl_time: str
    mdtrt_cert_type: str
    med_type: str
    medfee_sumamt: str
    fulamt_ownpay_amt: str
    overlmt_selfpay: str
    preselfpay_amt: str
    inscp_scp_amt: str
    hifp_pay: str
    fund_pay_sumamt: str
    psn_part_amt: str
    acct_pay: str
    acct_mulaid_pay: str
    psn_cash_pay: str
    balc: str
    medins_setl_id: str
    clr_optins: str  # the settling agency: 3201's setl_optins
    clr_type: str


class SetlDetail(_Out, frozen=True, kw_only=True):
    fund_pay_type: str
    fund_pay_type_name: str
    inscp_scp_amt: str
    fund_payamt: str


class MulaidDetail(_Out, frozen=True, kw_only=True):
    """gongji extension: one mutual-aid owner's share of a settlement."""

    psn_no: str
    certno: str
    relation: str
    amount: str


class RefusalOut(_Out, frozen=True, kw_only=True):
    """gongji extension: why an account did not pay (the purchase went on without it)."""

    rule: str
    psn_no: str
    reason: str
    reason_zh: str


class SettlementOut(_Out, frozen=True, kw_only=True, omit_defaults=True):
    """The extensions' lists are left out when empty: always, unless extensions are on."""

    setlinfo: SetlInfo
    setldetail: list[SetlDetail]
    gongji_mulaid_detail: list[MulaidDetail] = msgspec.field(default_factory=list)
    gongji_refusals: list[RefusalOut] = msgspec.field(default_factory=list)


class FeeResult(_Out, frozen=True, kw_only=True):
    feedetl_sn: str
    det_item_fee_sumamt: str
    cnt: str
    pric: str
    chrgitm_lv: str


# ====================================================================== the endpoint's state


class ReversalState(_Out, frozen=True, kw_only=True):
    omsgid: str
    oinfno: str
    setl_id: str
    state: str  # reversed | original_refused | original_not_received


class ReversalOut(_Out, frozen=True, kw_only=True):
    gongji_reversal: ReversalState
