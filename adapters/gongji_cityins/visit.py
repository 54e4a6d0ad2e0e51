"""The clinic visit on the national interface (NATIONAL.md §8): 2201 registration, 2202
its cancellation, 2203 the diagnoses, 2204 the fee lines, 2205 their withdrawal, and the
input of 2206/2207 for a visit, which names the visit and its charge batch and carries no
lines. The gateway sends these through its one ``_call``; this module builds the inputs
and reads the answers.
"""

from __future__ import annotations

import datetime
from typing import Any

import msgspec

from gongji import clock as beijing
from gongji.errors import UntrustedAnswer
from gongji.gateways import Registration, SettlementRequest
from gongji.model import Diagnosis, LineItem, Visit
from gongji.money import ZERO, Fen
from gongji_cityins import transform, wire

#: med_type of an ordinary outpatient visit (NATIONAL.md §8).
OUTPATIENT = transform.MED_TYPE["outpatient"]
#: psn_setlway, required in 2206/2207: 01 settled by item (02 by fixed quota, S7).
BY_ITEM = "01"
#: vali_flag of a diagnosis that stands.
VALID = "1"


class RegisteredVisit(msgspec.Struct, frozen=True, kw_only=True):
    mdtrt_id: str | None = ""
    psn_no: str | None = ""
    ipt_otp_no: str | None = ""


class RegistrationAnswer(msgspec.Struct, frozen=True, kw_only=True):
    """2201: ``data`` names the visit the centre registered."""

    data: RegisteredVisit


class FeeResult(msgspec.Struct, frozen=True, kw_only=True):
    """One line of 2204's ``result``, as the centre priced it; only the amount is read."""

    feedetl_sn: str | None = ""
    det_item_fee_sumamt: wire.Amount = None


class FeeUploadAnswer(msgspec.Struct, frozen=True, kw_only=True):
    result: list[FeeResult] | None = None


def registration_input(registration: Registration) -> dict[str, Any]:
    """The input of 2201. ``card_sn`` goes only with a social-security card (§5)."""
    credential = registration.credential
    begins = registration.begins_at
    data: dict[str, Any] = {
        "psn_no": registration.psn_no,
        "insutype": transform.insurance_code(registration.patient),
        "begntime": beijing.wire_time(begins) if begins is not None else "",
        "mdtrt_cert_type": credential.kind.value,
        "mdtrt_cert_no": transform.cert_no(credential),
        "ipt_otp_no": registration.outpatient_no,
        "atddr_no": registration.doctor_code,
        "dr_name": registration.doctor,
        "dept_code": registration.department_code,
        "dept_name": registration.department,
        "caty": registration.department_category,
    }
    if credential.card_sn:
        data["card_sn"] = credential.card_sn
    return {"data": data}


def registered(answer: RegistrationAnswer) -> str:
    """The centre's visit id (``mdtrt_id``) from a 2201 answer."""
    visit_id = answer.data.mdtrt_id or ""
    if not visit_id:
        raise UntrustedAnswer(
            "The centre registered the visit without a visit id (mdtrt_id).",
            next_step="Nothing was trusted from this answer; report it to the centre.",
        )
    return visit_id


def cancellation_input(visit: Visit) -> dict[str, Any]:
    """The input of 2202."""
    return {
        "data": {
            "psn_no": visit.psn_no,
            "mdtrt_id": visit.visit_id,
            "ipt_otp_no": visit.outpatient_no,
        }
    }


def diagnosis_input(
    visit: Visit, diagnoses: tuple[Diagnosis, ...], at: datetime.datetime
) -> dict[str, Any]:
    """The input of 2203: the visit (``mdtrtinfo``) and its diagnoses (``diseinfo``), in
    the order given (``diag_srt_no`` from 1, the first the main one), each by the visit's
    department and doctor, made now."""
    begins = visit.begins_at or at
    when = beijing.wire_time(at)
    return {
        "mdtrtinfo": {
            "mdtrt_id": visit.visit_id,
            "psn_no": visit.psn_no,
            "med_type": OUTPATIENT,
            "begntime": beijing.wire_time(begins),
            "main_cond_dscr": diagnoses[0].name,
        },
        "diseinfo": [
            {
                "diag_type": diagnosis.kind.value,
                "diag_srt_no": number,
                "diag_code": diagnosis.code,
                "diag_name": diagnosis.name,
                "diag_dept": visit.department,
                "dise_dor_no": visit.doctor_code,
                "dise_dor_name": visit.doctor,
                "diag_time": when,
                "vali_flag": VALID,
            }
            for number, diagnosis in enumerate(diagnoses, 1)
        ],
    }


def fee_upload_input(
    visit: Visit,
    items: tuple[LineItem, ...],
    occurred: datetime.datetime,
    *,
    approval: str,
    extensions: bool,
) -> dict[str, Any]:
    """The input of 2204: ``items`` in the visit's charge batch, numbered on from every
    line ever uploaded for the visit (``feedetl_sn`` is unique within a visit), billed by
    its department and doctor. ``approval`` is the region's ``hosp_appr_flag``."""
    when = beijing.wire_time(occurred)
    lines = []
    for number, item in enumerate(items, visit.uploaded + 1):
        line: dict[str, Any] = {
            "feedetl_sn": str(number),
            "mdtrt_id": visit.visit_id,
            "psn_no": visit.psn_no,
            "chrg_bchno": visit.batch,
            "rx_circ_flag": "1" if item.outside_prescription else "0",
            "fee_ocur_time": when,
            "med_list_codg": item.listed_code,
            "medins_list_codg": item.code,
            "det_item_fee_sumamt": item.amount.to_yuan(),
            "cnt": item.quantity,  # an int, or a Decimal (sent as its text) for a split pack
            "pric": item.unit_price.to_yuan(),
            "bilg_dept_codg": visit.department_code,
            "bilg_dept_name": visit.department,
            "bilg_dr_codg": visit.doctor_code,
            "bilg_dr_name": visit.doctor,
            "hosp_appr_flag": approval,
        }
        if item.prescription:
            line["rxno"] = item.prescription
        if extensions:
            line.update(transform.extension_line(item))
        lines.append(line)
    return {"feedetail": lines}


def fees_accepted(answer: FeeUploadAnswer) -> Fen:
    """The centre's sum of the fee lines it accepted (2204); ``""`` and null are 0."""
    return sum(
        (transform.fen(line.det_item_fee_sumamt, "a fee line") for line in answer.result or ()),
        ZERO,
    )


def withdrawal_input(visit: Visit) -> dict[str, Any]:
    """The input of 2205: the visit's charge batch, whose unsettled lines go."""
    return {"data": {"mdtrt_id": visit.visit_id, "chrg_bchno": visit.batch, "psn_no": visit.psn_no}}


def settlement_input(
    request: SettlementRequest, begins: datetime.datetime, dialect: transform.Dialect
) -> dict[str, Any]:
    """The input of 2206/2207 for a visit: the header of ``transform.settle_input``, less
    ``begntime`` (2206/2207 have none), with the visit, its charge batch and
    ``psn_setlway`` (required here: the region's, else by item)."""
    header = dict(transform.settle_input(request, begins, dialect)["data"])
    header.pop("begntime", None)
    header["mdtrt_id"] = request.visit_id
    header["chrg_bchno"] = request.charge_batch
    header["psn_setlway"] = dialect.psn_setlway or BY_ITEM
    return {"data": header}
