"""A day's reconciliation: this till's journal against the centre's books, as the
centre does it (对账).

The journal's standing settlements of the day become ``StatementLine``s. 3201 judges
their totals per clearing group (``TotalsVerdict``); 3202 compares them one by one and
the centre answers, by file, only the settlements on which it differs
(``CentreDifference``). ``compare`` is pure: the journal's entries, the lines sent and the
centre's answers in, a ``ReconciliationReport`` out. The flow that asks the centre is
``gongji.flows.reconcile``.

A difference is matched by the centre's ``setl_id``; a journal entry that never learned
its ``setl_id`` (the answer to its settlement was lost) is matched by the ``msgid`` it
journaled before sending. The kind of a difference comes from what was uploaded (a line
the centre flags was in the file: ``amount_differs`` or ``journal_only``; one that was
not: ``centre_only`` or ``state_differs``), never from the centre's result codes, which
differ between regions. The report holds settlement ids, message ids, idempotency keys,
the centre's person numbers (``psn_no``) and amounts: no ID number at all.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Sequence
from typing import Any, Literal

from attrs import frozen

from gongji.gateways import (
    CentreDifference,
    CentreSettlement,
    Clearing,
    DayTotals,
    StatementLine,
    TotalsVerdict,
)
from gongji.journal import Entry, EntryState
from gongji.journal.entry import entry_day
from gongji.money import ZERO, Fen

__all__ = [
    "AMOUNT_FIELDS",
    "UNKNOWN_CLEARING",
    "Amounts",
    "Discrepancy",
    "DiscrepancyKind",
    "ReconciliationReport",
    "compare",
    "entry_day",
    "journal_totals",
    "standing_on",
    "statement_lines",
]

DiscrepancyKind = Literal["journal_only", "centre_only", "amount_differs", "state_differs"]

#: The shares compared for each settlement, in this order.
AMOUNT_FIELDS = ("total", "fund", "own_account", "mutual_aid", "cash")
#: The clearing of a settlement journaled before gongji recorded it: the gateway's defaults.
UNKNOWN_CLEARING = Clearing(insutype="", clr_type="", setl_optins="")


@frozen
class Amounts:
    """One settlement's split, in fen; mutual aid summed over its owners. The centre's
    side has no mutual-aid or cash share (None): its result file does not state them."""

    total: Fen
    fund: Fen
    own_account: Fen
    mutual_aid: Fen | None
    cash: Fen | None

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
    def of_difference(cls, difference: CentreDifference) -> Amounts | None:
        """The centre's amounts on a line of its result file; None when it has none (no
        standing settlement under that ``setl_id``)."""
        shares = (difference.total, difference.fund, difference.own_account)
        if all(share is None for share in shares):
            return None
        return cls(
            total=difference.total or ZERO,
            fund=difference.fund or ZERO,
            own_account=difference.own_account or ZERO,
            mutual_aid=None,
            cash=None,
        )

    def differing(self, other: Amounts) -> tuple[str, ...]:
        """The names of the shares that differ from ``other``'s, where both state them."""
        return tuple(
            name
            for name in AMOUNT_FIELDS
            if getattr(self, name) is not None
            and getattr(other, name) is not None
            and getattr(self, name) != getattr(other, name)
        )

    def as_dict(self) -> dict[str, int | None]:
        return {name: _fen(getattr(self, name)) for name in AMOUNT_FIELDS}


def _fen(amount: Fen | None) -> int | None:
    return None if amount is None else int(amount)


