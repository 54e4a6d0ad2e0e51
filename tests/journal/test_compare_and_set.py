"""Compare-and-set on the lease: a flow whose lease ran out, and was taken over, writes nothing.

A sale's flow holds its key's lease; a lease has an expiry, so a flow that stalls past it
(a hung disk, a debugger, a suspended VM) may find that ``recover()`` or a same-key
retry took the sale over meanwhile. Its next journal write must not land over what they
did: the journal checks, in the write's own transaction, that the writer still holds
the lease (``put(held=True)``), and refuses with ``LeaseLost`` otherwise.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from gongji import Cash, LeaseLost, SettlementClient
from gongji.flows import settle as flows
from gongji.journal import EntryState, codec
from gongji.journal.commits import Job
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
