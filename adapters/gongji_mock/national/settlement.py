"""Pre-settlement and settlement (2101/2102 pharmacy, 2206/2207 outpatient) and their
cancellation (2103/2208): the centre decides, this module says it in the national fields."""

from __future__ import annotations

from typing import Any

import msgspec
from attrs import evolve

from gongji import clock as beijing
from gongji.model import Category, Coverage, LineItem, Purchase, Purpose, Setting
from gongji.money import ZERO, Fen, Rounding
from gongji.rules.quote import Quote
from gongji_mock.centre.decisions import CentreRefusal, Settlement
from gongji_mock.national import chronic, traceability
from gongji_mock.national.office import Office
from gongji_mock.national.people import pooling_region
from gongji_mock.national.records import EVERY_BATCH, Settled, Visit
from gongji_mock.national.transform import (
    FUND_PAY_TYPE,
    INSUTYPE,
    Answer,
    Malformed,
    balance,
    credential,
    decode_input,
    fen,
    legs,
    line_item,
    time_text,
    warnings,
)
from gongji_mock.national.visits import is_settled, open_visit
from gongji_mock.national.wire import (
    CancelData,
    Data,
    DrugSettleInput,
    MulaidDetail,
    RefusalOut,
    RequestEnvelope,
    SetlDetail,
    SetlInfo,
    SettleData,
    SettleInput,
    SettlementOut,
)

#: The amounts of a settlement that a cancellation answers negated.
_NEGATED = (
    "medfee_sumamt",
    "fulamt_ownpay_amt",
    "overlmt_selfpay",
    "preselfpay_amt",
    "inscp_scp_amt",
    "hifp_pay",
    "fund_pay_sumamt",
    "psn_part_amt",
    "acct_pay",
    "acct_mulaid_pay",
    "psn_cash_pay",
)


def pre_settle(office: Office, envelope: RequestEnvelope) -> Answer:
    purchase, data, _visit, _codes = _purchase(office, envelope)
    quote = office.centre.decide(purchase)
    output = _settlement_out(
        office,
        purchase,
        quote,
        data,
        setl_id="",
        mdtrt_id=data.mdtrt_id or "",
        msgid=envelope.msgid,
        balance_after=_own_balance_after(office, purchase, quote),
        region=envelope.mdtrtarea_admvs or "",
    )
    return Answer(output, warnings(quote))


def settle(office: Office, envelope: RequestEnvelope) -> Answer:
    purchase, data, visit, codes = _purchase(office, envelope)
    if visit is not None and is_settled(office, visit):
        assert visit.setl_id is not None
        raise CentreRefusal(
            "该就诊已结算",
            f"Visit {visit.setl_id[:30]} is already settled; cancel it (2208) before settling it again.",
        )
    centre, records = office.centre, office.records
    settlement = centre.settle(purchase, msgid=envelope.msgid)
    mdtrt_id = data.mdtrt_id or f"MDT{settlement.setl_id[4:]}"
    if visit is not None and data.mdtrt_id:
        records.visits.put(data.mdtrt_id, evolve(visit, setl_id=settlement.setl_id))
    output = _settlement_out(
        office,
        purchase,
        settlement.quote,
        data,
        setl_id=settlement.setl_id,
        mdtrt_id=mdtrt_id,
        msgid=envelope.msgid,
        balance_after=balance(centre.person(settlement.patient)),
        region=envelope.mdtrtarea_admvs or "",
    )
    settled = Settled(
        envelope.fixmedins_code,
        envelope.msgid,
        mdtrt_id,
        data.psn_no,
        output.setlinfo.setl_time,
        output,
    )
    records.add_settled(settlement.setl_id, settled)
    for line in codes:  # the packs' codes the lines carried: sold in this settlement
        traceability.record_sold(
            office, envelope.fixmedins_code, settlement.setl_id, line.entries, split=line.split
        )
    return Answer(output, warnings(settlement.quote))


