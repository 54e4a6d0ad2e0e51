"""The till's books from the command line: ``gongji reconcile`` and ``gongji journal
list|show|recover``, over the journal of a ``gongji.toml`` profile.

Every command builds its client with ``SettlementClient.from_config`` and works on
``client.journal``, so it works unchanged whatever journal the profile configures.
What is printed never holds a full ID number or a payment code: IDs are masked, free
text from a gateway is scrubbed of anything shaped like an ID number.

Exit codes: 0 done (reconcile: clean; recover: nothing left in doubt), 1 reconcile found
discrepancies or recover left entries in doubt, 2 an error, said in one line.
"""

from __future__ import annotations

import argparse
import datetime
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from gongji.cli_output import Output, json_option, progress, receipt_json, scrub
from gongji.client import SettlementClient
from gongji.errors import ConfigError, InvalidInput
from gongji.identity import IdNumber
from gongji.journal import Entry, EntryState
from gongji.money import Fen
from gongji.reconciliation import AMOUNT_FIELDS, Discrepancy, ReconciliationReport, entry_day

__all__ = ["add_commands", "configured_client", "run"]

#: The longest range ``reconcile --from --to`` takes: a year, two requests a day.
MAX_DAYS = 366
#: ``--state`` takes an entry state, or this for every state ``recover()`` resolves.
IN_DOUBT = "in_doubt"
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_LABELS = {
    "count": "settlements 笔数",
    "total": "total 合计",
    "fund": "pooled fund 统筹基金",
    "own_account": "own accounts 个人账户",
    "mutual_aid": "mutual aid 共济",
    "cash": "cash 现金",
}


def add_commands(commands: Any) -> None:
    """Add ``reconcile`` and ``journal`` to the ``gongji`` command's subparsers."""
    profile = argparse.ArgumentParser(add_help=False, parents=[json_option()])
    profile.add_argument(
        "--config",
        metavar="FILE",
        default=os.environ.get("GONGJI_CONFIG", "gongji.toml"),
        help="the configuration file (default: $GONGJI_CONFIG, else ./gongji.toml)",
    )
    profile.add_argument(
        "--profile",
        metavar="NAME",
        default=os.environ.get("GONGJI_PROFILE"),
        help="the profile in it (default: $GONGJI_PROFILE)",
    )
    reconcile = commands.add_parser(
        "reconcile",
        parents=[profile],
        help="reconcile a day with the centre (3201 totals, 3202 details) against the journal",
        description=(
            "Send the journal's totals of the day to the centre (3201), compare its "
            "settlements (3202) with the journal one by one, and print what differs. "
            "--from/--to reconciles each day of a range (one report per day, then a summary), "
            "with a progress bar on a terminal. Exit code 0 when every day is clean, 1 when "
            "something differs, 2 on an error."
        ),
    )
    days = reconcile.add_mutually_exclusive_group(required=True)
    days.add_argument("--date", metavar="YYYY-MM-DD", help="the business day")
    days.add_argument(
        "--from",
        dest="first",
        metavar="YYYY-MM-DD",
        help=f"the first day of a range (with --to; at most {MAX_DAYS} days)",
    )
    reconcile.add_argument(
        "--to", dest="last", metavar="YYYY-MM-DD", help="the last day of the range, included"
    )
    journal = commands.add_parser("journal", help="the settlement journal of a profile")
    journal_commands = journal.add_subparsers(dest="journal_command", required=True)
    listing = journal_commands.add_parser(
        "list", parents=[profile], help="list the journal's entries, oldest first"
    )
    listing.add_argument("--date", metavar="YYYY-MM-DD", help="only the sales of this day")
    which = listing.add_mutually_exclusive_group()
    which.add_argument(
        "--attention",
        action="store_true",
        help="only the entries that need a person (needs_attention), with what is wrong",
    )
    which.add_argument(
        "--state",
        metavar="STATE",
        help=f"only entries in this state: {', '.join(s.value for s in EntryState)}, "
        f"or {IN_DOUBT} for every one recover resolves",
    )
    show = journal_commands.add_parser("show", parents=[profile], help="one entry in full")
    show.add_argument("key", help="the sale's idempotency key")
    journal_commands.add_parser(
        "recover",
        parents=[profile],
        help="resolve every sale left in doubt (client.recover()); exit 1 if some remain",
    )


