"""The journal's cost per sale next to the durable commits a sale needs, in one run.

A pharmacy sale with a WeChat Pay cash leg through the in-process mock, once with the
in-memory journal (no durability) and once each with SQLite (synchronous FULL and
NORMAL) and PostgreSQL: the journal's added cost is a journaled sale's time less the
memory journal's. Beside it, on the same disk in the same rounds, the floor: what the
durable commits a sale needs cost by themselves. A sale needs two (its entry before the
settlement message is sent, and before the cash is charged), and the msgids it uses
need their blocks reserved (one durable commit a block: a few a second on a busy till);
on PostgreSQL taking the key's lease is flushed too. The journal counts the commits it
flushed (``durable_commits``), every one of them of those kinds.

The floor is measured where a sale makes those commits: a sale on the memory journal
that commits, at each durable write (and block reservation) it asks for, one row the
size of an entry into a bare table (WAL, ``synchronous=FULL``; on PostgreSQL one
autocommitted insert), less the memory journal's sale, scaled to the commits the
journal counted. Measured so, a commit costs what it costs in a sale: on this machine's
disk a flush after a pause of work costs about twice one right after another (see the
back-to-back figures printed beside it, and a bare ``fsync``). Rounds are short, their
order turns, and each round's ratio is taken before the median, so a busy machine slows
both sides of a ratio alike. Then 4 tills (threads, each its own client and journal
connection) share one PostgreSQL journal.

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

    def __init__(self, where: Path, size: int, name: str = "floor.sqlite3") -> None:
        self.db = sqlite3.connect(where / name, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.execute("CREATE TABLE entries (key TEXT PRIMARY KEY, document TEXT NOT NULL)")
        self.document = "x" * size
        self.numbers = itertools.count()

    def commit(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")
        self.db.execute(
            "INSERT INTO entries VALUES (?, ?)", (f"F{next(self.numbers)}", self.document)
        )
        self.db.execute("COMMIT")

    def seconds_per_commit(self, commits: int) -> float:  # float-ok: seconds
        start = time.perf_counter()
        for _ in range(commits):
            self.commit()
        return (time.perf_counter() - start) / commits

    def close(self) -> None:
        self.db.close()


class PostgresCommits:
    """The same on the PostgreSQL server: an autocommitted insert is one durable commit."""

    def __init__(self, dsn: str, size: int, table: str = "gongji_bench_floor") -> None:
        import psycopg

        self.table = table
        self.db: Any = psycopg.connect(dsn, autocommit=True)
        self.db.execute(f"DROP TABLE IF EXISTS {table}")
        self.db.execute(f"CREATE TABLE {table} (key text PRIMARY KEY, document jsonb NOT NULL)")
        self.document = '{"x": "' + "x" * (size - 9) + '"}'
        self.numbers = itertools.count()

    def commit(self) -> None:
        self.db.execute(
            f"INSERT INTO {self.table} VALUES (%s, %s::jsonb)",  # noqa: S608 - the bench's own name
            (f"F{next(self.numbers)}", self.document),
        )

    def seconds_per_commit(self, commits: int) -> float:  # float-ok: seconds
        start = time.perf_counter()
        for _ in range(commits):
            self.commit()
        return (time.perf_counter() - start) / commits

    def close(self) -> None:
        self.db.execute(f"DROP TABLE IF EXISTS {self.table}")
        self.db.close()


class FloorJournal(MemoryJournal):
    """The memory journal, committing a bare row at each durable write a sale asks for: the
    durable commits alone, where a sale makes them. (Its msgids need no block: the floor
    is scaled to the blocks the journal reserved.)"""

    def __init__(self, commits: SqliteCommits | PostgresCommits) -> None:
        super().__init__()
        self.commits = commits
        self.durable_commits = 0

    def put(self, entry: Any, *, durable: bool = True, held: bool = False) -> None:
        super().put(entry, durable=durable, held=held)
        if durable:
            self.commits.commit()
            self.durable_commits += 1


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


def floor_name(name: str) -> str:
    return f"floor {name}"


def main() -> int:
    dsn = os.environ.get("GONGJI_TEST_POSTGRES_DSN")
    with tempfile.TemporaryDirectory() as scratch:
        where = Path(scratch)
        # A centre of its own for each journal: journals of their own number msgids alike
        # (docs/reference/journal.md), and one centre would refuse them as taken.
        mocks: dict[str, MockGateway] = {}

        def till(name: str, journal: Journal) -> SettlementClient:
            mocks[name] = MockGateway.demo()
            return SettlementClient.from_profile(
                "mock", mock=mocks[name], polling=POLLING, journal=journal
            )

        clients = {name: till(name, make()) for name, make in journaled(where, dsn).items()}
        seconds_per_sale(clients[FULL], 3)  # a settled sale, to know an entry's size
        size = entry_size(clients[FULL].journal)
        # The bare commits: back to back (in their own rounds), and in a sale's rhythm.
        back_to_back: dict[str, SqliteCommits | PostgresCommits] = {
            FULL: SqliteCommits(where, size)
        }
        in_rhythm: dict[str, SqliteCommits | PostgresCommits] = {
            FULL: SqliteCommits(where, size, "floor-in-sales.sqlite3")
        }
        if dsn:
            back_to_back[POSTGRES] = PostgresCommits(dsn, size)
            in_rhythm[POSTGRES] = PostgresCommits(dsn, size, "gongji_bench_floor_in_sales")
        for name, commits in in_rhythm.items():
            clients[floor_name(name)] = till(floor_name(name), FloorJournal(commits))
        for each in clients.values():
            seconds_per_sale(each, 3)  # warm
        samples: dict[str, list[float]] = {  # float-ok: seconds
            name: [] for name in [*clients, *(f"commit {n}" for n in back_to_back), "fsync"]
        }
        flushed = {name: durable_commits(each.journal) for name, each in clients.items()}
        measures: list[tuple[str, Callable[[], float]]] = [  # float-ok: seconds
            *((n, lambda c=c: seconds_per_sale(c, PER_ROUND)) for n, c in clients.items()),
            *(
                (f"commit {n}", lambda f=f: f.seconds_per_commit(PER_ROUND))
                for n, f in back_to_back.items()
            ),
            ("fsync", lambda: seconds_per_fsync(where, size, PER_ROUND)),
        ]
        for round_no in range(ROUNDS):
            turn = round_no % len(measures)  # each line goes first in turn
            for name, measure in measures[turn:] + measures[:turn]:
                samples[name].append(measure())
        sales = ROUNDS * PER_ROUND
        commits_a_sale = {
            name: (durable_commits(each.journal) - flushed[name]) / sales
            for name, each in clients.items()
            if name != MEMORY and name != NORMAL
        }
        assert all(mock.check() == [] for mock in mocks.values())
        for each in clients.values():
            each.close()
        for commits in [*back_to_back.values(), *in_rhythm.values()]:
            commits.close()
        shared = shared_postgres(dsn, where) if dsn else None
    return report(samples, commits_a_sale, size, shared)


def report(
    samples: dict[str, list[float]],  # float-ok: seconds
    commits_a_sale: dict[str, float],  # float-ok: commits
    size: int,
    shared: float | None,  # float-ok: settlements per second
) -> int:
    median = {name: statistics.median(seconds) * 1000 for name, seconds in samples.items()}
    memory = samples[MEMORY]
    print(f"The journal's cost per sale: medians of {ROUNDS} rounds of {PER_ROUND}, in ms")
    print(
        f"{'journal':<28}{'a sale':>8}{'added':>8}{'floor':>8}{'added/floor':>13}"
        f"{'back-to-back floor':>20}"
    )
    ratios: dict[str, float] = {}  # float-ok: ratios
    for name in (n for n in samples if n in (MEMORY, FULL, NORMAL, POSTGRES)):
        added = median[name] - median[MEMORY]
        line = f"{name:<28}{median[name]:>8.2f}"
        if name != MEMORY:
            line += f"{added:>8.2f}"
        if floor_name(name) in samples:
            # The floor's commits scaled to the journal's: the same durable writes, and the
            # msgid blocks as many as the journal reserved.
            scale = commits_a_sale[name] / commits_a_sale[floor_name(name)]
            per_round = [
                (sale - bare) / ((floor - bare) * scale)
                for sale, bare, floor in zip(
                    samples[name], memory, samples[floor_name(name)], strict=True
                )
            ]
            ratios[name] = statistics.median(per_round)
            floor_ms = (median[floor_name(name)] - median[MEMORY]) * scale
            back = [
                (sale - bare) / (commits_a_sale[name] * commit)
                for sale, bare, commit in zip(
                    samples[name], memory, samples[f"commit {name}"], strict=True
                )
            ]
            line += (
                f"{floor_ms:>8.2f}{ratios[name]:>12.2f}x"
                f"{commits_a_sale[name] * median[f'commit {name}']:>11.2f}"
                f" ({statistics.median(back):.2f}x)"
            )
        print(line)
    print("floor: the durable commits a sale made, counted by the journal (each one needed):")
    for name in ratios:
        lease = 1 if name == POSTGRES else 0  # flushed on a server, not on a till's own file
        blocks = commits_a_sale[name] - ENTRY_COMMITS - lease
        print(
            f"  {name}: {commits_a_sale[name]:.3f} a sale: {ENTRY_COMMITS} entry writes (before "
            "the 2102, before the charge)"
            + (", the lease taken" if lease else "")
            + f", {blocks:.3f} msgid block reservations; made in a sale's rhythm, "
            f"{(median[floor_name(name)] - median[MEMORY]) / commits_a_sale[floor_name(name)]:.3f}"
            " ms each"
        )
    print(
        f"back to back: one WAL commit (FULL) of a {size}-byte row {median[f'commit {FULL}']:.3f} ms; "
        f"one bare fsync {median['fsync']:.3f} ms"
        + (
            f"; one PostgreSQL commit {median[f'commit {POSTGRES}']:.3f} ms"
            if POSTGRES in ratios
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
        f"commits a sale needs, made in a sale (median of the rounds' ratios; "
        f"{median[FULL] - median[MEMORY]:.2f} ms a sale over {median[MEMORY]:.2f} ms "
        f"unjournaled; target <= {TARGET}x): {verdict}"
    )
    return 0 if verdict == "PASS" else 1


def durable_commits(journal: Journal) -> int:
    """The commits the journal flushed so far (``DurableJournal.durable_commits``; the
    floor's counts its own); none for the memory journal."""
    if isinstance(journal, DurableJournal | FloorJournal):
        return journal.durable_commits
    return 0


if __name__ == "__main__":
    sys.exit(main())