def cancel(office: Office, envelope: RequestEnvelope) -> Answer:
    data = decode_input(envelope, Data[CancelData]).data
    settlement, settled = _own_settlement(office, data.setl_id, data.psn_no, envelope)
    expected = "2103" if settlement.setting is Setting.PHARMACY else "2208"
    if envelope.infno != expected:
        raise CentreRefusal(
            "撤销交易类型与原结算不符",
            f"Settlement {data.setl_id[:30]} was a {settlement.setting.value} settlement; cancel it with {expected}.",
        )
    office.centre.cancel(settlement.setl_id)
    return Answer(_cancellation_out(office, settlement, settled))


def _purchase(
    office: Office, envelope: RequestEnvelope
) -> tuple[Purchase, SettleData, Visit | None, list[traceability.LineCodes]]:
    request = _settle_input(office, envelope)
    data = request.data
    setting = Setting.PHARMACY if envelope.infno.startswith("21") else Setting.OUTPATIENT
    # The patient is the psn_no's person: the centre's own record, whatever the till says.
    patient = office.people.person(data.psn_no)
    chronic.check_settlement(office, patient, data.med_type, data.dise_codg or "")
    if setting is Setting.OUTPATIENT and not data.mdtrt_id:
        raise Malformed(
            "就诊ID为空，门诊结算须先挂号(2201)",
            f"{envelope.infno} settles a registered visit: register it with 2201, upload its fees "
            "with 2204 and send its mdtrt_id. Nothing was processed.",
        )
    visit = None
    if data.mdtrt_id:
        visit = open_visit(office, data.mdtrt_id, data.psn_no, envelope.fixmedins_code)
    catalogue = office.centre.dataset.catalogue
    lines = [
        line_item(detail, catalogue, extensions=office.extensions) for detail in request.feedetail
    ]
    codes = traceability.settlement_codes(office, request.feedetail)
    if not lines and visit is not None:
        lines = _batch_lines(visit, data.chrg_bchno)
    if not lines:
        raise Malformed(
            "费用明细为空",
            "The basket is empty: send feedetail[] with the message, or upload it with 2204 "
            "under the mdtrt_id first. Nothing was processed.",
        )
    if data.medfee_sumamt is not None:
        claimed = fen(data.medfee_sumamt, "medfee_sumamt")
        total = sum((item.amount for item in lines), ZERO)
        if claimed != total:
            raise Malformed(
                "医疗费总额与明细合计不符",
                f"medfee_sumamt {claimed.to_yuan()} differs from the lines' sum {total.to_yuan()}; "
                "fix the basket. Nothing was processed.",
            )
    # Without extensions a sale is a medical purchase by the patient: other purposes and a
    # proxy's ID number are gongji's extensions (or other operations of the interface).
    extended = office.extensions
    purchase = Purchase(
        credential=credential(data.mdtrt_cert_type, data.mdtrt_cert_no, data.card_sn),
        items=lines,
        patient_id=patient.id,
        agent_id=data.gongji_agent_certno if extended else None,
        purpose=data.gongji_purpose if extended else _purpose_of(lines),
        setting=setting,
        use_mutual_aid=_mutual_aid_asked(data, extended),
    )
    return purchase, data, visit, codes


def _batch_lines(visit: Visit, batch: str | None) -> list[LineItem]:
    """The standing lines a visit's settlement settles: those of its charge batch (all of
    the visit's without one, as gongji's extensions may send it)."""
    if batch == EVERY_BATCH:
        raise Malformed(
            "收费批次号不可为0000",
            "chrg_bchno 0000 names every batch in 2205 only; settle the batch the lines were "
            "uploaded in. Nothing was processed.",
        )
    lines = [line.item for line in visit.standing(batch or EVERY_BATCH)]
    if batch and not lines:
        raise CentreRefusal(
            "收费批次号无待结算的费用明细",
            f"Charge batch {batch[:30]!r} holds no unsettled line of this visit (withdrawn with "
            "2205, or never uploaded): upload the lines (2204) and settle their batch.",
        )
    return lines


#: What the centre's catalogue says a basket is for, when every line is of one category.
_PURPOSE_BY_CATEGORY = {
    Category.VACCINE: Purpose.VACCINE,
    Category.PHYSICAL_EXAM: Purpose.PHYSICAL_EXAM,
}


