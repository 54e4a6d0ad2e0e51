"""Domain <-> national wire: credentials, baskets, people, bindings and settlements.

Amounts leave as yuan strings with two decimals (``Fen.to_yuan``) and come back
as ``Decimal`` read from the JSON text; anything that is not a whole number of fen
is refused, never rounded.
"""

from __future__ import annotations

import contextlib
import datetime
import decimal
from collections.abc import Iterator
from typing import Any

from gongji import clock as beijing
from gongji.errors import InvalidInput, UntrustedAnswer
from gongji.gateways import (
    CentreSettlement,
    Holder,
    MutualAidShare,
    Registration,
    SettlementRequest,
)
from gongji.identity import Credential, IdNumber
from gongji.model import (
    Binding,
    Coverage,
    Insurance,
    InsuranceKind,
    InsuranceStatus,
    LineItem,
    Person,
    PersonalAccount,
    Refusal,
    Relation,
    Visit,
)
from gongji.money import ZERO, Fen
from gongji_cityins import wire

#: insutype codes of the national interface.
EMPLOYEE, RESIDENT = "310", "390"
_INSURANCE_KIND = {EMPLOYEE: InsuranceKind.EMPLOYEE, RESIDENT: InsuranceKind.RESIDENT}
#: chrgitm_lv: the catalogue class (甲 / 乙 / 丙).
_CLASS = {Coverage.A: "01", Coverage.B: "02", Coverage.C: "03"}
#: med_type: 41 pharmacy purchase with the card, 11 general outpatient.
MED_TYPE = {"pharmacy": "41", "outpatient": "11"}

_FEN = decimal.Decimal("0.01")


def fen(amount: decimal.Decimal, what: str = "an amount", *, signed: bool = False) -> Fen:
    """A yuan amount from the centre as ``Fen``; refused unless it is whole fen, and
    unless it is zero or more where money only goes one way (``signed`` for cancellations)."""
    try:
        whole = amount.quantize(_FEN) if amount.is_finite() else None
    except decimal.InvalidOperation:  # more digits than the context holds (1E+999999)
        whole = None
    if whole is None or whole != amount or (whole < 0 and not signed):
        raise UntrustedAnswer(
            f"The centre sent {what} that is not a whole, non-negative number of fen.",
            next_step="Nothing was trusted from this answer; report it to the centre.",
        )
    return Fen(int(whole * 100))


def cert_no(credential: Credential) -> str:
    """The credential's number for the wire (an ID number's full digits, deliberately)."""
    value = credential.value
    return value.number if isinstance(value, IdNumber) else value


def insurance_code(person: Person) -> str:
    return EMPLOYEE if person.insurance.kind is InsuranceKind.EMPLOYEE else RESIDENT


def person_from(answer: wire.PersonAnswer) -> Holder:
    base = answer.baseinfo
    insurance, account = _insurance(answer.insuinfo[:1])
    with _from_centre("a person"):
        person = Person(id=base.certno, name=base.psn_name, insurance=insurance, account=account)
    return Holder(psn_no=base.psn_no, person=person)


@contextlib.contextmanager
def _from_centre(what: str) -> Iterator[None]:
    """The domain's own checks on what the centre sent: a value the model refuses
    (an ID number, a relation, a status) is the centre's fault, not the caller's, and is
    not repeated (it may be an ID number)."""
    try:
        yield
    except InvalidInput:
        raise UntrustedAnswer(
            f"The centre answered {what} with a value gongji does not accept "
            "(an ID number, a relation or a status).",
            next_step="Nothing was trusted from this answer; report it to the centre.",
        ) from None


def _insurance(infos: list[wire.InsuInfo]) -> tuple[Insurance, PersonalAccount | None]:
    if not infos:
        return Insurance(kind=InsuranceKind.NONE), None
    info = infos[0]
    kind = _INSURANCE_KIND.get(info.insutype, InsuranceKind.NONE)
    status = InsuranceStatus.ACTIVE if info.psn_insu_stas == "1" else InsuranceStatus.SUSPENDED
    insurance = Insurance(kind=kind, status=status, region=info.insuplc_admdvs)
    account = None
    if kind is InsuranceKind.EMPLOYEE:
        account = PersonalAccount(balance=fen(info.balc, "a balance"))
    return insurance, account


