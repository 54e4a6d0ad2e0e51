"""What every transaction code's handler works with."""

from __future__ import annotations

from collections.abc import Callable

from attrs import field, frozen

from gongji_mock.centre.decisions import Centre
from gongji_mock.national.hilist import MockCatalogue
from gongji_mock.national.people import PersonNumbers
from gongji_mock.national.records import NationalRecords
from gongji_mock.national.transform import Answer
from gongji_mock.national.wire import RequestEnvelope


@frozen
class Office:
    """The centre, its person numbers, the endpoint's own records, and the catalogue."""

    centre: Centre
    people: PersonNumbers
    records: NationalRecords
    catalogue: MockCatalogue = field(factory=MockCatalogue)


#: A transaction code's handler: the message in, the answer out (or a ``CentreRefusal``).
Handler = Callable[[Office, RequestEnvelope], Answer]
