"""50 concurrent async sales: the SQLite journal against the journal in memory, in one run.

The async driver runs every journal call off its event loop (``Blocking`` steps, in
worker threads), so the other sales go on while one waits on an fsync. Each round
settles 50 sales at once (``asyncio.gather``) through the in-process mock, once with a
``MemoryJournal`` and once with a fresh ``SqliteJournal`` (``synchronous=FULL``); rounds
are interleaved and medians taken, so a busy machine slows both alike.
Target: SQLite's throughput within 1.2x of memory's (issue 15, item 9).
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from gongji import AsyncSettlementClient, Cash, Credential, Fen, LineItem, Purchase
from gongji.flows.setup import Polling
from gongji.journal import Journal, MemoryJournal, SqliteJournal
from gongji_mock import MockGateway

TARGET = 1.2
SALES = 50
ROUNDS = 7
MOTHER = "210202195809120046"  # the demo family's: a resident whose sales the fund shares
BASKET = Purchase(
    credential=Credential.id_card(MOTHER),
    items=[LineItem(code="XBENCH", name="药品", unit_price=Fen(1_000), quantity=1, coverage="C")],
)


async def one_round(journal: Journal, round_no: int) -> float:  # float-ok: seconds
    client = AsyncSettlementClient.from_profile(
        "mock", mock=MockGateway.demo(), journal=journal, polling=Polling(interval_ms=0)
    )
    keys = [f"BENCH-{round_no}-{n:03d}" for n in range(SALES)]
    await client.settle(BASKET, key=f"WARM-{round_no}", cash=Cash.counter())  # sign-in, caches
    started = time.perf_counter()
    await asyncio.gather(*(client.settle(BASKET, key=k, cash=Cash.counter()) for k in keys))
    elapsed = time.perf_counter() - started
    await client.aclose()
    return elapsed


def main() -> int:
    memory: list[float] = []  # float-ok: seconds
    sqlite: list[float] = []  # float-ok: seconds
    with tempfile.TemporaryDirectory() as folder:
        for round_no in range(ROUNDS):
            memory.append(asyncio.run(one_round(MemoryJournal(), round_no)))
            journal = SqliteJournal(Path(folder) / f"journal-{round_no}.sqlite3")
            sqlite.append(asyncio.run(one_round(journal, round_no)))
            journal.close()
    in_memory, on_disk = statistics.median(memory), statistics.median(sqlite)
    ratio = on_disk / in_memory
    print(f"{SALES} concurrent async sales, median of {ROUNDS} rounds")
    print(f"  memory journal        {SALES / in_memory:8.1f} sales/s  ({in_memory * 1000:7.1f} ms)")
    print(f"  SQLite journal (FULL) {SALES / on_disk:8.1f} sales/s  ({on_disk * 1000:7.1f} ms)")
    print(f"  SQLite / memory time  {ratio:8.2f}x  (target at most {TARGET}x)")
    return 0 if ratio <= TARGET else 1


if __name__ == "__main__":
    raise SystemExit(main())
