"""Compare-and-set on the lease: a flow whose lease ran out, and was taken over, writes nothing.

A sale's flow holds its key's lease; a lease has an expiry, so a flow that stalls past it
(a hung disk, a debugger, a suspended VM) may find that ``recover()`` or a same-key
retry took the sale over meanwhile. Its next journal write must not land over what they
did: the journal checks, in the write's own transaction, that the writer still holds
the lease (``put(held=True)``), and refuses with ``LeaseLost`` otherwise.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from gongji import Cash, JournalUnavailable, LeaseLost, SettlementClient
from gongji.flows import settle as flows
from gongji.journal import EntryState, codec
from gongji.journal.commits import Job
from gongji.journal.sqlite import SqliteJournal, _atomic
from gongji_mock import MockGateway
from tests.client.conftest import FAST_POLLING, MOTHER, WECHAT_PAID, purchase
from tests.client.test_saga_races import finish, standing, step_until
from tests.journal.conftest import Backend, bare_entry

KEY = "CAS-0001"


def till(durable: Backend, mock: MockGateway) -> SettlementClient:
    """A till on the shared journal: a journal object (a lease holder) of its own."""
    return SettlementClient.from_profile(
        "mock", mock=mock, journal=durable.open(), polling=FAST_POLLING
    )


def test_a_flow_whose_lease_expired_cannot_overwrite_the_sale_recover_settled(
    durable: Backend,
) -> None:
    mock = MockGateway.demo()
    http = httpx.Client(transport=mock.transport())
    stalled, other = till(durable, mock), till(durable, mock)
    # The first till journals the sale (centre_pending) and stalls before sending its 2102.
    sale = flows.settle(stalled.setup, purchase(MOTHER), KEY, Cash.wechat(WECHAT_PAID))
    settlement = step_until(sale, http, b'"infno":"2102"')
    durable.age_leases(10_000)  # its lease runs out meanwhile
    # Another till recovers the sale (reversed: nothing charged), and the customer's retry
    # with the key settles it there.
    assert [e.state for e in other.recover()] == [EntryState.FAILED]
    receipt = other.settle(purchase(MOTHER), key=KEY, cash=Cash.wechat(WECHAT_PAID))
    settled = other.journal.get(KEY)
    assert settled is not None and settled.state is EntryState.SETTLED
    # The stalled flow wakes up: its next write is refused, and nothing is written over.
    with pytest.raises(LeaseLost, match="took the sale over"):
        finish(sale, settlement, http)
    assert stalled.journal.get(KEY) == settled
    assert standing(mock) == 1 and mock.wechatpay.collected() == receipt.cash
    assert mock.check() == []


def test_a_put_held_without_the_lease_writes_nothing(backend: Backend) -> None:
    journal, other = backend.open(), backend.open()
    first = bare_entry(KEY, EntryState.CENTRE_PENDING)
    assert journal.acquire(KEY)
    journal.put(first, held=True)  # held: written
    journal.release(KEY)
    with pytest.raises(LeaseLost):  # released: refused before anything is sent
        journal.put(bare_entry(KEY, EntryState.FAILED), held=True)
    if backend.durable:  # taken over in the store: refused in the write's transaction
        assert journal.acquire(KEY)
        backend.age_leases(10_000)
        assert other.acquire(KEY)
        with pytest.raises(LeaseLost):
            journal.put(bare_entry(KEY, EntryState.FAILED), held=True)
        other.release(KEY)
        journal.release(KEY)
    assert journal.get(KEY) == first


def test_a_refused_write_leaves_the_others_of_its_group_commit(durable: Backend) -> None:
    """Writes committed together (one transaction, one flush): one refused, its lease
    lost, is rolled back alone, and every other write of the batch stands."""
    journal: Any = durable.open()  # its group commit's batch, run here by hand
    keys = [f"GROUP-{n:02d}" for n in range(6)]
    for key in keys:
        assert journal.acquire(key)
    lost = set(keys[::2])
    for key in lost:  # taken over: their lease rows are another holder's now
        durable.execute(
            "UPDATE {s}.leases SET owner = 'another' WHERE key = " + PLACE[durable.name],  # noqa: S608
            key,
        )
    batch = [
        Job(journal._put(*row_of(journal, key), renew=False, held=True), durable=True)
        for key in keys
    ]
    journal._run_batch(batch)
    refused = {key for key, job in zip(keys, batch, strict=True) if job.error is not None}
    assert refused == lost
    assert all(isinstance(job.error, LeaseLost) for job in batch if job.error is not None)
    assert {entry.key for entry in journal.entries()} == set(keys) - lost


PLACE = {"sqlite": "?", "postgres": "%s"}


def row_of(journal: Any, key: str) -> tuple[Any, bytes]:
    row = codec.row_of(bare_entry(key, EntryState.CENTRE_PENDING), journal._sealer)
    return codec.columns(row), codec.encode_row(row)


def note(name: str) -> Any:
    """A job's work: one row of its own (in ``meta``, a table no batch writes)."""

    def write(db: Any) -> None:
        db.execute("INSERT INTO meta (name, value) VALUES (?, 'x')", (name,))

    return write


def test_a_job_of_several_writes_is_undone_whole_and_alone_in_its_batch(tmp_path: Path) -> None:
    """No job of an SQLite batch has a savepoint of its own: a work of several writes
    makes them one (``_atomic``), so one that fails half-way leaves nothing of its own and
    every other job's write."""
    journal: Any = SqliteJournal(tmp_path / "journal.sqlite3")

    def half_way(db: Any) -> None:
        with _atomic(db):
            note("half-1")(db)
            raise LeaseLost("taken over half-way")

    batch = [
        Job(note("before"), durable=True),
        Job(half_way, durable=True),
        Job(note("after"), durable=True),
    ]
    journal._run_batch(batch)
    names = {row[0] for row in journal._connection.execute("SELECT name FROM meta")}
    journal.close()
    assert isinstance(batch[1].error, LeaseLost)
    assert {"before", "after"} <= names and "half-1" not in names


def test_a_batch_sqlite_rolled_back_whole_fails_whole_and_commits_nothing(tmp_path: Path) -> None:
    """SQLite rolls a whole transaction back on some errors (a full disk): the batch's
    later writes must then not commit one by one, and every job hears that it failed."""
    journal: Any = SqliteJournal(tmp_path / "journal.sqlite3")

    def rolled_back(db: Any) -> None:
        db.execute("ROLLBACK")  # as SQLite does by itself on such an error

    batch = [
        Job(note("before"), durable=True),
        Job(rolled_back, durable=True),
        Job(note("after"), durable=True),
    ]
    with pytest.raises(JournalUnavailable):
        journal._run_batch(batch)
    names = {row[0] for row in journal._connection.execute("SELECT name FROM meta")}
    journal.close()
    assert not {"before", "after"} & names
