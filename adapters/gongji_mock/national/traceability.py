"""3505 sales upload and 3506 return upload: the mock checks and records traceability codes.

NATIONAL.md §11: a code (追溯码) belongs to one pack and is sold once. The mock keeps every
code it was told of: a 3505 whose code is already sold (and not returned) is refused, as
is one whose codes do not number its packs (whole packs, ``trdn_flag`` 0), one that names
a settlement this institution does not have, or one with no code at all. A 3506 returns
codes that a 3505 of the same settlement sold. Node ``selinfo`` (unconfirmed, §11).
"""

from __future__ import annotations

import decimal

import msgspec

from gongji_mock.centre.decisions import CentreRefusal
from gongji_mock.national.office import Office
from gongji_mock.national.records import TracedPack
from gongji_mock.national.transform import Answer, Malformed, decode_input, wrapped
from gongji_mock.national.wire import RequestEnvelope


class _Code(msgspec.Struct, kw_only=True):
    drug_trac_codg: str = ""
    feedetl_sn: str = ""
    trdn_flag: str = "0"


class _SelInfo(msgspec.Struct, kw_only=True):
    med_list_codg: str = ""
    setl_id: str = ""
    psn_no: str = ""
    trdn_flag: str = "0"
    sel_retn_cnt: decimal.Decimal = decimal.Decimal(0)
    drug_trac_info: list[_Code] = msgspec.field(default_factory=list)


class _Upload(msgspec.Struct, kw_only=True):
    selinfo: _SelInfo


def sale_upload(office: Office, envelope: RequestEnvelope) -> Answer:
    """3505: record the codes of the packs sold."""
    line, codes = _read(envelope)
    traced = office.records.traced
    for code in codes:
        found = traced.get(code)
        if found is not None and not found.returned:
            raise CentreRefusal(
                "药品追溯码已销售，不能重复上传",
                f"Traceability code ending {code[-4:]} was already sold; a code is one pack's.",
            )
    for code in codes:
        traced.put(code, TracedPack(envelope.fixmedins_code, line.setl_id))
    return Answer(wrapped())


def return_upload(office: Office, envelope: RequestEnvelope) -> Answer:
    """3506: the codes of the packs returned, each sold in this settlement."""
    line, codes = _read(envelope)
    traced = office.records.traced
    for code in codes:
        found = traced.get(code)
        if found is None or found.returned or found.setl_id != line.setl_id:
            raise CentreRefusal(
                "退货追溯码不属于该结算的销售",
                f"Traceability code ending {code[-4:]} was not sold in settlement "
                f"{line.setl_id[:30]!r}; only packs sold there can be returned.",
            )
    for code in codes:
        found = traced.get(code)
        assert found is not None
        traced.put(code, TracedPack(found.fixmedins_code, found.setl_id, returned=True))
    return Answer(wrapped())


def _read(envelope: RequestEnvelope) -> tuple[_SelInfo, list[str]]:
    line = decode_input(envelope, _Upload).selinfo
    codes = [entry.drug_trac_codg for entry in line.drug_trac_info]
    if not codes or any(not code or len(code) > 30 for code in codes):
        raise Malformed(
            "药品追溯码为空或格式错误",
            "drug_trac_info needs one drug_trac_codg (1-30 characters) for each pack.",
        )
    if len(set(codes)) != len(codes):
        raise Malformed("药品追溯码重复", "The same drug_trac_codg appears twice in one upload.")
    if line.trdn_flag == "0" and decimal.Decimal(len(codes)) != line.sel_retn_cnt:
        raise Malformed(
            "追溯码数量与销售数量不符",
            f"{len(codes)} codes for {line.sel_retn_cnt} whole packs: one code a pack.",
        )
    return line, codes
