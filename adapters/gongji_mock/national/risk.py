"""3101 and 3102, the centre's rule checks (明细审核事前/事中分析, NATIONAL.md §12), as the
mock answers them: a small rule set, and findings a test or an integrator asks for.

The rules (``RiskRules``): an order of more units than a drug's limit is flagged, as a
warning (``sev_deg`` 2) above ``warn_above`` and as a clear violation (``sev_deg`` 1, which
gongji blocks by default) above ``block_above``; a limit may be set per national code.
They apply at 3101. ``flag(id_number, ...)`` makes every sale of one person come back with
a finding of the severity asked, at the check asked (3101 or 3102): the way to rehearse a
warned or a refused sale. Both checks take the same input; the mock reads what it needs of
it, and the strict tables (``schema.py``) check the rest.
"""

from __future__ import annotations

import decimal
from collections.abc import Iterator, Mapping
from typing import Any, Protocol

import msgspec
from attrs import frozen

from gongji.identity import IdNumber
from gongji_mock.national.people import PersonNumbers
from gongji_mock.national.transform import Answer, Malformed, wrapped
from gongji_mock.national.wire import RequestEnvelope

__all__ = ["BLOCK", "WARN", "Finding", "Limit", "RiskRules", "analyse"]

#: The mock's sev_deg: 1 a clear violation (明确违规), 2 a suspicion (可疑).
BLOCK, WARN = "1", "2"
_NAMES = {BLOCK: "明确违规", WARN: "可疑"}
_DECODER = msgspec.json.Decoder(Any, float_hook=decimal.Decimal)


@frozen
class Limit:
    """How many units of one drug an order may have before the check says so."""

    warn_above: decimal.Decimal = decimal.Decimal(10)
    block_above: decimal.Decimal = decimal.Decimal(100)


_FLAG_NAME = "人工设定的审核结果"
_FLAG_CONTENT = "模拟中心为该参保人设定的审核结果。"


@frozen
class Finding:
    """What a flagged person's sales come back with (``RiskRules.flag``)."""

    severity: str
    stage: str = "3101"
    rule_id: str = "MOCK-PSN"
    rule_name: str = _FLAG_NAME
    content: str = _FLAG_CONTENT


class RiskRules:
    """The mock centre's rule set and its flagged people (``mock.national.risk``)."""

    def __init__(self) -> None:
        self.default = Limit()
        self.limits: dict[str, Limit] = {}  # by national code (hilist_code)
        self._flags: dict[IdNumber, Finding] = {}

    def limit(self, code: str, *, warn_above: int | str, block_above: int | str) -> None:
        """The quantity limits of the drug with national code ``code``."""
        self.limits[code] = Limit(decimal.Decimal(warn_above), decimal.Decimal(block_above))

    def flag(
        self,
        id_number: IdNumber | str,
        severity: str = WARN,
        *,
        stage: str = "3101",
        rule_name: str = _FLAG_NAME,
        content: str = _FLAG_CONTENT,
    ) -> None:
        """Every sale of this person comes back from ``stage`` (3101 or 3102) with one
        finding of ``severity`` (``WARN`` or ``BLOCK``, or any ``sev_deg``)."""
        if stage not in ("3101", "3102"):
            raise ValueError("stage is 3101 or 3102")
        self._flags[IdNumber(id_number)] = Finding(
            severity, stage, rule_name=rule_name, content=content
        )

    def unflag(self, id_number: IdNumber | str) -> None:
        self._flags.pop(IdNumber(id_number), None)

    def flagged(self, id_number: IdNumber) -> Finding | None:
        return self._flags.get(id_number)


class _Office(Protocol):
    """What the checks use of the ``Office`` (which holds the rules: not imported here)."""

    @property
    def people(self) -> PersonNumbers: ...

    @property
    def risk(self) -> RiskRules: ...


