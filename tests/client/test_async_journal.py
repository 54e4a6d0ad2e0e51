"""The async driver never blocks its event loop on the journal (issue 15, item 9): a
durable journal's writes are handed to its group commit, and its reads run in threads
of the driver's own; the loop goes on with other work while a commit is under way."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import pytest

from gongji import AsyncSettlementClient, Cash, Credential, Fen, LineItem, Purchase
from gongji.flows.setup import Polling
from gongji.journal import EntryState, SqliteJournal
from gongji.journal.commits import Job
from gongji_mock import MockGateway

SALE = Purchase(
    credential=Credential.id_card("210202195809120046"),
    items=[LineItem(code="XA01", name="药品", unit_price=Fen(1_000), quantity=1, coverage="C")],
)


class HeldCommits:
    """Holds every commit of ``journal`` until the loop lets it go: a commit that the
    loop waited on would never be let go."""

    def __init__(self, journal: SqliteJournal, monkeypatch: pytest.MonkeyPatch) -> None:
        self.gate = threading.Event()
        self.waiting = threading.Event()
        self.timed_out = False
        batch = journal._batch

        def held(jobs: list[Job], owners: Any, durable: bool) -> None:
            self.waiting.set()
            if not self.gate.wait(timeout=10):
                self.timed_out = True
            batch(jobs, owners, durable)

        monkeypatch.setattr(journal, "_batch", held)


def test_the_async_driver_goes_on_with_other_work_while_a_journal_commit_is_under_way(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    journal = SqliteJournal(tmp_path / "journal.sqlite3")
    client = AsyncSettlementClient.from_profile(
        "mock", mock=MockGateway.demo(), journal=journal, polling=Polling(interval_ms=0)
    )
    held = HeldCommits(journal, monkeypatch)

    async def run() -> Any:
        sale = asyncio.create_task(client.settle(SALE, key="ASYNC-0001", cash=Cash.counter()))
        turns = 0
        while not held.waiting.is_set():  # the sale reaches its first journal write
            await asyncio.sleep(0)
            turns += 1
            assert turns < 100_000, "the sale never wrote to the journal"
        for _ in range(100):  # the loop runs on while that write's commit is held
            await asyncio.sleep(0)
        assert not sale.done()
        held.gate.set()  # only the loop can let the commit go
        return await sale

    receipt = asyncio.run(run())
    asyncio.run(client.aclose())
    assert not held.timed_out  # no commit waited for the loop to let it go
    assert receipt.settlement_id
    reopened = SqliteJournal(tmp_path / "journal.sqlite3")
    found = reopened.get("ASYNC-0001")
    reopened.close()
    assert found is not None and found.state is EntryState.SETTLED


def test_concurrent_async_sales_share_the_journals_commits(tmp_path: Path) -> None:
    journal = SqliteJournal(tmp_path / "journal.sqlite3")
    client = AsyncSettlementClient.from_profile(
        "mock", mock=MockGateway.demo(), journal=journal, polling=Polling(interval_ms=0)
    )
    sales = 20

    async def run() -> list[Any]:
        await client.settle(SALE, key="ASYNC-WARM", cash=Cash.counter())
        before = journal.durable_commits
        receipts = await asyncio.gather(
            *(client.settle(SALE, key=f"ASYNC-{n:04d}", cash=Cash.counter()) for n in range(sales))
        )
        commits.append(journal.durable_commits - before)
        await client.aclose()
        return receipts

    commits: list[int] = []
    receipts = asyncio.run(run())
    assert len({r.settlement_id for r in receipts}) == sales
    # A counter sale writes its entry durably twice (before the 2102, and settled): apart,
    # that is 2 commits a sale; waiting together, their writes share commits.
    assert commits[0] < 2 * sales


def test_a_sale_reads_its_entry_in_the_commit_that_takes_its_lease_not_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gongji import SettlementClient

    journal = SqliteJournal(tmp_path / "journal.sqlite3")
    client = SettlementClient.from_profile(
        "mock", mock=MockGateway.demo(), journal=journal, polling=Polling(interval_ms=0)
    )
    looked_up: list[str] = []
    select_one = journal._select_one

    def counted(column: str, value: str) -> Any:
        looked_up.append(column)
        return select_one(column, value)

    monkeypatch.setattr(journal, "_select_one", counted)
    first = client.settle(SALE, key="READ-0001", cash=Cash.counter())
    again = client.settle(SALE, key="READ-0001", cash=Cash.counter())  # a retry: settled
    client.close()
    assert again == first  # the retry found the settled entry, read with its lease
    assert "key" not in looked_up  # no sale read its entry apart from taking the lease
