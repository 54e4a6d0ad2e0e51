"""What the SQLite and PostgreSQL journals share: the key, the codec, the lease bookkeeping,
the msgid blocks and the group commit.

A subclass stores documents and leases; this class turns entries into rows and back,
decides which key opens them, keeps the keys this journal object holds, hands msgids
out of reserved blocks (``gongji.journal.allocation``), and sends every write through one
``GroupCommit``: the writes of concurrent flows share a transaction and its fsync; a
local file's batch opened on the loop that handed its writes over (``opens_batches``).
"""

from __future__ import annotations

import contextlib
import datetime
import logging
import threading
import weakref
from abc import abstractmethod
from collections.abc import Iterable
from time import monotonic as _monotonic
from typing import Any

from gongji.errors import ConfigError, GongjiError
from gongji.gateways.exchange import Soon, Tell, unheard
from gongji.journal import codec
from gongji.journal.allocation import MsgidAllocation, Work
from gongji.journal.codec import Columns, EntryRow
from gongji.journal.commits import Commit, GroupCommit, Job
from gongji.journal.entry import Entry, EntryState
from gongji.journal.lease import (
    DEFAULT_LEASE_SECONDS,
    LeaseHolder,
    forget,
    lease_lost,
    new_holder,
)
from gongji.journal.msgids import Block, MsgidOwner
from gongji.journal.sealing import JournalKey, KeySource, SealCache

_log = logging.getLogger("gongji.journal")

#: A msgid and its owner, as the ``msgids`` table holds them.
OwnerRow = tuple[str, str, str]

#: The version of the tables; a journal of another version is refused when opened, but
#: version 1 (before the msgids table) gains the table, and it and version 2 (a row per
#: msgid) become version 3, where a row may reserve a block of msgids: a gongji that
#: numbers one id at a time must not share the journal, so it refuses it.
SCHEMA_VERSION = 3

_LOAD = "load a sale for recovery"

IN_DOUBT_STATES = tuple(state.value for state in EntryState if state.in_doubt)


