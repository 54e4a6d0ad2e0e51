"""The centre's rule checks: 3101 (明细审核事前分析, before the pre-settlement) and 3102
(事中分析, between the pre-settlement and the settlement), NATIONAL.md §12.

Both take the same input: ``data`` with ``syscode``, ``trig_scen`` and ``task_id``, and the
patient (``patient_dtos``), who holds the visit (``fsi_encounter_dtos``), which holds its
diagnoses (``fsi_diagnose_dtos``) and its orders (``fsi_order_dtos``, one per line). The
nesting follows public code (S1, and HIS clients that call 3101/3102); NATIONAL.md lists
the nodes without saying it. Both answer ``result``, the violations found.

Every value NATIONAL.md leaves open is a region setting (``RiskSettings``, the
``[gateway.risk]`` table, docs/reference/config.md), and the checks are off unless the
region turns them on: whether Liaoning enforces them at pharmacies is unconfirmed.
"""

from __future__ import annotations

import datetime
from typing import Any

import attrs
import msgspec
from attrs import frozen

from gongji import clock as beijing
from gongji.errors import ConfigError, UntrustedAnswer
from gongji.gateways import CentreSettlement, RiskFinding, RiskStage, SettlementRequest
from gongji.identity import scrub_ids
from gongji.model import LineItem, Setting
from gongji.money import ZERO
from gongji_cityins import wire
from gongji_cityins.transform import CHRONIC_MED_TYPE, MED_TYPE, fen, insurance_code

__all__ = ["CheckAnswer", "Medins", "RiskSettings", "check_input", "findings_from"]

#: trig_scen codes as one public HIS lists them (事前 1 门诊挂号, 2 门诊收费登记, 3 住院登记,
#: 4 住院收费登记, 5 住院执行医嘱; 事中 6 门诊结算, 7 门诊预结算, 8 住院结算, 9 住院预结算,
#: 10 购药划卡). Which a region expects of a pharmacy is unconfirmed.
_SCENES = {
    (RiskStage.PRE_EVENT, Setting.PHARMACY): "2",
    (RiskStage.IN_EVENT, Setting.PHARMACY): "10",
    (RiskStage.PRE_EVENT, Setting.OUTPATIENT): "2",
    (RiskStage.IN_EVENT, Setting.OUTPATIENT): "6",
}
#: sev_deg values that stop the sale. The dictionary's codes are not in a public source;
#: one public sample sends the words (明确违规, "a clear violation"). Unconfirmed.
BLOCKING = ("1", "明确违规")


@frozen
class RiskSettings:
    """A region's rule checks (``[gateway.risk]``). Off by default; every value is
    unconfirmed for Liaoning (NATIONAL.md §12): confirm it with the centre."""

    #: Ask 3101 and 3102 in every sale. Off: no centre is known to require them of a
    #: Liaoning pharmacy, and a sale then pays nothing for them.
    enabled: bool = False
    #: The caller's system code (``syscode``, C 10), as the region gives it.
    syscode: str = "GONGJI"
    #: ``trig_scen`` of each check at a pharmacy and at a clinic.
    pharmacy_pre_scene: str = _SCENES[RiskStage.PRE_EVENT, Setting.PHARMACY]
    pharmacy_in_scene: str = _SCENES[RiskStage.IN_EVENT, Setting.PHARMACY]
    outpatient_pre_scene: str = _SCENES[RiskStage.PRE_EVENT, Setting.OUTPATIENT]
    outpatient_in_scene: str = _SCENES[RiskStage.IN_EVENT, Setting.OUTPATIENT]
    #: The ``sev_deg`` values that stop the sale; any other finding is a warning.
    blocking: tuple[str, ...] = BLOCKING

    def __attrs_post_init__(self) -> None:
        if not 0 < len(self.syscode) <= 10:
            raise ConfigError(
                "gateway.risk.syscode must be 1 to 10 characters (C 10).",
                next_step="Set the system code the region gave for 3101/3102.",
            )

    @classmethod
    def from_settings(cls, table: Any) -> RiskSettings:
        """From a config profile's ``[gateway.risk]`` table."""
        names = {f.name for f in attrs.fields(cls)}
        if not isinstance(table, dict) or not set(table) <= names:
            raise ConfigError(
                "gateway.risk is not a table of rule-check settings gongji knows.",
                next_step=f"Use only: {', '.join(sorted(names))} (docs/reference/config.md).",
            )
        values = dict(table)
        for key, value in values.items():
            if key == "enabled":
                fits = isinstance(value, bool)
            elif key == "blocking":
                fits = isinstance(value, list) and all(isinstance(v, str) and v for v in value)
            else:
                fits = isinstance(value, str) and bool(value)
            if not fits:
                raise ConfigError(
                    f"gateway.risk.{key} is a {type(value).__name__}, which it cannot be.",
                    next_step="Write enabled as true or false, blocking as a list of sev_deg "
                    "values, the rest as non-empty strings (docs/reference/config.md).",
                )
        if "blocking" in values:
            values["blocking"] = tuple(values["blocking"])
        return cls(**values)

    def scene(self, stage: RiskStage, setting: Setting) -> str:
        pharmacy = setting is Setting.PHARMACY
        if stage is RiskStage.PRE_EVENT:
            return self.pharmacy_pre_scene if pharmacy else self.outpatient_pre_scene
        return self.pharmacy_in_scene if pharmacy else self.outpatient_in_scene


@frozen
class Medins:
    """The designated institution, as the check's visit names it."""

    code: str  # medins_id: fixmedins_code
    name: str
    region: str  # medins_admdvs: the pooling region the gateway serves


# ---------------------------------------------------------------- the input


