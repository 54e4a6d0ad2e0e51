"""One scenario suite, two drivers, two journals: every test here runs through
``SettlementClient`` and through ``AsyncSettlementClient`` against the in-process mock
gateway, with the journal in memory and in SQLite."""

from __future__ import annotations

import asyncio
import datetime
import itertools
from collections.abc import Coroutine, Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import attrs
import pytest

from gongji import (
    AsyncSettlementClient,
    Cash,
    ChronicDisease,
    Credential,
    Diagnosis,
    Fen,
    LineItem,
    PremiumPayment,
    PremiumReceipt,
    Purchase,
    SettlementClient,
    Visit,
)
from gongji.flows.setup import Polling
from gongji.journal import Entry, SqliteJournal
from gongji.model import Packs, Receipt
from gongji.reconciliation import ReconciliationReport
from gongji.rules.quote import Quote
from gongji_mock import MockGateway

T = TypeVar("T")

SON = (
    "210202198503170036"  # employee, 5000 yuan; binds his mother (limit 400), daughter, grandmother
)
MOTHER = "210202195809120046"  # resident; bound to the son (1st) and the sister (2nd)
FATHER = "210202195601010112"  # retired employee, 120 yuan; his binding is revoked
DAUGHTER = "210202201506010227"  # resident, 11; the wife's binding is pending
SISTER = "210502198802200422"  # employee in Benxi, 30 yuan
GRANDMOTHER = "620102193211080627"  # resident in Gansu
WIFE = "210202198605050289"  # employee, 800 yuan

WECHAT_PAID = "134567890123456781"
WECHAT_PASSWORD = "134567890123456782"  # paid at the first query
WECHAT_NEVER = "134567890123456783"  # the password never comes
WECHAT_POOR = "134567890123456784"  # insufficient funds
ALIPAY_PAID = "2887654321012341"
ALIPAY_POOR = "2887654321012344"

FAST_POLLING = Polling(interval_ms=0, attempts=3, read_retries=2)

#: A clinic's department and doctor, as every 2201 must name them (``register_visit``).
CLINIC = {
    "department": "内科",
    "department_code": "0301",
    "department_category": "A03",
    "doctor": "王医生",
    "doctor_code": "D210200000001",
}


def drug(
    price_fen: int, quantity: int = 1, coverage: str = "A", category: str = "drug"
) -> LineItem:
    return LineItem(
        code=f"X{price_fen}{coverage}{category[:3]}",
        name="药品",
        unit_price=Fen(price_fen),
        quantity=quantity,
        coverage=coverage,
        category=category,
    )


_PACKS = itertools.count(1)


def scanned(item: LineItem) -> LineItem:
    """``item`` with each of its packs' traceability codes scanned (a pack requiring them,
    such as liaoning-dalian-2025, refuses a drug line without), one new code a pack."""
    codes = [f"8100000000{next(_PACKS):010d}" for _ in range(item.quantity)]
    packs = Packs(codes=codes, batch="B1", lot="L1", made_on=datetime.date(2026, 4, 1))
    return attrs.evolve(item, packs=packs)


def scanned_purchase(credential_id: str, **kwargs: Any) -> Purchase:
    """``purchase``'s default sale, its pack scanned: for a till on a sourced pack."""
    return purchase(credential_id, scanned(drug(50_000, coverage="C")), **kwargs)


def purchase(credential_id: str, *items: LineItem, **kwargs: Any) -> Purchase:
    """A sale whose patient asks for mutual aid (seed 002 l.19), as the family's sales do."""
    kwargs.setdefault("use_mutual_aid", True)
    return Purchase(
        credential=Credential.id_card(credential_id),
        items=items or (drug(50_000, coverage="C"),),
        **kwargs,
    )


class Till:
    """The client as a POS uses it, whichever driver is underneath (sync calls either way)."""

    def __init__(
        self, client: SettlementClient | AsyncSettlementClient, runner: asyncio.Runner | None
    ) -> None:
        self.client = client
        self._runner = runner

    def _run(self, result: T | Coroutine[Any, Any, T]) -> T:
        if self._runner is None:
            return result  # type: ignore[return-value]
        return self._runner.run(result)  # type: ignore[arg-type]

    def preview(self, purchase: Purchase) -> Quote:
        return self._run(self.client.preview(purchase))

    def settle(self, purchase: Purchase, *, key: str, cash: Cash | None = None) -> Receipt:
        return self._run(self.client.settle(purchase, key=key, cash=cash))

    def preview_premium(self, payment: PremiumPayment) -> Quote:
        return self._run(self.client.preview_premium(payment))

    def chronic_diseases(self, credential: Credential) -> tuple[ChronicDisease, ...]:
        return self._run(self.client.chronic_diseases(credential))

    def pay_premium(self, payment: PremiumPayment, *, key: str) -> PremiumReceipt:
        return self._run(self.client.pay_premium(payment, key=key))

    def refund(self, settlement_id: str) -> Receipt:
        return self._run(self.client.refund(settlement_id))

    def cancel(self, settlement_id: str) -> Receipt:
        return self._run(self.client.cancel(settlement_id))

    def recover(self) -> list[Entry]:
        return self._run(self.client.recover())

    def reconcile(self, day: datetime.date) -> ReconciliationReport:
        return self._run(self.client.reconcile(day))

    def register_visit(self, credential: Credential, **details: str) -> Visit:
        return self._run(self.client.register_visit(credential, **details))

    def diagnose(self, visit: Visit, diagnoses: Iterable[Diagnosis]) -> Visit:
        return self._run(self.client.diagnose(visit, diagnoses))

    def upload_fees(self, visit: Visit, items: Iterable[LineItem]) -> Visit:
        return self._run(self.client.upload_fees(visit, items))

    def withdraw_fees(self, visit: Visit) -> Visit:
        return self._run(self.client.withdraw_fees(visit))

    def cancel_registration(self, visit: Visit) -> None:
        self._run(self.client.cancel_registration(visit))


@pytest.fixture
def mock() -> MockGateway:
    return MockGateway.demo()


@pytest.fixture(params=["sync", "async"])
def driver(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(params=["memory", "sqlite"])
def journal_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def till(mock: MockGateway, driver: str, journal_kind: str, tmp_path: Path) -> Iterator[Till]:
    """The scenarios run with the mock profile's MemoryJournal and with an SQLite journal."""
    if journal_kind == "memory":
        yield from make_till(mock, driver)
        return
    with SqliteJournal(tmp_path / "journal.sqlite3") as journal:
        yield from make_till(mock, driver, journal=journal)


def make_till(mock: MockGateway, driver: str, **options: Any) -> Iterator[Till]:
    options.setdefault("polling", FAST_POLLING)
    if driver == "sync":
        client = SettlementClient.from_profile("mock", mock=mock, **options)
        with client:
            yield Till(client, None)
        return
    with asyncio.Runner() as runner:
        async_client = AsyncSettlementClient.from_profile("mock", mock=mock, **options)
        yield Till(async_client, runner)
        runner.run(async_client.aclose())


def balances(mock: MockGateway) -> dict[str, Fen]:
    return {who: mock.balance(who) for who in (SON, FATHER, SISTER, WIFE)}
