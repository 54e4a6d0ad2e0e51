"""Reconciliation as the national interface has it (对账): 3201 totals per clearing group,
and 3202 details by file: the institution's settlements written to a text file and
uploaded (9101, which answers a ``file_qury_no``), 3202 naming that file, its
``fileinfo`` naming the centre's result file, downloaded with 9102.

The file formats are regional and no public source fixes them (NATIONAL.md §10): the
separator, the zip, the text encoding, how 9101 carries the bytes and the columns are a
region's ``StatementFormat``, whose defaults are what public code does and what the mock
serves. Pure functions: no I/O, no signing (``CityInsuranceGateway`` sends the messages).
"""

from __future__ import annotations

import base64
import datetime
import decimal
import io
import zipfile
import zlib
from collections.abc import Sequence
from typing import Any, Literal

import attrs
import msgspec
from attrs import frozen

from gongji import clock as beijing
from gongji.errors import ConfigError, UntrustedAnswer
from gongji.gateways import (
    CentreDifference,
    Clearing,
    SettlementRequest,
    StatementLine,
    TotalsVerdict,
)
from gongji.model import Setting
from gongji.money import ZERO, Fen
from gongji_cityins import transform

#: The institution's details file, one settlement a line (S6).
UPLOAD_COLUMNS = (
    "setl_id",
    "mdtrt_id",
    "psn_no",
    "medfee_sumamt",
    "fund_pay_sumamt",
    "acct_pay",
    "refd_setl_flag",
)
#: The centre's result file, one differing settlement a line (S6, S10).
RESULT_COLUMNS = (
    "psn_no",
    "mdtrt_id",
    "setl_id",
    "msgid",
    "stmt_rslt",
    "refd_setl_flag",
    "memo",
    "medfee_sumamt",
    "fund_pay_sumamt",
    "acct_pay",
)
_RESULT_NEEDS = frozenset({"setl_id"})
_ZIP_MAGIC = b"PK\x03\x04"
#: A result file unpacked beyond this is refused: a day's differences are far fewer lines.
MAX_RESULT_BYTES = 64_000_000
#: 3201 ``stmt_rslt``: the values are unconfirmed; another code is no verdict (None).
_VERDICTS = {"0": True, "1": False}


@frozen
class StatementFormat:
    """A region's reconciliation settings. Every default is unconfirmed (NATIONAL.md §10):
    it is what public code does, and what the mock serves."""

    #: ``clr_type`` of a settlement whose answer carries none, by setting: 41 pharmacy,
    #: 11 outpatient, as centres usually code them.
    pharmacy_clr_type: str = "41"
    outpatient_clr_type: str = "11"
    #: Between the fields of a line of either file; lines end with ``\n``.
    separator: str = "\t"
    #: The uploaded file is zipped (one ``.txt`` inside a ``.txt.zip``). A result file is
    #: read zipped or not, whichever it is.
    zipped: bool = True
    encoding: str = "utf-8"
    #: How 9101's ``in`` carries the file: base64 text (how C# and Java JSON libraries
    #: write a byte array) or a JSON array of byte values.
    file_bytes: Literal["base64", "byte_array"] = "base64"
    upload_columns: tuple[str, ...] = UPLOAD_COLUMNS
    result_columns: tuple[str, ...] = RESULT_COLUMNS

    def __attrs_post_init__(self) -> None:
        unknown = set(self.upload_columns) - set(UPLOAD_COLUMNS)
        if unknown or not set(self.result_columns) >= _RESULT_NEEDS:
            raise ConfigError(
                "The reconciliation file columns are not ones gongji can write or read.",
                next_step=(
                    f"Upload columns come from {', '.join(UPLOAD_COLUMNS)}; the result "
                    "columns must include setl_id (docs/reference/config.md)."
                ),
            )
        if not self.separator or "\n" in self.separator:
            raise ConfigError(
                "The reconciliation file separator must be one or more characters, not a newline.",
                next_step='Set statement.separator to the region\'s, e.g. "\\t" or "|".',
            )

    @classmethod
    def from_settings(cls, table: Any) -> StatementFormat:
        """From a config profile's ``[gateway.statement]`` table; lists become tuples."""
        names = {field.name for field in attrs.fields(cls)}
        if not isinstance(table, dict) or not set(table) <= names:
            raise ConfigError(
                "gateway.statement is not a table of reconciliation settings gongji knows.",
                next_step=f"Use only: {', '.join(sorted(names))} (docs/reference/config.md).",
            )
        values: dict[str, Any] = {
            k: tuple(v) if isinstance(v, list) else v for k, v in table.items()
        }
        for key, value in values.items():
            if key == "zipped":
                fits = isinstance(value, bool)
            elif key.endswith("_columns"):
                fits = isinstance(value, tuple) and all(isinstance(v, str) for v in value)
            else:
                fits = isinstance(value, str)
            if not fits:
                raise ConfigError(
                    f"gateway.statement.{key} is a {type(value).__name__}, which it cannot be.",
                    next_step="Write the columns as lists of strings, zipped as true or false, "
                    "the rest as strings (docs/reference/config.md).",
                )
        if values.get("file_bytes", "base64") not in ("base64", "byte_array"):
            raise ConfigError(
                'gateway.statement.file_bytes is "base64" or "byte_array".',
                next_step="Ask the centre how 9101 carries a file, and set it.",
            )
        return cls(**values)

    def clr_type(self, setting: Setting) -> str:
        return self.pharmacy_clr_type if setting is Setting.PHARMACY else self.outpatient_clr_type


