"""The local copy of the national catalogue and the pharmacy's mappings: one SQLite file
beside the journal (``journal.sqlite3`` -> ``journal.catalogue.sqlite3``).

Three tables: ``entries`` (the catalogue's records by ``rid``), ``mappings`` (SKU ->
national code, and when the centre accepted it), and ``sync`` (the version the next
download asks from, and the download under way). A page of a download is written in one
transaction with the page number reached, so a download cut off by a crash or a lost
network goes on from the next page; writing a record twice changes nothing.

Nothing here is money or a person: the file needs no key. It is written with
``synchronous=NORMAL``: a power cut may lose the last page, which the next sync fetches again.
"""

from __future__ import annotations

import datetime
import sqlite3
import threading
from pathlib import Path
from typing import Any

from attrs import evolve, frozen

from gongji import clock as beijing
from gongji.catalogue.entries import CatalogueEntry, CatalogueMapping, CataloguePage
from gongji.errors import ConfigError

__all__ = ["CatalogueStore", "SyncRun", "store_beside"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    record_id TEXT PRIMARY KEY,
    national_code TEXT NOT NULL,
    name TEXT NOT NULL,
    class_code TEXT NOT NULL,
    list_type TEXT NOT NULL,
    charge_type TEXT NOT NULL,
    restricted INTEGER NOT NULL,
    region TEXT NOT NULL,
    begins TEXT,
    ends TEXT,
    valid INTEGER NOT NULL,
    updated_at TEXT
);
CREATE INDEX IF NOT EXISTS entries_by_code ON entries (national_code);
CREATE TABLE IF NOT EXISTS mappings (
    sku TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    national_code TEXT NOT NULL,
    list_type TEXT NOT NULL,
    begins TEXT NOT NULL,
    ends TEXT,
    approval_no TEXT NOT NULL,
    dosage_form TEXT NOT NULL,
    spec TEXT NOT NULL,
    pack_spec TEXT NOT NULL,
    unit TEXT NOT NULL,
    memo TEXT NOT NULL,
    uploaded_at TEXT
);
CREATE TABLE IF NOT EXISTS sync (name TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
_ENTRY_COLUMNS = (
    "record_id, national_code, name, class_code, list_type, charge_type, restricted, "
    "region, begins, ends, valid, updated_at"
)
_MAPPING_COLUMNS = (
    "sku, name, national_code, list_type, begins, ends, approval_no, dosage_form, spec, "
    "pack_spec, unit, memo, uploaded_at"
)
_TIME = "%Y-%m-%d %H:%M:%S"  # Beijing wall-clock time: sorts as text


@frozen
class SyncRun:
    """A download under way: what it asks from, the next page, and what it has seen."""

    since: datetime.datetime | None  # None: the whole catalogue
    page_size: int
    next_page: int = 1
    pages: int = 0  # as the centre last said; 0 before the first page
    entries: int = 0  # records written by this run
    latest: datetime.datetime | None = None  # the latest updt_time written by this run


def store_beside(journal: object) -> CatalogueStore:
    """The store beside ``journal``: next to an SQLite journal's file, in memory beside a
    memory journal (the mock profile: demos and tests write nothing home), and at the
    per-user default place beside any other (a chain's PostgreSQL journal)."""
    path = getattr(journal, "path", None)
    if isinstance(path, Path):
        return CatalogueStore(path.with_name(f"{path.stem}.catalogue.sqlite3"))
    from gongji.journal import MemoryJournal
    from gongji.journal.sqlite import default_journal_path

    if isinstance(journal, MemoryJournal):
        return CatalogueStore(None)

    return CatalogueStore(default_journal_path().with_name("catalogue.sqlite3"))


class CatalogueStore:
    """The catalogue's SQLite file (``path``), or an in-memory one (``path=None``)."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else None
        self._lock = threading.Lock()
        try:
            if self.path is not None:
                self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            self._db = sqlite3.connect(
                str(self.path) if self.path is not None else ":memory:",
                check_same_thread=False,  # the lock serialises; an async till may hop threads
                isolation_level=None,  # transactions are explicit
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as error:
            raise ConfigError(
                f"The catalogue store at {self.path} cannot be opened ({error}).",
                next_step="Move the file away; `gongji catalogue sync` builds it again.",
            ) from None

    def __repr__(self) -> str:
        return f"CatalogueStore(path={str(self.path) if self.path else ':memory:'!r})"

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> CatalogueStore:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # ------------------------------------------------------------ downloads

    @property
    def version(self) -> datetime.datetime | None:
        """The latest ``updt_time`` of a finished download: the next one asks from it."""
        return _time(self._setting("version"))

    def count(self) -> int:
        with self._lock:
            (found,) = self._db.execute("SELECT count(*) FROM entries").fetchone()
        return int(found)

    def pending_run(self) -> SyncRun | None:
        """The download a crash or a lost network cut off, if any."""
        with self._lock:
            rows = dict(self._db.execute("SELECT name, value FROM sync WHERE name LIKE 'run_%'"))
        if "run_page_size" not in rows:
            return None
        return SyncRun(
            since=_time(rows.get("run_since") or None),
            page_size=int(rows["run_page_size"]),
            next_page=int(rows["run_next_page"]),
            pages=int(rows["run_pages"]),
            entries=int(rows["run_entries"]),
            latest=_time(rows.get("run_latest") or None),
        )

    def begin_run(self, since: datetime.datetime | None, page_size: int) -> SyncRun:
        run = SyncRun(since=since, page_size=page_size)
        with self._transaction() as db:
            db.execute("DELETE FROM sync WHERE name LIKE 'run_%'")
            _write_run(db, run)
        return run

    def save_page(self, run: SyncRun, page: CataloguePage) -> SyncRun:
        """Write ``page``'s records and the run's progress in one transaction."""
        latest = max(
            (e.updated_at for e in page.entries if e.updated_at is not None),
            default=None,
        )
        if run.latest is not None and (latest is None or run.latest > latest):
            latest = run.latest
        run = evolve(
            run,
            next_page=page.page + 1,
            pages=page.pages,
            entries=run.entries + len(page.entries),
            latest=latest,
        )
        with self._transaction() as db:
            db.executemany(
                f"INSERT OR REPLACE INTO entries ({_ENTRY_COLUMNS}) "  # noqa: S608 - constants
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [_entry_row(entry) for entry in page.entries],
            )
            _write_run(db, run)
        return run

    def finish_run(self, run: SyncRun) -> datetime.datetime | None:
        """The download is complete: its latest ``updt_time`` becomes the version."""
        version = self.version
        if run.latest is not None and (version is None or run.latest > version):
            version = run.latest
        with self._transaction() as db:
            db.execute("DELETE FROM sync WHERE name LIKE 'run_%'")
            if version is not None:
                db.execute(
                    "INSERT OR REPLACE INTO sync (name, value) VALUES ('version', ?)",
                    (_text(version),),
                )
        return version

    # ------------------------------------------------------------ entries

    def entries(self, national_code: str) -> list[CatalogueEntry]:
        """Every record of ``national_code``, the latest start first."""
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_ENTRY_COLUMNS} FROM entries WHERE national_code = ? "  # noqa: S608
                "ORDER BY begins DESC, updated_at DESC",
                (national_code,),
            ).fetchall()
        return [_entry(row) for row in rows]

    def entry(self, national_code: str, day: datetime.date) -> CatalogueEntry | None:
        """The record of ``national_code`` in force on ``day``."""
        return next((e for e in self.entries(national_code) if e.in_force(day)), None)

    def find(self, text: str, *, limit: int = 20) -> list[CatalogueEntry]:
        """Records whose national code starts with ``text`` or whose name contains it."""
        pattern = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_ENTRY_COLUMNS} FROM entries "  # noqa: S608 - constants
                "WHERE national_code LIKE ? ESCAPE '\\' OR name LIKE ? ESCAPE '\\' "
                "ORDER BY national_code, begins DESC LIMIT ?",
                (f"{pattern}%", f"%{pattern}%", limit),
            ).fetchall()
        return [_entry(row) for row in rows]

    # ------------------------------------------------------------ mappings

    def put_mapping(self, mapping: CatalogueMapping) -> None:
        with self._transaction() as db:
            db.execute(
                f"INSERT OR REPLACE INTO mappings ({_MAPPING_COLUMNS}) "  # noqa: S608
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                _mapping_row(mapping),
            )

    def mapping(self, sku: str) -> CatalogueMapping | None:
        with self._lock:
            row = self._db.execute(
                f"SELECT {_MAPPING_COLUMNS} FROM mappings WHERE sku = ?",  # noqa: S608
                (sku,),
            ).fetchone()
        return _mapping(row) if row else None

    def mappings(self, *, pending: bool = False) -> list[CatalogueMapping]:
        """Every mapping by SKU; with ``pending``, only those the centre does not have yet."""
        where = "WHERE uploaded_at IS NULL " if pending else ""
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_MAPPING_COLUMNS} FROM mappings {where}ORDER BY sku"  # noqa: S608
            ).fetchall()
        return [_mapping(row) for row in rows]

    def mark_uploaded(self, sku: str, at: datetime.datetime) -> None:
        with self._transaction() as db:
            db.execute("UPDATE mappings SET uploaded_at = ? WHERE sku = ?", (_text(at), sku))

    # ------------------------------------------------------------ plumbing

    def _setting(self, name: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM sync WHERE name = ?", (name,)).fetchone()
        return str(row[0]) if row else None

    def _transaction(self) -> _Transaction:
        return _Transaction(self)


class _Transaction:
    """``with store._transaction() as db``: the lock held, BEGIN IMMEDIATE ... COMMIT."""

    def __init__(self, store: CatalogueStore) -> None:
        self._store = store

    def __enter__(self) -> sqlite3.Connection:
        self._store._lock.acquire()
        self._store._db.execute("BEGIN IMMEDIATE")
        return self._store._db

    def __exit__(self, kind: object, *_: object) -> None:
        try:
            self._store._db.execute("ROLLBACK" if kind is not None else "COMMIT")
        finally:
            self._store._lock.release()


def _write_run(db: sqlite3.Connection, run: SyncRun) -> None:
    values = {
        "run_since": _text(run.since) if run.since else "",
        "run_page_size": str(run.page_size),
        "run_next_page": str(run.next_page),
        "run_pages": str(run.pages),
        "run_entries": str(run.entries),
        "run_latest": _text(run.latest) if run.latest else "",
    }
    db.executemany("INSERT OR REPLACE INTO sync (name, value) VALUES (?, ?)", values.items())


def _entry_row(entry: CatalogueEntry) -> tuple[Any, ...]:
    # A record without a rid is keyed by code and start: still one row per version.
    key = entry.record_id or f"{entry.national_code}@{entry.begins or ''}"
    return (
        key,
        entry.national_code,
        entry.name,
        entry.class_code,
        entry.list_type,
        entry.charge_type,
        int(entry.restricted),
        entry.region,
        _day_text(entry.begins),
        _day_text(entry.ends),
        int(entry.valid),
        _text(entry.updated_at) if entry.updated_at else None,
    )


def _entry(row: tuple[Any, ...]) -> CatalogueEntry:
    (key, code, name, class_code, list_type, charge_type, restricted, region) = row[:8]
    begins, ends, valid, updated_at = row[8:]
    return CatalogueEntry(
        national_code=code,
        name=name,
        class_code=class_code,
        record_id=key,
        list_type=list_type,
        charge_type=charge_type,
        restricted=bool(restricted),
        region=region,
        begins=_day(begins),
        ends=_day(ends),
        valid=bool(valid),
        updated_at=_time(updated_at),
    )


def _mapping_row(mapping: CatalogueMapping) -> tuple[Any, ...]:
    return (
        mapping.sku,
        mapping.name,
        mapping.national_code,
        mapping.list_type,
        _day_text(mapping.begins),
        _day_text(mapping.ends),
        mapping.approval_no,
        mapping.dosage_form,
        mapping.spec,
        mapping.pack_spec,
        mapping.unit,
        mapping.memo,
        _text(mapping.uploaded_at) if mapping.uploaded_at else None,
    )


def _mapping(row: tuple[Any, ...]) -> CatalogueMapping:
    sku, name, code, list_type, begins, ends, approval_no, dosage_form = row[:8]
    spec, pack_spec, unit, memo, uploaded_at = row[8:]
    begun = _day(begins)
    assert begun is not None  # NOT NULL in the schema
    return CatalogueMapping(
        sku=sku,
        name=name,
        national_code=code,
        list_type=list_type,
        begins=begun,
        ends=_day(ends),
        approval_no=approval_no,
        dosage_form=dosage_form,
        spec=spec,
        pack_spec=pack_spec,
        unit=unit,
        memo=memo,
        uploaded_at=_time(uploaded_at),
    )


def _text(moment: datetime.datetime) -> str:
    return beijing.in_beijing(moment).strftime(_TIME)


def _time(text: str | None) -> datetime.datetime | None:
    if not text:
        return None
    return datetime.datetime.strptime(text, _TIME).replace(tzinfo=beijing.BEIJING)


def _day_text(day: datetime.date | None) -> str | None:
    return day.isoformat() if day is not None else None


def _day(text: str | None) -> datetime.date | None:
    return datetime.date.fromisoformat(text) if text else None
