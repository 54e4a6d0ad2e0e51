"""The settlement journal: what a settlement has done so far, written before each step.

A settlement's entry is keyed by the POS's idempotency key and holds the gateway ids
chosen for it (the centre's ``msgid``, the channel's ``out_trade_no``) before the write
that carries them is sent. So a retry, a timeout or a crash never makes a second
charge: the next attempt finds the entry and resolves what it left in doubt.

``MemoryJournal`` keeps entries for the life of the process; the durable journals
(SQLite, PostgreSQL) implement the same ``Journal`` protocol.
"""

from gongji.journal.entry import Entry, EntryState, Journal
from gongji.journal.memory import MemoryJournal

__all__ = ["Entry", "EntryState", "Journal", "MemoryJournal"]