# ---------------------------------------------------------------- answers (the wire)


class _Out(msgspec.Struct, frozen=True, kw_only=True):
    """Unknown fields are ignored; optional ones default."""


class StmtInfo(_Out, frozen=True, kw_only=True):
    setl_optins: str = ""
    stmt_rslt: str = ""
    stmt_rslt_dscr: str = ""


class TotalsAnswer(_Out, frozen=True, kw_only=True):
    """3201."""

    stmtinfo: StmtInfo


class UploadAnswer(_Out, frozen=True, kw_only=True):
    """9101."""

    file_qury_no: str
    filename: str = ""
    fixmedins_code: str = ""
    dld_endtime: str = ""


class FileInfo(_Out, frozen=True, kw_only=True):
    file_qury_no: str
    filename: str
    dld_endtime: str = ""


class DetailsAnswer(_Out, frozen=True, kw_only=True):
    """3202: where the centre's result file is."""

    fileinfo: FileInfo


# ---------------------------------------------------------------- the settlement's clearing


def clearing_of(
    insutype: str,
    clr_type: str,
    clr_optins: str,
    request: SettlementRequest,
    form: StatementFormat,
    region: str,
) -> Clearing:
    """What a settlement is cleared under: the centre's answer, and where it says nothing,
    what was sent (the 2101/2102 ``insutype``), the region's clearing type for the
    setting, and the institution's own region."""
    return Clearing(
        insutype=insutype or transform.insurance_code(request.patient),
        clr_type=clr_type or form.clr_type(request.setting),
        setl_optins=clr_optins or region,
    )


def completed(
    clearing: Clearing, lines: Sequence[StatementLine], form: StatementFormat, region: str
) -> Clearing:
    """A clearing with the region's defaults where a settlement journaled before gongji
    recorded it has none."""
    setting = lines[0].setting if lines else Setting.PHARMACY
    return Clearing(
        insutype=clearing.insutype,
        clr_type=clearing.clr_type or form.clr_type(setting),
        setl_optins=clearing.setl_optins or region,
    )


# ---------------------------------------------------------------- 3201


