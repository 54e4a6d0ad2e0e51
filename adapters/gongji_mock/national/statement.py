"""Reconciliation at the mock centre (对账), as NATIONAL.md §10 has it: 3201 judges an
institution's totals for one (insutype, clr_type, setl_optins); 9101 takes a file and
answers its ``file_qury_no``; 3202 compares the uploaded details file with the centre's
standing settlements and writes a result file, one line per settlement that differs;
9102 hands a file back as it is, not in an envelope.

Strict: every input is checked against the tables in ``schema`` (NATIONAL.md), whatever
the endpoint's other checks. The files are in the mock's format, the defaults of
``gongji_cityins.statement.StatementFormat``: UTF-8 text, tab-separated, one settlement a
line, zipped (a result file is always zipped). The result's ``stmt_rslt`` is ``"1"`` on
every line (the real codes are unconfirmed) and ``memo`` says why, in Chinese and English.
"""

from __future__ import annotations

import datetime
import decimal
import io
import json
import zipfile
from collections.abc import Iterator, Sequence
from typing import Any, Literal, TypeVar

import msgspec
from attrs import frozen

from gongji.money import ZERO, Fen
from gongji_mock.centre.decisions import CentreRefusal, Settlement
from gongji_mock.national.office import Office
from gongji_mock.national.records import Settled, StoredFile
from gongji_mock.national.schema import check_input, file_bytes
from gongji_mock.national.transform import Answer, Malformed, date, fen, legs, time_text, wrapped
from gongji_mock.national.wire import RequestEnvelope

#: How long a file may be downloaded after it was made.
FILE_TTL = datetime.timedelta(days=1)
UPLOAD_COLUMNS = (
    7  # setl_id, mdtrt_id, psn_no, medfee_sumamt, fund_pay_sumamt, acct_pay, refd_setl_flag
)
_SEPARATOR = "\t"
_ZIP_MAGIC = b"PK\x03\x04"
_NOT_STANDING = "中心无此有效结算 / The centre has no standing settlement under this setl_id."
_STILL_STANDING = "中心结算仍有效 / The centre still counts this settlement; it was not refunded."
_AMOUNTS_DIFFER = "金额不符 / The amounts differ from the centre's."
_PERSON_DIFFERS = "人员或就诊不符 / The psn_no or mdtrt_id differs from the centre's."
_NOT_UPLOADED = "机构未上传 / The centre counts this settlement; the institution's file lacks it."


# ---------------------------------------------------------------- inputs


class _In(msgspec.Struct, frozen=True, kw_only=True):
    """Inputs, decoded after ``check_input`` passed them."""


class TotalsData(_In, frozen=True, kw_only=True):
    insutype: str
    clr_type: str
    setl_optins: str
    stmt_begndate: str
    stmt_enddate: str
    medfee_sumamt: decimal.Decimal
    fund_pay_sumamt: decimal.Decimal
    acct_pay: decimal.Decimal
    fixmedins_setl_cnt: int


class DetailsData(_In, frozen=True, kw_only=True):
    setl_optins: str
    file_qury_no: str
    stmt_begndate: str
    stmt_enddate: str
    medfee_sumamt: decimal.Decimal
    fund_pay_sumamt: decimal.Decimal
    cash_payamt: decimal.Decimal
    fixmedins_setl_cnt: int
    clr_type: str | None = None


class FileNamed(_In, frozen=True, kw_only=True):
    filename: str
    fixmedins_code: str
    file_qury_no: str = ""


# ---------------------------------------------------------------- 3201

_T = TypeVar("_T")