class DurableJournal(MsgidAllocation):
    """A journal kept outside the process. ``where`` names it in every error."""

    where: str
    #: Every till of the institution allocates its msgids here (a chain's journal): the
    #: tills need no range of their own (``gongji.journal.msgids``).
    shares_msgids: bool = False
    #: Every call may wait on a disk or a database: the async driver runs it off its loop.
    blocks = True
    #: Whether taking a lease is flushed (a database server may crash while its holder
    #: runs on); a till's own file need not: a lease does not outlive its process.
    leases_durable = False
    #: Whether a batch's statements may run on the loop that handed its writes over, and
    #: only its commit in the committer thread (``_open``): a local file's statements
    #: take microseconds, a database server's are round trips.
    opens_batches = False

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
        #: The document (None: no entry) of each key as its lease was taken (``held_entry``).
        self._loaded: dict[str, bytes | str | None] = {}
        self._lock = threading.RLock()
        #: Every write goes through it: concurrent flows' writes share one commit.
        self._commits = GroupCommit()
        #: The ids handed out whose owner rows ride on the next write (``_owners_lock``).
        self._owners_lock = threading.Lock()
        self._allocation_state()
        self._owners: dict[str, MsgidOwner] = {}
        self._committing: dict[str, MsgidOwner] = {}  # the owners of the batch under way
        self._holder: LeaseHolder = new_holder()
        # A journal dropped without close(): its leases are free for this process at once.
        weakref.finalize(self, forget, self._holder)
        weakref.finalize(self, self._commits.stop, wait=False)  # its committer thread too
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

    def put(self, entry: Entry, *, durable: bool = True, held: bool = False) -> None:
        self._submit(self._put_work(entry, held=held, later=False), durable=durable)

    def put_later(
        self,
        entry: Entry,
        tell: Tell,
        *,
        durable: bool = True,
        held: bool = False,
        soon: Soon | None = None,
    ) -> None:
        """``put`` without waiting: ``tell`` hears once the entry is committed (``WritesLater``)."""
        work = self._put_work(entry, held=held, later=True)
        self._hand_over(work, durable=durable, tell=tell, soon=soon)

    def _hand_over(self, work: Work, *, durable: bool, tell: Tell, soon: Soon | None) -> None:
        """``work`` to the group commit without waiting; its batch opened on ``soon``'s
        loop where this journal opens batches."""
        self._remember(soon)
        self._commits.submit_later(
            self._run_batch,
            work,
            durable=durable,
            tell=tell,
            open_batch=self._open_batch if self.opens_batches else None,
            soon=soon,
        )

    def _put_work(self, entry: Entry, *, held: bool, later: bool) -> Work:
        self._require_key("record a sale")
        assert self._sealer is not None
        if held and entry.key not in self._held:
            raise lease_lost(entry.key)
        self._loaded.pop(entry.key, None)  # read at the lease's taking: stale from now on
        self._drop_unreleased(later=later)
        row = codec.row_of(entry, self._sealer)
        with self._lock:
            renew = self._renew(entry.key)
        return self._put(codec.columns(row), codec.encode_row(row), renew=renew, held=held)

    def _submit(self, work: Work, *, durable: bool) -> Any:
        # The batch runner is passed at each call, not kept: a journal dropped without
        # close() is freed (and its leases with it) at once, with no cycle to wait for.
        return self._commits.submit(self._run_batch, work, durable=durable)

    @property
    def durable_commits(self) -> int:
        """The commits this object flushed to the disk so far (a group commit counts once)."""
        return self._commits.durable_commits

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
        return bool(self._acquire(key))

    def acquire_later(self, key: str, tell: Tell, soon: Soon | None = None) -> None:
        """``acquire`` without waiting: ``tell`` hears whether the lease was taken."""
        self._acquire(key, tell, soon)

    def _acquire(self, key: str, tell: Tell | None = None, soon: Soon | None = None) -> bool | None:
        self._drop_unreleased(later=tell is not None)
        with self._lock:
            if key in self._held:  # another flow of this very journal object holds it
                if tell is not None:
                    tell(False, None)
                return False
            self._held[key] = _monotonic()  # claimed here first: no flow of ours takes it too

        take = self._take_lease(key, self._holder)

        def take_and_read(db: Any) -> bool:
            if not take(db):
                return False
            # The entry as the lease finds it, in the same transaction: the flow's first
            # read under the lease (``held_entry``) needs no trip to the database. Only a
            # shortcut: failed, the flow reads it itself, and the lease stands.
            try:
                self._loaded[key] = self._document(db, key)
            except Exception:
                self._loaded.pop(key, None)
            return True

        if tell is None:
            taken = False
            try:
                taken = bool(self._submit(take_and_read, durable=self.leases_durable))
            finally:
                if not taken:
                    self._unclaim(key)
            return taken

        def told(value: Any, error: BaseException | None) -> None:
            if error is not None or not value:
                self._unclaim(key)
            tell(None if error is not None else bool(value), error)

        self._hand_over(take_and_read, durable=self.leases_durable, tell=told, soon=soon)
        return None

    def _unclaim(self, key: str) -> None:
        """A lease not taken after all: free for the next flow of ours to try."""
        with self._lock:
            self._held.pop(key, None)
            self._loaded.pop(key, None)

    def held_entry(self, key: str) -> Entry | None:
        """The entry as it stood when this object took ``key``'s lease (read in that commit),
        once, until the key is written; ``KeyError`` when it is not at hand (``get`` it)."""
        document = self._loaded.pop(key)
        return None if document is None else self._entry(document)

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
        # Dropped before it is forgotten here: until then no flow of ours takes it anew.
        try:
            self._submit(self._dropping(key), durable=False)
        except GongjiError as error:
            self._not_released(key, error)
        finally:
            self._forget(key)

    def release_later(self, key: str, tell: Tell, soon: Soon | None = None) -> None:
        """``release`` without waiting: the drop is queued and ``tell`` told at once (a
        release never fails its flow). A flow of ours that takes the key again queues its
        lease after the drop, so it holds the key; another process sees the lease gone
        once the drop commits."""
        self._forget(key)

        def dropped(_: Any, error: BaseException | None) -> None:
            if isinstance(error, GongjiError):
                self._not_released(key, error)

        self._hand_over(self._dropping(key), durable=False, tell=dropped, soon=soon)
        tell(None, None)

    def _dropping(self, key: str) -> Work:
        owner = self._holder.owner

        def drop(db: Any) -> None:  # made in the batch: its failure is the release's
            self._drop_lease(key, owner)(db)

        return drop

    def _forget(self, key: str) -> None:
        with self._lock:
            self._held.pop(key, None)
            self._loaded.pop(key, None)
            if self._sealer is not None:
                self._sealer.forget(key)

    def _not_released(self, key: str, error: GongjiError) -> None:
        # The flow is over either way, and a release must not hide its outcome: the lease
        # is dropped again at this object's next write (or close).
        with self._lock:
            self._unreleased.add(key)
        _log.warning("The lease on a journal key was not released: %s", error.code)

    def _drop_unreleased(self, *, later: bool = False) -> None:
        """Drop the leases whose release failed; ``later``: handed over, not waited for
        (a caller on an event loop), each noted again should it fail once more."""
        if not self._unreleased:
            return
        with self._lock:
            unreleased = [key for key in self._unreleased if key not in self._held]
            # One taken again meanwhile: its own release will drop it.
            self._unreleased.intersection_update(unreleased)
        for key in unreleased:
            if later:
                with self._lock:
                    self._unreleased.discard(key)
                self.release_later(key, unheard)
                continue
            try:
                self._submit(self._drop_lease(key, self._holder.owner), durable=False)
            except GongjiError:
                return  # still failing: the next write tries again
            with self._lock:
                self._unreleased.discard(key)

    def msgid_owner(self, msgid: str) -> MsgidOwner | None:
        with self._owners_lock:  # handed out, its row not committed yet
            pending = self._owners.get(msgid) or self._committing.get(msgid)
        return pending if pending is not None else self._msgid_owner(msgid)

    def _run_batch(self, jobs: list[Job]) -> None:
        """The jobs in one transaction, after the owner rows of the ids handed out since
        the last one (given back when it fails, for the next)."""
        owners = self._take_owners()
        try:
            self._batch(jobs, _rows(owners), any(job.durable for job in jobs))
        except BaseException:
            self._give_owners_back(owners)
            raise
        finally:
            self._owners_committed()

    def _open_batch(self, jobs: list[Job]) -> Commit | None:
        """``_run_batch``'s statements here (on the loop that handed the writes over) and
        its commit returned, for the committer thread; None when the database could not
        be written without waiting (nothing done)."""
        owners = self._take_owners()
        commit = None
        try:
            commit = self._open(jobs, _rows(owners), any(job.durable for job in jobs))
        finally:
            if commit is None:  # nothing done: the rows ride on the next batch
                self._give_owners_back(owners)
                self._owners_committed()
        if commit is None:
            return None

        def committing() -> None:
            try:
                commit()
            except BaseException:
                self._give_owners_back(owners)
                raise
            finally:
                self._owners_committed()

        return committing

    def _take_owners(self) -> dict[str, MsgidOwner]:
        """The owner rows of the ids handed out since the last batch, for this one."""
        with self._owners_lock:
            owners, self._owners = self._owners, {}
            self._committing = owners
        return owners

    def _give_owners_back(self, owners: dict[str, MsgidOwner]) -> None:
        with self._owners_lock:
            self._owners = owners | self._owners

    def _owners_committed(self) -> None:
        with self._owners_lock:
            self._committing = {}

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            keys = [*self._held, *self._unreleased]
            leases = [self._drop_lease(key, self._holder.owner) for key in keys]
            unused = self._unused_blocks()
            give_back = self._give_back(unused)

            def closing(db: Any) -> None:
                for work in [*leases, give_back]:
                    work(db)

            try:  # the leases, the owner rows still pending, the blocks' unused ids
                self._submit(closing, durable=False)
            except GongjiError as error:
                _log.warning("Leases were not released at close: %s", error.code)
            finally:
                self._closed = True
                self._held.clear()
                self._unreleased.clear()
                forget(self._holder)
                self._disconnect()
        self._commits.stop()  # outside the lock: a write it answers may take the lock

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
    def _batch(self, jobs: list[Job], owners: list[OwnerRow], durable: bool) -> None:
        """In one transaction (flushed when ``durable``): insert the ``owners`` rows (one
        replacing a reservation row of its id), then each job's work, setting its
        ``value`` or ``error``; raise when nothing could be committed."""

    def _open(self, jobs: list[Job], owners: list[OwnerRow], durable: bool) -> Commit | None:
        """``_batch``'s statements, run here without waiting on any lock, and its commit
        returned; None when the database could not be written at once (nothing done).
        Only where ``opens_batches``."""
        raise NotImplementedError

    @abstractmethod
    def _put(self, columns: Columns, document: bytes, *, renew: bool, held: bool) -> Work:
        """Insert or replace the entry; renew this object's lease on it when ``renew``;
        when ``held``, raise ``LeaseLost`` (writing nothing) unless this object holds it."""

    @abstractmethod
    def _select_one(self, column: str, value: str) -> bytes | str | None: ...

    @abstractmethod
    def _document(self, db: Any, key: str) -> bytes | str | None:
        """``key``'s stored document, read through ``db`` (a batch's connection)."""

    @abstractmethod
    def _select(
        self, *, day: datetime.date | None = None, states: Iterable[str] | None = None
    ) -> list[bytes | str]: ...

    @abstractmethod
    def _count(self) -> int: ...

    @abstractmethod
    def _take_lease(self, key: str, holder: LeaseHolder) -> Work:
        """Its work returns whether the lease was taken."""

    @abstractmethod
    def _drop_lease(self, key: str, owner: str) -> Work: ...

    @abstractmethod
    def _give_back(self, blocks: list[Block]) -> Work:
        """Its work deletes the blocks' reservation rows: what was not handed out is free."""

    @abstractmethod
    def _msgid_owner(self, msgid: str) -> MsgidOwner | None: ...

    @abstractmethod
    def _disconnect(self) -> None: ...


def _rows(owners: dict[str, MsgidOwner]) -> list[OwnerRow]:
    return [(msgid, owner.key, owner.purpose) for msgid, owner in owners.items()]