def _diagnosis(code: str, name: str) -> dict[str, Any]:
    """The visit's one (main) diagnosis, in the fields public HIS code sends."""
    return {"dise_codg": code, "dise_name": name, "maindise_flag": "1", "dias_srt_no": 1}


def check_input(
    stage: RiskStage,
    request: SettlementRequest,
    pre: CentreSettlement | None,
    settings: RiskSettings,
    institution: Medins,
    task_id: str,
    at: datetime.datetime,
    *,
    chronic_med_type: str = CHRONIC_MED_TYPE,
) -> dict[str, Any]:
    """The input of 3101 / 3102 for the sale ``request``. ``pre``: the centre's
    pre-settlement (3102), whose visit id and fund shares it sends. A pharmacy sale has no
    visit id before 2101: its ``task_id`` names the visit then (unconfirmed). A sale under
    a registered chronic disease goes as the region's ``chronic_med_type`` with that
    disease as its one diagnosis, as its 2101/2102 names it."""
    patient = request.patient
    mdtrt_id = (pre.mdtrt_id if pre is not None else "") or request.visit_id or task_id
    when = beijing.wire_time(at)
    poolarea = patient.insurance.region or institution.region
    disease = request.disease
    encounter: dict[str, Any] = {
        "mdtrt_id": mdtrt_id,
        "medins_id": institution.code,
        "medins_name": institution.name,
        "medins_admdvs": institution.region,
        "adm_date": when,
        "med_type": MED_TYPE[request.setting.value] if disease is None else chronic_med_type,
        "insutype": insurance_code(patient),
        "medfee_sumamt": sum((item.amount for item in request.items), ZERO).to_yuan(),
        # 1: insured in another pooling region (异地), 0: here.
        "out_setl_flag": "0" if poolarea[:4] == institution.region[:4] else "1",
        "fsi_diagnose_dtos": [] if disease is None else [_diagnosis(disease.code, disease.name)],
        "fsi_order_dtos": [
            _order(number, item, when) for number, item in enumerate(request.items, 1)
        ],
    }
    if pre is not None:
        encounter["hifp_payamt"] = pre.fund.to_yuan()
        encounter["acct_payamt"] = (pre.own_account + pre.mutual_aid_total).to_yuan()
    return {
        "data": {
            "syscode": settings.syscode,
            "trig_scen": settings.scene(stage, request.setting),
            "task_id": task_id,
            "patient_dtos": [
                {
                    "patn_id": request.psn_no,
                    "patn_name": patient.name,
                    "gend": "1" if patient.id.sex == "male" else "2",
                    "brdy": patient.id.birth_date.isoformat(),
                    "poolarea": poolarea,
                    "curr_mdtrt_id": mdtrt_id,
                    "fsi_encounter_dtos": [encounter],
                }
            ],
        }
    }


def _order(number: int, item: LineItem, when: str) -> dict[str, Any]:
    """One line as an order (处方/医嘱): the national code and the institution's own."""
    order: dict[str, Any] = {
        "rx_id": str(number),  # the line's feedetl_sn in 2101/2102
        "hilist_code": item.listed_code,
        "hilist_name": item.name[:50],  # C 50 (S1)
        "hosplist_code": item.code,
        "hosplist_name": item.name[:50],
        "cnt": item.quantity,
        "pric": item.unit_price.to_yuan(),
        "sumamt": item.amount.to_yuan(),
        "drord_begn_date": when,
        "long_drord_flag": "0",
        "curr_drord_flag": "1",
    }
    if item.prescription:
        order["rxno"] = item.prescription
    return order


# ---------------------------------------------------------------- the answer


class _Out(msgspec.Struct, frozen=True, kw_only=True):
    """Unknown fields are ignored; optional ones default."""


#: An identifier or a code as answers carry it: text, or a number.
_Code = str | int | None


class Violation(_Out, frozen=True, kw_only=True):
    """One entry of ``result`` (S1: SQMX3101's ``Result``)."""

    jr_id: _Code = None
    rule_id: _Code = None
    rule_name: str | None = None
    vola_cont: str | None = None
    vola_amt: wire.Amount = None
    sev_deg: _Code = None
    vola_bhvr_type: _Code = None


class CheckAnswer(_Out, frozen=True, kw_only=True):
    #: A list of violations; one centre's model (S1) has a single object; none: nothing found.
    result: list[Violation] | Violation | None = None


def findings_from(
    output: bytes | msgspec.Raw, stage: RiskStage, settings: RiskSettings
) -> tuple[RiskFinding, ...]:
    """The violations an answer names, blocking where ``settings`` says their ``sev_deg``
    stops the sale. An empty, ``null`` or absent ``result`` (or ``output``) is nothing found."""
    if bytes(output).strip() in (b"", b"null"):
        return ()
    try:
        answer = wire.decode(output, CheckAnswer)
    except msgspec.DecodeError as error:  # ValidationError included
        raise UntrustedAnswer(
            f"The insurance centre's {stage.value} output is not as documented: {error}",
            next_step="Nothing was trusted from this answer; report it to the centre.",
        ) from error
    found = answer.result
    violations = [found] if isinstance(found, Violation) else (found or [])
    blocking = {level.strip() for level in settings.blocking}
    return tuple(
        RiskFinding(
            stage=stage,
            rule_id=_text(v.rule_id, 50),
            rule_name=_text(v.rule_name, 200),
            content=_text(v.vola_cont, 500),
            amount=fen(v.vola_amt, "an amount in question"),
            severity=_text(v.sev_deg, 10),
            blocking=_text(v.sev_deg, 10) in blocking,
        )
        for v in violations
    )


def _text(value: _Code, limit: int) -> str:
    """A field as text: trimmed, at most ``limit`` characters, no full ID number in it."""
    return scrub_ids("" if value is None else str(value).strip())[:limit]
