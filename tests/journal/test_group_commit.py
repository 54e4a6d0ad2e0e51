"""Group commit (issue 15, item 9): the writes waiting together share one transaction and
one flush, and no write is acknowledged before the commit that holds it."""

from __future__ import annotations

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