def run(args: argparse.Namespace, client_options: Mapping[str, Any]) -> int:
    """Run ``reconcile`` or ``journal ...``; errors propagate (the caller prints them)."""
    out = _Output(args.json)
    if args.command == "reconcile":
        days = _days(args)
        with _client(args, client_options) as client:
            if args.date is not None:
                report = client.reconcile(days[0])
                out.reconciliation(report)
                return 0 if report.clean else 1
            reports = []
            with progress(len(days), "reconciling", show=not args.json) as advance:
                for business_day in days:
                    reports.append(client.reconcile(business_day))
                    advance()
        out.reconciliations(reports)
        return 0 if all(report.clean for report in reports) else 1
    command = args.journal_command
    state = _state(args.state) if command == "list" else None
    if command == "list" and args.attention:
        state = EntryState.NEEDS_ATTENTION
    day = _day(args.date) if command == "list" and args.date else None
    with _client(args, client_options) as client:
        journal = client.journal
        if command == "list":
            entries = [e for e in journal.entries() if _selected(e, day, state)]
            out.entries(sorted(entries, key=_when))
            return 0
        if command == "show":
            entry = journal.get(args.key)
            if entry is None:
                raise InvalidInput(
                    f"The journal has no entry with the key {args.key[:64]!r}.",
                    next_step="`gongji journal list` shows the keys (filter with --date, --state).",
                )
            out.entry(entry)
            return 0
        ended = client.recover()
        left = journal.in_doubt()
    out.recovered(ended, left)
    return 0 if not left else 1


# ---------------------------------------------------------------- arguments


def _client(args: argparse.Namespace, options: Mapping[str, Any]) -> SettlementClient:
    if not args.profile:
        raise ConfigError(
            "No profile was given.",
            next_step="Pass --profile NAME (a [profiles.NAME] of the configuration file) or set "
            "GONGJI_PROFILE.",
        )
    return configured_client(Path(args.config), args.profile, options)


def configured_client(path: Path, profile: str, options: Mapping[str, Any]) -> SettlementClient:
    """``SettlementClient.from_config``, with an unreadable file said in one line."""
    try:
        client: SettlementClient = SettlementClient.from_config(path, profile=profile, **options)
    except OSError as error:  # a directory, or a file this user may not read
        raise ConfigError(
            f"The configuration file {path} cannot be read ({error.strerror}).",
            next_step="Pass a readable configuration file with --config FILE.",
        ) from None
    return client


def _day(text: str) -> datetime.date:
    try:
        if _DATE.fullmatch(text):
            return datetime.date.fromisoformat(text)
    except ValueError:
        pass
    raise InvalidInput(
        f"The date {text[:20]!r} is not a day written YYYY-MM-DD.",
        next_step="Give the business day like 2026-11-23.",
    )


def _days(args: argparse.Namespace) -> list[datetime.date]:
    """``--date``, or each day from ``--from`` to ``--to``."""
    if args.date is not None:
        if args.last is not None:
            raise InvalidInput("--to goes with --from, not --date.", next_step="Drop --to.")
        return [_day(args.date)]
    if args.last is None:
        raise InvalidInput(
            "--from needs --to.", next_step="Give the last day of the range with --to YYYY-MM-DD."
        )
    first, last = _day(args.first), _day(args.last)
    count = (last - first).days + 1
    if not 1 <= count <= MAX_DAYS:
        raise InvalidInput(
            f"The range {first} to {last} is {count} days long.",
            next_step=f"Give --from on or before --to, at most {MAX_DAYS} days apart.",
        )
    return [first + datetime.timedelta(days=n) for n in range(count)]


def _state(text: str | None) -> EntryState | str | None:
    if text is None or text == IN_DOUBT:
        return text
    try:
        return EntryState(text)
    except ValueError:
        choices = ", ".join([*(s.value for s in EntryState), IN_DOUBT])
        raise InvalidInput(
            f"There is no entry state {text[:30]!r}.", next_step=f"Use one of: {choices}."
        ) from None


def _selected(entry: Entry, day: datetime.date | None, state: EntryState | str | None) -> bool:
    if day is not None and entry_day(entry) != day:
        return False
    if state == IN_DOUBT:
        return entry.state.in_doubt
    return state is None or entry.state is state


def _when(entry: Entry) -> tuple[str, str]:
    return (entry.updated_at.isoformat() if entry.updated_at else "", entry.key)


# ---------------------------------------------------------------- what is shown


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
                    "owner": share.owner_id.masked,
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


class _Output(Output):
    """The books' tables and JSON, on the shared ``Output``."""

    # ------------------------------------------------------------ reconcile

    def reconciliation(self, report: ReconciliationReport) -> None:
        if self.as_json:
            self.json(report.as_dict())
            return
        verdict = {True: "agree", False: "DIFFER", None: "were not judged"}[report.agreed]
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
                    getattr(report.journal, name).to_yuan(),
                    getattr(report.centre, name).to_yuan(),
                ]
                for name in AMOUNT_FIELDS
            ),
        ]
        self.table("Totals", ["", "journal", "centre"], rows, right=2)
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
                self.line(f"{number}. {d.setl_id or d.key}: {d.next_step}")
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
