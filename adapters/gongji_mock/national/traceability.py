"""Traceability codes (追溯码): the mock checks and records them, from 3505 sales uploads,
3506 return uploads, and the lines of 2101/2102 where its region's lines carry them.

NATIONAL.md §11: a code belongs to one pack and is sold once. A line's codes come as
``drug_trac_info`` entries (``drug_trac_codg``, ``feedetl_sn``, ``trdn_flag``,
``min_prcunt_type``: all four required in the one HIS that sends the node, S12). The
split-pack flag ``trdn_flag`` is 1 when the line sells part of a pack (拆零: a quantity
that is not whole) and 0 for whole packs; the mock refuses a flag that does not match the
quantity. Whole packs carry one code a pack. Part of a pack carries the code of each pack
the part is taken from: one a pack begun, or one more when the part begins in a pack an
earlier sale opened. ``min_prcunt_type`` is 1 or 2 (the codes are unconfirmed).

The mock keeps every code it was told of, with the settlement, the split flag and the
pricing unit. A code already sold (and not returned) is refused, unless it was told for
the same settlement (a 2102 line, then its 3505), its settlement has been cancelled or
reversed since (its packs went back), or both sales take part of one opened pack. A 3506
returns codes a 3505 of the same settlement sold (part of an opened pack: a code this
institution sold in parts). Node ``selinfo`` (unconfirmed, §11).
"""

from __future__ import annotations

import decimal
import math

import attrs
import msgspec

from gongji_mock.centre.decisions import CentreRefusal
from gongji_mock.national.office import Office
from gongji_mock.national.records import TracedPack
from gongji_mock.national.transform import Answer, Malformed, decode_input, wrapped
from gongji_mock.national.wire import FeeDetail, RequestEnvelope, TraceCode

_SPLIT_FLAGS = {"0": False, "1": True}
_UNITS = ("1", "2")  # min_prcunt_type: the codes are unconfirmed; nothing else is taken


class _SelInfo(msgspec.Struct, kw_only=True):
    med_list_codg: str = ""
    setl_id: str = ""
    psn_no: str = ""
    trdn_flag: str = "0"
    sel_retn_cnt: decimal.Decimal = decimal.Decimal(0)
    drug_trac_info: list[TraceCode] = msgspec.field(default_factory=list)


class _Upload(msgspec.Struct, kw_only=True):
    selinfo: _SelInfo


def sale_upload(office: Office, envelope: RequestEnvelope) -> Answer:
    """3505: record the codes of the packs sold."""
    line = decode_input(envelope, _Upload).selinfo
    codes = packs(line.drug_trac_info, line.sel_retn_cnt, line_flag=line.trdn_flag)
    split = _SPLIT_FLAGS[line.trdn_flag]
    check_unsold(office, codes, line.setl_id, split=split)
    record_sold(office, envelope.fixmedins_code, line.setl_id, line.drug_trac_info, split=split)
    return Answer(wrapped())


def return_upload(office: Office, envelope: RequestEnvelope) -> Answer:
    """3506: the codes of the packs returned, each sold in this settlement."""
    line = decode_input(envelope, _Upload).selinfo
    codes = packs(line.drug_trac_info, line.sel_retn_cnt, line_flag=line.trdn_flag)
    traced = office.records.traced
    for code in codes:
        found = traced.get(code)
        sold_here = found is not None and not found.returned and found.setl_id == line.setl_id
        opened_here = (
            found is not None and found.split and found.fixmedins_code == envelope.fixmedins_code
        )
        if not (sold_here or opened_here):
            raise CentreRefusal(
                "退货追溯码不属于该结算的销售",
                f"Traceability code ending {code[-4:]} was not sold in settlement "
                f"{line.setl_id[:30]!r}; only packs sold there can be returned.",
            )
    for code in codes:
        found = traced.get(code)
        assert found is not None
        if not found.split:  # part of an opened pack comes back to it: the pack stays open
            traced.put(code, attrs.evolve(found, returned=True))
    return Answer(wrapped())


@attrs.frozen
class LineCodes:
    """The codes a 2101/2102 line carries, checked against its quantity."""

    entries: list[TraceCode]
    split: bool


