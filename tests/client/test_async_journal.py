"""The async driver never blocks its event loop on the journal (issue 15, item 9): a
durable journal's writes are handed to its group commit, and its reads run in threads
of the driver's own; the loop goes on with other work while a commit is under way."""

from __future__ import annotations

import asyncio
import datetime
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest

from gongji import AsyncSettlementClient, Cash, Credential, Fen, LineItem, Purchase
from gongji.flows.setup import Polling
from gongji.journal import EntryState, SqliteJournal
from gongji.journal.commits import Commit, Job
from gongji.off_loop import handed_over
from gongji_mock import MockGateway
from tests.journal.holder import INSTITUTION

AT = datetime.datetime(2026, 11, 23, 2, 15, 30, tzinfo=datetime.UTC)
SALE = Purchase(
    credential=Credential.id_card("210202195809120046"),
    items=[LineItem(code="XA01", name="药品", unit_price=Fen(1_000), quantity=1, coverage="C")],
)


class HeldCommits:
    """Holds every commit of ``journal`` until the loop lets it go: a commit that the
    loop waited on would never be let go. A batch run whole is held before it starts; a
    batch opened on the loop, at its commit (the flush, in the committer thread)."""

    def __init__(self, journal: SqliteJournal, monkeypatch: pytest.MonkeyPatch) -> None:
        self.gate = threading.Event()
        self.waiting = threading.Event()
        self.timed_out = False
        batch, opened = journal._batch, journal._open

        def hold() -> None:
            self.waiting.set()
            if not self.gate.wait(timeout=10):
                self.timed_out = True

        def held(jobs: list[Job], owners: Any, durable: bool) -> None:
            hold()
            batch(jobs, owners, durable)

        def held_open(jobs: list[Job], owners: Any, durable: bool) -> Commit | None:
            commit = opened(jobs, owners, durable)
            if commit is None:
                return None

            def held_commit() -> None:
                hold()
                commit()

            return held_commit

        monkeypatch.setattr(journal, "_batch", held)
        monkeypatch.setattr(journal, "_open", held_open)


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


def test_the_loop_never_waits_for_a_write_lock_another_process_holds(tmp_path: Path) -> None:
    """A batch is opened on the loop only when the file's write lock is free at once;
    held by another connection (``gongji journal recover`` beside the POS), the batch goes
    whole to the committer thread, which waits for it: the loop runs on meanwhile. Only
    the loop's turning lets the lock go: a loop that waited for it would turn no more
    until the holder gave up (the deadlock breaker below, sooner than the busy timeout)."""
    journal = SqliteJournal(tmp_path / "journal.sqlite3", busy_timeout=120)
    other = sqlite3.connect(
        tmp_path / "journal.sqlite3", isolation_level=None, check_same_thread=False
    )
    other.execute("BEGIN IMMEDIATE")  # the write lock, held
    turned = threading.Event()
    gave_up: list[bool] = []

    def holder() -> None:
        gave_up.append(not turned.wait(timeout=20))
        other.execute("COMMIT")

    releasing = threading.Thread(target=holder)
    releasing.start()

    async def run() -> Any:
        taken = handed_over(lambda tell, soon: journal.acquire_later("LOCKED-1", tell, soon))
        for _ in range(200):  # the loop turns while the lock is held elsewhere
            await asyncio.sleep(0)
        turned.set()
        return await asyncio.wait_for(taken, timeout=60)

    assert asyncio.run(run()) is True
    releasing.join()
    other.close()
    journal.close()
    assert gave_up == [False]  # the loop turned while the lock was held


def test_an_async_sale_waiting_for_a_msgid_block_is_given_an_id_no_other_message_has(
    tmp_path: Path,
) -> None:
    """Many sales ask for ids at once on a fresh journal: those the first block cannot
    serve wait (without a thread each) for the next, reserved for them all at once; every
    id is given once and is durable (a successor numbers after them)."""
    journal = SqliteJournal(tmp_path / "journal.sqlite3")
    asked = 60

    async def run() -> list[Any]:
        return list(
            await asyncio.gather(
                *(
                    handed_over(
                        lambda tell, soon: journal.allocate_later(
                            INSTITUTION, AT, durable=False, tell=tell, soon=soon
                        )
                    )
                    for _ in range(asked)
                )
            )
        )

    before = journal.durable_commits
    ids = asyncio.run(run())
    assert len(set(ids)) == asked and all(i.startswith(INSTITUTION) for i in ids)
    assert journal.durable_commits - before <= 3  # a block for the first, one for the rest
    journal._commits.stop()  # a crash: no clean close gives the unused ids back
    successor = SqliteJournal(tmp_path / "journal.sqlite3")
    assert successor.allocate_msgid(INSTITUTION, AT) > max(ids)
    successor.close()


def test_a_durable_msgid_handed_over_is_told_only_once_its_owner_row_is_flushed(
    tmp_path: Path,
) -> None:
    journal = SqliteJournal(tmp_path / "journal.sqlite3")

    async def run() -> Any:
        return await handed_over(
            lambda tell, soon: journal.allocate_later(
                INSTITUTION, AT, key="OWNED-1", purpose="2601", durable=True, tell=tell, soon=soon
            )
        )

    msgid = asyncio.run(run())
    reader = sqlite3.connect(tmp_path / "journal.sqlite3")
    row = reader.execute("SELECT key, purpose FROM msgids WHERE msgid = ?", (msgid,)).fetchone()
    reader.close()
    journal.close()
    assert row == ("OWNED-1", "2601")


def test_a_failed_msgid_reservation_is_told_to_the_sales_waiting_for_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gongji import JournalUnavailable

    journal = SqliteJournal(tmp_path / "journal.sqlite3")

    def full_disk(request: Any, size: int) -> Any:
        def reserve(db: Any) -> None:
            raise JournalUnavailable("The journal's disk is full.")

        return reserve

    monkeypatch.setattr(journal, "_reserve", full_disk)

    async def run() -> Any:
        return await asyncio.wait_for(
            handed_over(
                lambda tell, soon: journal.allocate_later(
                    INSTITUTION, AT, durable=False, tell=tell, soon=soon
                )
            ),
            timeout=30,
        )

    with pytest.raises(JournalUnavailable, match="disk is full"):
        asyncio.run(run())
    journal.close()


def test_one_journal_serves_async_sales_on_one_event_loop_after_another(tmp_path: Path) -> None:
    """A POS that runs each sale with its own ``asyncio.run`` keeps one journal: writes a
    closed loop left queued (its last release) are committed all the same, and the next
    loop's sales are served."""
    journal = SqliteJournal(tmp_path / "journal.sqlite3")
    mock = MockGateway.demo()

    async def one(n: int) -> Any:
        client = AsyncSettlementClient.from_profile(
            "mock", mock=mock, journal=journal, polling=Polling(interval_ms=0)
        )
        receipt = await asyncio.wait_for(
            client.settle(SALE, key=f"LOOPS-{n}", cash=Cash.counter()), timeout=30
        )
        await client.aclose()
        return receipt

    receipts = [asyncio.run(one(n)) for n in range(3)]
    journal.close()
    reopened = SqliteJournal(tmp_path / "journal.sqlite3")
    states = [reopened.get(f"LOOPS-{n}") for n in range(3)]
    reopened.close()
    assert len({receipt.settlement_id for receipt in receipts}) == 3
    assert all(entry is not None and entry.state is EntryState.SETTLED for entry in states)
