"""Domain <-> national wire: credentials, baskets, people, bindings and settlements.

Amounts leave as yuan strings with two decimals (``Fen.to_yuan``) and come back
as ``Decimal`` read from the JSON text (``""`` and ``null`` are 0, as NATIONAL.md
says centres send them); anything that is not a whole number of fen is refused,
never rounded. The region's own choices (node names, ``psn_setlway``, which
``insuinfo`` entry is the main one, how ``acct_pay`` relates to mutual aid) come in
a ``Dialect`` from the city profile.
"""

from __future__ import annotations

import contextlib
import datetime
import decimal
import re
from collections.abc import Iterator, Sequence
from typing import Any, Literal

from attrs import frozen

from gongji import clock as beijing
from gongji.errors import InvalidInput, UntrustedAnswer
from gongji.gateways import (
    CentreSettlement,
    Holder,
    MutualAidShare,
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
)
from gongji.money import ZERO, Fen
from gongji_cityins import traceability, wire

#: insutype codes of the national interface.
EMPLOYEE, RESIDENT = "310", "390"
_INSURANCE_KIND = {EMPLOYEE: InsuranceKind.EMPLOYEE, RESIDENT: InsuranceKind.RESIDENT}
_INSUTYPE = {kind: code for code, kind in _INSURANCE_KIND.items()}
#: psn_insu_stas: 1 is normal; 0 not insured, 2 suspended, 4 terminated (NATIONAL.md §6).
_INSURED = "1"
#: chrgitm_lv: the catalogue class (甲 / 乙 / 丙); sent only as gongji's extension.
_CLASS = {Coverage.A: "01", Coverage.B: "02", Coverage.C: "03"}
#: med_type: 41 pharmacy purchase, 11 general outpatient.
MED_TYPE = {"pharmacy": "41", "outpatient": "11"}
#: med_type of a chronic or special disease (门诊慢特病), at the pharmacy and the clinic.
CHRONIC_MED_TYPE = "14"

_FEN = decimal.Decimal("0.01")
_NUMBER = re.compile(r"\s*-?[0-9]+(\.[0-9]+)?\s*", re.ASCII)

MutualAidReading = Literal["separate", "included"]


@frozen
class Dialect:
    """What a region chooses within the national interface (docs/reference/config.md)."""

    #: The input nodes of 2101/2102: ``data`` + ``feedetail``, or ``druginfo`` + ``drugdetail``.
    header_node: str = "data"
    detail_node: str = "feedetail"
    #: ``psn_setlway`` of 2101/2102 ("01" by item) where the region asks for it; "" sends none.
    psn_setlway: str = ""
    #: Which insurance types may be a sale's main ``insuinfo`` entry, the preferred first.
    insutypes: tuple[str, ...] = (EMPLOYEE, RESIDENT)
    #: Whether ``acct_pay`` already includes ``acct_mulaid_pay`` (unconfirmed): the reading
    #: tried first; an answer that balances under the other one is accepted too.
    mutual_aid_reading: MutualAidReading = "separate"
    #: What ``acct_used_flag`` carries: "account" (use the personal account at all) or
    #: "mutual_aid" (the patient's choice of mutual aid), as the region reads it.
    acct_used_flag: Literal["account", "mutual_aid"] = "account"
    #: Whether each 2101/2102 line carries its packs' codes (``drug_trac_info``): unconfirmed
    #: on 2102 (NATIONAL.md §7), so off unless the region says its centre reads them there.
    trace_codes_on_lines: bool = False
    #: gongji's extensions (``gongji_*`` fields, X101): only against a centre that has them.
    extensions: bool = False
    #: ``med_type`` of a sale under a chronic or special disease ("14", or a regional sub-code).
    chronic_med_type: str = CHRONIC_MED_TYPE


