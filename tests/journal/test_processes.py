"""Tills are processes: a lease must hold between processes sharing one SQLite file or one
PostgreSQL journal, and a process that died must not keep its keys. The processes signal
what they did on their stdout; nothing here waits on a clock."""

from __future__ import annotations

import datetime
import json
import multiprocessing
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from gongji.journal.msgids import BEIJING
from tests.journal.conftest import Backend
from tests.journal.holder import INSTITUTION, race

ROOT = Path(__file__).resolve().parents[2]


class Till:
    """Another process with the journal open, driven line by line."""

    def __init__(self, backend: Backend) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.journal.holder", json.dumps(backend.spec())],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.answer() == "ready"

    def answer(self) -> str:
        assert self.process.stdout is not None
        return self.process.stdout.readline().strip()

    def ask(self, command: str) -> str:
        assert self.process.stdin is not None
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()
        return self.answer()

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()  # reaped: a zombie would still answer os.kill(pid, 0)


@contextmanager
def another_till(backend: Backend) -> Iterator[Till]:
    till = Till(backend)
    try:
        yield till
    finally:
        if till.process.poll() is None:
            till.process.kill()
            till.process.wait()
        for stream in (till.process.stdin, till.process.stdout):
            if stream is not None:
                stream.close()


def test_a_key_held_in_another_process_is_refused_until_it_is_released(
    durable: Backend,
) -> None:
    here = durable.open()  # creates the store (and, for SQLite, the key file) first
    with another_till(durable) as there:
        assert there.ask("acquire SALE-1") == "acquired True"
        assert not here.acquire("SALE-1")
        assert here.acquire("SALE-2")
        assert there.ask("acquire SALE-2") == "acquired False"
        assert there.ask("release SALE-1") == "released"
        assert here.acquire("SALE-1")
        assert there.ask("acquire SALE-1") == "acquired False"


def test_the_lease_of_a_killed_process_is_taken_at_once_by_a_fresh_one(durable: Backend) -> None:
    durable.open()
    with another_till(durable) as crashed:
        assert crashed.ask("acquire SALE-1") == "acquired True"
        crashed.kill()
    # The lease runs for 5 minutes, but its owner provably died on this machine.
    with another_till(durable) as fresh:
        assert fresh.ask("acquire SALE-1") == "acquired True"


def test_of_four_processes_racing_for_one_key_exactly_one_wins(durable: Backend) -> None:
    durable.open()
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(4)
    results = context.Queue()
    racers = [
        context.Process(target=race, args=(durable.spec(), "SALE-1", barrier, results))
        for _ in range(4)
    ]
    for racer in racers:
        racer.start()
    won = [results.get(timeout=60) for _ in racers]
    for racer in racers:
        racer.join(timeout=60)
    assert sorted(won) == [False, False, False, True]
    assert all(racer.exitcode == 0 for racer in racers)


def test_a_busy_till_killed_leaves_its_successor_no_msgid_it_gave(durable: Backend) -> None:
    """D5: a till that took ids of the next second (its own used up) is killed; the till
    started after it, in that next second, numbers after them, never among them."""
    journal = durable.open()
    at = datetime.datetime(2026, 11, 23, 10, 15, 30, tzinfo=BEIJING)
    with another_till(durable) as busy:
        # 150 ids: till 5's 100 of the second, then 50 of the next (PostgreSQL: 150 of 10,000).
        last = busy.ask(f"msgids 150 {at.isoformat()}").removeprefix("allocated ")
        busy.kill()
    successor = journal.allocate_msgid(INSTITUTION, at + datetime.timedelta(seconds=1), 5)
    if durable.name == "postgres":
        assert last == f"{INSTITUTION}202611231015300149"
        assert successor == f"{INSTITUTION}202611231015310000"
    else:
        assert last == f"{INSTITUTION}202611231015310549"
        # After the ids it gave, and after the rest of the block they came from.
        assert successor > last and successor.startswith(f"{INSTITUTION}20261123101531")
    assert journal.msgid_owner(last) is not None