def totals_input(
    day: datetime.date, clearing: Clearing, lines: Sequence[StatementLine]
) -> dict[str, Any]:
    return {
        "data": {
            "insutype": clearing.insutype,
            "clr_type": clearing.clr_type,
            "setl_optins": clearing.setl_optins,
            "stmt_begndate": beijing.wire_day(day),
            "stmt_enddate": beijing.wire_day(day),
            "medfee_sumamt": _sum(lines, "total").to_yuan(),
            "fund_pay_sumamt": _sum(lines, "fund").to_yuan(),
            "acct_pay": _sum(lines, "own_account").to_yuan(),
            "fixmedins_setl_cnt": len(lines),
            # The totals leave refunds out: a refunded settlement is not standing.
            "refd_setl_flag": "0",
        }
    }


def verdict_from(
    answer: TotalsAnswer, clearing: Clearing, lines: Sequence[StatementLine]
) -> TotalsVerdict:
    info = answer.stmtinfo
    return TotalsVerdict(
        clearing=clearing,
        count=len(lines),
        total=_sum(lines, "total"),
        fund=_sum(lines, "fund"),
        own_account=_sum(lines, "own_account"),
        agreed=_VERDICTS.get(info.stmt_rslt.strip()),
        result=info.stmt_rslt[:6],
        description=info.stmt_rslt_dscr[:200],
    )


# ---------------------------------------------------------------- 3202 through 9101 and 9102


def details_file(
    day: datetime.date,
    setl_optins: str,
    lines: Sequence[StatementLine],
    form: StatementFormat,
    institution: str,
) -> tuple[str, bytes]:
    """The institution's details file: its name for 9101, and its bytes."""
    text = "".join(
        form.separator.join(_upload_value(line, column) for column in form.upload_columns) + "\n"
        for line in lines
    )
    name = f"{institution}_{setl_optins}_{day:%Y%m%d}_3202.txt"
    content = text.encode(form.encoding)
    if not form.zipped:
        return name, content
    packed = io.BytesIO()
    with zipfile.ZipFile(packed, "w", zipfile.ZIP_DEFLATED) as archive:
        # A fixed date inside: the same lines make the same file, whenever it is written.
        member = zipfile.ZipInfo(name, date_time=(day.year, day.month, day.day, 0, 0, 0))
        member.compress_type = zipfile.ZIP_DEFLATED
        archive.writestr(member, content)
    return f"{name}.zip", packed.getvalue()


def _upload_value(line: StatementLine, column: str) -> str:
    if column == "medfee_sumamt":
        return line.total.to_yuan()
    if column == "fund_pay_sumamt":
        return line.fund.to_yuan()
    if column == "acct_pay":
        return line.own_account.to_yuan()
    if column == "refd_setl_flag":
        return "0"  # every line stands: refunded settlements are not uploaded
    found: str = getattr(line, column)
    return found


def upload_input(
    content: bytes, filename: str, institution: str, form: StatementFormat
) -> dict[str, Any]:
    carried: str | list[int] = (
        base64.b64encode(content).decode("ascii") if form.file_bytes == "base64" else list(content)
    )
    return {"fsUploadIn": {"in": carried, "filename": filename, "fixmedins_code": institution}}


def details_input(
    day: datetime.date, setl_optins: str, file_qury_no: str, lines: Sequence[StatementLine]
) -> dict[str, Any]:
    return {
        "data": {
            "setl_optins": setl_optins,
            "file_qury_no": file_qury_no,
            "stmt_begndate": beijing.wire_day(day),
            "stmt_enddate": beijing.wire_day(day),
            "medfee_sumamt": _sum(lines, "total").to_yuan(),
            "fund_pay_sumamt": _sum(lines, "fund").to_yuan(),
            "cash_payamt": _sum(lines, "cash").to_yuan(),
            "fixmedins_setl_cnt": len(lines),
        }
    }


def download_input(result: FileInfo, institution: str) -> dict[str, Any]:
    return {
        "fsDownloadIn": {
            "file_qury_no": result.file_qury_no,
            "filename": result.filename,
            "fixmedins_code": institution,
        }
    }