def bindings_from(
    answer: wire.BindingsAnswer, beneficiary: IdNumber
) -> tuple[tuple[Binding, ...], dict[IdNumber, Person]]:
    bindings, owners = [], {}
    for found in answer.gongji_bindings:
        with _from_centre("a binding"):
            binding, owner = _binding(found, beneficiary)
        bindings.append(binding)
        owners[owner.id] = owner
    return tuple(bindings), owners


def _binding(found: wire.BindingOut, beneficiary: IdNumber) -> tuple[Binding, Person]:
    owner_id = IdNumber(found.certno)
    insurance, account = _insurance(
        [
            wire.InsuInfo(
                balc=found.balc,
                insutype=found.insutype,
                psn_insu_stas=found.psn_insu_stas,
                insuplc_admdvs=found.insuplc_admdvs,
            )
        ]
    )
    owner = Person(id=owner_id, name=found.psn_name, insurance=insurance, account=account)
    limit = found.per_transaction_limit
    binding = Binding(
        owner=owner_id,
        beneficiary=beneficiary,
        relation=found.relation,
        status=found.status,
        priority=found.priority,
        per_transaction_limit=None if limit is None else fen(limit, "a limit"),
    )
    return binding, owner


def settle_input(request: SettlementRequest, *, extensions: bool) -> dict[str, Any]:
    """The input of 2101/2102 (pharmacy) or 2206/2207 (outpatient).

    An outpatient visit's lines are at the centre already (2204): the message names the
    visit (``mdtrt_id``) and its total, and carries no lines; the centre settles the
    lines it holds and refuses a total that is not theirs.
    """
    total = sum((item.amount for item in request.items), ZERO)
    credential = request.credential
    data: dict[str, Any] = {
        "psn_no": request.psn_no,
        "mdtrt_cert_type": credential.kind.value,
        "mdtrt_cert_no": cert_no(credential),
        "card_sn": credential.card_sn,
        "med_type": MED_TYPE[request.setting.value],
        "medfee_sumamt": total.to_yuan(),
        "insutype": insurance_code(request.patient),
        "acct_used_flag": "1",
    }
    if extensions:
        data["gongji_purpose"] = request.purpose.value
        data["gongji_agent_certno"] = request.agent_id.number if request.agent_id else None
        # The patient's choice of mutual aid, until acct_used_flag carries it (issue 14).
        data["gongji_use_mutual_aid"] = "1" if request.use_mutual_aid else "0"
    if request.visit_id:
        data["mdtrt_id"] = request.visit_id
        return {"data": data}
    return {
        "data": data,
        "feedetail": [_line(n, item, extensions) for n, item in enumerate(request.items, 1)],
    }


def registration_input(registration: Registration) -> dict[str, Any]:
    """The input of 2201, outpatient registration."""
    credential = registration.credential
    begins = registration.begins_at
    return {
        "data": {
            "psn_no": registration.psn_no,
            "insutype": insurance_code(registration.patient),
            "begntime": beijing.wire_time(begins) if begins is not None else "",
            "mdtrt_cert_type": credential.kind.value,
            "mdtrt_cert_no": cert_no(credential),
            "card_sn": credential.card_sn,
            "ipt_otp_no": registration.outpatient_no,
            "atddr_no": registration.doctor_code,
            "dr_name": registration.doctor,
            "dept_code": registration.department_code,
            "dept_name": registration.department,
        }
    }