@frozen
class Discrepancy:
    """One settlement on which the journal and the centre disagree.

    * ``journal_only``: the journal has it settled and standing; the centre does not.
    * ``centre_only``: the centre has it standing for this institution; this journal has
      no entry for it (another till's journal, or a sale the journal lost).
    * ``amount_differs``: both have it; ``fields`` names the shares that differ (empty
      when the centre flagged it for a reason of its own: ``memo`` says which).
    * ``state_differs``: both know it, the centre has it standing, and the journal says
      otherwise (``journal_state``): refunded, cancelled, failed, or still in doubt.

    ``memo`` is the centre's own remark on the line of its result file, scrubbed.
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
    memo: str = ""

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
            if not self.fields:
                return (
                    "The centre flags this settlement though its amounts are the journal's: "
                    "read its remark (memo) and ask the centre what it needs."
                )
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
            "memo": self.memo,
            "next_step": self.next_step,
        }


@frozen
class ReconciliationReport:
    """A day's reconciliation: both sides' totals, the centre's verdicts, each difference.

    ``statements``: the centre's verdict on each clearing group's totals (3201).
    ``centre``: the centre's totals as its answers show them (it sends none of its own):
    the journal's, with each settlement the centre flagged counted at the centre's
    amounts; no mutual-aid or cash total. ``clean`` when no group is judged unbalanced and
    no settlement differs. ``matched``: how many of the journal's settlements the centre
    has alike. ``unresolved`` lists the day's journal entries still in doubt: they are not
    differences by themselves, but the day is not closed until ``recover()`` has
    resolved them.
    """

    day: datetime.date
    journal: DayTotals
    centre: DayTotals
    discrepancies: tuple[Discrepancy, ...] = ()
    matched: int = 0
    unresolved: tuple[str, ...] = ()
    statements: tuple[TotalsVerdict, ...] = ()

    @property
    def agreed(self) -> bool | None:
        """The centre's verdict on the journal's totals (3201): False when it judged a
        group unbalanced, None when it judged none (or answered a code gongji does not know)."""
        return self.centre.agreed

    @property
    def clean(self) -> bool:
        return not self.discrepancies and self.agreed is not False

    def of_kind(self, kind: DiscrepancyKind) -> tuple[Discrepancy, ...]:
        return tuple(d for d in self.discrepancies if d.kind == kind)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: amounts in integer fen (null where the centre states none), the day
        as ``YYYY-MM-DD``."""
        return {
            "day": self.day.isoformat(),
            "clean": self.clean,
            "agreed": self.agreed,
            "journal": _totals_dict(self.journal),
            "centre": _totals_dict(self.centre),
            "matched": self.matched,
            "statements": [_verdict_dict(v) for v in self.statements],
            "discrepancies": [d.as_dict() for d in self.discrepancies],
            "unresolved": list(self.unresolved),
        }


def _totals_dict(totals: DayTotals) -> dict[str, int | None]:
    return {"count": totals.count} | {name: _fen(getattr(totals, name)) for name in AMOUNT_FIELDS}


def _verdict_dict(verdict: TotalsVerdict) -> dict[str, Any]:
    clearing = verdict.clearing
    return {
        "insutype": clearing.insutype,
        "clr_type": clearing.clr_type,
        "setl_optins": clearing.setl_optins,
        "count": verdict.count,
        "total": int(verdict.total),
        "fund": int(verdict.fund),
        "own_account": int(verdict.own_account),
        "agreed": verdict.agreed,
        "result": verdict.result,
        "description": verdict.description,
    }


# ---------------------------------------------------------------- the journal's side


def standing_on(entries: Iterable[Entry], day: datetime.date) -> list[Entry]:
    """The journal's settled sales of ``day`` that stand (not refunded, cancelled or failed)."""
    return [
        entry
        for entry in entries
        if entry.state is EntryState.SETTLED
        and entry.settlement is not None
        and entry_day(entry) == day
    ]


def statement_lines(entries: Iterable[Entry], day: datetime.date) -> list[StatementLine]:
    """The journal's standing settlements of ``day``, as the details file lists them."""
    lines = []
    for entry in standing_on(entries, day):
        settlement = entry.settlement
        assert settlement is not None  # standing_on keeps settled entries only
        lines.append(
            StatementLine(
                setl_id=settlement.setl_id,
                mdtrt_id=settlement.mdtrt_id,
                psn_no=entry.psn_no,
                total=settlement.total,
                fund=settlement.fund,
                own_account=settlement.own_account,
                mutual_aid=settlement.mutual_aid_total,
                cash=settlement.cash,
                clearing=settlement.clearing or UNKNOWN_CLEARING,
                setting=entry.setting,
            )
        )
    return lines


def journal_totals(entries: Iterable[Entry], day: datetime.date) -> DayTotals:
    """What the journal says was settled at the centre on ``day`` and still stands."""
    return _totals(statement_lines(entries, day))


def _totals(lines: Sequence[StatementLine]) -> DayTotals:
    return DayTotals(
        count=len(lines),
        total=sum((line.total for line in lines), ZERO),
        fund=sum((line.fund for line in lines), ZERO),
        own_account=sum((line.own_account for line in lines), ZERO),
        mutual_aid=sum((line.mutual_aid for line in lines), ZERO),
        cash=sum((line.cash for line in lines), ZERO),
    )


# ---------------------------------------------------------------- the comparison