def analyse(office: _Office, envelope: RequestEnvelope) -> Answer:
    """3101 / 3102: the findings for each patient of the input (``result``, [] for none)."""
    given = _input(envelope)
    rules = office.risk
    task_id = str(given.get("task_id") or "")
    result: list[dict[str, Any]] = []
    for patient in _records(given.get("patient_dtos")):
        psn_no = str(patient.get("patn_id") or "")
        person = office.people.person(psn_no)  # a refusal names an unknown psn_no
        mdtrt_id = str(patient.get("curr_mdtrt_id") or "")
        found = rules.flagged(person.id)
        if found is not None and found.stage == envelope.infno:
            total = sum(
                (
                    _number(e.get("medfee_sumamt"))
                    for e in _records(patient.get("fsi_encounter_dtos"))
                ),
                decimal.Decimal(0),
            )
            result.append(
                _violation(
                    len(result) + 1,
                    found.rule_id,
                    found.rule_name,
                    found.content,
                    found.severity,
                    total,
                    psn_no,
                    mdtrt_id,
                    task_id,
                    envelope.msgid,
                )
            )
        if envelope.infno != "3101":
            continue
        for order in _orders(patient):
            code = str(order.get("hilist_code") or "")
            count = _number(order.get("cnt"))
            limit = rules.limits.get(code, rules.default)
            severity = (
                BLOCK if count > limit.block_above else WARN if count > limit.warn_above else ""
            )
            if not severity:
                continue
            name = str(order.get("hilist_name") or code)
            above = limit.block_above if severity == BLOCK else limit.warn_above
            result.append(
                _violation(
                    len(result) + 1,
                    "MOCK-QTY",
                    "超量开药",
                    f"【{name}】本次数量 {count} 超过限量 {above}。",
                    severity,
                    _number(order.get("sumamt")),
                    psn_no,
                    mdtrt_id,
                    task_id,
                    envelope.msgid,
                    rx_id=str(order.get("rx_id") or ""),
                )
            )
    return Answer(wrapped(result=result))


def _violation(
    number: int,
    rule_id: str,
    rule_name: str,
    content: str,
    severity: str,
    amount: decimal.Decimal,
    psn_no: str,
    mdtrt_id: str,
    task_id: str,
    msgid: str,
    *,
    rx_id: str = "",
) -> dict[str, Any]:
    """One entry of ``result`` with the fields of S1's model."""
    money = f"{amount.quantize(decimal.Decimal('0.01'))}"
    return wrapped(
        jr_id=f"JR{msgid[-14:]}{number:03d}",
        rule_id=rule_id,
        rule_name=rule_name,
        vola_cont=content,
        patn_id=psn_no,
        mdtrt_id=mdtrt_id,
        judge_result_detail_dtos=[
            wrapped(
                jrd_id=f"JRD{msgid[-14:]}{number:03d}",
                patn_id=psn_no,
                mdtrt_id=mdtrt_id,
                rx_id=rx_id,
                vola_item_type="1",
                vola_amt=money,
            )
        ],
        vola_amt=money,
        vola_amt_stas="1",
        sev_deg=severity,
        vola_evid=_NAMES.get(severity, ""),
        vola_bhvr_type="1",
        task_id=task_id,
    )


def _input(envelope: RequestEnvelope) -> Mapping[str, Any]:
    try:
        given = _DECODER.decode(envelope.input)
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
        given = None
    data = given.get("data") if isinstance(given, dict) else None
    if not isinstance(data, dict) or not _records(data.get("patient_dtos")):
        raise Malformed(
            "输入参数错误",
            f"{envelope.infno} needs data.patient_dtos, a list of patients with their "
            "fsi_encounter_dtos; nothing was processed.",
        )
    return data


def _records(value: Any) -> list[Mapping[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _orders(patient: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    for encounter in _records(patient.get("fsi_encounter_dtos")):
        yield from _records(encounter.get("fsi_order_dtos"))


def _number(value: Any) -> decimal.Decimal:
    try:
        number = decimal.Decimal(str(value)) if value not in (None, "") else decimal.Decimal(0)
    except decimal.InvalidOperation:
        return decimal.Decimal(0)
    return number if number.is_finite() else decimal.Decimal(0)
