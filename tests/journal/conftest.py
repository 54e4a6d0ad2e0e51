"""One journal suite, three stores: memory, SQLite and a real PostgreSQL server.

PostgreSQL runs where ``GONGJI_TEST_POSTGRES_DSN`` names a server (``make test`` starts
a throwaway one: scripts/postgres-for-tests.sh). Without it the PostgreSQL cases skip,
except under ``CI=true``, where a missing server is a failure.
"""

from __future__ import annotations

import datetime
import os
import secrets
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from gongji.gateways import CentreSettlement, MutualAidShare
from gongji.identity import IdNumber
from gongji.journal import Entry, EntryState, Journal, JournalKey, MemoryJournal
from gongji.journal.postgres import PostgresJournal
from gongji.journal.sqlite import SqliteJournal
from gongji.model import Leg, Purpose, Receipt, Refusal, Relation, Setting
from gongji.money import Fen
from tests.client.conftest import DAUGHTER, GRANDMOTHER, MOTHER, SISTER, SON, WIFE

DSN_VARIABLE = "GONGJI_TEST_POSTGRES_DSN"
BACKENDS = ["memory", "sqlite", "postgres"]
DURABLE = ["sqlite", "postgres"]

#: The ID numbers an entry of ``full_entry`` carries, each in its own field.
IDS = {
    "patient": MOTHER,
    "agent": WIFE,
    "own_account": MOTHER,
    "mutual_aid": SON,
    "second_mutual_aid": SISTER,
    "refused_owner": GRANDMOTHER,
    "settlement_refusal_owner": DAUGHTER,
}


def postgres_dsn() -> str:
    dsn = os.environ.get(DSN_VARIABLE, "")
    if dsn:
        return dsn
    if os.environ.get("CI") == "true":
        pytest.fail(
            f"CI=true but {DSN_VARIABLE} is not set: the PostgreSQL journal tests must run "
            "in CI (make test starts a server with scripts/postgres-for-tests.sh)."
        )
    pytest.skip(f"no PostgreSQL server ({DSN_VARIABLE} unset); make test starts one")


