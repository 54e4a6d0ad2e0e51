"""What every transaction code's handler works with."""

from __future__ import annotations

from collections.abc import Callable

from attrs import field, frozen

from gongji_mock.centre.decisions import Centre
from gongji_mock.national.hilist import MockCatalogue
from gongji_mock.national.people import PersonNumbers
from gongji_mock.national.records import NationalRecords
from gongji_mock.national.risk import RiskRules
from gongji_mock.national.schema import DATA_NODES, PharmacyNodes
from gongji_mock.national.transform import Answer
from gongji_mock.national.wire import RequestEnvelope


@frozen
class Office:
    """The centre, its person numbers, the endpoint's own records, and the catalogue."""

    centre: Centre
    people: PersonNumbers
    records: NationalRecords
    catalogue: MockCatalogue = field(factory=MockCatalogue)
    #: gongji's extensions (``gongji_*`` fields, X101) are read: only when the mock was
    #: started with them. Off, the mock is strict: the interface of NATIONAL.md only.
    extensions: bool = False
    #: The 2101/2102 input node names of the mock's region.
    nodes: PharmacyNodes = DATA_NODES
    #: The rule set of 3101/3102 and the people flagged for them (``mock.national.risk``).
    risk: RiskRules = field(factory=RiskRules)


#: A transaction code's handler: the message in, the answer out (or a ``CentreRefusal``).
Handler = Callable[[Office, RequestEnvelope], Answer]
