"""Invariants 1-3 of DESIGN.md through crashes: a till process is killed (SIGKILL) at every
step boundary of a sale, one case per boundary, against a mock gateway running in its
own process with its state in SQLite; a fresh process runs recover(). Afterwards nothing
is left in doubt, every key charged at most once, each case ends in the state its
boundary implies, and the mock's ledger is sound.

The boundaries are not listed by hand: a dry run records every one the sale passes."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from gongji import SettlementClient
from gongji.client import drive
from gongji.flows.settle import order_number
from gongji.gateways import PaymentState
from gongji.journal import EntryState, SqliteJournal
from tests.mock.test_http import cli_server

TILL = str(Path(__file__).with_name("till.py"))
ROOT = Path(__file__).resolve().parents[2]
CODEPAY = "before send POST /v3/pay/transactions/codepay"


def till(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, TILL, *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    state = tmp_path_factory.mktemp("mock") / "mock.db"
    with cli_server("--state", str(state)) as (url, _errors):
        yield url


@pytest.fixture(scope="module")
def boundaries(served: str, tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    where = tmp_path_factory.mktemp("dry")
    names = where / "boundaries.txt"
    done = till(served, str(where / "journal.sqlite3"), "DRY-RUN", "0", str(names))
    assert done.returncode == 0, done.stderr
    found = names.read_text(encoding="utf-8").splitlines()
    assert CODEPAY in found and "after journal settled" in found
    return found


def standing_settlements(url: str) -> set[str]:
    state = httpx.get(f"{url}/gongji-admin/state", timeout=10).json()
    kinds: dict[str, list[str]] = {}
    for transaction in state["ledger"]:
        kinds.setdefault(transaction["settlement_id"], []).append(transaction["kind"])
    return {sid for sid, seen in kinds.items() if seen == ["settle"]}


def test_the_dry_run_passes_every_kind_of_boundary(boundaries: list[str]) -> None:
    assert any(name.startswith("before journal") for name in boundaries)
    assert any(name.startswith("after send") for name in boundaries)
    # 9001, 1101, 2101, 2102 and the payment code (no X101: the national interface has
    # none); the intent, the cash intent, the end
    assert sum(name.startswith("before send") for name in boundaries) == 5
    assert sum(name.startswith("before journal") for name in boundaries) == 3
    assert len(boundaries) == 2 * (5 + 3)


def test_killed_at_every_boundary_the_sale_is_recovered_once(
    served: str, boundaries: list[str], tmp_path: Path
) -> None:
    charged_at = boundaries.index(CODEPAY)  # a kill after this sent the payment code
    journal_path = tmp_path / "journal.sqlite3"
    settled_before = standing_settlements(served)
    for number in range(1, len(boundaries) + 1):
        key = f"CRASH-{number:03d}"
        killed = till(served, str(journal_path), key, str(number))
        assert killed.returncode == -signal.SIGKILL, (boundaries[number - 1], killed.stderr)
        recovered = till(served, str(journal_path), "--recover")
        assert recovered.returncode == 0, recovered.stderr
        entry = SqliteJournal(journal_path).get(key)
        expected = EntryState.SETTLED if number - 1 > charged_at else EntryState.FAILED
        if entry is None:  # killed before the intent was written: nothing was sent that commits
            assert number - 1 < boundaries.index("after journal centre_pending"), boundaries[
                number - 1
            ]
        else:
            assert entry.state is expected, (boundaries[number - 1], entry.state, entry.reason)
        # The same key afterwards: one receipt, whatever the crash left.
        again = till(served, str(journal_path), key, "0")
        assert again.returncode == 0, (boundaries[number - 1], again.stderr)
    journal = SqliteJournal(journal_path)
    assert journal.in_doubt() == []
    settled = {
        e.receipt.settlement_id
        for e in journal.entries()
        if e.state is EntryState.SETTLED and e.receipt
    }
    assert len(settled) == len(boundaries)  # one standing settlement per key
    assert standing_settlements(served) - settled_before == settled
    check = httpx.get(f"{served}/gongji-admin/check", timeout=10).json()
    assert check["violations"] == []
    # The channel's side: every attempt's payment code was charged at most once, and only
    # where the sale stands, for exactly its cash share.
    channel = SettlementClient.from_profile("mock", url=served).setup.channels["wechatpay"]
    # Each attempt's order number derives from its settlement msgid, a row of the journal.
    with sqlite3.connect(journal_path) as db:
        sent = db.execute("SELECT key, msgid FROM msgids WHERE purpose = '2102'").fetchall()
    attempts: dict[str, list[str]] = {}
    for key, msgid in sent:
        attempts.setdefault(key, []).append(msgid)
    with httpx.Client(timeout=10) as http:
        for entry in journal.entries():
            assert entry.msgid in attempts[entry.key]
            for msgid in attempts[entry.key]:
                trade = drive(channel.query(order_number(journal.salt, msgid)), http)
                stands = entry.state is EntryState.SETTLED and msgid == entry.msgid
                assert (trade.state is PaymentState.PAID) == stands, (
                    entry.key,
                    msgid,
                    trade.state,
                )
                if stands and entry.receipt is not None:
                    assert trade.amount == entry.receipt.cash
