"""What the SQLite and PostgreSQL journals share: the key, the codec, the lease bookkeeping.

A subclass stores documents and leases; this class turns entries into rows and back,
decides which key opens them, and keeps the keys this journal object holds.
"""

from __future__ import annotations

import contextlib
import datetime
import logging
import threading
import weakref
from abc import ABC, abstractmethod
from collections.abc import Iterable
from time import monotonic as _monotonic

from gongji.errors import ConfigError, GongjiError
from gongji.journal import codec, msgids
from gongji.journal.codec import Columns, EntryRow
from gongji.journal.entry import Entry, EntryState
from gongji.journal.lease import DEFAULT_LEASE_SECONDS, LeaseHolder, forget, new_holder
from gongji.journal.msgids import MsgidOwner, MsgidRequest
from gongji.journal.sealing import JournalKey, KeySource, SealCache

_log = logging.getLogger("gongji.journal")

#: The version of the tables; a journal of another version is refused when opened, but
#: version 1 (before the msgids table) gains the table and becomes version 2.
SCHEMA_VERSION = 2

_LOAD = "load a sale for recovery"

IN_DOUBT_STATES = tuple(state.value for state in EntryState if state.in_doubt)


class DurableJournal(ABC):
    """A journal kept outside the process. ``where`` names it in every error."""

    where: str
    #: Every till of the institution allocates its msgids here (a chain's journal): the
    #: tills need no range of their own (``gongji.journal.msgids``).
    shares_msgids: bool = False
    #: Every call may wait on a disk or a database: the async driver runs it off its loop.
    blocks = True

    @property
    def where_capitalised(self) -> str:  # ``where`` at the start of a sentence
        return self.where[:1].upper() + self.where[1:]

    def __init__(
        self,
        *,
        key: JournalKey | None,
        key_source: KeySource,
        lease_seconds: float,  # float-ok: seconds
    ) -> None:
        if not 0 < lease_seconds <= 86_400:
            raise ConfigError(
                f"A journal lease of {lease_seconds} s is not sensible.",
                next_step=f"Use a few minutes (the default is {DEFAULT_LEASE_SECONDS} s): "
                "longer than a sale can take.",
            )
        self.lease_seconds = lease_seconds
        self._given_key = key
        self._key_source = key_source
        self._key: JournalKey | None = None
        self._sealer: SealCache | None = None
        self._stored_salt = b""
        self._salt = b""
        #: The keys this object holds, and when (``_monotonic``) each lease was last set.
        self._held: dict[str, float] = {}
        #: Leases whose release failed (a full disk, a lost connection): dropped at this
        #: object's next write, so another till need not wait out their expiry.
        self._unreleased: set[str] = set()
        self._lock = threading.RLock()
        self._holder: LeaseHolder = new_holder()
        # A journal dropped without close(): its leases are free for this process at once.
        weakref.finalize(self, forget, self._holder)
        self._closed = False

    # ---------------------------------------------------------------- opening

    def _abandon(self) -> None:
        """Opening failed: let go of the connection and the holder without a word."""
        self._closed = True
        forget(self._holder)
        with contextlib.suppress(Exception):
            self._disconnect()

    def _settle_key(self, stored_key_id: str | None, *, may_create: bool) -> None:
        """Choose the key at opening: the one given, else the configured one, else (for a
        journal that has none yet) a new one; a key of another journal is refused."""
        key = self._given_key
        if key is None and self._key_source.available():
            key = self._key_source.load()
        if key is None and stored_key_id is None and may_create:
            key = self._key_source.create()
        if key is None:
            self._key = None
            return
        if stored_key_id is None:
            stored_key_id = self._record_key_id(key.key_id)
        if stored_key_id != key.key_id:
            raise ConfigError(
                f"The journal key from {self._describe_key()} is not the key of {self.where}.",
                next_step="Use the key this journal was created with (the key file of this "
                "till, or the chain's shared key).",
            )
        self._key = key
        self._sealer = SealCache(key)
        self._salt = key.fingerprint_salt(self._stored_salt)

    @abstractmethod
    def _record_key_id(self, key_id: str) -> str:
        """Store ``key_id`` unless one is stored already; return the stored one."""

    def _describe_key(self) -> str:
        return "the key given" if self._given_key is not None else self._key_source.describe()

    def _missing_key(self) -> str:
        source = self._key_source
        if source.env is not None:
            return f"the environment variable {source.env} is not set"
        if source.file is not None:
            return f"the key file {source.file} is missing"
        return "no key_file or key_env is configured"

    @property
    def has_key(self) -> bool:
        """False when the journal can only be listed masked (``rows()``), not loaded."""
        return self._key is not None

    def require_key(self, what: str) -> None:
        """``ConfigError`` naming the missing key file (or variable) unless the key is here."""
        self._require_key(what)

    def _require_key(self, what: str) -> JournalKey:
        if self._key is None:
            raise ConfigError(
                f"Without its key, {self.where} cannot {what}: {self._missing_key()}.",
                next_step="Restore the key from the till's backup (or the chain's key store); "
                "without it the journal can only be listed, with ID numbers masked.",
            )
        return self._key

    @property
    def salt(self) -> bytes:
        self._require_key("fingerprint a purchase")
        return self._salt

    # ---------------------------------------------------------------- the Journal protocol

    def get(self, key: str) -> Entry | None:
        self._require_key(_LOAD)
        found = self._select_one("key", key)
        return None if found is None else self._entry(found)

    def put(self, entry: Entry, *, durable: bool = True) -> None:
        self._require_key("record a sale")
        assert self._sealer is not None
        with self._lock:
            self._drop_unreleased()
            row = codec.row_of(entry, self._sealer)
            self._write(codec.columns(row), codec.encode_row(row), self._renew(entry.key), durable)

    def by_settlement(self, settlement_id: str) -> Entry | None:
        self._require_key(_LOAD)
        found = self._select_one("settlement_id", settlement_id)
        return None if found is None else self._entry(found)

    def in_doubt(self) -> list[Entry]:
        self._require_key(_LOAD)
        return [self._entry(document) for document in self._select(states=IN_DOUBT_STATES)]

    def entries(self, *, day: datetime.date | None = None) -> list[Entry]:
        """Every entry (of ``day``: the centre's settlement day, else the last write's)."""
        self._require_key(_LOAD)
        return [self._entry(document) for document in self._select(day=day)]

    def rows(
        self, *, day: datetime.date | None = None, state: EntryState | None = None
    ) -> list[EntryRow]:
        """The stored rows, ID numbers masked: readable without the key (``codec.masked``)."""
        states = None if state is None else (EntryState(state).value,)
        return [codec.decode_row(d, self.where) for d in self._select(day=day, states=states)]

    def acquire(self, key: str) -> bool:
        with self._lock:
            self._drop_unreleased()
            if key in self._held:
                return False  # another flow of this very journal object holds it
            if not self._take_lease(key, self._holder):
                return False
            self._held[key] = _monotonic()
            return True

    def _renew(self, key: str) -> bool:
        """Whether a write of ``key`` renews its lease: a flow that writes is alive, and
        its lease runs on once a quarter of it is gone (renewing at every write would
        cost a sale three more rows written for nothing: its lease has minutes to run)."""
        taken = self._held.get(key)
        if taken is None or _monotonic() - taken < self.lease_seconds / 4:
            return False
        self._held[key] = _monotonic()
        return True

    def release(self, key: str) -> None:
        with self._lock:
            self._held.pop(key, None)
            if self._sealer is not None:
                self._sealer.forget(key)
            try:
                self._drop_lease(key, self._holder.owner)
            except GongjiError as error:
                # The flow is over either way, and a release must not hide its outcome: the
                # lease is dropped again at this object's next write (or close).
                self._unreleased.add(key)
                _log.warning("The lease on a journal key was not released: %s", error.code)

    def _drop_unreleased(self) -> None:
        for key in list(self._unreleased):
            if key in self._held:  # taken again meanwhile: its own release will drop it
                self._unreleased.discard(key)
                continue
            try:
                self._drop_lease(key, self._holder.owner)
            except GongjiError:
                return  # still failing: the next write tries again
            self._unreleased.discard(key)

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
        request = MsgidRequest.of(
            institution, at, till, key=key, purpose=purpose, shared=self.shares_msgids
        )
        return self._allocate_msgid(request, durable)

    def msgid_owner(self, msgid: str) -> MsgidOwner | None:
        return self._msgid_owner(msgid)

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            try:
                for key in [*self._held, *self._unreleased]:
                    self._drop_lease(key, self._holder.owner)
            except GongjiError as error:
                _log.warning("Leases were not released at close: %s", error.code)
            finally:
                self._closed = True
                self._held.clear()
                self._unreleased.clear()
                forget(self._holder)
                self._disconnect()

    def __enter__(self) -> DurableJournal:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def __len__(self) -> int:
        return self._count()

    # ---------------------------------------------------------------- storage, per database

    def _entry(self, document: bytes | str) -> Entry:
        row = codec.decode_row(document, self.where)
        return codec.entry_of(row, self._require_key(_LOAD))

    @abstractmethod
    def _write(self, columns: Columns, document: bytes, renew: bool, durable: bool) -> None:
        """Insert or replace the entry; renew this object's lease on it when ``renew``."""

    @abstractmethod
    def _select_one(self, column: str, value: str) -> bytes | str | None: ...

    @abstractmethod
    def _select(
        self, *, day: datetime.date | None = None, states: Iterable[str] | None = None
    ) -> list[bytes | str]: ...

    @abstractmethod
    def _count(self) -> int: ...

    @abstractmethod
    def _take_lease(self, key: str, holder: LeaseHolder) -> bool: ...

    @abstractmethod
    def _drop_lease(self, key: str, owner: str) -> None: ...

    @abstractmethod
    def _allocate_msgid(self, request: MsgidRequest, durable: bool) -> str:
        """``msgids.allocate`` in one transaction: a row per msgid, keyed by the msgid."""

    @abstractmethod
    def _msgid_owner(self, msgid: str) -> MsgidOwner | None: ...

    @abstractmethod
    def _disconnect(self) -> None: ...
