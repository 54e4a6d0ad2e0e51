"""50 concurrent async sales: the SQLite journal against the journal in memory, in one run.

The async driver never waits on the journal on its event loop: a write is handed to
the journal's group commit (SQLite: its statements run at the loop's next turn, its
commit, the flush, in a committer thread), a read goes to a worker thread, a msgid
comes from a block reserved ahead; the other sales go on while one waits on an fsync,
and the writes of the sales waiting together share one transaction and one fsync (each
acknowledged once its batch is durable). Each round
settles 50 sales at once (``asyncio.gather``) through the in-process mock, once with a
``MemoryJournal`` and once with a fresh ``SqliteJournal`` (``synchronous=FULL``); the
order turns each round, each round's ratio is taken and the median of them reported,
so a busy machine slows both sides of a ratio alike. The fsyncs a sale cost (the
journal's flushed commits over the sales) show the group commit at work.
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
ROUNDS = 21
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
    flushed = 0
    with tempfile.TemporaryDirectory() as folder:
        for round_no in range(ROUNDS):
            journal = SqliteJournal(Path(folder) / f"journal-{round_no}.sqlite3")
            journals: list[Journal] = [MemoryJournal(), journal]
            if round_no % 2:  # each goes first in turn
                journals.reverse()
            for each in journals:
                elapsed = asyncio.run(one_round(each, round_no))
                (sqlite if each is journal else memory).append(elapsed)
            flushed += journal.durable_commits
            journal.close()
    ratio = statistics.median(s / m for s, m in zip(sqlite, memory, strict=True))
    in_memory_s, on_disk_s = statistics.median(memory), statistics.median(sqlite)
    fsyncs = flushed / (ROUNDS * (SALES + 1))
    verdict = "PASS" if ratio <= TARGET else "MISS"
    print(f"{SALES} concurrent async sales, medians of {ROUNDS} rounds")
    print(
        f"  memory journal        {SALES / in_memory_s:8.1f} sales/s  ({in_memory_s * 1000:7.1f} ms)"
    )
    print(f"  SQLite journal (FULL) {SALES / on_disk_s:8.1f} sales/s  ({on_disk_s * 1000:7.1f} ms)")
    print(f"  SQLite fsyncs a sale  {fsyncs:8.2f}   (2 durable writes a sale, group-committed)")
    print(
        f"async journal: SQLite / memory time {ratio:.2f}x (median of the rounds' ratios; "
        f"target at most {TARGET}x): {verdict}"
    )
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    raise SystemExit(main())
