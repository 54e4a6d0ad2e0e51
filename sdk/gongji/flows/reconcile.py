"""Reconciliation of one day, written once: the journal's totals sent to the centre (3201),
which judges whether they agree, then its details (3202) compared with the journal one
settlement at a time (``gongji.reconciliation.compare``).

Both are reads: repeated on a transport failure, never changing anything. The journal
is read first: it is written before every step at the centre, so a sale the centre has
is already in the snapshot, settled or in doubt, never missing.
"""

from __future__ import annotations

import datetime

from gongji.flows.setup import Setup
from gongji.flows.steps import journaled, read
from gongji.gateways.exchange import Flow
from gongji.reconciliation import ReconciliationReport, compare, journal_totals


def reconcile(setup: Setup, day: datetime.date) -> Flow[ReconciliationReport]:
    gateway = setup.gateway
    journal = setup.journal
    entries = yield from journaled(setup, journal.entries)
    ours = journal_totals(entries, day)
    theirs = yield from read(
        setup, "The day's totals (3201)", lambda: gateway.day_totals(day, ours)
    )
    details = yield from read(setup, "The day's details (3202)", lambda: gateway.day_details(day))
    return compare(day, entries, theirs, details)
