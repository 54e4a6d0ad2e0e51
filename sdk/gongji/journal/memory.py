"""``MemoryJournal``: the journal for one process (tests, the in-process mock, a demo)."""

from __future__ import annotations

import secrets
import threading

from gongji.journal.entry import Entry


class MemoryJournal:
    """Entries in a dict, behind a lock. Lost with the process: use a durable journal at a till."""

    def __init__(self) -> None:
        self.salt = secrets.token_bytes(16)
        self._entries: dict[str, Entry] = {}
        self._held: set[str] = set()
        self._lock = threading.Lock()

    def get(self, key: str) -> Entry | None:
        with self._lock:
            return self._entries.get(key)

    def put(self, entry: Entry) -> None:
        with self._lock:
            self._entries[entry.key] = entry

    def by_settlement(self, settlement_id: str) -> Entry | None:
        with self._lock:
            return next(
                (
                    entry
                    for entry in self._entries.values()
                    if entry.receipt is not None and entry.receipt.settlement_id == settlement_id
                ),
                None,
            )

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

    def entries(self) -> list[Entry]:
        with self._lock:
            return list(self._entries.values())

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"MemoryJournal(entries={len(self._entries)})"
