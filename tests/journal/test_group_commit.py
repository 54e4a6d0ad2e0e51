"""Group commit (issue 15, item 9): the writes waiting together share one transaction and
one flush, and no write is acknowledged before the commit that holds it."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest

from gongji.journal.commits import GroupCommit, Job


class Store:
    """A batch runner that records each batch and can hold the first one at its commit."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.committed: set[str] = set()
        self.gate = threading.Event()

    def run(self, jobs: list[Job]) -> None:
        names = [job.work(None) for job in jobs]
        self.batches.append(names)
        if len(self.batches) == 1:
            self.gate.wait(timeout=30)  # the first commit takes its time (an fsync)
        for job, name in zip(jobs, names, strict=True):
            if name == "refused":
                job.error = ValueError("refused")
            else:
                job.value = name
        self.committed.update(names)


def queued(commits: GroupCommit, count: int) -> None:
    """Wait until ``count`` writes wait for the commit under way (they are blocked)."""
    for _ in range(30_000):
        with commits._turn:
            if len(commits._queue) == count:
                return
        time.sleep(0.001)
    raise AssertionError("the writes never queued")


def test_writes_waiting_together_share_one_commit_acknowledged_after_it() -> None:
    commits, store = GroupCommit(), Store()
    answers: dict[str, Any] = {}

    def write(name: str, durable: bool) -> None:
        try:
            answers[name] = commits.submit(store.run, lambda db: name, durable=durable)
        except ValueError as error:
            answers[name] = error

    first = threading.Thread(target=write, args=("first", True))
    first.start()
    while not store.batches:  # the first write leads, and its commit is under way
        time.sleep(0.001)
    others = [
        threading.Thread(target=write, args=(name, False))
        for name in ("second", "third", "refused")
    ]
    for thread in others:
        thread.start()
    queued(commits, 3)
    assert answers == {}  # nothing acknowledged while the commit holding it runs
    store.gate.set()
    for thread in [first, *others]:
        thread.join(timeout=30)
    assert store.batches == [["first"], ["second", "third", "refused"]]
    assert answers["first"] == "first" and answers["second"] == "second"
    assert isinstance(answers["refused"], ValueError)  # refused alone
    assert (commits.commits, commits.durable_commits) == (2, 1)


def test_a_batch_that_fails_fails_every_write_in_it() -> None:
    commits = GroupCommit()

    def broken(jobs: list[Job]) -> None:
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        commits.submit(broken, lambda db: None, durable=True)
    assert (commits.commits, commits.durable_commits) == (0, 0)


class Told:
    """What a write handed over with ``submit_later`` was told, and when."""

    def __init__(self) -> None:
        self.outcomes: dict[str, Any] = {}
        self.all_told = threading.Event()
        self.expected = 0

    def tell(self, name: str) -> Any:
        def told(value: Any, error: BaseException | None) -> None:
            self.outcomes[name] = error if error is not None else value
            if len(self.outcomes) == self.expected:
                self.all_told.set()

        return told


def test_writes_handed_over_are_told_only_once_the_commit_holding_them_is_done() -> None:
    commits, store, told = GroupCommit(), Store(), Told()
    told.expected = 4
    commits.submit_later(store.run, lambda db: "first", durable=True, tell=told.tell("first"))
    while not store.batches:  # the committer thread leads it, and its commit is under way
        time.sleep(0.001)
    for name in ("second", "third", "refused"):
        commits.submit_later(store.run, lambda db, n=name: n, durable=False, tell=told.tell(name))
    queued(commits, 3)
    assert told.outcomes == {}  # the caller did not wait, and nothing is told before its commit
    store.gate.set()
    assert told.all_told.wait(timeout=30)
    assert store.batches == [["first"], ["second", "third", "refused"]]
    assert told.outcomes["first"] == "first" and told.outcomes["third"] == "third"
    assert isinstance(told.outcomes["refused"], ValueError)  # refused alone
    assert (commits.commits, commits.durable_commits) == (2, 1)
    commits.stop()


