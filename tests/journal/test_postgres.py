"""What only the PostgreSQL journal has to face: a server that drops the connection, and a
server that is not there (whose error must not repeat the DSN's password)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from gongji import JournalUnavailable
from gongji.journal import EntryState, JournalKey
from gongji.journal.postgres import PostgresJournal
from tests.journal.conftest import Backend, bare_entry, postgres_dsn


@pytest.fixture
def postgres(tmp_path: Path) -> Iterator[Backend]:
    store = Backend("postgres", tmp_path)
    yield store
    store.close()


def test_a_connection_the_server_dropped_is_opened_again(postgres: Backend) -> None:
    journal = postgres.open()
    journal.put(bare_entry("K-1", EntryState.CENTRE_PENDING))
    with psycopg.connect(postgres.dsn, autocommit=True) as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE application_name = 'gongji-journal' AND pid <> pg_backend_pid()"
        )
    journal.put(bare_entry("K-1", EntryState.FAILED))  # on a new connection
    assert journal.get("K-1") == bare_entry("K-1", EntryState.FAILED)


def test_a_server_that_is_not_there_is_unavailable_and_the_password_is_not_said() -> None:
    postgres_dsn()  # the PostgreSQL cases run together, or skip together
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    dsn = f"postgresql://till:hunter2secret@127.0.0.1:{port}/gongji"
    with pytest.raises(JournalUnavailable, match=f"127.0.0.1:{port}/gongji") as failed:
        PostgresJournal(dsn, key=JournalKey.generate(), connect_timeout=2)
    assert "hunter2secret" not in str(failed.value) and "hunter2secret" not in repr(failed.value)
