"""2201 registers an outpatient visit, 2204 uploads its fee lines; 2206/2207 settle it."""

from __future__ import annotations

from attrs import evolve

from gongji import clock as beijing
from gongji.model import Coverage
from gongji_mock.centre.decisions import CentreRefusal
from gongji_mock.national.office import Office
from gongji_mock.national.records import Visit
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
    FeeResult,
    FeeUploadInput,
    RegistrationData,
    RequestEnvelope,
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


def is_settled(office: Office, visit: Visit) -> bool:
    """Settled and not cancelled since: no more lines, no second settlement."""
    return visit.setl_id is not None and not office.centre.is_cancelled(visit.setl_id)


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
    visits.put(mdtrt_id, Visit(data.psn_no, patient.id, envelope.fixmedins_code))
    return Answer(
        wrapped(data=wrapped(mdtrt_id=mdtrt_id, psn_no=data.psn_no, ipt_otp_no=data.ipt_otp_no))
    )


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
        visit = visit_of(office, detail.mdtrt_id, detail.psn_no, envelope.fixmedins_code)
        if is_settled(office, visit):
            raise CentreRefusal(
                "该就诊已结算", "The visit is already settled; no more lines can be added."
            )
        if any(sn == detail.feedetl_sn for sn, _ in visit.items):
            raise CentreRefusal(
                "费用明细流水号重复",
                f"feedetl_sn {detail.feedetl_sn[:30]} was already uploaded for this visit.",
            )
        item = line_item(detail, office.centre.dataset.catalogue, extensions=office.extensions)
        so_far = added.get(detail.mdtrt_id, visit)
        added[detail.mdtrt_id] = evolve(so_far, items=(*so_far.items, (detail.feedetl_sn, item)))
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
