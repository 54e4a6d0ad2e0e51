"""5301 (a person's chronic or special disease registrations) at the mock centre, and the
centre's own check of a settlement under one (med_type 14), as NATIONAL.md §12 has them.

5301 answers the dataset's registrations of the ``psn_no``'s person (``chronic`` of a
``[[person]]``, docs/reference/dataset.md) in a ``feedetail`` list (S4): an empty list
for a person with none, and ``""`` for a date the registration does not have. A
settlement whose ``med_type`` is 14 (or a regional 14xxxx sub-code) is refused unless
its ``dise_codg`` is a disease registered for that person and in force on the centre's
day (Beijing): the centre is the authority, whatever the till checked.
"""

from __future__ import annotations

import msgspec

from gongji import clock as beijing
from gongji.model import ChronicDisease, Person
from gongji_mock.centre.decisions import CentreRefusal
from gongji_mock.national.office import Office
from gongji_mock.national.transform import Answer, decode_input, wrapped
from gongji_mock.national.wire import Data, RequestEnvelope

__all__ = ["INFNO", "check_settlement", "is_chronic", "registrations"]

INFNO = "5301"


class _Query(msgspec.Struct, frozen=True, kw_only=True):
    psn_no: str


class DiseaseOut(msgspec.Struct, frozen=True, kw_only=True):
    opsp_dise_code: str
    opsp_dise_name: str
    begndate: str
    enddate: str


def registrations(office: Office, envelope: RequestEnvelope) -> Answer:
    """5301: every registration of the person, in force or not (the till chooses)."""
    query = decode_input(envelope, Data[_Query]).data
    person = office.people.person(query.psn_no)
    return Answer(wrapped(feedetail=[_out(d) for d in _registered(office, person)]))


def is_chronic(med_type: str) -> bool:
    """med_type 14, or a region's sub-code of it (140104...)."""
    return med_type.startswith("14")


def check_settlement(office: Office, patient: Person, med_type: str, dise_codg: str) -> None:
    """Refuse a med_type 14 (pre-)settlement whose disease is not registered for
    ``patient`` on the centre's day; nothing is processed."""
    if not is_chronic(med_type):
        return
    day = beijing.day(office.centre.clock())
    if not any(d.code == dise_codg and d.covers(day) for d in _registered(office, patient)):
        raise CentreRefusal(
            "门诊慢特病病种未备案或不在有效期内",
            f"med_type {med_type[:6]} needs a dise_codg registered for the person and in force "
            "today (5301 lists them); nothing was processed.",
        )


def _registered(office: Office, person: Person) -> tuple[ChronicDisease, ...]:
    return office.centre.dataset.chronic_diseases.get(person.id, ())


def _out(disease: ChronicDisease) -> DiseaseOut:
    return DiseaseOut(
        opsp_dise_code=disease.code,
        opsp_dise_name=disease.name,
        begndate=disease.begins.isoformat() if disease.begins else "",
        enddate=disease.ends.isoformat() if disease.ends else "",
    )
