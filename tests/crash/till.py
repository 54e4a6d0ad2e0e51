"""A till in its own process, for the crash tests: settles one sale against a served mock
with a SQLite journal, and kills itself (SIGKILL, nothing flushed, nothing cleaned up) at
the N-th step boundary. With N = 0 it writes the boundaries it passed to a file instead.

    python tests/crash/till.py URL JOURNAL KEY N [BOUNDARIES_FILE]
    python tests/crash/till.py URL JOURNAL --recover
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

from gongji import Cash, Credential, Fen, LineItem, Purchase, SettlementClient
from gongji.flows.setup import Polling
from gongji.journal.sqlite import SqliteJournal

FATHER = "210202195601010112"  # his own account (120 yuan, soon spent), then cash
SALE = Purchase(
    credential=Credential.id_card(FATHER),
    items=[LineItem(code="XC01", name="药品", unit_price=Fen(50_000), quantity=1, coverage="C")],
)
PAID = "134567890123456781"


def main(argv: list[str]) -> int:
    url, journal_path = argv[0], Path(argv[1])
    boundaries: list[str] = []
    kill_at = 0

    def checkpoint(name: str) -> None:
        boundaries.append(name)
        if len(boundaries) == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)

    polling = Polling(interval_ms=0, attempts=3, read_retries=2)
    journal = SqliteJournal(journal_path)
    if argv[2] == "--recover":
        with SettlementClient.from_profile(
            "mock", url=url, journal=journal, polling=polling
        ) as client:
            ended = client.recover()
        print(" ".join(f"{e.key}={e.state.value}" for e in ended))
        return 0
    key, kill_at = argv[2], int(argv[3])
    till = 98 if kill_at == 0 else kill_at % 98
    with SettlementClient.from_profile(
        "mock", url=url, journal=journal, polling=polling, checkpoint=checkpoint, till=till
    ) as client:
        receipt = client.settle(SALE, key=key, cash=Cash.wechat(PAID))
    if len(argv) > 4:
        Path(argv[4]).write_text("\n".join(boundaries), encoding="utf-8")
    print(f"{receipt.settlement_id} {int(receipt.cash)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
