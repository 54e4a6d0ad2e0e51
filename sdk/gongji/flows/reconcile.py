"""Reconciliation of one day: the journal's own totals sent to the centre (3201), which
says whether they agree and, as gongji's extension, what its own totals are."""

from __future__ import annotations

import datetime

from gongji.flows.exchange import Flow
from gongji.flows.settle import read
from gongji.flows.setup import Setup
from gongji.gateways import DayTotals
from gongji.journal import EntryState
from gongji.money import ZERO


def journal_totals(setup: Setup, day: datetime.date) -> DayTotals:
    """What this till's journal says was settled at the centre on ``day`` and still stands."""
    settled = [
        entry.settlement
        for entry in setup.journal.entries()
        if entry.state is EntryState.SETTLED
        and entry.settlement is not None
        and entry.settlement.settled_at is not None
        and entry.settlement.settled_at.date() == day
    ]
    return DayTotals(
        count=len(settled),
        total=sum((s.total for s in settled), ZERO),
        fund=sum((s.fund for s in settled), ZERO),
        own_account=sum((s.own_account for s in settled), ZERO),
        mutual_aid=sum((s.mutual_aid_total for s in settled), ZERO),
        cash=sum((s.cash for s in settled), ZERO),
    )


def reconcile(setup: Setup, day: datetime.date) -> Flow[tuple[DayTotals, DayTotals]]:
    """(the journal's totals, the centre's totals with ``agreed`` set by the centre)."""
    ours = journal_totals(setup, day)
    theirs = yield from read(
        setup, "The day's reconciliation", lambda: setup.gateway.day_totals(day, ours)
    )
    return ours, theirs