def _purpose_of(lines: list[LineItem]) -> Purpose:
    """Without extensions the till cannot say what a sale is for: the centre knows it from
    its catalogue (a basket of vaccines is a vaccine purchase); anything else is medical."""
    categories = {item.category for item in lines}
    if len(categories) == 1:
        return _PURPOSE_BY_CATEGORY.get(categories.pop(), Purpose.MEDICAL)
    return Purpose.MEDICAL


def _settle_input(office: Office, envelope: RequestEnvelope) -> SettleInput:
    """The input in the region's node names (``data`` / ``feedetail`` or ``druginfo`` /
    ``drugdetail``): the other shape is not read, as a centre of that region would not."""
    if envelope.infno in ("2101", "2102") and office.nodes.header == "druginfo":
        drug = decode_input(envelope, DrugSettleInput)
        return SettleInput(data=drug.druginfo, feedetail=drug.drugdetail)
    return decode_input(envelope, SettleInput)


def _mutual_aid_asked(data: SettleData, extensions: bool) -> bool:
    """The patient's choice of the accounts, mutual aid among them: ``acct_used_flag`` 1
    (the national flag, the centre then applies its own bindings); with extensions,
    gongji's own field when sent."""
    asked = data.gongji_use_mutual_aid if extensions else None
    if asked is None:
        return data.acct_used_flag == "1"
    if asked not in ("0", "1"):
        raise Malformed(
            "gongji_use_mutual_aid 取值错误",
            f"gongji_use_mutual_aid must be 0 or 1, got {asked[:8]!r}. Nothing was processed.",
        )
    return asked == "1"


def _own_balance_after(office: Office, purchase: Purchase, quote: Quote) -> Fen:
    if purchase.patient_id is None:
        return ZERO
    return balance(office.centre.person(purchase.patient_id)) - legs(quote, "own_account")


def _settlement_out(
    office: Office,
    purchase: Purchase,
    quote: Quote,
    data: SettleData,
    *,
    setl_id: str,
    mdtrt_id: str,
    msgid: str,
    balance_after: Fen,
    region: str,
) -> SettlementOut:
    assert purchase.patient_id is not None  # set from psn_no by _purchase
    centre, people = office.centre, office.people
    patient = centre.person(purchase.patient_id)
    policy = centre.policy_on(beijing.day(centre.clock()))
    catalogue = policy.catalogue
    keep_b = 100 - (catalogue.class_b_self_first_percent if catalogue is not None else 0)
    banned = policy.use.cash_only_categories
    own_pay = sum(
        (i.amount for i in purchase.items if i.coverage is Coverage.C or i.category in banned),
        ZERO,
    )
    pre_self = sum(
        (
            i.amount - i.amount.times_ratio(keep_b, 100, Rounding.DOWN)
            for i in purchase.items
            if i.coverage is Coverage.B and i.category not in banned
        ),
        ZERO,
    )
    in_scope = purchase.total - own_pay - pre_self
    mutual_aid = [leg for leg in quote.legs if leg.source == "mutual_aid"]
    base = people.base_info(patient)
    detail = []
    if quote.fund and patient.insurance.kind in FUND_PAY_TYPE:
        code, name = FUND_PAY_TYPE[patient.insurance.kind]
        detail.append(
            SetlDetail(
                fund_pay_type=code,
                fund_pay_type_name=name,
                inscp_scp_amt=in_scope.to_yuan(),
                fund_payamt=quote.fund.to_yuan(),
            )
        )
    return SettlementOut(
        setlinfo=SetlInfo(
            setl_id=setl_id,
            mdtrt_id=mdtrt_id,
            psn_no=base.psn_no,
            psn_name=base.psn_name,
            psn_cert_type=base.psn_cert_type,
            certno=base.certno,
            gend=base.gend,
            brdy=base.brdy,
            age=base.age,
            # A patient with no insurance of his own (paid by a relative's mutual aid, or
            # in cash) is cleared under the insutype the message named.
            insutype=INSUTYPE.get(patient.insurance.kind) or data.insutype or "",
            setl_time=time_text(centre.clock()),
            mdtrt_cert_type=data.mdtrt_cert_type,
            med_type=data.med_type,
            medfee_sumamt=quote.total.to_yuan(),
            fulamt_ownpay_amt=own_pay.to_yuan(),
            overlmt_selfpay=ZERO.to_yuan(),
            preselfpay_amt=pre_self.to_yuan(),
            inscp_scp_amt=in_scope.to_yuan(),
            hifp_pay=quote.fund.to_yuan(),
            fund_pay_sumamt=quote.fund.to_yuan(),
            psn_part_amt=(quote.total - quote.fund).to_yuan(),
            acct_pay=legs(quote, "own_account").to_yuan(),
            acct_mulaid_pay=sum((leg.amount for leg in mutual_aid), ZERO).to_yuan(),
            psn_cash_pay=quote.cash.to_yuan(),
            balc=balance_after.to_yuan(),
            medins_setl_id=msgid,
            # The institution's own pooling region clears with it, the patient's too.
            clr_optins=region,
            clr_type=data.med_type or ("41" if purchase.setting is Setting.PHARMACY else "11"),
        ),
        setldetail=detail,
        # A real centre names no owner of a mutual-aid share (acct_mulaid_pay only) and
        # gives no reasons: these lists are gongji's extensions.
        gongji_mulaid_detail=[
            MulaidDetail(
                psn_no=people.psn_no(leg.payer_id),
                certno=leg.payer_id.number,
                relation=leg.relation.value if leg.relation else "",
                amount=leg.amount.to_yuan(),
            )
            for leg in mutual_aid
            if leg.payer_id is not None
        ]
        if office.extensions
        else [],
        gongji_refusals=[
            RefusalOut(
                rule=refusal.rule,
                psn_no=people.psn_no(refusal.owner_id) if refusal.owner_id else "",
                reason=refusal.reason,
                reason_zh=refusal.reason_zh,
            )
            for refusal in quote.refusals
        ]
        if office.extensions
        else [],
    )


