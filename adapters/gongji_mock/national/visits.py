"""The clinic visit (NATIONAL.md §8): 2201 registers it, 2202 cancels the registration,
2203 uploads its diagnoses, 2204 its fee lines in a charge batch, 2205 withdraws a batch's
unsettled lines; 2206/2207 (``settlement``) settle a batch's standing lines.

The order is the centre's: a visit takes fee lines after its diagnosis, none after its
registration was cancelled or while it stands settled; a settled visit is neither
withdrawn from nor cancelled until its settlement is (2208).
"""

from __future__ import annotations

from attrs import evolve

from gongji import clock as beijing
from gongji.model import Coverage
from gongji_mock.centre.decisions import CentreRefusal
from gongji_mock.national.office import Office
from gongji_mock.national.records import EVERY_BATCH, FeeLine, Visit
from gongji_mock.national.transform import (
    Answer,
    Malformed,
    credential,
    decode_input,
    line_item,
    wrapped,
)
from gongji_mock.national.wire import (
    Data,
    DiagnosisInput,
    FeeResult,
    FeeUploadInput,
    RegistrationData,
    RequestEnvelope,
    VisitData,
)

_LEVEL = {Coverage.A: "01", Coverage.B: "02", Coverage.C: "03"}


def visit_of(office: Office, mdtrt_id: str, psn_no: str, fixmedins_code: str) -> Visit:
    """The institution's visit ``mdtrt_id`` of this patient, or a refusal saying why not."""
    visit = office.records.visits.get(mdtrt_id)
    if visit is None or visit.fixmedins_code != fixmedins_code:
        raise CentreRefusal(
            "就诊ID不存在",
            f"There is no visit {mdtrt_id[:30]} here; register it with 2201 first.",
        )
    if visit.psn_no != psn_no:
        raise CentreRefusal(
            "就诊ID与人员编号不符",
            f"Visit {mdtrt_id[:30]} belongs to another psn_no; use the patient's own visit.",
        )
    return visit


def open_visit(office: Office, mdtrt_id: str, psn_no: str, fixmedins_code: str) -> Visit:
    """``visit_of``, refused when its registration was cancelled (2202)."""
    visit = visit_of(office, mdtrt_id, psn_no, fixmedins_code)
    if visit.cancelled:
        raise CentreRefusal(
            "该就诊已撤销挂号",
            f"The registration of visit {mdtrt_id[:30]} was cancelled (2202); register the "
            "patient again (2201).",
        )
    return visit


def is_settled(office: Office, visit: Visit) -> bool:
    """Settled and not cancelled since: no more lines, no second settlement."""
    return visit.setl_id is not None and not office.centre.is_cancelled(visit.setl_id)


def _not_settled(office: Office, visit: Visit, what: str) -> None:
    if is_settled(office, visit):
        raise CentreRefusal(
            "该就诊已结算",
            f"The visit is already settled; {what}. Cancel the settlement (2208) first.",
        )


def register(office: Office, envelope: RequestEnvelope) -> Answer:
    data = decode_input(envelope, Data[RegistrationData]).data
    patient = office.people.person(data.psn_no)
    holder = office.centre.resolve(
        credential(data.mdtrt_cert_type, data.mdtrt_cert_no, data.card_sn)
    )
    if holder.id != patient.id:
        raise CentreRefusal(
            "冒名就医：所出示凭证不属于患者本人，请使用患者本人医保凭证",
            "R1: the credential presented is not the patient's own; use the patient's own credential.",
            rule="R1",
        )
    visits = office.records.visits
    mdtrt_id = f"MDT{beijing.day(office.centre.clock()):%Y%m%d}{len(visits) + 1:08d}"
    visits.put(
        mdtrt_id,
        Visit(data.psn_no, patient.id, envelope.fixmedins_code, ipt_otp_no=data.ipt_otp_no),
    )
    return Answer(
        wrapped(data=wrapped(mdtrt_id=mdtrt_id, psn_no=data.psn_no, ipt_otp_no=data.ipt_otp_no))
    )


