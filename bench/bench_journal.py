"""The journal's cost: journaled vs unjournaled in-process settlements, in one run.

A pharmacy sale with a WeChat Pay cash leg through the in-process mock, once with the
in-memory journal (the floor: no durability) and once each with SQLite (synchronous FULL
and NORMAL) and PostgreSQL, rounds interleaved and medians taken. Then 4 tills (threads,
each its own client and journal connection) sharing one PostgreSQL journal.
PostgreSQL needs ``GONGJI_TEST_POSTGRES_DSN`` (``make bench`` starts a throwaway server
through scripts/postgres-for-tests.sh); without it those lines say so.
Target: SQLite FULL adds <= 25% to an in-process settlement.
"""

from __future__ import annotations

import itertools
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from gongji import Cash, Credential, Fen, LineItem, Purchase, SettlementClient
from gongji.flows.setup import Polling
from gongji.journal import Journal, MemoryJournal, SqliteJournal
from gongji_mock import MockGateway

TARGET = 0.25
ROUNDS, PER_ROUND = 7, 15
TILLS, PER_TILL = 4, 25
SALE = Purchase(
    credential=Credential.id_card("210202195601010112"),  # the father: his account, then cash
    items=[LineItem(code="XC01", name="药品", unit_price=Fen(50_000), quantity=1, coverage="C")],
)
PAID = "134567890123456781"
POLLING = Polling(interval_ms=0, attempts=3)
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
        "memory (no durability)": MemoryJournal,
        "SQLite, synchronous FULL": lambda: SqliteJournal(where / "full.sqlite3"),
        "SQLite, synchronous NORMAL": lambda: SqliteJournal(
            where / "normal.sqlite3", synchronous="NORMAL"
        ),
    }
    if dsn:
        kinds["PostgreSQL"] = lambda: postgres(dsn, where / "pg.key", "gongji_bench")
    return kinds


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


def main() -> int:
    dsn = os.environ.get("GONGJI_TEST_POSTGRES_DSN")
    with tempfile.TemporaryDirectory() as scratch:
        where = Path(scratch)
        mock = MockGateway.demo()
        clients = {
            name: SettlementClient.from_profile("mock", mock=mock, polling=POLLING, journal=make())
            for name, make in journaled(where, dsn).items()
        }
        for client in clients.values():
            seconds_per_sale(client, 3)  # warm
        samples: dict[str, list[float]] = {name: [] for name in clients}  # float-ok: seconds
        for _ in range(ROUNDS):
            for name, client in clients.items():
                samples[name].append(seconds_per_sale(client, PER_ROUND))
        assert mock.check() == []
        for client in clients.values():
            client.close()
        shared = shared_postgres(dsn, where) if dsn else None
    floor = statistics.median(samples["memory (no durability)"])
    print(f"{'journal':<34}{'ms a sale':>11}{'added':>9}")
    added: dict[str, float] = {}  # float-ok: ratios
    for name, seconds in samples.items():
        median = statistics.median(seconds)
        added[name] = median / floor - 1
        print(f"{name:<34}{median * 1000:>11.2f}{added[name]:>+9.0%}")
    if shared is not None:
        print(f"PostgreSQL shared by {TILLS} tills: {shared:.0f} settlements/s in all")
    else:
        print("PostgreSQL: not measured (set GONGJI_TEST_POSTGRES_DSN, or run `make bench`)")
    full = added["SQLite, synchronous FULL"]
    verdict = "PASS" if full <= TARGET else "MISS"
    print(
        f"journal: SQLite FULL adds {full:.0%} to an in-process settlement "
        f"({floor * 1000:.2f} ms unjournaled; target <= {TARGET:.0%}): {verdict}"
    )
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
