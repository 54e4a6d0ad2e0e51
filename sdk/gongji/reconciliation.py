"""A day's reconciliation: this till's journal against the centre's books.

``compare`` is pure: the journal's entries, the centre's totals (3201, with its own
verdict) and its details (3202) in, a ``ReconciliationReport`` out. The flow that
asks the centre is ``gongji.flows.reconcile``.

Settlements are matched by the centre's ``setl_id``; a journal entry that never learned
its ``setl_id`` (the answer to its settlement was lost) is matched by the ``msgid`` it
journaled before sending. The report holds settlement ids, message ids, idempotency
keys, the centre's person numbers (``psn_no``) and amounts: no ID number at all.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from typing import Any, Literal

from attrs import frozen

from gongji import clock as beijing
from gongji.gateways import CentreDetail, CentreSettlement, DayTotals
from gongji.journal import Entry, EntryState
from gongji.money import ZERO, Fen

__all__ = [
    "AMOUNT_FIELDS",
    "Amounts",
    "Discrepancy",
    "DiscrepancyKind",
    "ReconciliationReport",
    "compare",
    "entry_day",
    "journal_totals",
    "standing_on",
]

DiscrepancyKind = Literal["journal_only", "centre_only", "amount_differs", "state_differs"]

#: The shares compared for each settlement, in this order.
AMOUNT_FIELDS = ("total", "fund", "own_account", "mutual_aid", "cash")


@frozen
class Amounts:
    """One settlement's split, in fen; mutual aid summed over its owners."""

    total: Fen
    fund: Fen
    own_account: Fen
    mutual_aid: Fen
    cash: Fen

    @classmethod
    def of_settlement(cls, settlement: CentreSettlement) -> Amounts:
        return cls(
            total=settlement.total,
            fund=settlement.fund,
            own_account=settlement.own_account,
            mutual_aid=settlement.mutual_aid_total,
            cash=settlement.cash,
        )

    @classmethod
    def of_detail(cls, detail: CentreDetail) -> Amounts:
        return cls(
            total=detail.total,
            fund=detail.fund,
            own_account=detail.own_account,
            mutual_aid=detail.mutual_aid,
            cash=detail.cash,
        )

    def differing(self, other: Amounts) -> tuple[str, ...]:
        """The names of the shares that differ from ``other``'s."""
        return tuple(name for name in AMOUNT_FIELDS if getattr(self, name) != getattr(other, name))

    def as_dict(self) -> dict[str, int]:
        return {name: int(getattr(self, name)) for name in AMOUNT_FIELDS}


@frozen
class Discrepancy:
    """One settlement on which the journal and the centre disagree.

    * ``journal_only``: the journal has it settled and standing; the centre does not.
    * ``centre_only``: the centre has it standing for this institution; this journal has
      no entry for it (another till's journal, or a sale the journal lost).
    * ``amount_differs``: both have it; ``fields`` names the shares that differ.
    * ``state_differs``: both know it, the centre has it standing, and the journal says
      otherwise (``journal_state``): refunded, cancelled, failed, or still in doubt.
    """

    kind: DiscrepancyKind
    setl_id: str
    msgid: str = ""
    key: str = ""  # the journal's idempotency key, when the journal has the sale
    psn_no: str = ""
    journal_state: EntryState | None = None
    journal: Amounts | None = None
    centre: Amounts | None = None
    fields: tuple[str, ...] = ()

    @property
    def next_step(self) -> str:
        """What the operator does about it, in one sentence."""
        if self.kind == "journal_only":
            return (
                "The centre no longer counts this sale: check with the centre whether it was "
                "cancelled or reversed there, and give the customer nothing back before it says so."
            )
        if self.kind == "centre_only":
            return (
                "Find the till whose journal has this settlement and reconcile there; if no till "
                "settled it, cancel it at the centre."
            )
        if self.kind == "amount_differs":
            return (
                f"The centre's amounts ({', '.join(self.fields)}) are what was charged: check the "
                "receipt against them and report the difference to the centre."
            )
        if self.journal_state is not None and self.journal_state.in_doubt:
            return "Run `gongji journal recover` (client.recover()), then reconcile again."
        return (
            "The journal says the sale was undone but the centre still counts it: refund it "
            "again from this till (the centre cancels once), or report it to the centre."
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "setl_id": self.setl_id,
            "msgid": self.msgid,
            "key": self.key,
            "psn_no": self.psn_no,
            "journal_state": self.journal_state.value if self.journal_state else None,
            "fields": list(self.fields),
            "journal": self.journal.as_dict() if self.journal else None,
            "centre": self.centre.as_dict() if self.centre else None,
            "next_step": self.next_step,
        }


