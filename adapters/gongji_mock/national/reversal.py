"""2601: reverse a settlement message whose answer never came (冲正).

A reversed ``msgid`` is refused from then on, so a late original can never settle.
"""

from __future__ import annotations

import msgspec

from gongji_mock.centre.decisions import CentreRefusal
from gongji_mock.national.office import Office
from gongji_mock.national.transform import Answer, decode_input
from gongji_mock.national.wire import (
    Data,
    RequestEnvelope,
    ReversalData,
    ReversalOut,
    ReversalState,
)

#: Settlement messages a 2601 reversal may undo in this mock.
REVERSIBLE = frozenset({"2102", "2207"})


def reverse(office: Office, envelope: RequestEnvelope) -> Answer:
    data = decode_input(envelope, Data[ReversalData]).data
    records = office.records
    done = records.reversals.get((data.omsgid, data.oinfno))
    if done is not None:
        return _answer(office, msgspec.json.decode(done, type=ReversalOut))
    if data.oinfno not in REVERSIBLE:
        raise CentreRefusal(
            "该交易不支持冲正",
            f"The mock reverses only {', '.join(sorted(REVERSIBLE))}; cancel other settlements with 2103/2208.",
        )
    seen = records.seen.get(data.omsgid)
    if seen is not None and seen.infno != data.oinfno:
        raise CentreRefusal(
            "原交易编号与原报文不符",
            f"Message {data.omsgid[:30]} was a {seen.infno}, not a {data.oinfno}; nothing was reversed.",
        )
    setl_id = records.setl_id_by_msgid.get(data.omsgid, "")
    if setl_id:
        settled = records.settled[setl_id]
        if data.psn_no and data.psn_no != settled.psn_no:
            raise CentreRefusal(
                "人员编号与原交易不符",
                "psn_no differs from the original message's; nothing was reversed.",
            )
        office.centre.cancel(setl_id)
        state = "reversed"
    else:
        state = "original_refused" if seen is not None else "original_not_received"
    output = ReversalOut(
        gongji_reversal=ReversalState(
            omsgid=data.omsgid, oinfno=data.oinfno, setl_id=setl_id, state=state
        )
    )
    records.add_reversal(data.omsgid, data.oinfno, msgspec.json.encode(output))
    return _answer(office, output)


def _answer(office: Office, found: ReversalOut) -> Answer:
    """A real centre answers 2601 with ``infcode`` 0 and an empty output, whatever it found;
    what it found is gongji's extension."""
    return Answer(found if office.extensions else {})