def _own_settlement(
    office: Office, setl_id: str, psn_no: str, envelope: RequestEnvelope
) -> tuple[Settlement, Settled]:
    settlement = office.centre.settlement(setl_id)
    settled = office.records.settled.get(setl_id)
    if settlement is None or settled is None or settled.fixmedins_code != envelope.fixmedins_code:
        raise CentreRefusal(
            "未找到该结算记录", f"There is no settlement {setl_id[:30]} of this institution."
        )
    if settled.psn_no != psn_no:
        raise CentreRefusal(
            "结算记录与人员编号不符",
            f"Settlement {setl_id[:30]} belongs to another psn_no; nothing was cancelled.",
        )
    return settlement, settled


def _cancellation_out(office: Office, settlement: Settlement, settled: Settled) -> Any:
    """2103 / 2208 as real centres answer: the original amounts negated; the person's share
    as ``psn_pay`` and the cash given back as ``cash_payamt`` (2103) or ``pdn_cash_pay``
    (2208, the spec's own spelling); no ``psn_cash_pay``; the balance as it is now."""
    original = settled.output.setlinfo
    negated = {name: (-Fen.from_yuan(getattr(original, name))).to_yuan() for name in _NEGATED}
    centre = office.centre
    cash = negated.pop("psn_cash_pay")
    setlinfo = {
        "mdtrt_id": original.mdtrt_id,
        "setl_id": original.setl_id,
        "clr_optins": pooling_region(centre.person(settlement.patient).insurance.region),
        "setl_time": time_text(centre.clock()),
        **negated,
        "balc": balance(centre.person(settlement.patient)).to_yuan(),
        "medins_setl_id": original.medins_setl_id,
    }
    if settlement.setting is Setting.PHARMACY:
        setlinfo["psn_pay"] = setlinfo.pop("psn_part_amt")
        setlinfo["cash_payamt"] = cash
    else:
        setlinfo["pdn_cash_pay"] = cash
    output: dict[str, Any] = {
        "setlinfo": setlinfo,
        "setldetail": [
            msgspec.structs.replace(d, fund_payamt=(-Fen.from_yuan(d.fund_payamt)).to_yuan())
            for d in settled.output.setldetail
        ],
    }
    if office.extensions and settled.output.gongji_mulaid_detail:
        output["gongji_mulaid_detail"] = [
            msgspec.structs.replace(m, amount=(-Fen.from_yuan(m.amount)).to_yuan())
            for m in settled.output.gongji_mulaid_detail
        ]
    return output
