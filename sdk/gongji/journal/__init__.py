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

from typing import TYPE_CHECKING

from gongji.lazy import exports

if TYPE_CHECKING:
    from gongji.journal.entry import Entry, EntryState, Journal
    from gongji.journal.memory import MemoryJournal
    from gongji.journal.msgids import MsgidOwner
    from gongji.journal.postgres import PostgresJournal
    from gongji.journal.sealing import JournalKey
    from gongji.journal.sqlite import SqliteJournal, default_journal_path

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

# Each name is imported on first use (PEP 562): a preview on the memory journal does not
# pay for SQLite, the sealing's cryptography or PostgreSQL (bench/bench_startup.py).
_HOMES: dict[str, str] = {
    "Entry": "gongji.journal.entry",
    "EntryState": "gongji.journal.entry",
    "Journal": "gongji.journal.entry",
    "JournalKey": "gongji.journal.sealing",
    "MemoryJournal": "gongji.journal.memory",
    "MsgidOwner": "gongji.journal.msgids",
    "PostgresJournal": "gongji.journal.postgres",
    "SqliteJournal": "gongji.journal.sqlite",
    "default_journal_path": "gongji.journal.sqlite",
}

__getattr__, __dir__ = exports(__name__, _HOMES)