def compare(
    day: datetime.date,
    entries: Iterable[Entry],
    verdicts: Iterable[TotalsVerdict],
    differences: Iterable[CentreDifference],
) -> ReconciliationReport:
    """The journal's ``entries`` against the centre's verdicts (3201) and the differences
    it found (3202) on the lines ``statement_lines(entries, day)`` sent it."""
    entries = list(entries)
    lines = {line.setl_id: line for line in statement_lines(entries, day)}
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
    centre = _Tally(_totals(list(lines.values())))
    flagged: set[str] = set()
    for difference in differences:
        theirs = Amounts.of_difference(difference)
        memo = difference.memo
        line = lines.get(difference.setl_id)
        if line is not None:  # in the file: the centre has it otherwise, or not at all
            if difference.setl_id in flagged:
                continue
            flagged.add(difference.setl_id)
            entry = by_setl_id[line.setl_id]
            assert entry.settlement is not None
            ours = Amounts.of_settlement(entry.settlement)
            centre.replace(ours, theirs)
            if theirs is None:
                found.append(_known(entry, difference, "journal_only", ours, None, memo=memo))
            else:
                fields = ours.differing(theirs)
                found.append(
                    _known(entry, difference, "amount_differs", ours, theirs, fields, memo=memo)
                )
            continue
        centre.add(theirs)
        known = by_setl_id.get(difference.setl_id) or (
            by_msgid.get(difference.msgid) if difference.msgid else None
        )
        if known is None or known.state is EntryState.SETTLED:
            # SETTLED but not in the file: the journal counts it on another day.
            found.append(
                Discrepancy(
                    kind="centre_only",
                    setl_id=difference.setl_id,
                    msgid=difference.msgid,
                    key=known.key if known else "",
                    psn_no=difference.psn_no,
                    journal_state=known.state if known else None,
                    centre=theirs,
                    memo=memo,
                )
            )
            continue
        held = Amounts.of_settlement(known.settlement) if known.settlement else None
        found.append(_known(known, difference, "state_differs", held, theirs, memo=memo))
    unresolved = sorted(
        entry.key for entry in entries if entry.state.in_doubt and entry_day(entry) == day
    )
    verdicts = tuple(verdicts)
    return ReconciliationReport(
        day=day,
        journal=_totals(list(lines.values())),
        centre=centre.totals(_agreed(verdicts)),
        discrepancies=tuple(sorted(found, key=lambda d: (d.kind, d.setl_id, d.key))),
        matched=len(lines) - len(flagged),
        unresolved=tuple(unresolved),
        statements=verdicts,
    )


def _agreed(verdicts: Sequence[TotalsVerdict]) -> bool | None:
    """False if any group is unbalanced; True only when every group balanced."""
    if any(v.agreed is False for v in verdicts):
        return False
    if not verdicts or any(v.agreed is None for v in verdicts):
        return None
    return True


class _Tally:
    """The centre's totals as its answers show them: the lines sent, corrected by each
    line of its result file."""

    def __init__(self, sent: DayTotals) -> None:
        self.count = sent.count
        self.total, self.fund, self.own_account = sent.total, sent.fund, sent.own_account

    def add(self, theirs: Amounts | None) -> None:
        if theirs is not None:
            self.count += 1
            self.total += theirs.total
            self.fund += theirs.fund
            self.own_account += theirs.own_account

    def replace(self, ours: Amounts, theirs: Amounts | None) -> None:
        self.count -= 1
        self.total -= ours.total
        self.fund -= ours.fund
        self.own_account -= ours.own_account
        self.add(theirs)

    def totals(self, agreed: bool | None) -> DayTotals:
        return DayTotals(
            count=self.count,
            total=self.total,
            fund=self.fund,
            own_account=self.own_account,
            mutual_aid=None,
            cash=None,
            agreed=agreed,
        )


def _known(
    entry: Entry,
    difference: CentreDifference,
    kind: DiscrepancyKind,
    ours: Amounts | None,
    theirs: Amounts | None,
    fields: tuple[str, ...] = (),
    *,
    memo: str = "",
) -> Discrepancy:
    return Discrepancy(
        kind=kind,
        setl_id=difference.setl_id,
        msgid=difference.msgid or entry.msgid,
        key=entry.key,
        psn_no=entry.psn_no or difference.psn_no,
        journal_state=entry.state,
        journal=ours,
        centre=theirs,
        fields=fields,
        memo=memo,
    )