def day_totals(office: Office, envelope: RequestEnvelope) -> Answer:
    data = _convert(_node(envelope, "data"), TotalsData, envelope)
    group = (data.insutype, data.clr_type, data.setl_optins)
    found = [
        (settlement, settled)
        for settlement, settled in _standing(
            office, envelope, data.stmt_begndate, data.stmt_enddate
        )
        if _clearing(settled) == group
    ]
    ours = [_amounts(settlement) for settlement, _ in found]
    same = (
        data.fixmedins_setl_cnt == len(found)
        and fen(data.medfee_sumamt, "medfee_sumamt") == sum((a[0] for a in ours), ZERO)
        and fen(data.fund_pay_sumamt, "fund_pay_sumamt") == sum((a[1] for a in ours), ZERO)
        and fen(data.acct_pay, "acct_pay") == sum((a[2] for a in ours), ZERO)
    )
    description = (
        "对账一致 / The totals agree."
        if same
        else "对账不平，请用3202核对明细 / The totals differ; compare the details with 3202."
    )
    return Answer(
        wrapped(
            stmtinfo=wrapped(
                setl_optins=data.setl_optins,
                stmt_rslt="0" if same else "1",
                stmt_rslt_dscr=description,
            )
        )
    )


# ---------------------------------------------------------------- 9101, 9102


def upload(office: Office, envelope: RequestEnvelope) -> Answer:
    given = _node(envelope, "fsUploadIn")
    named = _convert(given, FileNamed, envelope)
    _own(named, envelope)
    content = file_bytes(given["in"])
    assert content is not None  # check_input refused anything else
    stored = _store(office, named.fixmedins_code, named.filename, content, "upload")
    return Answer(
        wrapped(
            file_qury_no=stored,
            filename=named.filename,
            fixmedins_code=named.fixmedins_code,
            dld_endtime=_expiry(office),
        )
    )


def download(office: Office, envelope: RequestEnvelope) -> Answer:
    named = _convert(_node(envelope, "fsDownloadIn"), FileNamed, envelope)
    _own(named, envelope)
    stored = _file(office, named.file_qury_no, envelope)
    if stored.filename != named.filename:
        raise CentreRefusal(
            "文件名与文件查询号不符",
            f"File {named.file_qury_no[:30]} is not called {named.filename[:60]!r}; send the "
            "filename the centre answered with the file_qury_no.",
        )
    return Answer(None, file=stored.content)


# ---------------------------------------------------------------- 3202


def day_details(office: Office, envelope: RequestEnvelope) -> Answer:
    data = _convert(_node(envelope, "data"), DetailsData, envelope)
    uploaded = _file(office, data.file_qury_no, envelope)
    if uploaded.kind != "upload":
        raise Malformed(
            "文件查询号不是上传的明细文件",
            f"{data.file_qury_no[:30]} is not a file this institution uploaded with 9101; upload "
            "the details file first. Nothing was processed.",
        )
    lines = _details(uploaded.content)
    claimed = (
        data.fixmedins_setl_cnt,
        fen(data.medfee_sumamt, "medfee_sumamt"),
        fen(data.fund_pay_sumamt, "fund_pay_sumamt"),
    )
    filed = (
        len(lines),
        sum((line.total for line in lines), ZERO),
        sum((line.fund for line in lines), ZERO),
    )
    if claimed != filed:
        raise Malformed(
            "汇总与明细文件不符",
            "fixmedins_setl_cnt, medfee_sumamt and fund_pay_sumamt must be the count and sums "
            "of the uploaded file's lines. Nothing was processed.",
        )
    centre = {
        settlement.setl_id: (settlement, settled)
        for settlement, settled in _standing(
            office, envelope, data.stmt_begndate, data.stmt_enddate
        )
        if _clearing(settled)[2] == data.setl_optins
        and (not data.clr_type or _clearing(settled)[1] == data.clr_type)
    }
    rows = list(_result_rows(office, lines, centre))
    name = f"{data.file_qury_no}_result.txt"
    content = _zipped(name, "".join(_SEPARATOR.join(row) + "\n" for row in rows))
    stored = _store(office, envelope.fixmedins_code, f"{name}.zip", content, "result")
    return Answer(
        wrapped(
            fileinfo=wrapped(
                file_qury_no=stored, filename=f"{name}.zip", dld_endtime=_expiry(office)
            )
        )
    )


