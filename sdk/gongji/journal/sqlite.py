"""``SqliteJournal``: the embedded journal of one till (stdlib ``sqlite3``, WAL).

Every ``put`` is committed before it returns, with ``synchronous=FULL`` by default:
an entry a flow has written survives ``kill -9`` and a power cut, as far as the disk
honours ``fsync``. ``NORMAL`` trades the last commits before a power cut (never a
kill) for speed. Several processes of one machine may share the file; ``acquire``
takes a lease row by one conditional upsert (write-locked while it runs), so two of
them never run a flow for the same key at once.

Two connections per journal object: one for the writes, which go through the group
commit (``gongji.journal.commits``: concurrent flows' writes share a transaction and
its fsync, each acknowledged once durable), one for the reads, which so never wait
for an fsync.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import secrets
import sqlite3
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

from gongji.errors import ConfigError, GongjiError, JournalUnavailable
from gongji.journal import msgids
from gongji.journal.allocation import Work
from gongji.journal.codec import Columns
from gongji.journal.commits import Commit, Job
from gongji.journal.durable import SCHEMA_VERSION, DurableJournal, OwnerRow
from gongji.journal.entry import settlement_taken
from gongji.journal.lease import DEFAULT_LEASE_SECONDS, LeaseHolder, lease_lost, provably_dead
from gongji.journal.msgids import Block, MsgidOwner, MsgidRequest
from gongji.journal.sealing import JournalKey, KeySource

__all__ = ["SqliteJournal", "default_journal_path"]

Synchronous = Literal["FULL", "NORMAL"]

_SCHEMA = """
CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE entries (
    key TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    settlement_id TEXT,
    psn_no TEXT NOT NULL,
    day TEXT,
    updated_at TEXT,
    document TEXT NOT NULL
);
CREATE INDEX entries_by_settlement ON entries (settlement_id);
CREATE INDEX entries_by_state ON entries (state);
CREATE INDEX entries_by_day ON entries (day);
CREATE TABLE leases (
    key TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    process TEXT NOT NULL,
    expires_at REAL NOT NULL
) WITHOUT ROWID;
"""
#: Added by schema version 2 (a journal of version 1 gains it when opened).
_MSGIDS = """
CREATE TABLE msgids (msgid TEXT PRIMARY KEY, key TEXT NOT NULL, purpose TEXT NOT NULL)
WITHOUT ROWID
"""

_UPSERT_SET = """
ON CONFLICT (key) DO UPDATE SET
    state = excluded.state, attempt = excluded.attempt, settlement_id = excluded.settlement_id,
    psn_no = excluded.psn_no, day = excluded.day, updated_at = excluded.updated_at,
    document = excluded.document
"""
_INSERT = """
INSERT INTO entries (key, state, attempt, settlement_id, psn_no, day, updated_at, document)
SELECT ?, ?, ?, ?, ?, ?, ?, ?
"""
#: A settlement is one sale's: no row is written that names another key's settlement.
_NOT_ANOTHERS = "NOT EXISTS (SELECT 1 FROM entries WHERE settlement_id = ? AND key != ?)"
_UPSERT = f"{_INSERT}WHERE {_NOT_ANOTHERS}{_UPSERT_SET}"
_ANOTHERS = "SELECT key FROM entries WHERE settlement_id = ? AND key != ?"
#: The same, only while the writer holds the key's lease (compare-and-set): one statement,
#: atomic on its own, that writes no row when the lease is another's or gone.
_HELD_BY_US = "EXISTS (SELECT 1 FROM leases WHERE key = ? AND owner = ?)"
_UPSERT_HELD = f"{_INSERT}WHERE {_HELD_BY_US} AND {_NOT_ANOTHERS}{_UPSERT_SET}"

#: What an id handed out was for; its row replaces the block's reservation of that id.
_OWNER = """
INSERT INTO msgids (msgid, key, purpose) VALUES (?, ?, ?)
ON CONFLICT (msgid) DO UPDATE SET key = excluded.key, purpose = excluded.purpose
WHERE msgids.purpose = ''
"""
_RESERVE = "INSERT INTO msgids (msgid, key, purpose) VALUES (?, '', ?)"
_RENEW = "UPDATE leases SET expires_at = ? WHERE key = ? AND owner = ?"

_TAKE = """
INSERT INTO leases AS held (key, owner, host, pid, process, expires_at) VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT (key) DO UPDATE SET
    owner = excluded.owner, host = excluded.host, pid = excluded.pid,
    process = excluded.process, expires_at = excluded.expires_at
