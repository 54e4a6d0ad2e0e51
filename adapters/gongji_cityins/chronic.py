"""5301, a patient's chronic or special disease registrations (门诊慢特病), on the wire
(NATIONAL.md §12).

The input is ``data`` with the ``psn_no`` 1101 gave; the envelope names the patient's
region of insurance. The output is a list of registrations, in a node called
``feedetail`` in the one public client that reads it (S4): which node a region uses is
unconfirmed, so it is the profile's ``chronic_node``. A registration has
``opsp_dise_code`` (sent back as ``dise_codg`` of a med_type 14 settlement),
``opsp_dise_name``, ``begndate`` and ``enddate``. Centres leave out what they do not
have: an empty output (``{}``, ``null``, none), a ``null`` list, and ``""`` or ``null``
dates (no limit on that side) are all read; a date with a time after it is read by its
day. A node other than the configured one is not guessed at: the answer is refused
and the setting named.
"""

from __future__ import annotations

import datetime
from typing import Any

import msgspec

from gongji.errors import UntrustedAnswer
from gongji.model import ChronicDisease

__all__ = ["DEFAULT_NODE", "INFNO", "diseases_from", "query_input"]

INFNO = "5301"
#: The output node of 5301 in S4 (unconfirmed for Liaoning: ``CityProfile.chronic_node``).
DEFAULT_NODE = "feedetail"


class DiseaseOut(msgspec.Struct, frozen=True, kw_only=True):
    """One registration as a centre sends it; unknown fields ignored."""

    opsp_dise_code: str | None = None
    opsp_dise_name: str | None = None
    begndate: str | None = None
    enddate: str | None = None


_OUTPUT = msgspec.json.Decoder(dict[str, Any] | None)
_ROWS = msgspec.json.Decoder(list[DiseaseOut] | None)


def query_input(psn_no: str) -> dict[str, Any]:
    """The input of 5301: the patient's ``psn_no``."""
    return {"data": {"psn_no": psn_no}}


def diseases_from(output: bytes, node: str = DEFAULT_NODE) -> tuple[ChronicDisease, ...]:
    """The registrations in a 5301 ``output`` whose list is in ``node``; () when the centre
    lists none. ``UntrustedAnswer`` when the output is not as documented."""
    if not bytes(output).strip():
        return ()
    try:
        found = _OUTPUT.decode(output)
    except msgspec.DecodeError as error:
        raise _untrusted(f"the output is not an object ({error})") from None
    if not found:
        return ()
    if node not in found:
        others = ", ".join(sorted(found))[:80]
        raise _untrusted(
            f"the output has no {node!r} node (it has {others}); set the profile's "
            "chronic_node to the node the region uses"
        )
    try:
        rows = _ROWS.decode(msgspec.json.encode(found[node]))
    except msgspec.DecodeError as error:
        raise _untrusted(f"{node} is not a list of registrations ({error})") from None
    return tuple(_disease(row) for row in rows or ())


def _disease(row: DiseaseOut) -> ChronicDisease:
    if not row.opsp_dise_code:
        raise _untrusted("a registration has no opsp_dise_code")
    return ChronicDisease(
        code=row.opsp_dise_code,
        name=row.opsp_dise_name or "",
        begins=_day(row.begndate, "begndate"),
        ends=_day(row.enddate, "enddate"),
    )


def _day(text: str | None, what: str) -> datetime.date | None:
    """``yyyy-MM-dd`` (a time after it is ignored); ``""`` and null: no limit."""
    if not text or not text.strip():
        return None
    try:
        return datetime.date.fromisoformat(text.strip()[:10])
    except ValueError:
        raise _untrusted(f"a registration's {what} is not a date yyyy-MM-dd") from None


def _untrusted(why: str) -> UntrustedAnswer:
    return UntrustedAnswer(
        f"The insurance centre's 5301 answer is not usable: {why}.",
        next_step="Nothing was trusted from this answer and nothing was charged; "
        "report it to the centre.",
    )
