"""The settlement journal: what a settlement has done so far, written before each step.

A settlement's entry is keyed by the POS's idempotency key and holds the gateway ids
chosen for it (the centre's ``msgid``, the channel's ``out_trade_no``) before the write
that carries them is sent. So a retry, a timeout or a crash never makes a second
charge: the next attempt finds the entry and resolves what it left in doubt.

``MemoryJournal`` keeps entries for the life of the process; the durable journals,
``SqliteJournal`` (a till's own file, the default) and ``PostgresJournal`` (one journal
for the tills of a chain, extra ``postgres``), implement the same ``Journal`` protocol
and keep every ID number sealed with a ``JournalKey`` kept outside the database.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gongji.journal.entry import Entry, EntryState, Journal
from gongji.journal.memory import MemoryJournal
from gongji.journal.msgids import MsgidOwner
from gongji.journal.sealing import JournalKey
from gongji.journal.sqlite import SqliteJournal, default_journal_path

if TYPE_CHECKING:
    from gongji.journal.postgres import PostgresJournal

__all__ = [
    "Entry",
    "EntryState",
    "Journal",
    "JournalKey",
    "MemoryJournal",
    "MsgidOwner",
    "PostgresJournal",
    "SqliteJournal",
    "default_journal_path",
]


def __getattr__(name: str) -> Any:
    # PostgresJournal (a chain's shared journal) is imported when asked for: a till on its
    # own SQLite file does not pay for it at start-up (bench/bench_startup.py).
    if name == "PostgresJournal":
        from gongji.journal.postgres import PostgresJournal

        return PostgresJournal
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
