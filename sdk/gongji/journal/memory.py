"""``MemoryJournal``: the journal for one process (tests, the in-process mock, a demo)."""

from __future__ import annotations

import datetime
import secrets
import threading
from typing import TYPE_CHECKING

from gongji.journal import msgids
from gongji.journal.entry import Entry, EntryState, entry_day, settlement_taken
from gongji.journal.lease import lease_lost
from gongji.journal.msgids import MsgidOwner

if TYPE_CHECKING:
    from gongji.journal.codec import EntryRow


class MemoryJournal:
    """Entries in a dict, behind a lock. Lost with the process: use a durable journal at a till."""

    #: Nothing here waits on a disk: the flows call it in place, even under the async driver.
    blocks = False

    def __init__(self) -> None:
        self.salt = secrets.token_bytes(16)
        self._entries: dict[str, Entry] = {}
        self._settled: dict[str, str] = {}  # the key of each settlement's entry
        self._held: set[str] = set()
        self._owners: dict[str, MsgidOwner] = {}
        self._highest: dict[str, str] = {}  # the highest msgid taken in a range (its low end)
        self._lock = threading.Lock()

    def get(self, key: str) -> Entry | None:
        with self._lock:
            return self._entries.get(key)

    def put(self, entry: Entry, *, durable: bool = True, held: bool = False) -> None:
        settlement_id = _settlement_id(entry)
        with self._lock:
            if held and entry.key not in self._held:  # released under a running flow
                raise lease_lost(entry.key)
            holder = self._by_settlement(settlement_id)
            if holder is not None and holder.key != entry.key:
                raise settlement_taken(settlement_id, holder.key)
            self._entries[entry.key] = entry
            if settlement_id:
                self._settled[settlement_id] = entry.key

    def by_settlement(self, settlement_id: str) -> Entry | None:
        with self._lock:
            return self._by_settlement(settlement_id)

    def _by_settlement(self, settlement_id: str) -> Entry | None:
        entry = self._entries.get(self._settled.get(settlement_id, "")) if settlement_id else None
        # Its key may have gone on to another settlement since (a new attempt).
        return entry if entry is not None and _settlement_id(entry) == settlement_id else None

    def in_doubt(self) -> list[Entry]:
        with self._lock:
            return [entry for entry in self._entries.values() if entry.state.in_doubt]

    def acquire(self, key: str) -> bool:
        with self._lock:
            if key in self._held:
                return False
            self._held.add(key)
            return True

    def release(self, key: str) -> None:
        with self._lock:
            self._held.discard(key)

    def allocate_msgid(
        self,
        institution: str,
        at: datetime.datetime,
        till: int | None = None,
        *,
        key: str = "",
        purpose: str = msgids.READ,
        durable: bool = True,
    ) -> str:
        """A msgid unique in this process (a memory journal is one process's alone)."""
        request = msgids.MsgidRequest.of(
            institution, at, till, key=key, purpose=purpose, shared=False
        )

        def claim(low: str, high: str) -> str | None:
            found = msgids.following(self._highest.get(low), low, high)
            while found is not None and found in self._owners:  # a range overlapping it
                found = msgids.following(found, low, high)
            if found is not None:
                self._highest[low] = found
                self._owners[found] = request.owner
            return found

        with self._lock:
            return msgids.allocate(request, claim)

    def reserved_msgid(
        self,
        institution: str,
        at: datetime.datetime,
        till: int | None = None,
        *,
        key: str = "",
        purpose: str = msgids.READ,
    ) -> str | None:
        """Never waits: the same as ``allocate_msgid``."""
        return self.allocate_msgid(institution, at, till, key=key, purpose=purpose)

    def msgid_owner(self, msgid: str) -> MsgidOwner | None:
        with self._lock:
            return self._owners.get(msgid)

    def entries(self, *, day: datetime.date | None = None) -> list[Entry]:
        with self._lock:
            found = list(self._entries.values())
        return [entry for entry in found if day is None or entry_day(entry) == day]

    def rows(
        self, *, day: datetime.date | None = None, state: EntryState | None = None
    ) -> list[EntryRow]:
        """The entries as a durable journal lists them: ID numbers masked."""
        from gongji.journal import codec
        from gongji.journal.sealing import JournalKey

        key = JournalKey.generate()  # the sealed forms are never read back
        return [
            codec.row_of(entry, key)
            for entry in self.entries(day=day)
            if state is None or entry.state is EntryState(state)
        ]

    def close(self) -> None:
        """Nothing to close: the entries live as long as the object."""

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"MemoryJournal(entries={len(self._entries)})"


def _settlement_id(entry: Entry) -> str:
    return entry.receipt.settlement_id if entry.receipt is not None else ""