def fee_upload_input(
    visit: Visit, items: tuple[LineItem, ...], occurred: datetime.datetime, *, extensions: bool
) -> dict[str, Any]:
    """The input of 2204: ``items`` numbered on from the lines ``visit`` already has
    (``feedetl_sn`` is unique within a visit), billed by the visit's department and doctor."""
    first = len(visit.items) + 1
    lines = []
    for number, item in enumerate(items, first):
        line = _line(number, item, extensions)
        line |= {
            "mdtrt_id": visit.visit_id,
            "psn_no": visit.psn_no,
            "fee_ocur_time": beijing.wire_time(occurred),
            "bilg_dept_codg": visit.department_code,
            "bilg_dept_name": visit.department,
            "bilg_dr_codg": visit.doctor_code,
            "bilg_dr_name": visit.doctor,
        }
        lines.append(line)
    return {"feedetail": lines}


def fees_accepted(answer: wire.FeeUploadAnswer) -> Fen:
    """The centre's sum of the fee lines it accepted (2204)."""
    return sum((fen(line.det_item_fee_sumamt, "a fee line") for line in answer.result), ZERO)


def _line(number: int, item: LineItem, extensions: bool) -> dict[str, Any]:
    line: dict[str, Any] = {
        "feedetl_sn": str(number),
        "med_list_codg": item.code,
        "medins_list_codg": item.code,
        "cnt": item.quantity,
        "pric": item.unit_price.to_yuan(),
        "det_item_fee_sumamt": item.amount.to_yuan(),
        "chrgitm_lv": _CLASS[item.coverage],
    }
    if extensions:
        line["gongji_category"] = item.category.value
        line["gongji_item_name"] = item.name
    return line


def settlement_from(
    answer: wire.SettlementAnswer, msgid: str, *, cancellation: bool = False
) -> CentreSettlement:
    """The centre's split; a cancellation's amounts are negative (the money going back)."""
    info = answer.setlinfo

    def amount(value: decimal.Decimal, what: str) -> Fen:
        return fen(value, what, signed=cancellation)

    shares = tuple(
        MutualAidShare(
            owner_id=_id_from_centre(share.certno),
            amount=amount(share.amount, "a mutual-aid share"),
            relation=_relation(share.relation),
        )
        for share in answer.gongji_mulaid_detail
    )
    settlement = CentreSettlement(
        setl_id=info.setl_id,
        mdtrt_id=info.mdtrt_id,
        msgid=msgid,
        total=amount(info.medfee_sumamt, "a total"),
        fund=amount(info.fund_pay_sumamt, "a fund share"),
        own_account=amount(info.acct_pay, "an account share"),
        mutual_aid=shares,
        cash=amount(info.psn_cash_pay, "a cash share"),
        balance=fen(info.balc, "a balance"),
        patient_id=_id_from_centre(info.certno) if info.certno else None,
        refusals=tuple(
            Refusal(rule=r.rule, reason=r.reason, reason_zh=r.reason_zh)
            for r in answer.gongji_refusals
        ),
        settled_at=beijing.from_wire_time(info.setl_time),
    )
    mutual_aid = amount(info.acct_mulaid_pay, "a mutual-aid share")
    if settlement.mutual_aid_total != mutual_aid:
        raise UntrustedAnswer(
            "The centre's mutual-aid detail does not add up to its acct_mulaid_pay.",
            next_step="Nothing was trusted from this answer; run reconcile() and report it.",
        )
    parts = settlement.fund + settlement.own_account + mutual_aid + settlement.cash
    if parts != settlement.total:
        raise UntrustedAnswer(
            f"The centre's split ({parts}) does not add up to its total ({settlement.total}).",
            next_step="Nothing was trusted from this answer; run reconcile() and report it.",
        )
    return settlement


def _id_from_centre(number: str) -> IdNumber:
    try:
        return IdNumber(number)
    except InvalidInput as error:
        raise UntrustedAnswer(
            "The centre answered with an ID number that does not validate.",
            next_step="Nothing was trusted from this answer; report it to the centre.",
        ) from error


def _relation(value: str) -> Relation | None:
    try:
        return Relation(value)
    except ValueError:
        return None