def test_a_write_waited_for_and_writes_handed_over_share_one_commit() -> None:
    commits, store, told = GroupCommit(), Store(), Told()
    told.expected = 2
    commits.submit_later(store.run, lambda db: "held", durable=True, tell=told.tell("held"))
    while not store.batches:
        time.sleep(0.001)
    commits.submit_later(store.run, lambda db: "later", durable=False, tell=told.tell("later"))
    waited: list[Any] = []
    waiter = threading.Thread(
        target=lambda: waited.append(commits.submit(store.run, lambda db: "waited", durable=True))
    )
    waiter.start()
    queued(commits, 2)
    store.gate.set()
    waiter.join(timeout=30)
    assert told.all_told.wait(timeout=30)
    assert waited == ["waited"] and told.outcomes == {"held": "held", "later": "later"}
    assert sorted(store.batches[1]) == ["later", "waited"]  # whichever led, one commit for both
    commits.stop()


def test_a_write_handed_over_after_the_journal_stopped_is_told_it_failed() -> None:
    from gongji.errors import JournalUnavailable

    commits, store, told = GroupCommit(), Store(), Told()
    told.expected = 1
    commits.stop()
    commits.submit_later(store.run, lambda db: "late", durable=True, tell=told.tell("late"))
    assert isinstance(told.outcomes["late"], JournalUnavailable)
    assert store.batches == []


class Opened:
    """A journal's batches split: statements (``open``) where they are opened, each
    commit held at a gate; records the threads each part ran in."""

    def __init__(self, *, opens: bool = True, commit_fails: bool = False) -> None:
        self.opens = opens
        self.commit_fails = commit_fails
        self.opened: list[tuple[list[str], str]] = []  # names, thread
        self.committed: list[tuple[list[str], str]] = []
        self.whole: list[tuple[list[str], str]] = []
        self.gate = threading.Event()

    def run(self, jobs: list[Job]) -> None:
        self.whole.append(([job.work(None) for job in jobs], threading.current_thread().name))
        for job in jobs:
            job.value = job.work(None)

    def open(self, jobs: list[Job]) -> Any:
        if not self.opens:
            return None
        names = [job.work(None) for job in jobs]
        self.opened.append((names, threading.current_thread().name))
        for job in jobs:
            job.value = job.work(None)

        def commit() -> None:
            self.gate.wait(timeout=30)
            if self.commit_fails:
                raise OSError("disk full")
            self.committed.append((names, threading.current_thread().name))

        return commit


def hand_over(commits: GroupCommit, store: Opened, names: list[str]) -> list[asyncio.Future[Any]]:
    """Each name's write handed over from the running loop, its batch opened there."""
    loop = asyncio.get_running_loop()
    futures = []
    for name in names:
        future: asyncio.Future[Any] = loop.create_future()

        def told(value: Any, error: BaseException | None, future: Any = future) -> None:
            loop.call_soon_threadsafe(
                future.set_exception if error is not None else future.set_result,
                error if error is not None else value,
            )

        commits.submit_later(
            store.run,
            lambda db, n=name: n,
            durable=True,
            tell=told,
            open_batch=store.open,
            soon=loop.call_soon_threadsafe,
        )
        futures.append(future)
    return futures