def differences_from(content: bytes, form: StatementFormat) -> tuple[CentreDifference, ...]:
    """The centre's result file, one ``CentreDifference`` a line; empty lines skipped."""
    try:
        text = _unpacked(content).decode(form.encoding)
    except UnicodeDecodeError:
        raise UntrustedAnswer(
            f"The centre's reconciliation result is not {form.encoding} text.",
            next_step="Nothing was trusted from the result; check the region's encoding "
            "(statement.encoding) with the centre.",
        ) from None
    found = []
    for number, row in enumerate(text.splitlines(), 1):
        if not row.strip():
            continue
        values = row.split(form.separator)
        if len(values) != len(form.result_columns):
            raise UntrustedAnswer(
                f"Line {number} of the centre's reconciliation result has {len(values)} fields, "
                f"not {len(form.result_columns)}.",
                next_step=(
                    "Nothing was trusted from the result; check the region's result columns "
                    "(statement.result_columns) with the centre."
                ),
            )
        found.append(_difference(dict(zip(form.result_columns, values, strict=True)), number))
    return tuple(found)


def _difference(fields: dict[str, str], number: int) -> CentreDifference:
    def amount(name: str) -> Fen | None:
        text = fields.get(name, "").strip()
        if not text:
            return None
        try:
            value = decimal.Decimal(text)
        except decimal.InvalidOperation:
            raise UntrustedAnswer(
                f"Line {number} of the centre's reconciliation result has a {name} that is "
                "not a number.",
                next_step="Nothing was trusted from the result; report it to the centre.",
            ) from None
        return transform.fen(value, f"a {name}", signed=True)

    setl_id = fields.get("setl_id", "").strip()
    if not setl_id:
        raise UntrustedAnswer(
            f"Line {number} of the centre's reconciliation result names no settlement.",
            next_step="Nothing was trusted from the result; report it to the centre.",
        )
    return CentreDifference(
        setl_id=setl_id[:30],
        msgid=fields.get("msgid", "").strip()[:30],
        psn_no=fields.get("psn_no", "").strip()[:30],
        mdtrt_id=fields.get("mdtrt_id", "").strip()[:30],
        result=fields.get("stmt_rslt", "").strip()[:6],
        refunded=fields.get("refd_setl_flag", "").strip() == "1",
        memo=fields.get("memo", "").strip()[:500],
        total=amount("medfee_sumamt"),
        fund=amount("fund_pay_sumamt"),
        own_account=amount("acct_pay"),
    )


def _unpacked(content: bytes) -> bytes:
    """The text of a result file, zipped (one member) or not."""
    if not content.startswith(_ZIP_MAGIC):
        return content
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            members = [info for info in archive.infolist() if not info.is_dir()]
            if len(members) != 1 or members[0].file_size > MAX_RESULT_BYTES:
                raise UntrustedAnswer(
                    "The centre's reconciliation result is not one file of at most "
                    f"{MAX_RESULT_BYTES // 1_000_000} MB.",
                    next_step="Nothing was trusted from the result; report it to the centre.",
                )
            with archive.open(members[0]) as member:
                text = member.read(MAX_RESULT_BYTES + 1)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError):
        raise UntrustedAnswer(
            "The centre's reconciliation result is a damaged zip file.",
            next_step="Reconcile again; if it stays damaged, report it to the centre.",
        ) from None
    if len(text) > MAX_RESULT_BYTES:  # the zip said less than it held
        raise UntrustedAnswer(
            "The centre's reconciliation result is larger than its zip file says.",
            next_step="Nothing was trusted from the result; report it to the centre.",
        )
    return text


def is_file(content: bytes) -> bool:
    """A 9102 answer is the file itself, unless it is a JSON envelope (a refusal)."""
    head = content.lstrip()[:1]
    if head != b"{":
        return True
    try:
        found = msgspec.json.decode(content)
    except msgspec.DecodeError:
        return True
    return not (isinstance(found, dict) and "infcode" in found)


def _sum(lines: Sequence[StatementLine], share: str) -> Fen:
    return sum((getattr(line, share) for line in lines), ZERO)
