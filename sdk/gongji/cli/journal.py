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
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from gongji.cli.profile_args import profile_client, profile_option
from gongji.errors import InvalidInput

if TYPE_CHECKING:
    from gongji.journal import Entry, EntryState

__all__ = ["ENTRY_STATES", "add_commands", "run"]

#: The longest range ``reconcile --from --to`` takes: a year, two requests a day.
MAX_DAYS = 366
#: ``--state`` takes an entry state, or this for every state ``recover()`` resolves.
IN_DOUBT = "in_doubt"
#: ``gongji.journal.EntryState``'s values, written out so that ``gongji --help`` need not
#: import the journal (a test keeps the two the same).
ENTRY_STATES = (
    "centre_pending",
    "centre_settled",
    "cash_pending",
    "settled",
    "failed",
    "undoing",
    "refunded",
    "cancelled",
    "needs_attention",
)
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def add_commands(commands: Any) -> None:
    """Add ``reconcile`` and ``journal`` to the ``gongji`` command's subparsers."""
    profile = profile_option()
    reconcile = commands.add_parser(
        "reconcile",
        parents=[profile],
        help="reconcile a day with the centre (3201 totals, 3202 details by file) against the journal",
        description=(
            "Send the journal's totals of the day to the centre per clearing group (3201), "
            "upload its settlements as a file for the centre to compare (9101, 3202, 9102), "
            "and print what differs. "
            "--from/--to reconciles each day of a range (one report per day, then a summary). "
            "A progress bar shows on a terminal. Exit code 0 when every day is clean, 1 when "
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
        help=f"only entries in this state: {', '.join(ENTRY_STATES)}, "
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
    from gongji.cli.journal_output import JournalOutput
    from gongji.cli.output import progress, steps

    out = JournalOutput(args.json)
    if args.command == "reconcile":
        days = _days(args)
        with profile_client(args, client_options) as client:
            if args.date is not None:
                # A large day takes a while: its steps (3201 per group, the file) are shown.
                with steps(f"reconciling {days[0]}", show=not args.json) as tell:
                    report = client.reconcile(days[0], progress=tell)
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
        state = _state("needs_attention")
    day = _day(args.date) if command == "list" and args.date else None
    with profile_client(args, client_options) as client:
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
    from gongji.journal import EntryState

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
    from gongji.journal.entry import entry_day

    if day is not None and entry_day(entry) != day:
        return False
    if state == IN_DOUBT:
        return entry.state.in_doubt
    return state is None or entry.state is state


def _when(entry: Entry) -> tuple[str, str]:
    return (entry.updated_at.isoformat() if entry.updated_at else "", entry.key)