def settlement_codes(office: Office, details: list[FeeDetail]) -> list[LineCodes]:
    """The codes of a 2101/2102 basket's lines, each line checked against its quantity and
    none sold already (nor twice in the basket); [] where no line carries codes."""
    found: list[LineCodes] = []
    seen: set[str] = set()
    for detail in details:
        if not detail.drug_trac_info:
            continue
        codes = packs(detail.drug_trac_info, detail.cnt, feedetl_sn=detail.feedetl_sn)
        if seen & set(codes):
            raise Malformed(
                "药品追溯码重复", "The same drug_trac_codg is on two lines of one sale."
            )
        seen |= set(codes)
        split = detail.drug_trac_info[0].trdn_flag == "1"
        check_unsold(office, codes, "", split=split)
        found.append(LineCodes(detail.drug_trac_info, split))
    return found


def packs(
    entries: list[TraceCode],
    quantity: decimal.Decimal,
    *,
    line_flag: str | None = None,
    feedetl_sn: str | None = None,
) -> list[str]:
    """The codes of one line's ``drug_trac_info``, refused unless they fit the line: every
    entry of one line serial (``feedetl_sn`` when the line has one), the split flag the
    quantity calls for, a known pricing unit, one code a pack."""
    codes = [entry.drug_trac_codg for entry in entries]
    if not codes or any(not code or len(code) > 30 for code in codes):
        raise Malformed(
            "药品追溯码为空或格式错误",
            "drug_trac_info needs one drug_trac_codg (1-30 characters) for each pack.",
        )
    if len(set(codes)) != len(codes):
        raise Malformed("药品追溯码重复", "The same drug_trac_codg appears twice in one line.")
    serials = {entry.feedetl_sn for entry in entries}
    if len(serials) != 1 or (feedetl_sn is not None and serials != {feedetl_sn}):
        raise Malformed(
            "追溯码明细流水号与费用明细不符",
            "Every drug_trac_info entry of a line carries that line's feedetl_sn.",
        )
    split = quantity.is_finite() and quantity != quantity.to_integral_value()
    expected = "1" if split else "0"
    flags = {entry.trdn_flag for entry in entries} | (
        {line_flag} if line_flag is not None else set()
    )
    if flags != {expected}:
        raise Malformed(
            "拆零标志与数量不符",
            f"trdn_flag must be {expected} on a line of {str(quantity)[:20]} packs: 1 for part "
            "of a pack (a quantity that is not whole), 0 for whole packs, on the line and in "
            "each code entry.",
        )
    if any(entry.min_prcunt_type not in _UNITS for entry in entries):
        raise Malformed(
            "最小计价单元类型错误", "min_prcunt_type must be 1 or 2 in each drug_trac_info entry."
        )
    if split:
        begun = math.ceil(quantity)
        if not begun <= len(codes) <= begun + 1:
            raise Malformed(
                "追溯码数量与拆零数量不符",
                f"{len(codes)} codes for part of a pack ({str(quantity)[:20]}): one code for "
                f"each pack the part is taken from, {begun} or {begun + 1}.",
            )
    elif decimal.Decimal(len(codes)) != quantity:
        raise Malformed(
            "追溯码数量与销售数量不符",
            f"{len(codes)} codes for {str(quantity)[:20]} whole packs: one code a pack.",
        )
    return codes


def check_unsold(office: Office, codes: list[str], setl_id: str, *, split: bool) -> None:
    """Refuse codes sold already, in a settlement other than ``setl_id`` that stands."""
    centre, traced = office.centre, office.records.traced
    for code in codes:
        found = traced.get(code)
        if found is None or found.returned or (setl_id and found.setl_id == setl_id):
            continue
        if found.setl_id and centre.is_cancelled(found.setl_id):
            continue  # cancelled (2103) or reversed (2601): its packs went back
        if split and found.split:
            continue  # another part of a pack an earlier sale opened
        raise CentreRefusal(
            "药品追溯码已销售，不能重复上传",
            f"Traceability code ending {code[-4:]} was already sold; a code is one pack's.",
        )


def record_sold(
    office: Office, fixmedins_code: str, setl_id: str, entries: list[TraceCode], *, split: bool
) -> None:
    traced = office.records.traced
    for entry in entries:
        traced.put(
            entry.drug_trac_codg,
            TracedPack(fixmedins_code, setl_id, split=split, unit=entry.min_prcunt_type),
        )