class Backend:
    """A journal store, and a way to open any number of journal objects on it."""

    def __init__(self, name: str, tmp_path: Path) -> None:
        self.name = name
        self.tmp_path = tmp_path
        self.opened: list[Any] = []
        self.memory = MemoryJournal()
        self.path = tmp_path / "journal.sqlite3"
        self.key_file = tmp_path / "journal.key"
        self.schema = f"t_{secrets.token_hex(6)}"
        self.dsn = postgres_dsn() if name == "postgres" else ""

    @property
    def durable(self) -> bool:
        return self.name != "memory"

    def open(self, **options: Any) -> Journal:
        """A new journal object on this store (for memory: the one object there is)."""
        journal: Journal
        if self.name == "memory":
            return self.memory
        if self.name == "sqlite":
            journal = SqliteJournal(self.path, **options)
        else:
            options.setdefault("key_file", self.key_file)
            journal = PostgresJournal(self.dsn, schema=self.schema, **options)
        self.opened.append(journal)
        return journal

    def spec(self) -> dict[str, str]:
        """How another process opens this store (tests/journal/holder.py)."""
        if self.name == "sqlite":
            return {"kind": "sqlite", "path": str(self.path)}
        return {
            "kind": "postgres",
            "dsn": self.dsn,
            "schema": self.schema,
            "key_file": str(self.key_file),
        }

    def dump(self) -> list[tuple[str, tuple[Any, ...]]]:
        """Every column of every row of every table, as the database holds it."""
        if self.name == "sqlite":
            with sqlite3.connect(self.path) as db:
                tables = [
                    r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")
                ]
                return [
                    (table, tuple(row))
                    for table in tables
                    for row in db.execute(f"SELECT * FROM {table}")  # noqa: S608
                ]
        with psycopg.connect(self.dsn) as db:
            tables = [
                r[0]
                for r in db.execute(
                    "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
                    (self.schema,),
                )
            ]
            return [
                (table, tuple(row))
                for table in tables
                for row in db.execute(f'SELECT * FROM "{self.schema}"."{table}"')  # noqa: S608
            ]

    def execute(self, statement: str, *arguments: Any) -> None:
        """A statement straight at the store (``{s}`` is the journal's schema / nothing)."""
        if self.name == "sqlite":
            with sqlite3.connect(self.path) as db:
                db.execute(statement.replace("{s}.", ""), arguments)
            return
        with psycopg.connect(self.dsn, autocommit=True) as db:
            db.execute(statement.replace("{s}", f'"{self.schema}"'), arguments)  # type: ignore[arg-type]

    def age_leases(self, seconds: int) -> None:
        """Every lease as if taken ``seconds`` earlier."""
        if self.name == "sqlite":
            self.execute("UPDATE {s}.leases SET expires_at = expires_at - ?", seconds)
        else:
            self.execute(
                "UPDATE {s}.leases SET expires_at = expires_at - make_interval(secs => %s)",
                seconds,
            )

    def plant_lease(self, key: str, *, host: str, pid: int, expires_in: float) -> None:
        """A lease row as another holder would have left it."""
        if self.name == "sqlite":
            import time

            self.execute(
                "INSERT INTO {s}.leases VALUES (?, ?, ?, ?, '', ?)",
                key,
                f"planted-{pid}",
                host,
                pid,
                time.time() + expires_in,
            )
        else:
            self.execute(
                "INSERT INTO {s}.leases VALUES (%s, %s, %s, %s, '', "
                "now() + make_interval(secs => %s))",
                key,
                f"planted-{pid}",
                host,
                pid,
                expires_in,
            )

    def close(self) -> None:
        for journal in self.opened:
            journal.close()
        if self.name == "postgres":
            with psycopg.connect(self.dsn, autocommit=True) as db:
                db.execute(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')  # type: ignore[arg-type]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    store = Backend(str(request.param), tmp_path)
    yield store
    store.close()


@pytest.fixture(params=DURABLE)
def durable(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    store = Backend(str(request.param), tmp_path)
    yield store
    store.close()


AT = datetime.datetime(
    2026, 11, 23, 10, 15, 30, 123456, tzinfo=datetime.timezone(datetime.timedelta(hours=8))
)


def full_entry(
    key: str = "POS01-20261123-0001",
    state: EntryState = EntryState.SETTLED,
    *,
    settlement_id: str = "",
    updated_at: datetime.datetime = AT,
) -> Entry:
    """An entry with every field set, every ID-number field among them; its settlement
    is its own (``S-<key>``) unless named: the journal gives a settlement to one sale."""
    settlement_id = settlement_id or f"S-{key}"
    refused = Refusal(
        rule="R7",
        reason="The account of 620102********0627 is in another province.",
        reason_zh="跨省账户不能共济。",
        owner_id=IdNumber(IDS["refused_owner"]),
    )
    settlement = CentreSettlement(
        setl_id=settlement_id,
        mdtrt_id="MD-0001",
        msgid="H2102-0001",
        total=Fen(50_000),
        fund=Fen(12_000),
        own_account=Fen(3_000),
        mutual_aid=(
            MutualAidShare(IdNumber(IDS["mutual_aid"]), Fen(20_000), Relation.PARENT),
            MutualAidShare(IdNumber(IDS["second_mutual_aid"]), Fen(5_000), None),
        ),
        cash=Fen(10_000),
        balance=Fen(97),
        patient_id=IdNumber(IDS["patient"]),
        refusals=(
            Refusal(
                rule="R5", reason="pending", owner_id=IdNumber(IDS["settlement_refusal_owner"])
            ),
        ),
        settled_at=AT - datetime.timedelta(seconds=3),
    )
    receipt = Receipt(
        settlement_id=settlement_id,
        key=key,
        total=Fen(50_000),
        fund=Fen(12_000),
        legs=(
            Leg(source="own_account", payer_id=IdNumber(IDS["own_account"]), amount=Fen(3_000)),
            Leg(
                source="mutual_aid",
                payer_id=IdNumber(IDS["mutual_aid"]),
                amount=Fen(20_000),
                relation=Relation.PARENT,
            ),
            Leg(
                source="mutual_aid", payer_id=IdNumber(IDS["second_mutual_aid"]), amount=Fen(5_000)
            ),
        ),
        cash=Fen(10_000),
        refusals=(refused, Refusal(rule="R9", reason="no owner named")),
        agent_id=IdNumber(IDS["agent"]),
        divergence=("fund: planned 110.00, centre 120.00",),
        purpose=Purpose.VACCINE,
        cash_channel="wechatpay",
        transaction_id="4200000001",
    )
    return Entry(
        key=key,
        fingerprint="ab" * 32,
        state=state,
        attempt=3,
        setting=Setting.OUTPATIENT,
        purpose=Purpose.VACCINE,
        psn_no="PSN-8f3a",
        msgid="H2102-0001",
        cash_kind="wechatpay",
        out_trade_no=f"{key}-3",
        settlement=settlement,
        receipt=receipt,
        undo="refund",
        undo_msgid="H2103-0001",
        out_refund_no=f"{key}-3-R",
        reason="reversed: reversed",
        updated_at=updated_at,
    )


def bare_entry(key: str, state: EntryState, updated_at: datetime.datetime = AT) -> Entry:
    """An entry as the first write of a sale leaves it: no settlement, no receipt."""
    return Entry(
        key=key,
        fingerprint="cd" * 32,
        state=state,
        attempt=1,
        setting=Setting.PHARMACY,
        purpose=Purpose.MEDICAL,
        psn_no="PSN-0001",
        msgid=f"M-{key}",
        cash_kind="counter",
        updated_at=updated_at,
    )


def new_key() -> JournalKey:
    return JournalKey.generate()