@frozen
class _Line:
    number: int
    setl_id: str
    mdtrt_id: str
    psn_no: str
    total: Fen
    fund: Fen
    own_account: Fen
    refunded: bool


def _details(content: bytes) -> list[_Line]:
    try:
        text = _unzipped(content).decode("utf-8")
    except (UnicodeDecodeError, zipfile.BadZipFile, KeyError):
        raise Malformed(
            "明细文件无法读取",
            "The details file is not UTF-8 text (zipped or not); upload it again. Nothing was processed.",
        ) from None
    lines = []
    for number, row in enumerate(text.splitlines(), 1):
        if not row.strip():
            continue
        values = row.split(_SEPARATOR)
        if len(values) != UPLOAD_COLUMNS or not values[0] or values[6] not in ("0", "1"):
            raise Malformed(
                "明细文件格式错误",
                f"Line {number} of the details file is not setl_id, mdtrt_id, psn_no, "
                "medfee_sumamt, fund_pay_sumamt, acct_pay, refd_setl_flag (0 or 1), "
                "tab-separated. Nothing was processed.",
            )
        try:
            total, fund, own = (decimal.Decimal(v) for v in values[3:6])
        except decimal.InvalidOperation:
            raise Malformed(
                "明细文件金额错误", f"Line {number} has an amount that is not a number."
            ) from None
        lines.append(
            _Line(
                number=number,
                setl_id=values[0],
                mdtrt_id=values[1],
                psn_no=values[2],
                total=fen(total, "medfee_sumamt"),
                fund=fen(fund, "fund_pay_sumamt"),
                own_account=fen(own, "acct_pay"),
                refunded=values[6] == "1",
            )
        )
    return lines


def _result_rows(
    office: Office, lines: Sequence[_Line], centre: dict[str, tuple[Settlement, Settled]]
) -> Iterator[list[str]]:
    """The result file's lines, in RESULT order: psn_no, mdtrt_id, setl_id, msgid,
    stmt_rslt, refd_setl_flag, memo, and the centre's medfee_sumamt, fund_pay_sumamt,
    acct_pay (empty where it has no standing settlement)."""
    filed: set[str] = set()
    for line in lines:
        filed.add(line.setl_id)
        standing = centre.get(line.setl_id)
        flag = "1" if line.refunded else "0"
        if standing is None:
            if not line.refunded:
                known = office.records.settled.get(line.setl_id)
                msgid = known.msgid if known is not None else ""
                yield [
                    line.psn_no,
                    line.mdtrt_id,
                    line.setl_id,
                    msgid,
                    "1",
                    flag,
                    _NOT_STANDING,
                    "",
                    "",
                    "",
                ]
            continue
        settlement, settled = standing
        ours = _amounts(settlement)
        if line.refunded:
            memo = _STILL_STANDING
        elif (line.total, line.fund, line.own_account) != ours:
            memo = _AMOUNTS_DIFFER
        elif (line.psn_no, line.mdtrt_id) != (settled.psn_no, settled.mdtrt_id):
            memo = _PERSON_DIFFERS
        else:
            continue
        yield _centre_row(settlement, settled, flag, memo)
    for setl_id, (settlement, settled) in centre.items():
        if setl_id not in filed:
            yield _centre_row(settlement, settled, "0", _NOT_UPLOADED)


def _centre_row(settlement: Settlement, settled: Settled, flag: str, memo: str) -> list[str]:
    total, fund, own = _amounts(settlement)
    return [
        settled.psn_no,
        settled.mdtrt_id,
        settlement.setl_id,
        settled.msgid,
        "1",
        flag,
        memo,
        total.to_yuan(),
        fund.to_yuan(),
        own.to_yuan(),
    ]


# ---------------------------------------------------------------- shared


