"""Outpatient visits, written once: register a visit (2201), upload its fee lines (2204).

A clinic settles a *visit*, not a basket: the patient is registered with a department
and a doctor, the fee lines are uploaded as they are prescribed, and the settlement
(2206/2207, ``flows.settle`` with ``Purchase.for_visit``) settles the lines the centre
holds for that visit. Both writes carry a ``msgid`` made once and kept for their
repeats, so a lost answer is asked for again and the centre answers the first message
(it never registers a visit twice nor takes a line twice for one message).
"""

from __future__ import annotations

from collections.abc import Iterable

import attrs

from gongji.errors import ConfigError, InvalidInput, UntrustedAnswer
from gongji.flows.setup import Setup
from gongji.flows.steps import new_msgid, read, resolve_holder
from gongji.gateways import Capability, OutpatientGateway, Registration, require
from gongji.gateways.exchange import Flow
from gongji.identity import Credential
from gongji.model import LineItem, Visit, _items
from gongji.money import ZERO

__all__ = ["register", "upload_fees"]


def _outpatient(setup: Setup, capability: Capability) -> OutpatientGateway:
    gateway = setup.gateway
    require(gateway, capability)
    if not isinstance(gateway, OutpatientGateway):
        raise ConfigError(
            f"The {gateway.name} adapter declares {capability.value!r} but has no "
            "register/upload_fees operations.",
            next_step="Fix the adapter (gongji.gateways.OutpatientGateway); nothing was sent.",
        )
    return gateway


def register(
    setup: Setup,
    credential: Credential,
    *,
    department: str,
    doctor: str,
    department_code: str = "",
    doctor_code: str = "",
    outpatient_no: str = "",
) -> Flow[Visit]:
    """Register an outpatient visit for the credential's holder. The patient is whoever
    the credential resolves to: a visit is registered with the patient's own credential,
    and settling it with anyone else's is refused (R1, ``Purchase.for_visit``)."""
    gateway = _outpatient(setup, Capability.REGISTER)
    credential, holder = yield from resolve_holder(setup, credential)
    registration = Registration(
        psn_no=holder.psn_no,
        patient=holder.person,
        credential=credential,
        department=department,
        doctor=doctor,
        department_code=department_code,
        doctor_code=doctor_code,
        outpatient_no=outpatient_no,
        begins_at=setup.clock(),
    )
    msgid = yield from new_msgid(setup, "", "2201")
    visit_id = yield from read(
        setup, "The registration", lambda: gateway.register(registration, msgid)
    )
    return Visit(
        visit_id=visit_id,
        psn_no=holder.psn_no,
        patient_id=holder.person.id,
        department=department,
        doctor=doctor,
        department_code=department_code,
        doctor_code=doctor_code,
        outpatient_no=outpatient_no,
    )


def upload_fees(setup: Setup, visit: Visit, items: Iterable[LineItem]) -> Flow[Visit]:
    """Upload ``items`` for ``visit``; the visit with them added, as the centre now holds it."""
    gateway = _outpatient(setup, Capability.UPLOAD_FEES)
    if not isinstance(visit, Visit):
        raise InvalidInput(
            f"upload_fees needs a gongji.Visit, got {type(visit).__name__}.",
            next_step="Pass the Visit client.register_visit(...) returned; nothing was sent.",
        )
    lines = _items(items)
    msgid = yield from new_msgid(setup, "", "2204")
    accepted = yield from read(
        setup, "The fee upload", lambda: gateway.upload_fees(visit, lines, msgid)
    )
    uploaded = sum((item.amount for item in lines), ZERO)
    if accepted != uploaded:
        raise UntrustedAnswer(
            f"The centre accepted {accepted} of fee lines for visit {visit.visit_id}, "
            f"the clinic uploaded {uploaded}.",
            next_step="Do not settle the visit: compare its fee lines with the centre's "
            "(5204 at a real centre) and report the difference.",
        )
    return attrs.evolve(visit, items=visit.items + lines)
