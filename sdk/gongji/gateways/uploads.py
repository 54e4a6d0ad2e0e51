"""Uploads after a sale: what the centre is told once the money has moved (3505 / 3506).

The pharmacy's sales upload (3505) and return upload (3506) carry the traceability codes
(追溯码) of the packs sold or returned. They move no money and are idempotent by their
``msgid`` (the centre answers a repeat with its first answer), so they are built once,
journaled with the sale (``Entry.uploads``) in the same write that records it settled or
undone, and sent after; a crash or a lost answer leaves them ``done=False`` for
``recover()`` to send again. A gateway that has them declares
``Capability.TRACE_UPLOAD`` and implements ``TraceabilityGateway``.
"""

from __future__ import annotations

import datetime
from typing import Protocol, runtime_checkable

from attrs import frozen

from gongji.gateways.exchange import Flow
from gongji.gateways.protocols import CentreSettlement, InsuranceGateway, SettlementRequest

__all__ = ["RETURN_UPLOAD", "SALE_UPLOAD", "TraceabilityGateway", "Upload"]

SALE_UPLOAD, RETURN_UPLOAD = "3505", "3506"


@frozen
class Upload:
    """One message to send after the sale: the adapter's own ``payload`` (its input, as
    JSON text, with no ID number in it), its ``msgid`` and the patient's region."""

    infno: str
    msgid: str
    payload: str
    insured_in: str = ""
    done: bool = False


@runtime_checkable
class TraceabilityGateway(InsuranceGateway, Protocol):
    """An insurance gateway that uploads the packs sold and returned (3505 / 3506)."""

    def sale_uploads(
        self,
        request: SettlementRequest,
        settlement: CentreSettlement,
        sale: str,
        at: datetime.datetime,
    ) -> Flow[tuple[Upload, ...]]:
        """The uploads of a settled sale's lines that carry packs (``sale``: the till's
        number for it, the idempotency key); () when none does."""
        ...

    def return_uploads(
        self, sold: tuple[Upload, ...], sale: str, at: datetime.datetime
    ) -> Flow[tuple[Upload, ...]]:
        """The return uploads of a sale undone, from its sales uploads."""
        ...

    def upload(self, upload: Upload) -> Flow[None]:
        """Send one upload; ``Declined`` when the centre refuses it."""
        ...
