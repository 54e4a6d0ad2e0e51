"""Outpatient visits, written once (NATIONAL.md §8): register a visit (2201), upload its
diagnoses (2203), upload its fee lines (2204), withdraw them (2205), cancel the
registration (2202).

A clinic settles a *visit*, not a basket: the patient is registered with a department
and a doctor, diagnosed, the fee lines are uploaded as they are prescribed, and the
settlement (2206/2207, ``flows.settle`` with ``Purchase.for_visit``) settles the lines
the centre holds in the visit's charge batch. Every write carries a ``msgid`` from the
journal, made once and kept for its repeats, so a lost answer is asked for again and the
centre answers the first message (it never registers a visit twice nor takes a line
twice for one message).

The standing lines of a visit are one charge batch (``chrg_bchno``): 2205 withdraws a
batch, never a single line, so a cashier who drops one line withdraws the visit's lines
and uploads those to keep again, in a new batch. The batch's number is the msgid of the
2204 that opened it: unique for the institution, and the same on a repeat.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

import attrs

from gongji.errors import ConfigError, Declined, InvalidInput, UntrustedAnswer
from gongji.flows.setup import Setup
from gongji.flows.steps import MSGID_REFUSED, MSGID_RENEWALS, new_msgid, read, resolve_holder
from gongji.gateways import Capability, OutpatientGateway, Registration, require
from gongji.gateways.exchange import Flow
from gongji.identity import Credential
from gongji.model import Diagnosis, LineItem, Visit, _items
from gongji.money import ZERO

__all__ = ["cancel_registration", "diagnose", "register", "upload_fees", "withdraw_fees"]

T = TypeVar("T")

#: The longest each 2201 field may be (NATIONAL.md §8, S1).
_LONGEST = {
    "department": ("dept_name", 100),
    "department_code": ("dept_code", 30),
    "department_category": ("caty", 6),
    "doctor": ("dr_name", 50),
    "doctor_code": ("atddr_no", 30),
    "outpatient_no": ("ipt_otp_no", 30),
}


def _outpatient(setup: Setup, capability: Capability) -> OutpatientGateway:
    gateway = setup.gateway
    require(gateway, capability)
    if not isinstance(gateway, OutpatientGateway):
        raise ConfigError(
            f"The {gateway.name} adapter declares {capability.value!r} but has no "
            "outpatient operations.",
            next_step="Fix the adapter (gongji.gateways.OutpatientGateway); nothing was sent.",
        )
    return gateway


def _checked(visit: Visit, call: str) -> Visit:
    if not isinstance(visit, Visit):
        raise InvalidInput(
            f"{call} needs a gongji.Visit, got {type(visit).__name__}.",
            next_step="Pass the Visit client.register_visit(...) returned; nothing was sent.",
        )
    return visit


def _write(
    setup: Setup, infno: str, what: str, send: Callable[[str], Flow[T]]
) -> Flow[tuple[T, str]]:
    """One write under a journaled msgid, and the msgid it was taken under. Repeated
    under the same msgid when its answer is lost (the centre answers the first message
    again); under a new one only when the centre refused it, unprocessed, for its msgid
    alone (another till's)."""
    for renewal in range(MSGID_RENEWALS + 1):
        msgid = yield from new_msgid(setup, "", infno)
        try:
            done = yield from read(setup, what, lambda msgid=msgid: send(msgid))  # type: ignore[misc]
        except Declined as refused:
            if refused.code != MSGID_REFUSED or renewal == MSGID_RENEWALS:
                raise
            continue
        return done, msgid
    raise AssertionError("unreachable")  # pragma: no cover


def _registration_details(details: dict[str, str]) -> None:
    """Every 2201 field is required: refused here, before anything is sent."""
    for name, (wire_name, longest) in _LONGEST.items():
        value = details.get(name, "")
        optional = name == "outpatient_no"  # made from the msgid when not given
        if not isinstance(value, str) or len(value) > longest or (not value and not optional):
            raise InvalidInput(
                f"The registration's {name} ({wire_name}) must be 1 to {longest} characters.",
                next_step="Give the department, its code and national category (caty, e.g. "
                "'A03'), and the doctor with the national code; nothing was sent.",
            )


def register(setup: Setup, credential: Credential, **details: str) -> Flow[Visit]:
    """Register an outpatient visit for the credential's holder. The patient is whoever
    the credential resolves to: a visit is registered with the patient's own credential,
    and settling it with anyone else's is refused (R1, ``Purchase.for_visit``).
    ``details``: ``department``, ``department_code``, ``department_category``,
    ``doctor``, ``doctor_code``, ``outpatient_no`` (the registration's msgid when "")."""
    _registration_details(details)
    gateway = _outpatient(setup, Capability.REGISTER)
    credential, holder = yield from resolve_holder(setup, credential)
    registration = Registration(
        psn_no=holder.psn_no,
        patient=holder.person,
        credential=credential,
        department=details["department"],
        doctor=details["doctor"],
        department_code=details["department_code"],
        doctor_code=details["doctor_code"],
        outpatient_no=details.get("outpatient_no", ""),
        department_category=details["department_category"],
        begins_at=setup.clock(),
    )

    def numbered(msgid: str) -> Registration:
        # 2201 requires ipt_otp_no: the registration's own msgid where the clinic gave none.
        return attrs.evolve(registration, outpatient_no=registration.outpatient_no or msgid)

    visit_id, msgid = yield from _write(
        setup, "2201", "The registration", lambda msgid: gateway.register(numbered(msgid), msgid)
    )
    registration = numbered(msgid)
    return Visit(
        visit_id=visit_id,
        psn_no=holder.psn_no,
        patient_id=holder.person.id,
        department=registration.department,
        doctor=registration.doctor,
        department_code=registration.department_code,
        doctor_code=registration.doctor_code,
        outpatient_no=registration.outpatient_no,
        department_category=registration.department_category,
        begins_at=registration.begins_at,
        insured_in=holder.person.insurance.region,
    )


def diagnose(setup: Setup, visit: Visit, diagnoses: Iterable[Diagnosis]) -> Flow[Visit]:
    """Upload the visit's diagnoses (2203), the main one first; the visit with them. A
    second call replaces them at the centre."""
    visit = _checked(visit, "diagnose")
    found = tuple(diagnoses) if not isinstance(diagnoses, Diagnosis) else (diagnoses,)
    if not found or not all(isinstance(d, Diagnosis) for d in found):
        raise InvalidInput(
            f"Visit {visit.visit_id} needs at least one gongji.Diagnosis.",
            next_step="Pass the doctor's diagnoses, the main one first, e.g. "
            "[gongji.Diagnosis(code='I10.x00', name='高血压')]; nothing was sent.",
        )
    gateway = _outpatient(setup, Capability.DIAGNOSE)
    yield from _write(
        setup, "2203", "The diagnosis upload", lambda msgid: gateway.diagnose(visit, found, msgid)
    )
    return attrs.evolve(visit, diagnoses=found)


def upload_fees(setup: Setup, visit: Visit, items: Iterable[LineItem]) -> Flow[Visit]:
    """Upload ``items`` for ``visit`` in its charge batch; the visit with them added, as
    the centre now holds it. The diagnosis goes first (2203 before 2204)."""
    visit = _checked(visit, "upload_fees")
    lines = _items(items)
    if not visit.diagnoses:
        raise InvalidInput(
            f"Visit {visit.visit_id} has no diagnosis yet; the centre takes fee lines after it.",
            next_step="Upload the doctor's diagnosis first with client.diagnose(visit, "
            "[gongji.Diagnosis(code=..., name=...)]); nothing was sent.",
        )
    gateway = _outpatient(setup, Capability.UPLOAD_FEES)

    def batched(msgid: str) -> Visit:
        # A visit's first upload opens its charge batch, numbered with its own msgid.
        return attrs.evolve(visit, batch=visit.batch or msgid)

    accepted, msgid = yield from _write(
        setup,
        "2204",
        "The fee upload",
        lambda msgid: gateway.upload_fees(batched(msgid), lines, msgid),
    )
    uploaded = sum((item.amount for item in lines), ZERO)
    if accepted != uploaded:
        raise UntrustedAnswer(
            f"The centre accepted {accepted} of fee lines for visit {visit.visit_id}, "
            f"the clinic uploaded {uploaded}.",
            next_step="Do not settle the visit: withdraw its lines (client.withdraw_fees) and "
            "upload them again, or compare them with the centre's (5204) and report it.",
        )
    return attrs.evolve(
        batched(msgid), items=visit.items + lines, uploaded=visit.uploaded + len(lines)
    )


def withdraw_fees(setup: Setup, visit: Visit) -> Flow[Visit]:
    """Withdraw the visit's unsettled fee lines (2205, its charge batch); the visit
    without lines. Upload the lines to keep again with ``upload_fees``: a new batch."""
    visit = _checked(visit, "withdraw_fees")
    if not visit.items or not visit.batch:
        raise InvalidInput(
            f"Visit {visit.visit_id} has no fee lines uploaded to withdraw.",
            next_step="Withdraw the Visit client.upload_fees(...) returned; nothing was sent.",
        )
    gateway = _outpatient(setup, Capability.WITHDRAW_FEES)
    try:
        yield from _write(
            setup, "2205", "The fee withdrawal", lambda msgid: gateway.withdraw_fees(visit, msgid)
        )
    except Declined as refused:
        raise _declined(
            refused,
            "Nothing was withdrawn. If the visit is settled, refund the settlement "
            "(client.refund(settlement_id)) first, then withdraw its lines; otherwise "
            "read the centre's reason above.",
        ) from refused
    return attrs.evolve(visit, items=(), batch="")


def cancel_registration(setup: Setup, visit: Visit) -> Flow[None]:
    """Cancel the visit's registration (2202). A settled visit is not cancelled: refund
    its settlement first."""
    visit = _checked(visit, "cancel_registration")
    gateway = _outpatient(setup, Capability.CANCEL_REGISTRATION)
    try:
        yield from _write(
            setup,
            "2202",
            "The cancellation of the registration",
            lambda msgid: gateway.cancel_registration(visit, msgid),
        )
    except Declined as refused:
        raise _declined(
            refused,
            "The registration stands. If the visit is settled, refund its settlement "
            "(client.refund(settlement_id)) first, then cancel the registration; "
            "otherwise read the centre's reason above.",
        ) from refused


def _declined(refused: Declined, next_step: str) -> Declined:
    """The centre's refusal, with what the cashier does next."""
    return Declined(
        refused.message,
        next_step=next_step,
        infcode=refused.infcode,
        err_msg=refused.err_msg,
        gateway=refused.gateway,
        request_id=refused.request_id,
        code=refused.code,
    )
