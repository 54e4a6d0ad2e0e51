"""The national interface's wire, as an institution's client writes and reads it.

Written from the published national interface (../shared/NATIONAL.md: field names as
the centres use them); ``gongji_*`` fields and code ``X101`` are gongji's documented
extensions (docs/reference/mock-national.md), sent or read only where a city's
profile says ``extensions = true``. Answers are read as real centres send them:
unknown fields are ignored, ``infcode`` is a number or a string, and an amount is a
JSON number, a string, ``""`` or ``null`` (``Amount``: the last two are 0). Numbers are
decoded into ``Decimal`` from the text, never through a float.
"""

from __future__ import annotations

import decimal
import functools
from typing import Any, TypeVar

import msgspec

T = TypeVar("T")

#: An amount as an answer carries it: a number (decoded as ``Decimal``), a numeric
#: string, ``""`` or ``null``. ``transform.yuan`` reads it; anything else is refused there.
Amount = Any


class _Out(msgspec.Struct, frozen=True, kw_only=True):
    """Response structs: unknown fields are ignored, optional ones default."""


@functools.cache
def _decoder(kind: Any) -> msgspec.json.Decoder[Any]:
    # float_hook: a JSON number in an ``Any`` (an Amount) is a Decimal of its text.
    return msgspec.json.Decoder(kind, float_hook=decimal.Decimal)


def decode(data: bytes | msgspec.Raw, kind: type[T]) -> T:
    """``data`` as ``kind``; invalid UTF-8 and too deep a nesting are a ``DecodeError``."""
    try:
        decoded: T = _decoder(kind).decode(data)  # type: ignore[arg-type]  # a type is hashable
    except UnicodeDecodeError as error:
        raise msgspec.DecodeError(f"Invalid UTF-8 in a JSON string (byte {error.start})") from None
    except RecursionError:
        raise msgspec.DecodeError("JSON nested too deeply") from None
    return decoded


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
    #: 0 or "0" is success (real centres send both); anything else is a failure.
    infcode: int | str
    err_msg: str | None = None
    warn_msg: str | None = None
    inf_refmsgid: str | None = ""
    output: msgspec.Raw = msgspec.Raw(b"null")

    @property
    def succeeded(self) -> bool:
        return str(self.infcode).strip() == "0"


# ---------------------------------------------------------------- outputs


class SignInOut(_Out, frozen=True, kw_only=True):
    sign_no: str
    #: Informative only: the sign-in is dated by the till's Beijing clock, which decides
    #: when the next one is due; some centres send it empty, null or not at all.
    sign_time: str | None = ""


class SignInAnswer(_Out, frozen=True, kw_only=True):
    signinoutb: SignInOut


class BaseInfo(_Out, frozen=True, kw_only=True):
    psn_no: str
    certno: str
    psn_name: str | None = ""
    psn_cert_type: str | None = "01"


class InsuInfo(_Out, frozen=True, kw_only=True):
    balc: Amount = None
    insutype: str = ""
    psn_insu_stas: str | None = ""
    insuplc_admdvs: str | None = ""


class PersonAnswer(_Out, frozen=True, kw_only=True):
    baseinfo: BaseInfo
    insuinfo: list[InsuInfo] | None = None


class BindingOut(_Out, frozen=True, kw_only=True):
    """Extension X101: one binding; the person fields are the owner's."""

    psn_no: str
    certno: str
    psn_name: str = ""
    relation: str
    status: str
    priority: int = 1
    per_transaction_limit: Amount = None
    insutype: str = ""
    psn_insu_stas: str = "1"
    insuplc_admdvs: str = ""
    balc: Amount = None


class BindingsAnswer(_Out, frozen=True, kw_only=True):
    gongji_bindings: list[BindingOut] = msgspec.field(default_factory=list)


class SetlInfo(_Out, frozen=True, kw_only=True):
    """``setlinfo`` of 2101/2102, 2206/2207, and of the cancellations 2103/2208, which
    name the cash ``cash_payamt`` (2103) or ``pdn_cash_pay`` (2208, the spec's own
    spelling) and the person's share ``psn_pay``."""

    setl_id: str | None = ""
    mdtrt_id: str | None = ""
    psn_no: str | None = ""
    certno: str | None = ""
    setl_time: str | None = ""
    medfee_sumamt: Amount = None
    fund_pay_sumamt: Amount = None
    psn_part_amt: Amount = None
    psn_pay: Amount = None
    acct_pay: Amount = None
    acct_mulaid_pay: Amount = None
    psn_cash_pay: Amount = None
    cash_payamt: Amount = None
    pdn_cash_pay: Amount = None
    hosp_part_amt: Amount = None
    balc: Amount = None
    medins_setl_id: str | None = ""
    insutype: str | None = ""
    clr_type: str | None = ""
    clr_optins: str | None = ""


class MulaidDetail(_Out, frozen=True, kw_only=True):
    """Extension: one owner's mutual-aid share (only where the profile has extensions)."""

    psn_no: str = ""
    certno: str
    relation: str = ""
    amount: Amount


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
    """2601: success is ``infcode`` 0 with an empty output (``{}``, ``null`` or none);
    gongji's extension adds what the reversal found."""

    gongji_reversal: ReversalOut | None = None