WHERE held.expires_at <= ? OR held.owner = excluded.owner
"""

_TAKE_FROM_DEAD = """
UPDATE leases SET owner = ?, host = ?, pid = ?, process = ?, expires_at = ?
WHERE key = ? AND owner = ?
"""


def _synchronous(journal: SqliteJournal, durable: bool) -> Synchronous:
    """A batch recovery can redo is committed without the fsync (WAL, NORMAL): atomic, and
    lost only with the power, never with the process."""
    return journal.synchronous if durable else "NORMAL"


@contextmanager
def _atomic(db: sqlite3.Connection) -> Iterator[None]:
    """The statements in it as one: a savepoint of the batch's transaction (the batch's
    other writes stay when these are rolled back), else a transaction of their own."""
    nested = db.in_transaction
    begin, undo, end = _SAVEPOINT if nested else _TRANSACTION
    db.execute(begin)
    try:
        yield
    except BaseException:
        with contextlib.suppress(sqlite3.Error):  # already rolled back by SQLite
            for statement in undo:
                db.execute(statement)
        raise
    db.execute(end)


#: How ``_atomic`` begins, undoes and ends its statements, inside a transaction or alone.
_SAVEPOINT = ("SAVEPOINT atomic", ("ROLLBACK TO atomic", "RELEASE atomic"), "RELEASE atomic")
_TRANSACTION = ("BEGIN IMMEDIATE", ("ROLLBACK",), "COMMIT")


def default_journal_path() -> Path:
    """Where a till's journal lives unless configured: ``$XDG_DATA_HOME/gongji/journal.sqlite3``
    (``~/.local/share/gongji/journal.sqlite3``); ``%LOCALAPPDATA%\\gongji`` on Windows."""
    if sys.platform == "win32":  # pragma: no cover - exercised on Windows tills only
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    else:
        xdg = os.environ.get("XDG_DATA_HOME", "")
        # The XDG spec: a relative path is invalid and is ignored.
        base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".local" / "share"
    return base / "gongji" / "journal.sqlite3"


class SqliteJournal(DurableJournal):
    """The journal in an SQLite file. The key is ``key``, or read from ``key_env`` (a variable
    holding it), or from ``key_file``: ``<path>.key`` by default, created (0600) with the
    database. Without its key the journal can only be listed masked (``rows()``)."""

    opens_batches = True

    def __init__(
        self,
        path: str | Path | None = None,
        *,
        key: JournalKey | None = None,
        key_file: str | Path | None = None,
        key_env: str | None = None,
        synchronous: Synchronous = "FULL",
        lease_seconds: float = DEFAULT_LEASE_SECONDS,  # float-ok: seconds
        busy_timeout: float = 10.0,  # float-ok: seconds
        create: bool = True,
    ) -> None:
        self.path = Path(path) if path is not None else default_journal_path()
        self.where = f"the journal at {self.path}"
        if synchronous not in ("FULL", "NORMAL"):
            raise ConfigError(
                f"Journal synchronous mode {str(synchronous)[:20]!r} is not offered.",
                next_step="Use 'FULL' (the default: a power cut loses nothing) or 'NORMAL'.",
            )
        self.synchronous: Synchronous = synchronous
        key_path = Path(key_file) if key_file is not None else Path(f"{self.path}.key")
        super().__init__(
            key=key, key_source=KeySource(file=key_path, env=key_env), lease_seconds=lease_seconds
        )
        self.key_file = key_path
        self._busy_timeout = busy_timeout
        #: The writes' connection (a batch's leader alone uses it) and the reads' one.
        self._writing = threading.Lock()
        self._read_lock = threading.Lock()
        self._reader: sqlite3.Connection | None = None
        self._synchronous_now: Synchronous = synchronous
        self._connection = self._connect(create, busy_timeout)
        try:
            stored = self._open_schema(create)
            self._stored_salt = bytes.fromhex(stored["salt"])
            self._settle_key(stored.get("key_id"), may_create=create)
        except BaseException:
            self._abandon()
            raise

    # ---------------------------------------------------------------- opening

    def _connect(self, create: bool, busy_timeout: float) -> sqlite3.Connection:  # float-ok
        if not self.path.exists():
            if not create:
                raise ConfigError(
                    f"There is no journal at {self.path}.",
                    next_step="Check the path (the profile's [journal] path, or the default).",
                )
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            # Masked rows are still a till's sales: readable by its own user only (SQLite
            # gives the -wal and -shm files the database's permissions).
            os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600))
        connection = self._open_connection()
        with self._guard():
            mode = connection.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            connection.execute(f"PRAGMA synchronous={self.synchronous}")
        if str(mode).lower() != "wal":
            connection.close()
            raise ConfigError(
                f"{self.where_capitalised} cannot use write-ahead logging (journal mode {mode}).",
                next_step="Put the journal on a local disk (not a network share).",
            )
        return connection

    def _open_connection(self) -> sqlite3.Connection:
        try:
            return sqlite3.connect(
                self.path,
                timeout=self._busy_timeout,
                isolation_level=None,  # transactions are explicit: BEGIN IMMEDIATE ... COMMIT
                check_same_thread=False,  # guarded by the journal's locks
            )
        except sqlite3.Error as error:
            raise self._unavailable(error) from None

    def _open_schema(self, create: bool) -> dict[str, str]:
        with self._transaction() as db:
            tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
            if "meta" not in tables:
                if tables:
                    raise ConfigError(
                        f"{self.path} is an SQLite database, but not a gongji journal; "
                        "nothing was changed.",
                        next_step="Give the journal a file of its own.",
                    )
                if not create:
                    raise ConfigError(
                        f"{self.path} is empty: no journal was ever written there.",
                        next_step="Check the path.",
                    )
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        db.execute(statement)
                db.execute(_MSGIDS)
                db.executemany(
                    "INSERT INTO meta (name, value) VALUES (?, ?)",
                    [("schema_version", str(SCHEMA_VERSION)), ("salt", secrets.token_hex(16))],
                )
            stored = dict(db.execute("SELECT name, value FROM meta").fetchall())
            if stored.get("schema_version") in ("1", "2"):  # additions only: no row changes
                if stored["schema_version"] == "1":
                    db.execute(_MSGIDS)
                db.execute(
                    "UPDATE meta SET value = ? WHERE name = 'schema_version'",
                    (str(SCHEMA_VERSION),),
                )
                stored["schema_version"] = str(SCHEMA_VERSION)
        version = stored.get("schema_version")
        if version != str(SCHEMA_VERSION) or "salt" not in stored:
            raise ConfigError(
                f"{self.where_capitalised} has schema version {version}; this gongji reads version "
                f"{SCHEMA_VERSION}. It was not changed.",
                next_step="Use the gongji version that wrote the journal, or a newer one that "
                "migrates it.",
            )
        return stored

    def _record_key_id(self, key_id: str) -> str:
        with self._transaction() as db:
            db.execute("INSERT OR IGNORE INTO meta (name, value) VALUES ('key_id', ?)", (key_id,))
            return str(db.execute("SELECT value FROM meta WHERE name = 'key_id'").fetchone()[0])

    # ---------------------------------------------------------------- storage

    def _batch(self, jobs: list[Job], owners: list[OwnerRow], durable: bool) -> None:
        if len(jobs) == 1 and not owners:  # its statements commit themselves (each atomic)
            with self._autocommit(_synchronous(self, durable)) as db:
                jobs[0].value = jobs[0].work(db)
            return
        with self._transaction(_synchronous(self, durable)) as db:
            self._run_jobs(db, jobs, owners)

    def _open(self, jobs: list[Job], owners: list[OwnerRow], durable: bool) -> Commit | None:
        # The write lock is tried, never waited for: a loop must not stall behind another
        # process's transaction (the batch then goes whole to the committer thread).
        if not self._writing.acquire(blocking=False):
            return None
        db = self._connection
        try:
            with self._guard():
                self._set_synchronous(_synchronous(self, durable))
                if not self._begin_at_once():
                    self._writing.release()
                    return None
                try:
                    self._run_jobs(db, jobs, owners)
                except BaseException:
                    db.execute("ROLLBACK")
                    raise
        except BaseException:
            self._writing.release()
            raise

        def commit() -> None:  # the flush, in the committer thread
            try:
                with self._guard():
                    try:
                        db.execute("COMMIT")
                    except BaseException:
                        if db.in_transaction:
                            db.execute("ROLLBACK")
                        raise
            finally:
                self._writing.release()

        return commit

    def _begin_at_once(self) -> bool:
        """BEGIN IMMEDIATE, or False at once when another connection holds the write lock."""
        db = self._connection
        db.execute("PRAGMA busy_timeout = 0")
        try:
            db.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as error:
            if error.sqlite_errorcode in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
                return False
            raise
        finally:
            db.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout * 1000)}")
        return True

    def _run_jobs(self, db: sqlite3.Connection, jobs: list[Job], owners: list[OwnerRow]) -> None:
        """Inside a transaction: the owner rows, then the jobs (each apart, when several).

        A job refused (compare-and-set, a statement's error) leaves the others' writes: a
        statement that fails is undone alone, and a work of several writes makes them one
        (``_atomic``), so no job needs a savepoint of its own (two statements more each)."""
        if owners:
            db.executemany(_OWNER, owners)
        if len(jobs) == 1:  # its failure is the transaction's
            jobs[0].value = jobs[0].work(db)
            return
        for job in jobs:
            try:
                job.value = job.work(db)
            except (GongjiError, sqlite3.Error) as error:
                if not db.in_transaction:  # SQLite rolled it all back: the batch failed
                    raise
                job.error = self._unavailable(error) if isinstance(error, sqlite3.Error) else error
            if not db.in_transaction:  # the next writes must not commit one by one
                raise JournalUnavailable(f"{self.where_capitalised} rolled a batch back.")

    def _put(self, columns: Columns, document: bytes, *, renew: bool, held: bool) -> Work:
        values = (
            columns.key,
            columns.state,
            columns.attempt,
            columns.settlement_id,
            columns.psn_no,
            columns.day.isoformat() if columns.day else None,
            columns.updated_at.isoformat() if columns.updated_at else None,
            document.decode("utf-8"),
        )
        lease = (columns.key, self._holder.owner)

        settled = (columns.settlement_id, columns.key)

        def put(db: sqlite3.Connection) -> None:
            with _atomic(db) if renew else contextlib.nullcontext():  # one commit for both
                if renew:  # a flow that writes is alive: its lease runs on
                    db.execute(_RENEW, (time.time() + self.lease_seconds, *lease))
                if held:
                    written = db.execute(_UPSERT_HELD, (*values, *lease, *settled)).rowcount
                else:
                    written = db.execute(_UPSERT, (*values, *settled)).rowcount
                if not written:  # nothing written: say why
                    holder = db.execute(_ANOTHERS, settled).fetchone()
                    if holder is not None:
                        raise settlement_taken(columns.settlement_id or "", holder[0])
                    raise lease_lost(columns.key)  # taken by another flow

        return put

    def _document(self, db: sqlite3.Connection, key: str) -> str | None:
        found = db.execute("SELECT document FROM entries WHERE key = ?", (key,)).fetchone()
        return None if found is None else str(found[0])

    def _select_one(self, column: str, value: str) -> str | None:
        assert column in ("key", "settlement_id")
        with self._reading() as db:
            found = db.execute(
                f"SELECT document FROM entries WHERE {column} = ? ORDER BY updated_at DESC",  # noqa: S608
                (value,),
            ).fetchone()
        return None if found is None else str(found[0])

    def _select(
        self, *, day: datetime.date | None = None, states: Iterable[str] | None = None
    ) -> list[bytes | str]:
        where: list[str] = []
        arguments: list[str] = []
        if day is not None:
            where.append("day = ?")
            arguments.append(day.isoformat())
        if states is not None:
            states = list(states)
            where.append(f"state IN ({', '.join('?' * len(states))})")
            arguments += states
        query = "SELECT document FROM entries"
        if where:
            query += " WHERE " + " AND ".join(where)
        with self._reading() as db:
            found = db.execute(query + " ORDER BY updated_at, key", arguments)
            return [str(row[0]) for row in found.fetchall()]

    def _count(self) -> int:
        with self._reading() as db:
            return int(db.execute("SELECT count(*) FROM entries").fetchone()[0])

    def _take_lease(self, key: str, holder: LeaseHolder) -> Work:
        # A lease need not survive a power cut (its owner would not either): its batch is
        # committed without an fsync unless a durable write shares it. Free, expired or
        # ours, the lease is taken at once (the batch holds the file's write lock).
        def take(db: sqlite3.Connection) -> bool:
            now = time.time()
            arguments = (
                key,
                holder.owner,
                holder.host,
                holder.pid,
                holder.process,
                now + self.lease_seconds,
            )
            if db.execute(_TAKE, (*arguments, now)).rowcount:
                return True
            found = db.execute(
                "SELECT owner, host, pid, process FROM leases WHERE key = ?", (key,)
            ).fetchone()
            if found is None:  # released meanwhile (outside a transaction): ask once more
                return bool(db.execute(_TAKE, (*arguments, now)).rowcount)
            current = LeaseHolder(owner=found[0], host=found[1], pid=found[2], process=found[3])
            if not provably_dead(current):
                return False
            # Only if the dead owner still holds it: another process may have been quicker.
            return bool(db.execute(_TAKE_FROM_DEAD, (*arguments[1:], key, current.owner)).rowcount)

        return take

    def _drop_lease(self, key: str, owner: str) -> Work:
        def drop(db: sqlite3.Connection) -> None:
            db.execute("DELETE FROM leases WHERE key = ? AND owner = ?", (key, owner))

        return drop

    def _reserve(self, request: MsgidRequest, size: int) -> Work:
        # The write lock is held from the first look to the insert: the highest id of the
        # range cannot change in between, whichever process shares the file.
        def reserve(db: sqlite3.Connection) -> Block:
            def claim(low: str, high: str) -> Block | None:
                highest = db.execute(
                    "SELECT max(msgid) FROM msgids WHERE msgid BETWEEN ? AND ?", (low, high)
                ).fetchone()[0]
                first = msgids.following(highest, low, high)
                if first is None:
                    return None
                end = msgids.block_end(first, high, size)
                db.execute(_RESERVE, (end, msgids.RESERVED))
                return Block(next=first, high=end)

            with _atomic(db):
                return msgids.allocate(request, claim)

        return reserve

    def _give_back(self, blocks: list[Block]) -> Work:
        def give_back(db: sqlite3.Connection) -> None:
            db.executemany(
                "DELETE FROM msgids WHERE msgid = ? AND purpose = ?",
                [(block.high, msgids.RESERVED) for block in blocks],
            )

        return give_back

    def _msgid_owner(self, msgid: str) -> MsgidOwner | None:
        with self._reading() as db:
            found = db.execute(
                "SELECT key, purpose FROM msgids WHERE msgid = ?", (msgid,)
            ).fetchone()
        if found is None or found[1] == msgids.RESERVED:
            return None
        return MsgidOwner(key=found[0], purpose=found[1])

    def _disconnect(self) -> None:
        with self._writing:
            self._connection.close()
        reader = self._reader
        if reader is not None:
            with self._read_lock:
                reader.close()

    # ---------------------------------------------------------------- plumbing

    @contextmanager
    def _transaction(self, synchronous: Synchronous | None = None) -> Iterator[sqlite3.Connection]:
        """One immediate transaction: the write lock is taken first, so a read in it and the
        write after it are atomic against every other connection to the file."""
        with self._writing, self._guard():
            db = self._connection
            self._set_synchronous(synchronous or self.synchronous)
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise

    @contextmanager
    def _autocommit(self, synchronous: Synchronous) -> Iterator[sqlite3.Connection]:
        """The writes' connection outside a transaction: each statement commits itself."""
        with self._writing, self._guard():
            self._set_synchronous(synchronous)
            yield self._connection

    def _set_synchronous(self, wanted: Synchronous) -> None:
        """The writes' connection's flush mode, set for the transactions after it too."""
        if wanted != self._synchronous_now:
            self._connection.execute(f"PRAGMA synchronous={wanted}")
            self._synchronous_now = wanted

    @contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection]:
        """The connection for reads: beside the writes' one, so a read never waits for a
        commit's fsync (WAL: it sees every commit made before it starts)."""
        with self._read_lock, self._guard():
            if self._reader is None:
                self._reader = self._open_connection()
            yield self._reader

    @contextmanager
    def _guard(self) -> Iterator[None]:
        if self._closed:
            raise ConfigError(f"{self.where_capitalised} is closed.", next_step="Open it again.")
        try:
            yield
        except sqlite3.Error as error:
            raise self._unavailable(error) from None

    def _unavailable(self, error: sqlite3.Error) -> ConfigError | JournalUnavailable:
        if isinstance(error, sqlite3.DatabaseError) and "not a database" in str(error):
            return ConfigError(
                f"{self.path} is not an SQLite database; nothing was changed.",
                next_step="Give the journal a file of its own.",
            )
        return JournalUnavailable(
            f"{self.where_capitalised} failed ({type(error).__name__}: {error})."
        )

    def __repr__(self) -> str:
        key = "present" if self.has_key else "missing"
        return (
            f"SqliteJournal(path={str(self.path)!r}, synchronous={self.synchronous!r}, key={key})"
        )
