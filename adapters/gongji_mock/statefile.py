"""``--state FILE``: the mock's state in a SQLite file, so that a restart changes nothing.

Two tables. ``component`` has one row per component, each the component's small,
changing records as one JSON document (msgspec; never pickle: a state file is data
and cannot run code):

- ``meta``: the file format, a digest of the dataset the file was started from, and
  a write counter;
- ``keys``: the channel keys (PEM) and the APIv3 key, written once, on first start;
- ``centre``: sign-ins, reversals, visits, person numbers, used tokens, cancellations,
  the year's counters, balances (the national endpoint, the centre and its ledger);
- ``wechatpay``: trades, refunds and medical-insurance orders;
- ``alipay``: trades and refunds.

``record`` holds what only grows and never changes once made, one row per entry, in
order: the messages the centre has seen with their first answers (``seen``), the
settlements as the endpoint answered them (``settled``) and as the centre recorded
them (``settlements``), e-voucher tokens (``tokens``), ledger transactions
(``transactions``). A write appends the new ones, so its cost does not grow with the
number of settlements.

After every request the gateway answers, the components the request could touch
are snapshotted; documents that differ from the file's, and new records, are
written in one transaction and committed (WAL, ``synchronous=FULL``) before the
answer is returned. A request that changed nothing writes nothing.

The file holds full ID numbers and the mock's private test keys: it is the mock
centre's database. Errors and reprs name neither.
"""

from __future__ import annotations

import contextlib
import hashlib
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

from gongji.errors import ConfigError, GongjiError
from gongji_mock.alipay.endpoint import AlipayState
from gongji_mock.centre.dataset import Dataset
from gongji_mock.centre.decisions import SettlementRow, TokenRow
from gongji_mock.centre.ledger import TransactionRow
from gongji_mock.national.endpoint import NationalState, SeenRow, SettledRow
from gongji_mock.testkeys import MockKeys
from gongji_mock.wechatpay.endpoint import WechatPayState

if TYPE_CHECKING:
    from gongji_mock.gateway import MockGateway

FORMAT = 1
#: In the SQLite header (``PRAGMA application_id``): "gjmk", a gongji mock state file.
APPLICATION_ID = 0x676A6D6B
COMPONENTS = ("centre", "wechatpay", "alipay")
#: The centre's records that only grow, and how each reads back (a list, in order).
RECORDS: dict[str, Any] = {
    "seen": list[SeenRow],
    "settled": list[SettledRow],
    "settlements": list[SettlementRow],
    "tokens": list[TokenRow],
    "transactions": list[TransactionRow],
}
#: What a request to each protocol can change; any other target may change anything.
_TOUCHES = {
    "national": ("centre",),
    "admin": ("centre",),  # e-voucher tokens
    "wechatpay": ("wechatpay",),
    "alipay": ("alipay",),
}
_SCHEMA = (
    "CREATE TABLE component (name TEXT PRIMARY KEY, data BLOB NOT NULL)",
    "CREATE TABLE record (log TEXT NOT NULL, seq INTEGER NOT NULL, data BLOB NOT NULL, "
    "PRIMARY KEY (log, seq))",
)
_ENCODER = msgspec.json.Encoder()


class _Meta(msgspec.Struct, frozen=True, kw_only=True):
    format: int
    dataset: str  # dataset_digest() of the dataset the file was started from
    dataset_summary: str  # policy and counts, for the error message: no person data
    writes: int  # counts writes: a second mock writing the same file is noticed