def test_a_batch_handed_over_from_a_loop_runs_its_statements_there_and_its_commit_elsewhere() -> (
    None
):
    commits, store = GroupCommit(), Opened()

    async def run() -> list[Any]:
        first = hand_over(commits, store, ["a", "b"])
        for _ in range(1_000):  # opened at the loop's next turn, both writes in one batch
            if store.opened:
                break
            await asyncio.sleep(0)
        assert store.opened, "the batch was not opened on the loop"
        later = hand_over(commits, store, ["c"])  # while the commit is under way: queued
        for _ in range(50):
            await asyncio.sleep(0)
        assert not any(future.done() for future in first + later)  # told after the commit
        assert len(store.opened) == 1
        store.gate.set()
        return list(await asyncio.gather(*first, *later))

    loop_thread = threading.current_thread().name
    assert asyncio.run(run()) == ["a", "b", "c"]
    assert store.opened == [(["a", "b"], loop_thread), (["c"], loop_thread)]
    assert [names for names, _ in store.committed] == [["a", "b"], ["c"]]
    assert all(thread != loop_thread for _, thread in store.committed)  # the flush: elsewhere
    assert store.whole == []
    assert (commits.commits, commits.durable_commits) == (2, 2)
    commits.stop()


def test_a_batch_that_cannot_open_without_waiting_runs_whole_in_the_committer_thread() -> None:
    commits, store = GroupCommit(), Opened(opens=False)

    async def run() -> list[Any]:
        return list(await asyncio.gather(*hand_over(commits, store, ["a", "b"])))

    assert asyncio.run(run()) == ["a", "b"]
    assert store.opened == [] and [names for names, _ in store.whole] == [["a", "b"]]
    assert store.whole[0][1] == "gongji-journal-commit"
    commits.stop()


def test_a_commit_that_fails_fails_every_write_of_its_opened_batch() -> None:
    commits, store = GroupCommit(), Opened(commit_fails=True)
    store.gate.set()

    async def run() -> list[Any]:
        return list(
            await asyncio.gather(*hand_over(commits, store, ["a", "b"]), return_exceptions=True)
        )

    outcomes = asyncio.run(run())
    assert all(isinstance(outcome, OSError) for outcome in outcomes)
    assert (commits.commits, commits.durable_commits) == (0, 0)
    commits.stop()


def test_writes_of_a_loop_that_closed_before_opening_them_are_committed_by_the_thread() -> None:
    commits, store, told = GroupCommit(), Opened(), Told()
    told.expected = 1

    def closed(call: Any) -> None:
        raise RuntimeError("Event loop is closed")

    commits.submit_later(
        store.run,
        lambda db: "late",
        durable=False,
        tell=told.tell("late"),
        open_batch=store.open,
        soon=closed,
    )
    assert told.all_told.wait(timeout=30)
    assert told.outcomes == {"late": "late"} and store.opened == []
    assert [names for names, _ in store.whole] == [["late"]]
    commits.stop()


def test_writes_left_to_a_loop_that_never_opens_them_are_committed_by_the_thread() -> None:
    """A loop stopped for good (not closed) takes the opening and never runs it: the
    committer thread leads the writes once its patience is spent, so no sale waits on a
    loop that is gone."""
    commits, store, told = GroupCommit(), Opened(), Told()
    told.expected = 1
    never_run: list[Any] = []
    commits.submit_later(
        store.run,
        lambda db: "stranded",
        durable=False,
        tell=told.tell("stranded"),
        open_batch=store.open,
        soon=never_run.append,
    )
    assert told.all_told.wait(timeout=30)
    assert told.outcomes == {"stranded": "stranded"} and len(never_run) == 1
    assert [names for names, _ in store.whole] == [["stranded"]] and store.opened == []
    commits.stop()


def test_a_new_loops_writes_are_opened_there_while_a_gone_loops_opening_is_due() -> None:
    commits, store = GroupCommit(), Opened()
    store.gate.set()
    commits.submit_later(  # a loop gone for good: its opening is never run
        store.run,
        lambda db: "gone",
        durable=False,
        tell=lambda value, error: None,
        open_batch=store.open,
        soon=lambda call: None,
    )

    async def run() -> list[Any]:
        written = asyncio.gather(*hand_over(commits, store, ["here"]))
        return list(await asyncio.wait_for(written, timeout=30))

    outcome = asyncio.run(run())
    assert outcome == ["here"]
    assert store.opened and store.opened[0][1] == threading.current_thread().name
    commits.stop()
