"""The premium channel: what a gateway that pays premiums on behalf offers the flows.

Optional, like outpatient registration: a gateway that declares ``Capability.PREMIUM``
implements ``PremiumGateway``; the client refuses ``pay_premium`` with any other before
anything is sent. No real centre is known to take a premium at the till (NATIONAL.md
§15): a city gateway declares it only where its profile names a premium channel.
"""

from __future__ import annotations

import datetime
from typing import Protocol, runtime_checkable

from attrs import frozen

from gongji.gateways.exchange import Flow
from gongji.gateways.protocols import InsuranceGateway, ReversalState
from gongji.identity import Credential, IdNumber
from gongji.model import Person, Purpose
from gongji.money import ZERO, Fen

__all__ = ["PremiumGateway", "PremiumPaid", "PremiumRequest"]


@frozen
class PremiumRequest:
    """What the collector is asked: ``payer``'s account pays ``insured``'s premium."""

    payer_psn_no: str
    payer: Person
    credential: Credential  # the payer's own, as presented
    insured: Person
    kind: Purpose
    amount: Fen


@frozen
class PremiumPaid:
    """The collector's answer: the premium is paid, by whom, for whom."""

    payment_id: str
    msgid: str
    payer_id: IdNumber
    insured_id: IdNumber
    kind: Purpose
    amount: Fen
    balance: Fen = ZERO  # the payer's account after it
    paid_at: datetime.datetime | None = None


@runtime_checkable
class PremiumGateway(InsuranceGateway, Protocol):
    """An insurance gateway that also pays premiums on behalf (``Capability.PREMIUM``)."""

    def pay_premium(self, request: PremiumRequest, msgid: str) -> Flow[PremiumPaid]:
        """Pay the premium; idempotent by ``msgid`` (journaled before it is sent)."""
        ...

    def reverse_premium(
        self, original_msgid: str, payer_psn_no: str, msgid: str
    ) -> Flow[ReversalState]:
        """Undo a premium payment whose answer was lost, by its message id. Idempotent."""
        ...
