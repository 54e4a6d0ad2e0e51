"""What a journal refuses to open: another schema version, another program's database, a
file that is not SQLite, a row of another format; and how SQLite is set up."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from gongji import ConfigError
from gongji.journal import EntryState, SqliteJournal, default_journal_path
from gongji.journal.postgres import PostgresJournal
from tests.journal.conftest import Backend, bare_entry, full_entry, postgres_dsn


def test_a_journal_of_another_schema_version_is_refused_unchanged(durable: Backend) -> None:
    durable.open().put(full_entry("K-1"))
    durable.execute("UPDATE {s}.meta SET value = '99' WHERE name = 'schema_version'")
    with pytest.raises(ConfigError, match="has schema version 99; this gongji reads version 3"):
        durable.open()
    rows = dict(
        (table, row)
        for table, row in durable.dump()
        if table == "meta" and row[0] == "schema_version"
    )
    assert rows["meta"][1] == "99"
    assert any(table == "entries" for table, _ in durable.dump())


def test_a_row_of_another_format_version_is_refused(durable: Backend) -> None:
    journal = durable.open()
    journal.put(bare_entry("K-1", EntryState.SETTLED))
    if durable.name == "sqlite":
        durable.execute("UPDATE {s}.entries SET document = replace(document, '\"v\":1', '\"v\":2')")
    else:
        durable.execute("UPDATE {s}.entries SET document = jsonb_set(document, '{v}', '2')")
    with pytest.raises(ConfigError, match="has format version 2; this gongji reads version 1"):
        journal.get("K-1")


def test_another_programs_sqlite_database_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "mock.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE state (name TEXT)")
    with pytest.raises(ConfigError, match="is an SQLite database, but not a gongji journal"):
        SqliteJournal(path)
    with sqlite3.connect(path) as db:
        assert [r[0] for r in db.execute("SELECT name FROM sqlite_master")] == ["state"]


def test_a_file_that_is_not_sqlite_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("not a database at all, not even close " * 100, encoding="utf-8")
    with pytest.raises(ConfigError, match="is not an SQLite database"):
        SqliteJournal(path)


def test_sqlite_journal_is_wal_and_synchronous_full_by_default(tmp_path: Path) -> None:
    with SqliteJournal(tmp_path / "full.sqlite3") as full:
        assert full._connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert full._connection.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    with SqliteJournal(tmp_path / "normal.sqlite3", synchronous="NORMAL") as normal:
        assert normal._connection.execute("PRAGMA synchronous").fetchone()[0] == 1
        assert normal.acquire("K-1")  # lease writes switch modes and switch back
        assert normal._connection.execute("PRAGMA synchronous").fetchone()[0] == 1
    with pytest.raises(ConfigError, match="synchronous mode 'OFF' is not offered"):
        SqliteJournal(tmp_path / "off.sqlite3", synchronous="OFF")  # type: ignore[arg-type]


def test_the_default_path_is_per_user_and_honours_xdg_data_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert default_journal_path() == tmp_path / "data" / "gongji" / "journal.sqlite3"
    monkeypatch.setenv("XDG_DATA_HOME", "relative/ignored")
    assert default_journal_path() == Path.home() / ".local" / "share" / "gongji" / "journal.sqlite3"
    monkeypatch.delenv("XDG_DATA_HOME")
    assert default_journal_path() == Path.home() / ".local" / "share" / "gongji" / "journal.sqlite3"


def test_opening_without_create_refuses_a_journal_that_is_not_there(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="There is no journal at"):
        SqliteJournal(tmp_path / "missing.sqlite3", create=False)
    assert not (tmp_path / "missing.sqlite3").exists()


def test_opening_without_create_refuses_a_postgres_schema_that_is_not_there() -> None:
    with pytest.raises(ConfigError, match=r"journal at .*\(schema never_made\) does not exist"):
        PostgresJournal(postgres_dsn(), schema="never_made", create=False)


def test_a_postgres_schema_name_is_a_plain_name() -> None:
    with pytest.raises(ConfigError, match="not a plain lower-case name"):
        PostgresJournal("host=127.0.0.1", schema='gongji"; DROP TABLE x; --')
