"""Which journal a client gets: SQLite at the per-user path by default, a MemoryJournal for
the mock profile, and whatever a profile's [journal] table says."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest

from gongji import Cash, ConfigError, SettlementClient
from gongji.journal import JournalKey, MemoryJournal, PostgresJournal, SqliteJournal
from gongji_mock import MockGateway
from gongji_mock.gateway import DEFAULT_TIF_SECRET
from tests.client.conftest import MOTHER, scanned_purchase
from tests.client.test_config import PROFILE
from tests.journal.conftest import postgres_dsn


def profile(tmp_path: Path, journal: str = "") -> Path:
    path = tmp_path / "gongji.toml"
    (tmp_path / "tif.secret").write_text(DEFAULT_TIF_SECRET, "utf-8")
    text = PROFILE.format(secret='secret_file = "tif.secret"')  # beside gongji.toml
    path.write_text(text + ("\n[profiles.dalian.journal]\n" + journal if journal else ""), "utf-8")
    return path


def test_a_client_without_a_journal_keeps_one_in_sqlite_at_the_per_user_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    mock = MockGateway.demo()
    with SettlementClient.from_config(
        profile(tmp_path), profile="dalian", transport=mock.transport()
    ) as client:
        journal = client.journal
        assert isinstance(journal, SqliteJournal)
        assert journal.path == tmp_path / "data" / "gongji" / "journal.sqlite3"
        receipt = client.settle(scanned_purchase(MOTHER), key="DEFAULT-1", cash=Cash.counter())
    # The client opened it, so the client closed it; the sale is on disk.
    with SqliteJournal(tmp_path / "data" / "gongji" / "journal.sqlite3") as reopened:
        assert reopened.get("DEFAULT-1").receipt == receipt


def test_the_mock_profile_keeps_its_journal_in_memory() -> None:
    with SettlementClient.from_profile("mock") as client:
        assert isinstance(client.journal, MemoryJournal)


def test_a_journal_passed_in_is_used_and_left_open(tmp_path: Path) -> None:
    journal = SqliteJournal(tmp_path / "mine.sqlite3")
    with SettlementClient.from_profile("mock", journal=journal) as client:
        client.settle(scanned_purchase(MOTHER), key="MINE-1", cash=Cash.counter())
    assert journal.get("MINE-1") is not None  # still open: it is the caller's
    journal.close()


def test_a_profile_journal_table_names_the_sqlite_file_relative_to_the_profile(
    tmp_path: Path,
) -> None:
    path = profile(tmp_path, 'path = "till/journal.sqlite3"\nsynchronous = "normal"\n')
    with SettlementClient.from_config(path, profile="dalian") as client:
        journal = client.journal
        assert isinstance(journal, SqliteJournal)
        assert journal.path == tmp_path / "till" / "journal.sqlite3"
        assert journal.synchronous == "NORMAL"
        assert journal.key_file == tmp_path / "till" / "journal.sqlite3.key"


def test_a_profile_may_keep_its_journal_in_memory(tmp_path: Path) -> None:
    with SettlementClient.from_config(
        profile(tmp_path, 'kind = "memory"\n'), profile="dalian"
    ) as client:
        assert isinstance(client.journal, MemoryJournal)


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('kind = "redis"\n', "kind 'redis' is not a journal kind"),
        ('path = "j.sqlite3"\ndsn_env = "X"\n', "does not take: dsn_env"),
        ('synchronous = "OFF"\n', "synchronous must be 'FULL' or 'NORMAL'"),
        (
            'kind = "postgres"\ndsn_env = "GONGJI_TEST_UNSET_DSN"\nkey_env = "K"\n',
            "GONGJI_TEST_UNSET_DSN is not set",
        ),
        ('kind = "postgres"\ndsn_env = "PATH"\n', "names no journal key"),
        (
            'kind = "postgres"\ndsn = "host=db user=till"\ndsn_env = "X"\nkey_env = "K"\n',
            "exactly one of dsn, dsn_env and dsn_file",
        ),
    ],
)
def test_a_journal_table_that_cannot_be_right_is_refused(
    tmp_path: Path, table: str, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        SettlementClient.from_config(profile(tmp_path, table), profile="dalian")


def test_a_password_in_the_profile_is_refused_and_not_repeated(tmp_path: Path) -> None:
    table = 'kind = "postgres"\ndsn = "postgresql://till:hunter2secret@db/gongji"\nkey_env = "K"\n'
    with pytest.raises(ConfigError, match="holds a password") as refused:
        SettlementClient.from_config(profile(tmp_path, table), profile="dalian")
    assert "hunter2secret" not in str(refused.value)


def test_a_profile_names_the_chains_postgres_journal_and_its_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dsn = postgres_dsn()
    schema = f"profile_{secrets.token_hex(4)}"
    monkeypatch.setenv("GONGJI_TEST_JOURNAL_DSN", dsn)
    monkeypatch.setenv("GONGJI_TEST_JOURNAL_KEY", JournalKey.generate().text())
    table = (
        'kind = "postgres"\ndsn_env = "GONGJI_TEST_JOURNAL_DSN"\n'
        'key_env = "GONGJI_TEST_JOURNAL_KEY"\n'
        f'schema = "{schema}"\nlease_seconds = 120\n'
    )
    mock = MockGateway.demo()
    try:
        with SettlementClient.from_config(
            profile(tmp_path, table), profile="dalian", transport=mock.transport()
        ) as client:
            journal = client.journal
            assert isinstance(journal, PostgresJournal)
            assert journal.schema == schema and journal.lease_seconds == 120
            receipt = client.settle(scanned_purchase(MOTHER), key="CHAIN-1", cash=Cash.counter())
            assert journal.get("CHAIN-1").receipt == receipt
            assert dsn not in repr(journal)
    finally:
        import psycopg

        with psycopg.connect(dsn, autocommit=True) as db:
            db.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")  # type: ignore[arg-type]
