"""The journal's cost per sale next to the durable commits a sale needs, in one run.

A pharmacy sale with a WeChat Pay cash leg through the in-process mock, once with the
in-memory journal (no durability) and once each with SQLite (synchronous FULL and
NORMAL) and PostgreSQL: the journal's added cost is a journaled sale's time less the
memory journal's. Beside it, on the same disk in the same rounds, the floor: what the
durable commits a sale needs cost by themselves. A sale needs two (its entry before the
settlement message is sent, and before the cash is charged), and the msgids it uses
need their blocks reserved (one durable commit a block: a few a second on a busy till);
on PostgreSQL taking the key's lease is flushed too. The journal counts the commits it
flushed (``durable_commits``), every one of them of those kinds, and the floor is that
count a sale times one WAL commit with ``synchronous=FULL`` of a row the size of an
entry in a bare table (for PostgreSQL, one autocommitted insert of one); a bare
``fsync`` is printed too. Rounds are short, their order turns, and each round's ratio
is taken before the median, so a busy machine slows both sides of a ratio alike. Then
4 tills (threads, each its own client and journal connection) share one PostgreSQL
journal.

PostgreSQL needs ``GONGJI_TEST_POSTGRES_DSN`` (``make bench`` starts a throwaway server
through scripts/postgres-for-tests.sh); without it those lines say so.
Target: SQLite FULL adds at most 1.5 times its floor.
"""

from __future__ import annotations

import itertools
import os
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gongji import Cash, Credential, Fen, LineItem, Purchase, SettlementClient
from gongji.flows.setup import Polling
from gongji.journal import Journal, MemoryJournal, SqliteJournal, codec
from gongji.journal.durable import DurableJournal
from gongji_mock import MockGateway

TARGET = 1.5
#: The entry commits a sale needs: before the centre's settlement is sent, and before the
#: cash share is charged. (Its last write, settled, may be lost with the power: recovery
#: finds the payment made.) The msgid blocks' reservations come on top, counted.
ENTRY_COMMITS = 2
ROUNDS, PER_ROUND = 21, 8
TILLS, PER_TILL = 4, 25
SALE = Purchase(
    credential=Credential.id_card("210202195601010112"),  # the father: his account, then cash
    items=[LineItem(code="XC01", name="药品", unit_price=Fen(50_000), quantity=1, coverage="C")],
)
PAID = "134567890123456781"
POLLING = Polling(interval_ms=0, attempts=3)
MEMORY, FULL, NORMAL, POSTGRES = (
    "memory (no durability)",
    "SQLite, synchronous FULL",
    "SQLite, synchronous NORMAL",
    "PostgreSQL",
)
_keys = itertools.count(1)


def seconds_per_sale(client: SettlementClient, sales: int) -> float:  # float-ok: seconds
    start = time.perf_counter()
    for _ in range(sales):
        client.settle(SALE, key=f"B{next(_keys):09d}", cash=Cash.wechat(PAID))
    return (time.perf_counter() - start) / sales


def postgres(dsn: str, key_file: Path, schema: str) -> Journal:
    from gongji.journal.postgres import PostgresJournal

    return PostgresJournal(dsn, key_file=key_file, schema=schema)


def journaled(where: Path, dsn: str | None) -> dict[str, Callable[[], Journal]]:
    kinds: dict[str, Callable[[], Journal]] = {
        MEMORY: MemoryJournal,
        FULL: lambda: SqliteJournal(where / "full.sqlite3"),
        NORMAL: lambda: SqliteJournal(where / "normal.sqlite3", synchronous="NORMAL"),
    }
    if dsn:
        kinds[POSTGRES] = lambda: postgres(dsn, where / "pg.key", "gongji_bench")
    return kinds


# ---------------------------------------------------------------- the floor


