"""What ``gongji reconcile`` and ``gongji journal`` print: reports, entries, recoveries.

Never a full ID number or a payment code: IDs are masked, free text from a gateway is
scrubbed of anything shaped like an ID number.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from typing import Any

from gongji.cli.output import Output, receipt_json, scrub
from gongji.identity import IdNumber
from gongji.journal import Entry, EntryState
from gongji.money import Fen
from gongji.reconciliation import AMOUNT_FIELDS, Discrepancy, ReconciliationReport

__all__ = ["JournalOutput", "entry_detail", "entry_row"]

_LABELS = {
    "count": "settlements 笔数",
    "total": "total 合计",
    "fund": "pooled fund 统筹基金",
    "own_account": "own accounts 个人账户",
    "mutual_aid": "mutual aid 共济",
    "cash": "cash 现金",
}


def _masked(number: IdNumber | None) -> str | None:
    return number.masked if number is not None else None


def _yuan(amount: Fen | None) -> str:
    return amount.to_yuan() if amount is not None else "-"


def _fen(amount: Fen | None) -> int | None:
    return int(amount) if amount is not None else None


def entry_row(entry: Entry) -> dict[str, Any]:
    """An entry as ``journal list`` shows it (amounts in fen)."""
    receipt, settlement = entry.receipt, entry.settlement
    return {
        "key": entry.key,
        "state": entry.state.value,
        "settlement_id": receipt.settlement_id if receipt else "",
        "total": _fen(receipt.total if receipt else settlement.total if settlement else None),
        "cash": _fen(receipt.cash if receipt else settlement.cash if settlement else None),
        "updated_at": entry.updated_at.isoformat() if entry.updated_at else None,
        "reason": scrub(entry.reason),
    }


def entry_detail(entry: Entry) -> dict[str, Any]:
    """An entry as ``journal show`` shows it: enough to reprint the receipt, IDs masked."""
    shown: dict[str, Any] = {
        "key": entry.key,
        "state": entry.state.value,
        "in_doubt": entry.state.in_doubt,
        "attempt": entry.attempt,
        "setting": entry.setting.value,
        "purpose": entry.purpose.value,
        "psn_no": entry.psn_no,
        "msgid": entry.msgid,
        "cash_kind": entry.cash_kind,
        "out_trade_no": entry.out_trade_no,
        "undo": entry.undo,
        "undo_msgid": entry.undo_msgid,
        "out_refund_no": entry.out_refund_no,
        "reason": scrub(entry.reason),
        "updated_at": entry.updated_at.isoformat() if entry.updated_at else None,
        "settlement": None,
        "receipt": None,
    }
    settlement = entry.settlement
    if settlement is not None:
        shown["settlement"] = {
            "setl_id": settlement.setl_id,
            "mdtrt_id": settlement.mdtrt_id,
            "msgid": settlement.msgid,
            "patient": _masked(settlement.patient_id),
            "settled_at": settlement.settled_at.isoformat() if settlement.settled_at else None,
            "total": int(settlement.total),
            "fund": int(settlement.fund),
            "own_account": int(settlement.own_account),
            "mutual_aid": [
                {
                    "owner": _masked(share.owner_id),
                    "relation": share.relation.value if share.relation else None,
                    "amount": int(share.amount),
                }
                for share in settlement.mutual_aid
            ],
            "cash": int(settlement.cash),
        }
    if entry.receipt is not None:
        shown["receipt"] = receipt_json(entry.receipt)
    return shown


def _difference(found: Discrepancy) -> str:
    """What differs, in one line of yuan."""
    theirs, ours = found.centre, found.journal
    if found.kind == "amount_differs" and theirs is not None and ours is not None:
        return "; ".join(
            f"{name}: journal {_yuan(getattr(ours, name))}, centre {_yuan(getattr(theirs, name))}"
            for name in found.fields
        )
    if found.kind == "journal_only":
        return f"journal {_yuan(ours.total if ours else None)}; not standing at the centre"
    if found.kind == "centre_only":
        return f"centre {_yuan(theirs.total if theirs else None)}; not in this journal"
    state = found.journal_state.value if found.journal_state else "?"
    return f"journal says {state}; centre has {_yuan(theirs.total if theirs else None)} standing"


class JournalOutput(Output):
    """The books' tables and JSON, on the shared ``Output``."""

    # ------------------------------------------------------------ reconcile

    def reconciliation(self, report: ReconciliationReport) -> None:
        if self.as_json:
            self.json(report.as_dict())
            return
        verdict = {True: "agree", False: "DIFFER", None: "were not judged"}[report.agreed]
        if not report.statements:
            verdict = "had nothing to judge (no settlement to total)"
        found = len(report.discrepancies)
        headline = (
            "clean"
            if report.clean
            else f"{found} discrepanc{'y' if found == 1 else 'ies'}"
            if found
            else "the totals differ"
        )
        self.line(
            f"Reconciliation of {report.day.isoformat()}: {headline}. "
            f"{report.matched} settlement{'' if report.matched == 1 else 's'} match; "
            f"the centre says the totals {verdict}."
        )
        rows = [
            [_LABELS["count"], str(report.journal.count), str(report.centre.count)],
            *(
                [
                    _LABELS[name],
                    _yuan(getattr(report.journal, name)),
                    _yuan(getattr(report.centre, name)),
                ]
                for name in AMOUNT_FIELDS
            ),
        ]
        self.table("Totals", ["", "journal", "centre"], rows, right=2)
        if report.statements:
            self.table(
                "The centre's verdict on each clearing group (3201)",
                ["insutype", "clr_type", "setl_optins", "count", "total", "verdict"],
                [
                    [
                        v.clearing.insutype,
                        v.clearing.clr_type,
                        v.clearing.setl_optins,
                        str(v.count),
                        v.total.to_yuan(),
                        {True: "balanced", False: "NOT BALANCED", None: f"code {v.result!r}"}[
                            v.agreed
                        ],
                    ]
                    for v in report.statements
                ],
                right=3,
            )
        if report.discrepancies:
            self.table(
                "Discrepancies",
                ["kind", "settlement", "key", "psn_no", "difference"],
                [
                    [d.kind, d.setl_id, d.key or "-", d.psn_no or "-", _difference(d)]
                    for d in report.discrepancies
                ],
            )
            for number, d in enumerate(report.discrepancies, 1):
                remark = f" The centre's remark: {d.memo}" if d.memo else ""
                self.line(f"{number}. {d.setl_id or d.key}: {d.next_step}{remark}")
        if report.unresolved:
            self.line(
                f"Still in doubt on this day: {', '.join(report.unresolved)}. "
                "Run `gongji journal recover`, then reconcile again."
            )

    def reconciliations(self, reports: Sequence[ReconciliationReport]) -> None:
        """A range of days: each day's report, then one line per day and the summary."""
        unclean = [r for r in reports if not r.clean]
        if self.as_json:
            self.json(
                {
                    "from": reports[0].day.isoformat(),
                    "to": reports[-1].day.isoformat(),
                    "clean": not unclean,
                    "summary": {
                        "days": len(reports),
                        "clean_days": len(reports) - len(unclean),
                        "discrepancies": sum(len(r.discrepancies) for r in reports),
                        "unclean_days": [r.day.isoformat() for r in unclean],
                    },
                    "days": [r.as_dict() for r in reports],
                }
            )
            return
        for report in reports:
            self.reconciliation(report)
            self.line("")
        self.table(
            f"Summary: {reports[0].day} to {reports[-1].day}",
            ["day", "verdict", "journal", "centre", "matched", "discrepancies"],
            [
                [
                    r.day.isoformat(),
                    "clean" if r.clean else "DIFFERS",
                    str(r.journal.count),
                    str(r.centre.count),
                    str(r.matched),
                    str(len(r.discrepancies)),
                ]
                for r in reports
            ],
            right=4,
        )
        self.line(
            f"{len(reports) - len(unclean)} of {len(reports)} days are clean"
            + (
                "."
                if not unclean
                else f"; see the reports of {', '.join(r.day.isoformat() for r in unclean)}."
            )
        )

    # ------------------------------------------------------------ journal

    def entries(self, entries: Sequence[Entry]) -> None:
        rows = [entry_row(entry) for entry in entries]
        if self.as_json:
            self.json(rows)
            return
        doubtful = sum(1 for entry in entries if entry.state.in_doubt)

        def money(value: int | None) -> str:
            return Fen(value).to_yuan() if value is not None else "-"

        self.table(
            f"Journal: {len(rows)} entr{'y' if len(rows) == 1 else 'ies'}",
            ["key", "state", "settlement", "updated at", "total", "cash"],
            [
                [
                    r["key"],
                    r["state"],
                    r["settlement_id"] or "-",
                    _seconds(entry.updated_at),
                    money(r["total"]),
                    money(r["cash"]),
                ]
                for r, entry in zip(rows, entries, strict=True)
            ],
            right=2,
        )
        if doubtful:
            self.line(f"{doubtful} in doubt: run `gongji journal recover`.")
        for r, entry in zip(rows, entries, strict=True):
            if entry.state is EntryState.NEEDS_ATTENTION:
                self.line(
                    f"{r['key']} needs a person: {r['reason'] or 'no reason was recorded'} "
                    "(docs/how-to/recover-after-a-crash.md says what to do)."
                )

    def entry(self, entry: Entry) -> None:
        shown = entry_detail(entry)
        if self.as_json:
            self.json(shown)
            return
        plain = [
            [name, "-" if value in (None, "") else str(value)]
            for name, value in shown.items()
            if name not in ("settlement", "receipt")
        ]
        self.table(f"Journal entry {entry.key}", ["field", "value"], plain)
        if entry.receipt is not None:
            self.receipt(entry.receipt)

    def recovered(self, ended: Sequence[Entry], left: Sequence[Entry]) -> None:
        if self.as_json:
            self.json(
                {
                    "resolved": [
                        {"key": e.key, "state": e.state.value, "reason": scrub(e.reason)}
                        for e in ended
                    ],
                    "in_doubt": sorted(e.key for e in left),
                }
            )
            return
        if ended:
            self.table(
                "Recovered",
                ["key", "state", "why"],
                [[e.key, e.state.value, scrub(e.reason) or "-"] for e in ended],
            )
        if left:
            self.line(
                f"Still in doubt: {', '.join(sorted(e.key for e in left))}. Check the network to "
                "the gateways and run `gongji journal recover` again."
            )
        else:
            self.line("Nothing is left in doubt.")


def _seconds(moment: datetime.datetime | None) -> str:
    return moment.isoformat(sep=" ", timespec="seconds") if moment is not None else "-"