@frozen
class ReconciliationReport:
    """A day's reconciliation: both sides' totals, the centre's verdict, each difference.

    ``clean`` when the centre agrees with the journal's totals (or was not asked) and no
    settlement differs. ``matched``: how many of the centre's settlements the journal has
    alike (settled, same amounts). ``unresolved`` lists the day's journal entries still in doubt:
    they are not differences by themselves, but the day is not closed until
    ``recover()`` has resolved them.
    """

    day: datetime.date
    journal: DayTotals
    centre: DayTotals
    discrepancies: tuple[Discrepancy, ...] = ()
    matched: int = 0
    unresolved: tuple[str, ...] = ()

    @property
    def agreed(self) -> bool | None:
        """The centre's own verdict on the journal's totals (3201); None when it gave none."""
        return self.centre.agreed

    @property
    def clean(self) -> bool:
        return not self.discrepancies and self.agreed is not False

    def of_kind(self, kind: DiscrepancyKind) -> tuple[Discrepancy, ...]:
        return tuple(d for d in self.discrepancies if d.kind == kind)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: amounts in integer fen, the day as ``YYYY-MM-DD``."""
        return {
            "day": self.day.isoformat(),
            "clean": self.clean,
            "agreed": self.agreed,
            "journal": _totals_dict(self.journal),
            "centre": _totals_dict(self.centre),
            "matched": self.matched,
            "discrepancies": [d.as_dict() for d in self.discrepancies],
            "unresolved": list(self.unresolved),
        }


def _totals_dict(totals: DayTotals) -> dict[str, int]:
    return {"count": totals.count} | {name: int(getattr(totals, name)) for name in AMOUNT_FIELDS}


# ---------------------------------------------------------------- the journal's side


def entry_day(entry: Entry) -> datetime.date | None:
    """The day a sale belongs to: the centre's settlement date when the journal has it
    (the day the centre counts it), else the day the entry was last written."""
    if entry.settlement is not None and entry.settlement.settled_at is not None:
        return beijing.day(entry.settlement.settled_at)
    if entry.updated_at is not None:
        return beijing.day(entry.updated_at)
    return None


def standing_on(entries: Iterable[Entry], day: datetime.date) -> list[Entry]:
    """The journal's settled sales of ``day`` that stand (not refunded, cancelled or failed)."""
    return [
        entry
        for entry in entries
        if entry.state is EntryState.SETTLED
        and entry.settlement is not None
        and entry_day(entry) == day
    ]


def journal_totals(entries: Iterable[Entry], day: datetime.date) -> DayTotals:
    """What the journal says was settled at the centre on ``day`` and still stands."""
    settled = [entry.settlement for entry in standing_on(entries, day) if entry.settlement]
    return DayTotals(
        count=len(settled),
        total=sum((s.total for s in settled), ZERO),
        fund=sum((s.fund for s in settled), ZERO),
        own_account=sum((s.own_account for s in settled), ZERO),
        mutual_aid=sum((s.mutual_aid_total for s in settled), ZERO),
        cash=sum((s.cash for s in settled), ZERO),
    )


# ---------------------------------------------------------------- the comparison


def compare(
    day: datetime.date,
    entries: Iterable[Entry],
    centre: DayTotals,
    details: Iterable[CentreDetail],
) -> ReconciliationReport:
    """The journal's ``entries`` against the centre's totals and details of ``day``."""
    entries = list(entries)
    by_setl_id: dict[str, Entry] = {}
    by_msgid: dict[str, Entry] = {}
    for entry in entries:
        if entry.settlement is not None and entry.settlement.setl_id:
            by_setl_id[entry.settlement.setl_id] = entry
        elif entry.receipt is not None and entry.receipt.settlement_id:
            by_setl_id[entry.receipt.settlement_id] = entry
        else:
            # Only an entry that never learned its setl_id is matched by its msgid: the
            # answer to its settlement was lost, the centre's record of it was not.
            by_msgid[entry.msgid] = entry
    found: list[Discrepancy] = []
    matched: set[str] = set()
    alike = 0
    for detail in details:
        known = by_setl_id.get(detail.setl_id) or (
            by_msgid.get(detail.msgid) if detail.msgid else None
        )
        theirs = Amounts.of_detail(detail)
        if known is None:
            found.append(
                Discrepancy(
                    kind="centre_only",
                    setl_id=detail.setl_id,
                    msgid=detail.msgid,
                    psn_no=detail.psn_no,
                    centre=theirs,
                )
            )
            continue
        matched.add(known.key)
        ours = Amounts.of_settlement(known.settlement) if known.settlement else None
        if known.state is not EntryState.SETTLED:
            found.append(_known(known, detail, "state_differs", ours, theirs))
        elif ours is not None and (fields := ours.differing(theirs)):
            found.append(_known(known, detail, "amount_differs", ours, theirs, fields=fields))
        else:
            alike += 1
    for entry in standing_on(entries, day):
        if entry.key not in matched and entry.settlement is not None:
            found.append(
                Discrepancy(
                    kind="journal_only",
                    setl_id=entry.settlement.setl_id,
                    msgid=entry.settlement.msgid or entry.msgid,
                    key=entry.key,
                    psn_no=entry.psn_no,
                    journal_state=entry.state,
                    journal=Amounts.of_settlement(entry.settlement),
                )
            )
    unresolved = sorted(
        entry.key for entry in entries if entry.state.in_doubt and entry_day(entry) == day
    )
    return ReconciliationReport(
        day=day,
        journal=journal_totals(entries, day),
        centre=centre,
        discrepancies=tuple(sorted(found, key=lambda d: (d.kind, d.setl_id, d.key))),
        matched=alike,
        unresolved=tuple(unresolved),
    )


def _known(
    entry: Entry,
    detail: CentreDetail,
    kind: DiscrepancyKind,
    ours: Amounts | None,
    theirs: Amounts,
    *,
    fields: tuple[str, ...] = (),
) -> Discrepancy:
    return Discrepancy(
        kind=kind,
        setl_id=detail.setl_id,
        msgid=detail.msgid or entry.msgid,
        key=entry.key,
        psn_no=entry.psn_no or detail.psn_no,
        journal_state=entry.state,
        journal=ours,
        centre=theirs,
        fields=fields,
    )
