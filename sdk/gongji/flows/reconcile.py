"""Reconciliation of one day, written once, as the centre does it: the journal's standing
settlements summed per clearing group and judged by the centre (3201, one message per
group), then sent as a details file per settling agency and compared by the centre,
which answers with the settlements that differ (3202, through 9101 and 9102). The
report is ``gongji.reconciliation.compare``'s.

All of it reads: each message is repeated on a transport failure, nothing changes
anywhere. The journal is read first: it is written before every step at the centre,
so a sale the centre has is already in the snapshot, settled or in doubt, never missing.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Callable
from functools import partial

from gongji.flows.setup import Setup
from gongji.flows.steps import journaled, read
from gongji.gateways import CentreDifference, Clearing, StatementLine, TotalsVerdict
from gongji.gateways.exchange import Flow
from gongji.journal import Entry
from gongji.premium import is_premium
from gongji.reconciliation import ReconciliationReport, compare, statement_lines

__all__ = ["Progress", "reconcile"]

#: Told before each step of a day's reconciliation: what is being done, how many steps
#: are done, how many there are in all (``gongji reconcile`` draws its bar with it).
Progress = Callable[[str, int, int], None]


def reconcile(
    setup: Setup, day: datetime.date, progress: Progress | None = None
) -> Flow[ReconciliationReport]:
    tell = progress or _silent
    gateway = setup.gateway
    tell("reading the journal", 0, 1)
    # A premium paid on behalf is the collector's, never one of the centre's settlements.
    journal = setup.journal
    listed = yield from journaled(setup, lambda: journal.entries(day=day))
    entries = [e for e in listed if not is_premium(e.purpose)]
    lines = statement_lines(entries, day)
    groups: dict[Clearing, list[StatementLine]] = defaultdict(list)
    agencies: dict[str, list[StatementLine]] = {gateway.region: []}
    for line in lines:
        groups[line.clearing].append(line)
        agencies.setdefault(line.clearing.setl_optins or gateway.region, []).append(line)
    steps = 1 + len(groups) + len(agencies)
    done = 1
    verdicts: list[TotalsVerdict] = []
    for clearing, grouped in sorted(groups.items()):
        tell(f"totals of {len(grouped)} settlements (3201)", done, steps)
        totals = partial(gateway.day_totals, day, clearing, grouped)
        verdicts.append((yield from read(setup, "The day's totals (3201)", totals)))
        done += 1
    differences: list[CentreDifference] = []
    for agency, sent in sorted(agencies.items()):
        tell(f"details of {len(sent)} settlements (3202)", done, steps)
        details = partial(gateway.day_details, day, agency, sent)
        differences += yield from read(setup, "The day's details (3202)", details)
        done += 1
    tell("comparing", done, steps)
    elsewhere = yield from journaled(setup, lambda: _elsewhere(setup, entries, differences))
    report = compare(day, [*entries, *elsewhere], verdicts, differences)
    tell("done", steps, steps)
    return report


def _elsewhere(
    setup: Setup, entries: list[Entry], differences: list[CentreDifference]
) -> list[Entry]:
    """The journal's entries, of another day, that the centre's differences name: a sale
    the journal dates differently (its answer was lost before midnight) is still this
    journal's."""
    journal = setup.journal
    known = {entry.key for entry in entries}
    named = {e.settlement.setl_id for e in entries if e.settlement is not None}
    named |= {e.msgid for e in entries if e.msgid}  # a refused sale sent none
    found: list[Entry] = []
    for difference in differences:
        if difference.setl_id in named or difference.msgid in named:
            continue
        entry = journal.by_settlement(difference.setl_id)
        if entry is None and difference.msgid:
            owner = journal.msgid_owner(difference.msgid)
            entry = journal.get(owner.key) if owner is not None and owner.key else None
        if entry is not None and entry.key not in known:
            known.add(entry.key)
            found.append(entry)
    return found


def _silent(what: str, done: int, total: int) -> None:
    """No one watches."""
