"""``--state FILE``: the mock's state in a SQLite file, so that a restart changes nothing.

Two tables. ``component`` holds the file's ``meta`` (its format, a digest of the
dataset it was started from, a write counter) and the channels' ``keys`` (PEM, and
the APIv3 key), written once, on first start. ``record`` holds every row of every
``Table`` the mock's rooms keep (``gongji_mock.records``): one SQLite row per record,
by table name and key, with the order its key was first written. Rows are JSON
(msgspec; never pickle: a state file is data and cannot run code).

After every request the gateway answers, the rows the request put or removed are
written in one transaction and committed (WAL, ``synchronous=FULL``) before the
answer is returned: the cost of a write does not grow with the number of trades or
settlements, and a request that changed nothing writes nothing.

The file holds full ID numbers and the mock's private test keys: it is the mock
centre's database. Errors and reprs name neither.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import sqlite3
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import msgspec
from attrs import frozen

from gongji.errors import ConfigError, GongjiError
from gongji_mock.centre.dataset import Dataset
from gongji_mock.records import ENCODER, Table, decode
from gongji_mock.testkeys import MockKeys

#: Format 1 kept each room's records as documents written whole; format 2 writes rows.
FORMAT = 2
#: In the SQLite header (``PRAGMA application_id``): "gjmk", a gongji mock state file.
APPLICATION_ID = 0x676A6D6B
_SCHEMA = (
    "CREATE TABLE component (name TEXT PRIMARY KEY, data BLOB NOT NULL)",
    "CREATE TABLE record (tbl TEXT NOT NULL, key TEXT NOT NULL, seq INTEGER NOT NULL, "
    "data BLOB NOT NULL, PRIMARY KEY (tbl, key))",
    "CREATE INDEX record_order ON record (tbl, seq)",
)
_UPSERT = (
    "INSERT INTO record (tbl, key, seq, data) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (tbl, key) DO UPDATE SET data = excluded.data"
)


class _Meta(msgspec.Struct, frozen=True, kw_only=True):
    format: int
    dataset: str  # dataset_digest() of the dataset the file was started from
    dataset_summary: str  # policy and counts, for the error message: no person data
    writes: int  # counts writes: a second mock writing the same file is noticed


@frozen
class Room:
    """Tables changed together, and the lock their changes are made under."""

    lock: contextlib.AbstractContextManager[Any]
    tables: Sequence[Table[Any, Any]]


def dataset_digest(dataset: Dataset) -> str:
    """SHA-256 of what the dataset says (not how the file is laid out): comments and key
    order do not change it; a person, a balance or a binding does."""
    canonical = {
        "policy": dataset.policy.id,
        "people": sorted(
            [
                p.id.number,
                p.name,
                p.insurance.kind.value,
                p.insurance.status.value,
                p.insurance.region,
                p.insurance.retired,
                None if p.account is None else int(p.account.balance),
            ]
            for p in dataset.people.values()
        ),
        "bindings": [
            [
                b.owner.number,
                b.beneficiary.number,
                b.relation.value,
                b.status.value,
                b.priority,
                None if b.per_transaction_limit is None else int(b.per_transaction_limit),
            ]
            for b in dataset.bindings
        ],
        "e_vouchers": sorted(
            [token, holder.number] for token, holder in dataset.e_vouchers.items()
        ),
    }
    return hashlib.sha256(msgspec.json.encode(canonical)).hexdigest()


def _summary(dataset: Dataset) -> str:
    return (
        f"policy {dataset.policy.id}, {len(dataset.people)} people, "
        f"{len(dataset.bindings)} bindings"
    )


class MockState:
    """A mock's state file: restores the rooms' tables on opening, writes what changed after.

    ``rooms`` by the protocol whose requests change them (national, wechatpay, alipay,
    admin); ``keys()`` are the keys in force, kept on first start, and ``use_keys``
    puts the file's back.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        dataset: Dataset,
        rooms: Mapping[str, Room],
        keys: Callable[[], MockKeys],
        use_keys: Callable[[MockKeys], None],
    ) -> None:
        self.path = Path(path)
        self._dataset = dataset
        self._rooms = dict(rooms)
        self._keys = keys
        self._use_keys = use_keys
        self._lock = threading.Lock()
        self._seq = itertools.count(1)  # the order of keys first written; gaps are harmless
        self._writes = 0
        new = not self.path.exists() or self.path.stat().st_size == 0
        if not new:
            _check_header(self.path)  # before SQLite opens it: a file not ours is only read
        self._db: sqlite3.Connection | None = self._connect()
        try:
            if new:
                self._create()
            else:
                self._restore()
        except BaseException:
            self.close()
            raise

    def _tables(self, rooms: Sequence[Room] | None = None) -> list[Table[Any, Any]]:
        unique = {id(t): t for room in (rooms or self._rooms.values()) for t in room.tables}
        return list(unique.values())

    # ------------------------------------------------------------ opening

    def _connect(self) -> sqlite3.Connection:
        try:
            # Autocommit: every write is an explicit BEGIN IMMEDIATE ... COMMIT. uvicorn
            # answers in worker threads; self._lock serialises use of the connection.
            return sqlite3.connect(
                self.path, timeout=5, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as exc:
            raise ConfigError(
                f"The state file {self.path.name} cannot be opened ({exc}).",
                next_step="Check that its directory exists and is writable, or give another --state path.",
            ) from None

    def _create(self) -> None:
        db = self._connection()
        meta = _Meta(
            format=FORMAT,
            dataset=dataset_digest(self._dataset),
            dataset_summary=_summary(self._dataset),
            writes=0,
        )
        # Everything the rooms hold from the start (the dataset's balances and tokens).
        rows = []
        for table in self._tables():
            table.take_changes()
            rows += [(table, key, row) for key, row in table.items()]
        try:
            # The application id goes into the file header with this first commit, before
            # WAL is switched on: _check_header() can then tell the file by its first bytes.
            db.execute("BEGIN IMMEDIATE")
            db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            for statement in _SCHEMA:
                db.execute(statement)
            db.executemany(
                "INSERT INTO component (name, data) VALUES (?, ?)",
                [("meta", ENCODER.encode(meta)), ("keys", ENCODER.encode(self._keys()))],
            )
            self._put_rows(db, rows)
            db.execute("COMMIT")
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
        except sqlite3.Error as exc:
            raise ConfigError(
                f"The state file {self.path.name} cannot be created ({exc}).",
                next_step="Check that its directory is writable, or give another --state path.",
            ) from None

    def _restore(self) -> None:
        db = self._connection()
        name = self.path.name
        try:
            documents: dict[str, bytes] = dict(db.execute("SELECT name, data FROM component"))
            meta = _decode(name, "meta", documents.get("meta"), _Meta)
            if meta.format != FORMAT:
                raise ConfigError(
                    f"The state file {name} has format {meta.format}; this mock reads format {FORMAT}.",
                    next_step="Use the gongji version that wrote it, or start afresh with a new --state file.",
                )
            rows: dict[str, list[tuple[str, bytes]]] = {}
            last = 0
            for table, key, seq, data in db.execute(
                "SELECT tbl, key, seq, data FROM record ORDER BY tbl, seq"
            ):
                rows.setdefault(table, []).append((key, data))
                last = max(last, seq)
        except sqlite3.DatabaseError as exc:
            raise ConfigError(
                f"{name} is not a gongji mock state file, or it is damaged ({exc}); nothing was changed.",
                next_step="Give --state a new file name (it is created), or restore the file from a copy.",
            ) from None
        if meta.dataset != dataset_digest(self._dataset):
            raise ConfigError(
                f"The state file {name} was started from another dataset "
                f"({meta.dataset_summary}, digest {meta.dataset[:12]}); this one is "
                f"{_summary(self._dataset)}, digest {dataset_digest(self._dataset)[:12]}. "
                "Nothing was changed.",
                next_step="Start the mock with the dataset the state file was made from (--data), "
                "or give a new --state file to start afresh from this dataset.",
            )
        keys = _decode(name, "keys", documents.get("keys"), MockKeys)
        with _reading(name, "keys"):
            self._use_keys(keys)
        for table in self._tables():
            with _reading(name, table.name):
                table.load(
                    [
                        (decode(key.encode(), table.key_type), decode(data, table.row_type))
                        for key, data in rows.get(table.name, [])
                    ]
                )
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
        except sqlite3.Error as exc:
            raise ConfigError(
                f"The state file {name} cannot be written ({exc}).",
                next_step="Check its permissions, and that no other program holds it.",
            ) from None
        self._writes = meta.writes
        self._seq = itertools.count(last + 1)

    # ------------------------------------------------------------ writing

    def save(self, target: str = "*") -> None:
        """Write what a request to ``target`` changed, if anything; committed before this returns.

        ``target`` is a protocol (national, wechatpay, alipay, admin); anything else
        writes what changed in every room.
        """
        room = self._rooms.get(target)
        rooms = [room] if room is not None else list(self._rooms.values())
        with self._lock:
            rows = []
            for each in rooms:
                with each.lock:  # a request's changes are taken whole, never half made
                    for table in each.tables:
                        rows += [(table, key, row) for key, row in table.take_changes()]
            if rows:
                self._write(rows)

    def _put_rows(
        self, db: sqlite3.Connection, rows: Sequence[tuple[Table[Any, Any], Any, Any]]
    ) -> None:
        for table, key, row in rows:
            key_text = ENCODER.encode(key).decode()
            if row is None:
                db.execute("DELETE FROM record WHERE tbl = ? AND key = ?", (table.name, key_text))
            else:
                db.execute(_UPSERT, (table.name, key_text, next(self._seq), ENCODER.encode(row)))

    def _write(self, rows: Sequence[tuple[Table[Any, Any], Any, Any]]) -> None:
        db = self._connection()
        try:
            db.execute("BEGIN IMMEDIATE")
            try:
                (data,) = db.execute("SELECT data FROM component WHERE name = 'meta'").fetchone()
                meta = msgspec.json.decode(data, type=_Meta)
                if meta.writes != self._writes:
                    raise ConfigError(
                        f"Another mock has written the state file {self.path.name} since this one "
                        "opened it; this mock's change was not written.",
                        next_step="Run one mock per state file: stop the others, then restart this one.",
                    )
                meta = msgspec.structs.replace(meta, writes=meta.writes + 1)
                db.execute(
                    "UPDATE component SET data = ? WHERE name = 'meta'", (ENCODER.encode(meta),)
                )
                self._put_rows(db, rows)
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        except (sqlite3.Error, msgspec.MsgspecError) as exc:
            raise GongjiError(
                f"The mock could not write its state file {self.path.name} ({exc}); "
                "the answer to this request was not sent.",
                code="mock_state_not_written",
                next_step="Free disk space or fix the file's permissions, then send the request "
                "again: a repeated msgid or out_trade_no is answered as before.",
            ) from None
        self._writes = meta.writes

    def _connection(self) -> sqlite3.Connection:
        if self._db is None:
            raise ConfigError(
                f"The state file {self.path.name} is closed.",
                next_step="Open a new MockGateway over it.",
            )
        return self._db

    def close(self) -> None:
        """Close the file. Everything answered is already written."""
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def __repr__(self) -> str:
        return f"MockState({self.path.name!r})"


def _check_header(path: Path) -> None:
    """Refuse a file that is not a gongji mock state file, from its first 100 bytes alone."""
    try:
        with path.open("rb") as file:
            header = file.read(100)
    except OSError as exc:
        raise ConfigError(
            f"The state file {path.name} cannot be read ({exc.strerror}).",
            next_step="Check the --state path and its permissions.",
        ) from None
    if not header.startswith(b"SQLite format 3\x00") or len(header) < 100:
        raise ConfigError(
            f"{path.name} is not a gongji mock state file (not an SQLite database); nothing was changed.",
            next_step="Give --state a new file name (it is created) or a state file the mock wrote.",
        )
    if int.from_bytes(header[68:72], "big") != APPLICATION_ID:
        raise ConfigError(
            f"{path.name} is an SQLite database, but not a gongji mock state file; nothing was changed.",
            next_step="Give --state a new file name (it is created) or a state file the mock wrote.",
        )


def _decode(name: str, component: str, data: bytes | None, kind: Any) -> Any:
    if data is None:
        raise _damaged(name, component, "it is missing")
    try:
        return decode(data, kind)
    except msgspec.MsgspecError as exc:
        raise _damaged(name, component, str(exc)[:200]) from None


@contextlib.contextmanager
def _reading(name: str, component: str) -> Iterator[None]:
    """Turns what a component's restore() raises on bad data into one clear error."""
    try:
        yield
    except GongjiError as exc:  # messages mask ID numbers and hold no key material
        raise _damaged(name, component, exc.message) from None
    except msgspec.MsgspecError as exc:  # names the field and the type, never the value
        raise _damaged(name, component, str(exc)[:200]) from None
    except (ValueError, TypeError, KeyError) as exc:
        raise _damaged(name, component, type(exc).__name__) from None


def _damaged(name: str, component: str, why: str) -> ConfigError:
    return ConfigError(
        f"The state file {name} is damaged: its {component!r} cannot be read ({why}); nothing was changed.",
        next_step="Restore the file from a copy, or give a new --state file to start afresh.",
    )