def _node(envelope: RequestEnvelope, name: str) -> dict[str, Any]:
    """The input's one node, after the input passed the schema's table (NATIONAL.md)."""
    try:
        given = json.loads(bytes(envelope.input), parse_float=decimal.Decimal)
    except ValueError:
        given = None
    if not isinstance(given, dict):
        raise Malformed("输入参数错误", f"The input of {envelope.infno} is not a JSON object.")
    problems = check_input(envelope.infno, given)
    if problems:
        raise Malformed(
            "输入参数不符合接口规范",
            f"{' '.join(problems[:3])} Fix the input (NATIONAL.md §10); nothing was processed.",
        )
    node: dict[str, Any] = given[name]
    return node


def _convert(node: Any, kind: type[_T], envelope: RequestEnvelope) -> _T:
    """The node as ``kind``; a value the table let through but the struct cannot hold
    (found by the fuzzer: a count written with decimals, say) is ``Malformed`` too."""
    try:
        return msgspec.convert(node, kind)
    except msgspec.ValidationError as exc:
        raise Malformed(
            "输入参数错误",
            f"The input of {envelope.infno} does not match the interface ({exc}); fix it and "
            "send it again. Nothing was processed.",
        ) from None


def _own(named: FileNamed, envelope: RequestEnvelope) -> None:
    if named.fixmedins_code != envelope.fixmedins_code:
        raise Malformed(
            "医药机构编号不符",
            "fixmedins_code in the input must be the envelope's institution. Nothing was processed.",
        )


def _file(office: Office, file_qury_no: str, envelope: RequestEnvelope) -> StoredFile:
    stored = office.records.files.get(file_qury_no)
    if stored is None or stored.fixmedins_code != envelope.fixmedins_code:
        raise CentreRefusal(
            "文件查询号不存在",
            f"There is no file {file_qury_no[:30]} of this institution; upload it with 9101 first.",
        )
    if office.centre.clock() > stored.expires:
        raise CentreRefusal(
            "文件已过下载截止时间",
            f"File {file_qury_no[:30]} expired at its dld_endtime; ask for it again.",
        )
    return stored


def _store(
    office: Office,
    institution: str,
    filename: str,
    content: bytes,
    kind: Literal["upload", "result"],
) -> str:
    files = office.records.files
    now = office.centre.clock()
    number = f"FQ{now:%Y%m%d}{len(files) + 1:08d}"
    files.put(number, StoredFile(institution, filename, content, kind, now + FILE_TTL))
    return number


def _expiry(office: Office) -> str:
    return time_text(office.centre.clock() + FILE_TTL)


def _zipped(name: str, text: str) -> bytes:
    packed = io.BytesIO()
    with zipfile.ZipFile(packed, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(name, text.encode("utf-8"))
    return packed.getvalue()


def _unzipped(content: bytes) -> bytes:
    if not content.startswith(_ZIP_MAGIC):
        return content
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        members = [info for info in archive.infolist() if not info.is_dir()]
        if len(members) != 1:
            raise KeyError("one file expected")
        return archive.read(members[0])


def _standing(
    office: Office, envelope: RequestEnvelope, first_text: str, last_text: str
) -> Iterator[tuple[Settlement, Settled]]:
    """This institution's settlements of the period that stand."""
    first = date(first_text, "stmt_begndate")
    last = date(last_text, "stmt_enddate")
    if last < first or (last - first).days > 31:
        raise Malformed(
            "对账日期区间错误",
            "stmt_enddate must be on or after stmt_begndate, within 31 days.",
        )
    day = first
    while day <= last:
        for settlement in office.centre.settlements_on(day):
            settled = office.records.settled.get(settlement.setl_id)
            if settled is not None and settled.fixmedins_code == envelope.fixmedins_code:
                yield settlement, settled
        day += datetime.timedelta(days=1)


def _clearing(settled: Settled) -> tuple[str, str, str]:
    """(insutype, clr_type, clr_optins) as the settlement's answer gave them."""
    info = settled.output.setlinfo
    return info.insutype, info.clr_type, info.clr_optins


def _amounts(settlement: Settlement) -> tuple[Fen, Fen, Fen]:
    """medfee_sumamt, fund_pay_sumamt, acct_pay (own accounts; mutual aid apart)."""
    quote = settlement.quote
    return quote.total, quote.fund, legs(quote, "own_account")