class SqliteCommits:
    """Durable commits and nothing else: one row the size of an entry, in a bare table of
    its own database, WAL and ``synchronous=FULL`` as the journal's."""

    def __init__(self, where: Path, size: int) -> None:
        self.db = sqlite3.connect(where / "floor.sqlite3", isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.execute("CREATE TABLE entries (key TEXT PRIMARY KEY, document TEXT NOT NULL)")
        self.document = "x" * size
        self.numbers = itertools.count()

    def seconds_per_commit(self, commits: int) -> float:  # float-ok: seconds
        start = time.perf_counter()
        for _ in range(commits):
            self.db.execute("BEGIN IMMEDIATE")
            self.db.execute(
                "INSERT INTO entries VALUES (?, ?)", (f"F{next(self.numbers)}", self.document)
            )
            self.db.execute("COMMIT")
        return (time.perf_counter() - start) / commits

    def close(self) -> None:
        self.db.close()


class PostgresCommits:
    """The same on the PostgreSQL server: an autocommitted insert is one durable commit."""

    def __init__(self, dsn: str, size: int) -> None:
        import psycopg

        self.db: Any = psycopg.connect(dsn, autocommit=True)
        self.db.execute("DROP TABLE IF EXISTS gongji_bench_floor")
        self.db.execute(
            "CREATE TABLE gongji_bench_floor (key text PRIMARY KEY, document jsonb NOT NULL)"
        )
        self.document = '{"x": "' + "x" * (size - 9) + '"}'
        self.numbers = itertools.count()

    def seconds_per_commit(self, commits: int) -> float:  # float-ok: seconds
        start = time.perf_counter()
        for _ in range(commits):
            self.db.execute(
                "INSERT INTO gongji_bench_floor VALUES (%s, %s::jsonb)",
                (f"F{next(self.numbers)}", self.document),
            )
        return (time.perf_counter() - start) / commits

    def close(self) -> None:
        self.db.execute("DROP TABLE IF EXISTS gongji_bench_floor")
        self.db.close()


def seconds_per_fsync(where: Path, size: int, syncs: int) -> float:  # float-ok: seconds
    """A bare ``fsync`` after rewriting ``size`` bytes of a file."""
    block = b"x" * size
    descriptor = os.open(where / "fsync.bin", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        start = time.perf_counter()
        for _ in range(syncs):
            os.pwrite(descriptor, block, 0)
            os.fsync(descriptor)
        return (time.perf_counter() - start) / syncs
    finally:
        os.close(descriptor)


def entry_size(journal: Journal) -> int:
    """How long a settled sale's stored document is."""
    assert isinstance(journal, SqliteJournal)
    return len(codec.encode_row(journal.rows()[-1]))


# ---------------------------------------------------------------- tills sharing PostgreSQL


def shared_postgres(dsn: str, where: Path) -> float:  # float-ok: settlements per second
    mock = MockGateway.demo()
    clients = [
        SettlementClient.from_profile(
            "mock",
            mock=mock,
            polling=POLLING,
            till=till,
            journal=postgres(dsn, where / "pg.key", "gongji_bench_shared"),
        )
        for till in range(TILLS)
    ]
    barrier = threading.Barrier(TILLS)

    def till(client: SettlementClient) -> None:
        barrier.wait(timeout=60)
        seconds_per_sale(client, PER_TILL)

    threads = [threading.Thread(target=till, args=(c,)) for c in clients]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=600)
    elapsed = time.perf_counter() - start
    for client in clients:
        client.close()
    assert mock.check() == []
    return TILLS * PER_TILL / elapsed


# ---------------------------------------------------------------- the run


def main() -> int:
    dsn = os.environ.get("GONGJI_TEST_POSTGRES_DSN")
    with tempfile.TemporaryDirectory() as scratch:
        where = Path(scratch)
        # A centre of its own for each journal: journals of their own number msgids alike
        # (docs/reference/journal.md), and one centre would refuse them as taken.
        mocks = {name: MockGateway.demo() for name in journaled(where, dsn)}
        clients = {
            name: SettlementClient.from_profile(
                "mock", mock=mocks[name], polling=POLLING, journal=make()
            )
            for name, make in journaled(where, dsn).items()
        }
        for client in clients.values():
            seconds_per_sale(client, 3)  # warm
        size = entry_size(clients[FULL].journal)
        floors: dict[str, SqliteCommits | PostgresCommits] = {FULL: SqliteCommits(where, size)}
        if dsn:
            floors[POSTGRES] = PostgresCommits(dsn, size)
        samples: dict[str, list[float]] = {  # float-ok: seconds
            name: [] for name in [*clients, *(f"floor {n}" for n in floors), "fsync"]
        }
        flushed = {name: durable_commits(clients[name].journal) for name in floors}
        measures: list[tuple[str, Callable[[], float]]] = [  # float-ok: seconds
            *((n, lambda c=c: seconds_per_sale(c, PER_ROUND)) for n, c in clients.items()),
            *(
                (f"floor {n}", lambda f=f: f.seconds_per_commit(PER_ROUND))
                for n, f in floors.items()
            ),
            ("fsync", lambda: seconds_per_fsync(where, size, PER_ROUND)),
        ]
        for round_no in range(ROUNDS):
            turn = round_no % len(measures)  # each line goes first in turn
            for name, measure in measures[turn:] + measures[:turn]:
                samples[name].append(measure())
        sales = ROUNDS * PER_ROUND
        commits_a_sale = {
            name: (durable_commits(clients[name].journal) - flushed[name]) / sales
            for name in floors
        }
        assert all(mock.check() == [] for mock in mocks.values())
        for client in clients.values():
            client.close()
        for floor in floors.values():
            floor.close()
        shared = shared_postgres(dsn, where) if dsn else None
    median = {name: statistics.median(seconds) * 1000 for name, seconds in samples.items()}
    unjournaled = median[MEMORY]
    print(f"The journal's cost per sale: medians of {ROUNDS} rounds of {PER_ROUND}, in ms")
    print(f"{'journal':<28}{'a sale':>8}{'added':>8}{'floor':>8}{'added/floor':>13}")
    ratios: dict[str, float] = {}  # float-ok: ratios
    for name in clients:
        added = median[name] - unjournaled
        line = f"{name:<28}{median[name]:>8.2f}"
        if name != MEMORY:
            line += f"{added:>8.2f}"
        if name in floors:
            per_round = [
                (sale - memory) / (commits_a_sale[name] * commit)
                for sale, memory, commit in zip(
                    samples[name], samples[MEMORY], samples[f"floor {name}"], strict=True
                )
            ]
            ratios[name] = statistics.median(per_round)
            floor_ms = commits_a_sale[name] * median[f"floor {name}"]
            line += f"{floor_ms:>8.2f}{ratios[name]:>12.2f}x"
        print(line)
    print("floor: the durable commits a sale made, counted by the journal (each one needed):")
    for name in floors:
        lease = 1 if name == POSTGRES else 0  # flushed on a server, not on a till's own file
        blocks = commits_a_sale[name] - ENTRY_COMMITS - lease
        print(
            f"  {name}: {commits_a_sale[name]:.3f} a sale: {ENTRY_COMMITS} entry writes (before "
            "the 2102, before the charge)"
            + (", the lease taken" if lease else "")
            + f", {blocks:.3f} msgid block reservations"
        )
    print(
        f"one WAL commit (FULL) of a {size}-byte row {median[f'floor {FULL}']:.3f} ms; "
        f"one bare fsync {median['fsync']:.3f} ms"
        + (
            f"; one PostgreSQL commit {median[f'floor {POSTGRES}']:.3f} ms"
            if POSTGRES in floors
            else ""
        )
    )
    if shared is not None:
        print(f"PostgreSQL shared by {TILLS} tills: {shared:.0f} settlements/s in all")
    else:
        print("PostgreSQL: not measured (set GONGJI_TEST_POSTGRES_DSN, or run `make bench`)")
    full = ratios[FULL]
    verdict = "PASS" if full <= TARGET else "MISS"
    print(
        f"journal: SQLite FULL adds {full:.2f}x the cost of the {commits_a_sale[FULL]:.2f} durable "
        f"commits a sale needs (median of the rounds' ratios; {median[FULL] - unjournaled:.2f} ms "
        f"a sale over {unjournaled:.2f} ms unjournaled; target <= {TARGET}x): {verdict}"
    )
    return 0 if verdict == "PASS" else 1


def durable_commits(journal: Journal) -> int:
    """The commits the journal flushed so far (``DurableJournal.durable_commits``)."""
    assert isinstance(journal, DurableJournal)
    return journal.durable_commits


if __name__ == "__main__":
    sys.exit(main())