class _Changes(msgspec.Struct, kw_only=True):
    documents: dict[str, bytes]  # component -> its document, where it changed
    records: dict[str, list[bytes]]  # log -> its new entries

    def __bool__(self) -> bool:
        return bool(self.documents or self.records)


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
    """A ``MockGateway``'s state file: restores the mock on opening, writes what changed after."""

    def __init__(self, mock: MockGateway, path: str | Path) -> None:
        self.path = Path(path)
        self._mock = mock
        self._lock = threading.Lock()
        self._documents: dict[str, bytes] = {}  # as the file holds them
        self._logged: dict[str, int] = dict.fromkeys(RECORDS, 0)  # entries the file holds
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
        keys = self._mock.keys  # this process's, kept from now on
        dataset = self._mock.centre.dataset
        meta = _Meta(
            format=FORMAT,
            dataset=dataset_digest(dataset),
            dataset_summary=_summary(dataset),
            writes=0,
        )
        changes = self._changes(COMPONENTS)
        try:
            # The application id goes into the file header with this first commit, before
            # WAL is switched on: _check_header() can then tell the file by its first bytes.
            db.execute("BEGIN IMMEDIATE")
            db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            for statement in _SCHEMA:
                db.execute(statement)
            db.executemany(
                "INSERT INTO component (name, data) VALUES (?, ?)",
                [("meta", _ENCODER.encode(meta)), ("keys", _ENCODER.encode(keys))],
            )
            self._put_changes(db, changes)
            db.execute("COMMIT")
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
        except sqlite3.Error as exc:
            raise ConfigError(
                f"The state file {self.path.name} cannot be created ({exc}).",
                next_step="Check that its directory is writable, or give another --state path.",
            ) from None
        self._written(changes)

    def _restore(self) -> None:
        db = self._connection()
        name = self.path.name
        try:
            documents: dict[str, bytes] = dict(db.execute("SELECT name, data FROM component"))
            logs: dict[str, list[bytes]] = {log: [] for log in RECORDS}
            for log, seq, data in db.execute("SELECT log, seq, data FROM record ORDER BY log, seq"):
                if log not in logs or seq != len(logs[log]):
                    raise _damaged(name, str(log)[:20], f"record {seq} is out of place")
                logs[log].append(data)
        except sqlite3.DatabaseError as exc:
            raise ConfigError(
                f"{name} is not a gongji mock state file, or it is damaged ({exc}); nothing was changed.",
                next_step="Give --state a new file name (it is created), or restore the file from a copy.",
            ) from None
        meta = _decode(name, "meta", documents.get("meta"), _Meta)
        if meta.format != FORMAT:
            raise ConfigError(
                f"The state file {name} has format {meta.format}; this mock reads format {FORMAT}.",
                next_step="Use the gongji version that wrote it, or start afresh with a new --state file.",
            )
        dataset = self._mock.centre.dataset
        if meta.dataset != dataset_digest(dataset):
            raise ConfigError(
                f"The state file {name} was started from another dataset "
                f"({meta.dataset_summary}, digest {meta.dataset[:12]}); this one is "
                f"{_summary(dataset)}, digest {dataset_digest(dataset)[:12]}. Nothing was changed.",
                next_step="Start the mock with the dataset the state file was made from (--data), "
                "or give a new --state file to start afresh from this dataset.",
            )
        keys = _decode(name, "keys", documents.get("keys"), MockKeys)
        with _reading(name, "keys"):
            self._mock.use_keys(keys)
        records = {
            log: _decode(name, log, b"[" + b",".join(logs[log]) + b"]", kind)
            for log, kind in RECORDS.items()
        }
        centre = _decode(name, "centre", documents.get("centre"), NationalState)
        with _reading(name, "centre"):
            self._mock.national.restore(centre, **records)
        wechatpay = _decode(name, "wechatpay", documents.get("wechatpay"), WechatPayState)
        with _reading(name, "wechatpay"):
            self._mock.wechatpay.restore(wechatpay)
        alipay = _decode(name, "alipay", documents.get("alipay"), AlipayState)
        with _reading(name, "alipay"):
            self._mock.alipay.restore(alipay)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
        except sqlite3.Error as exc:
            raise ConfigError(
                f"The state file {name} cannot be written ({exc}).",
                next_step="Check its permissions, and that no other program holds it.",
            ) from None
        self._writes = meta.writes
        self._logged = {log: len(entries) for log, entries in logs.items()}
        # What restore() put back, taken again: a request that changes nothing writes nothing.
        self._written(self._changes(COMPONENTS))

    # ------------------------------------------------------------ writing

    def save(self, target: str = "*") -> None:
        """Write what a request to ``target`` changed, if anything; committed before this returns.

        ``target`` is a protocol (national, wechatpay, alipay, admin); anything else
        checks every component.
        """
        with self._lock:
            changes = self._changes(_TOUCHES.get(target, COMPONENTS))
            if changes:
                self._write(changes)
                self._written(changes)

    def _changes(self, components: tuple[str, ...]) -> _Changes:
        """Documents that differ from the file's, and records the file does not hold yet."""
        changes = _Changes(documents={}, records={})
        for component in components:
            document: msgspec.Struct
            if component == "centre":
                document, records = self._mock.national.snapshot(self._logged)
                for log, entries in records.items():
                    if entries:
                        changes.records[log] = [_ENCODER.encode(entry) for entry in entries]
            elif component == "wechatpay":
                document = self._mock.wechatpay.snapshot()
            else:
                document = self._mock.alipay.snapshot()
            data = _ENCODER.encode(document)
            if data != self._documents.get(component):
                changes.documents[component] = data
        return changes

    def _written(self, changes: _Changes) -> None:
        self._documents.update(changes.documents)
        for log, entries in changes.records.items():
            self._logged[log] += len(entries)

    def _put_changes(self, db: sqlite3.Connection, changes: _Changes) -> None:
        db.executemany(
            "INSERT OR REPLACE INTO component (name, data) VALUES (?, ?)",
            changes.documents.items(),
        )
        db.executemany(
            "INSERT INTO record (log, seq, data) VALUES (?, ?, ?)",
            (
                (log, self._logged[log] + n, data)
                for log, entries in changes.records.items()
                for n, data in enumerate(entries)
            ),
        )

    def _write(self, changes: _Changes) -> None:
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
                    "UPDATE component SET data = ? WHERE name = 'meta'", (_ENCODER.encode(meta),)
                )
                self._put_changes(db, changes)
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
        return msgspec.json.decode(data, type=kind)
    except msgspec.MsgspecError as exc:
        raise _damaged(name, component, str(exc)[:200]) from None


@contextlib.contextmanager
def _reading(name: str, component: str) -> Iterator[None]:
    """Turns what a component's restore() raises on bad data into one clear error."""
    try:
        yield
    except GongjiError as exc:  # messages mask ID numbers and hold no key material
        raise _damaged(name, component, exc.message) from None
    except (ValueError, TypeError, KeyError) as exc:
        raise _damaged(name, component, type(exc).__name__) from None


def _damaged(name: str, component: str, why: str) -> ConfigError:
    return ConfigError(
        f"The state file {name} is damaged: its {component!r} cannot be read ({why}); nothing was changed.",
        next_step="Restore the file from a copy, or give a new --state file to start afresh.",
    )