def cancel_registration(office: Office, envelope: RequestEnvelope) -> Answer:
    """2202: the visit is closed; its unsettled lines go with it."""
    data = decode_input(envelope, Data[VisitData]).data
    visit = open_visit(office, data.mdtrt_id, data.psn_no, envelope.fixmedins_code)
    if (data.ipt_otp_no or "") != visit.ipt_otp_no:
        raise CentreRefusal(
            "门诊号与就诊登记不符",
            "ipt_otp_no is not the one the visit was registered with (2201); send that one.",
        )
    _not_settled(office, visit, "a settled visit's registration is not cancelled")
    office.records.visits.put(data.mdtrt_id, evolve(visit, cancelled=True))
    return Answer(None)


def diagnose(office: Office, envelope: RequestEnvelope) -> Answer:
    """2203: the visit's diagnoses; a repeat (a new message) replaces them."""
    upload = decode_input(envelope, DiagnosisInput)
    info = upload.mdtrtinfo
    visit = open_visit(office, info.mdtrt_id, info.psn_no, envelope.fixmedins_code)
    if not upload.diseinfo:
        raise Malformed("诊断信息为空", "Send at least one diagnosis in diseinfo[].")
    _not_settled(office, visit, "its diagnosis is not changed")
    office.records.visits.put(info.mdtrt_id, evolve(visit, diagnosed=True))
    return Answer(None)


def upload_fees(office: Office, envelope: RequestEnvelope) -> Answer:
    upload = decode_input(envelope, FeeUploadInput)
    if not upload.feedetail:
        raise Malformed("费用明细为空", "Send at least one line in feedetail[].")
    added: dict[str, Visit] = {}  # mdtrt_id -> the visit with this upload's lines so far
    results = []
    for detail in upload.feedetail:
        if not detail.mdtrt_id or not detail.psn_no or not detail.feedetl_sn:
            raise Malformed(
                "费用明细缺少就诊ID、人员编号或明细流水号",
                "Every 2204 line needs mdtrt_id, psn_no and feedetl_sn.",
            )
        visit = added.get(detail.mdtrt_id) or open_visit(
            office, detail.mdtrt_id, detail.psn_no, envelope.fixmedins_code
        )
        if not visit.diagnosed:
            raise CentreRefusal(
                "请先上传就诊信息及诊断(2203)",
                "The visit has no diagnosis: upload it with 2203 before its fee lines.",
            )
        _not_settled(office, visit, "no more lines can be added")
        if any(line.feedetl_sn == detail.feedetl_sn for line in visit.lines):
            raise CentreRefusal(
                "费用明细流水号重复",
                f"feedetl_sn {detail.feedetl_sn[:30]} was already uploaded for this visit.",
            )
        if detail.chrg_bchno == EVERY_BATCH:
            raise Malformed(
                "收费批次号不可为0000",
                "chrg_bchno 0000 names every batch in 2205; give the lines a batch of their own.",
            )
        item = line_item(detail, office.centre.dataset.catalogue, extensions=office.extensions)
        line = FeeLine(detail.feedetl_sn, detail.chrg_bchno or "", item)
        added[detail.mdtrt_id] = evolve(visit, lines=(*visit.lines, line))
        results.append(
            FeeResult(
                feedetl_sn=detail.feedetl_sn,
                det_item_fee_sumamt=item.amount.to_yuan(),
                cnt=str(item.quantity),
                pric=item.unit_price.to_yuan(),
                chrgitm_lv=_LEVEL[item.coverage],
            )
        )
    for mdtrt_id, visit in added.items():  # all lines checked before any is kept
        office.records.visits.put(mdtrt_id, visit)
    return Answer(wrapped(result=results))


def withdraw_fees(office: Office, envelope: RequestEnvelope) -> Answer:
    """2205: the unsettled lines of a charge batch ("0000": of every batch) withdrawn."""
    data = decode_input(envelope, Data[VisitData]).data
    visit = open_visit(office, data.mdtrt_id, data.psn_no, envelope.fixmedins_code)
    _not_settled(office, visit, "settled lines are not withdrawn")
    batch = data.chrg_bchno or ""
    going = {line.feedetl_sn for line in visit.standing(batch)}
    if not going:
        raise CentreRefusal(
            "没有可撤销的费用明细",
            f"Charge batch {batch[:30]!r} holds no unsettled line of this visit; nothing was withdrawn.",
        )
    lines = tuple(
        evolve(line, withdrawn=True) if line.feedetl_sn in going else line for line in visit.lines
    )
    office.records.visits.put(data.mdtrt_id, evolve(visit, lines=lines))
    return Answer(None)