def yuan(value: Any, what: str = "an amount") -> decimal.Decimal:
    """An amount of an answer as ``Decimal``: a number, a numeric string, or ``""`` /
    ``null`` (0, as real centres send it). Anything else is not trusted."""
    if value is None or value == "":
        return decimal.Decimal(0)
    if isinstance(value, decimal.Decimal):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return decimal.Decimal(value)
    if isinstance(value, str) and _NUMBER.fullmatch(value):
        return decimal.Decimal(value.strip())
    raise UntrustedAnswer(
        f"The centre sent {what} that is not a number.",
        next_step="Nothing was trusted from this answer; report it to the centre.",
    )


def fen(amount: Any, what: str = "an amount", *, signed: bool = False) -> Fen:
    """A yuan amount from the centre as ``Fen``; refused unless it is whole fen, and
    unless it is zero or more where money only goes one way (``signed`` for cancellations)."""
    amount = yuan(amount, what)
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
    return _INSUTYPE.get(person.insurance.kind, RESIDENT)


def person_from(answer: wire.PersonAnswer, dialect: Dialect = Dialect()) -> Holder:
    base = answer.baseinfo
    insurance, account = _insurance(main_entry(answer.insuinfo or [], dialect.insutypes))
    with _from_centre("a person"):
        person = Person(
            id=base.certno, name=base.psn_name or "", insurance=insurance, account=account
        )
    return Holder(psn_no=base.psn_no, person=person)


def main_entry(entries: Sequence[wire.InsuInfo], insutypes: Sequence[str]) -> wire.InsuInfo | None:
    """The ``insuinfo`` entry a sale settles under, never simply the first: an active one
    (``psn_insu_stas`` 1) of the preferred insurance type, in ``insutypes`` order (310
    before 390 by default; a 320/330 supplement is never the main entry). With none
    active, the first entry of those types (the person shows as suspended); None when
    there is none of them (not insured for this sale)."""
    kinds = [entry for entry in entries if entry.insutype in insutypes]
    for insutype in insutypes:
        for entry in kinds:
            if entry.insutype == insutype and (entry.psn_insu_stas or "") == _INSURED:
                return entry
    for insutype in insutypes:
        for entry in kinds:
            if entry.insutype == insutype:
                return entry
    return None


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


def _insurance(info: wire.InsuInfo | None) -> tuple[Insurance, PersonalAccount | None]:
    if info is None:
        return Insurance(kind=InsuranceKind.NONE), None
    kind = _INSURANCE_KIND.get(info.insutype, InsuranceKind.NONE)
    active = (info.psn_insu_stas or "") == _INSURED
    status = InsuranceStatus.ACTIVE if active else InsuranceStatus.SUSPENDED
    with _from_centre("an insurance region"):
        insurance = Insurance(kind=kind, status=status, region=info.insuplc_admdvs or "")
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
        wire.InsuInfo(
            balc=found.balc,
            insutype=found.insutype,
            psn_insu_stas=found.psn_insu_stas,
            insuplc_admdvs=found.insuplc_admdvs,
        )
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


def _account_flag(request: SettlementRequest, dialect: Dialect) -> str:
    """``acct_used_flag``: where the region reads it as the choice of mutual aid, that
    choice; otherwise 1 for a patient with a personal account (so the own account pays as
    it always has) and the choice for one without, since whether a centre reads 0 as "no
    mutual aid" or as "no account at all" is unconfirmed (NATIONAL.md §13)."""
    if dialect.acct_used_flag == "mutual_aid":
        return "1" if request.use_mutual_aid else "0"
    return "1" if request.use_mutual_aid or request.patient.account else "0"


def settle_input(
    request: SettlementRequest, begins: datetime.datetime, dialect: Dialect = Dialect()
) -> dict[str, Any]:
    """The input of 2101/2102 (pharmacy) or 2206/2207 (outpatient), as NATIONAL.md §7 lists it.

    ``begins`` is the start of the visit (``begntime``, and each line's ``fee_ocur_time``):
    the moment the sale was rung up. ``acct_used_flag`` is "use the personal account"
    (NATIONAL.md §7): 1 for a patient who has one, so that the own account pays as it
    always has, and otherwise 1 only when the patient asked for mutual aid (seed 002).
    Whether a centre reads 0 as "no mutual aid" or as "no account at all" is unconfirmed
    (§13), so 0 is sent only when no account of the patient's would pay anyway.

    An outpatient visit's lines are at the centre already (2204): the message names the
    visit (``mdtrt_id``) and its total, and carries no lines; the centre settles the
    lines it holds and refuses a total that is not theirs.
    """
    total = sum((item.amount for item in request.items), ZERO)
    credential = request.credential
    when = beijing.wire_time(begins)
    data: dict[str, Any] = {
        "psn_no": request.psn_no,
        "mdtrt_cert_type": credential.kind.value,
        "mdtrt_cert_no": cert_no(credential),
        "begntime": when,
        "medfee_sumamt": total.to_yuan(),
        "insutype": insurance_code(request.patient),
        "med_type": MED_TYPE[request.setting.value],
        "acct_used_flag": _account_flag(request, dialect),
    }
    if credential.card_sn:
        data["card_sn"] = credential.card_sn
    if request.disease is not None:
        # A registered chronic or special disease (5301): med_type 14 names it (§7, §12).
        data["med_type"] = dialect.chronic_med_type
        data["dise_codg"] = request.disease.code
        data["dise_name"] = request.disease.name
    if dialect.psn_setlway:
        data["psn_setlway"] = dialect.psn_setlway
    if dialect.extensions:
        data["gongji_purpose"] = request.purpose.value
        data["gongji_agent_certno"] = request.agent_id.number if request.agent_id else None
        data["gongji_use_mutual_aid"] = "1" if request.use_mutual_aid else "0"
    if request.visit_id:
        data["mdtrt_id"] = request.visit_id
        return {"data": data}
    return {
        dialect.header_node: data,
        dialect.detail_node: [
            _line(n, item, dialect.extensions, when, trace_codes=dialect.trace_codes_on_lines)
            for n, item in enumerate(request.items, 1)
        ],
    }


def _line(
    number: int, item: LineItem, extensions: bool, occurred: str, *, trace_codes: bool = False
) -> dict[str, Any]:
    """One detail line: the national code and the pharmacy's own code as two fields, the
    prescription's number and flag, and for a split pack (拆零) a ``cnt`` with up to four
    decimals whose money is exact at the line total (``det_item_fee_sumamt``). With
    ``trace_codes`` (a region setting), the codes scanned from its packs, with the split flag."""
    line: dict[str, Any] = {
        "feedetl_sn": str(number),
        "rx_circ_flag": "1" if item.outside_prescription else "0",
        "fee_ocur_time": occurred,
        "med_list_codg": item.listed_code,
        "medins_list_codg": item.code,
        "det_item_fee_sumamt": item.amount.to_yuan(),
        "cnt": item.quantity,  # an int, or a Decimal (sent as its text) for a split pack
        "pric": item.unit_price.to_yuan(),
    }
    if item.prescription:
        line["rxno"] = item.prescription
    codes = traceability.trace_entries(number, item) if trace_codes else []
    if codes:
        line["drug_trac_info"] = codes
    if extensions:
        line.update(extension_line(item))
    return line


def extension_line(item: LineItem) -> dict[str, str]:
    """gongji's extension fields of a fee line, sent only where the profile turned
    extensions on: the mock with extensions has no catalogue to class an item, so the
    till says it (a real centre classes it by its national code)."""
    return {
        "gongji_chrgitm_lv": _CLASS[item.coverage],
        "gongji_category": item.category.value,
        "gongji_item_name": item.name,
    }


def settlement_from(
    answer: wire.SettlementAnswer,
    msgid: str,
    *,
    cancellation: bool = False,
    dialect: Dialect = Dialect(),
) -> CentreSettlement:
    """The centre's split. Mutual aid is an amount without owners (``acct_mulaid_pay``),
    unless gongji's extension names them: read only where the profile turned extensions
    on, so an answer that carries ``gongji_*`` fields otherwise names no owner and no
    refusal the till did not ask for. The cash is ``psn_cash_pay`` (2103: ``cash_payamt``,
    2208: ``pdn_cash_pay``). What the institution bears (``hosp_part_amt``) is not the
    patient's: it counts with the fund. The own account is ``acct_pay``, less the mutual aid
    where ``acct_pay`` includes it: the region's reading is tried first, and an answer
    that balances under the other reading is accepted too. A cancellation's amounts may
    come back negative or positive: they are read as magnitudes of money going back."""
    info = answer.setlinfo

    def amount(value: Any, what: str) -> Fen:
        found = fen(value, what, signed=cancellation)
        return abs(found) if cancellation else found

    total = amount(info.medfee_sumamt, "a total")
    fund = amount(info.fund_pay_sumamt, "a fund share") + amount(
        info.hosp_part_amt, "the institution's part"
    )
    account = amount(info.acct_pay, "an account share")
    mutual_aid = amount(info.acct_mulaid_pay, "a mutual-aid share")
    cash_field = next(
        (
            v
            for v in (info.psn_cash_pay, info.cash_payamt, info.pdn_cash_pay)
            if v not in (None, "")
        ),
        None,
    )
    if cash_field is None and info.psn_pay not in (None, ""):
        cash = amount(info.psn_pay, "the person's share") - account - mutual_aid
    else:
        cash = amount(cash_field, "a cash share")
    first = dialect.mutual_aid_reading
    readings = ("separate", "included") if first == "separate" else ("included", "separate")
    own_account = next(
        (
            own
            for own in (
                account if read == "separate" else account - mutual_aid for read in readings
            )
            if own >= 0 and fund + own + mutual_aid + cash == total
        ),
        None,
    )
    if own_account is None:
        raise UntrustedAnswer(
            f"The centre's split does not add up to its total ({total}) under either reading "
            "of acct_pay.",
            next_step="Nothing was trusted from this answer; run reconcile() and report it.",
        )
    shares = _named_shares(answer, amount) if dialect.extensions else ()
    if shares and sum((share.amount for share in shares), ZERO) != mutual_aid:
        raise UntrustedAnswer(
            "The centre's mutual-aid detail does not add up to its acct_mulaid_pay.",
            next_step="Nothing was trusted from this answer; run reconcile() and report it.",
        )
    if not shares and mutual_aid:
        shares = (MutualAidShare(owner_id=None, amount=mutual_aid),)
    return CentreSettlement(
        setl_id=info.setl_id or "",
        mdtrt_id=info.mdtrt_id or "",
        msgid=msgid,
        total=total,
        fund=fund,
        own_account=own_account,
        mutual_aid=shares,
        cash=cash,
        balance=fen(info.balc, "a balance"),
        patient_id=_id_from_centre(info.certno) if info.certno else None,
        refusals=tuple(
            Refusal(rule=r.rule, reason=r.reason, reason_zh=r.reason_zh)
            for r in (answer.gongji_refusals if dialect.extensions else ())
        ),
        settled_at=beijing.from_wire_time(info.setl_time or ""),
    )


def _named_shares(answer: wire.SettlementAnswer, amount: Any) -> tuple[MutualAidShare, ...]:
    """Mutual-aid owners, where gongji's extension names them (a real centre never does)."""
    return tuple(
        MutualAidShare(
            owner_id=_id_from_centre(share.certno),
            amount=amount(share.amount, "a mutual-aid share"),
            relation=_relation(share.relation),
        )
        for share in answer.gongji_mulaid_detail
    )


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
