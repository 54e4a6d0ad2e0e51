"""gongji's pytest plugin, the mock's to give: an integrator's tests settle against a
fresh mock gateway. ``from gongji_mock.testing import FaultPlan, wechat_code, ...``.

Installed with gongji (``pip install 'gongji[testing]'`` brings pytest too) and loaded
by pytest through the ``pytest11`` entry point ``gongji = "gongji_mock.testing"`` (no
``-p`` needed; ``-p no:gongji`` switches it off). Fixtures, each new for every test:

- ``gongji_mock``: an in-process ``MockGateway`` on the demo dataset, or on the one
  the ``gongji_dataset`` marker or an overridden ``gongji_dataset`` fixture gives;
- ``gongji_client`` / ``gongji_async_client``: the ``mock`` profile's client on it;
- ``gongji_faults``: a ``FaultPlan`` switching the mock's faults on;
- ``gongji_ledger``: a ``MockLedger`` reading the mock's ledger.

Helpers: ``DatasetBuilder`` and ``make_id_number`` (a dataset in code),
``wechat_code`` / ``alipay_code`` (payment codes the mock answers as asked).
Reference: docs/reference/testing.md.

The plugin loads into every pytest run where gongji is installed, so this module
imports only pytest and the standard library at first; the mock and the clients
are imported when a fixture or helper is first used.
"""

from __future__ import annotations

import asyncio
import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from gongji import AsyncSettlementClient, SettlementClient
    from gongji.flows.setup import Polling
    from gongji.money import Fen
    from gongji_mock import Dataset, MockGateway
    from gongji_mock.centre.builder import DatasetBuilder, make_id_number
    from gongji_mock.centre.ledger import Transaction
    from gongji_mock.faults import FaultRule

__all__ = [
    "DatasetBuilder",
    "FaultPlan",
    "MockLedger",
    "alipay_code",
    "make_id_number",
    "wechat_code",
]

MARKER = "gongji_dataset"


def __getattr__(name: str) -> Any:
    """The builder's names, imported on first use (see the module docstring)."""
    if name in ("DatasetBuilder", "make_id_number"):
        from gongji_mock.centre import builder

        return getattr(builder, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def pytest_configure(config: pytest.Config) -> None:
    """Register the marker, so that suites run with ``--strict-markers`` accept it."""
    config.addinivalue_line(
        "markers",
        f"{MARKER}(source): run this test's gongji_mock on a dataset: a TOML file "
        "(a path relative to the test file), a gongji_mock.Dataset or a DatasetBuilder.",
    )


# ---------------------------------------------------------------- payment codes


def wechat_code(outcome: str = "paid", *, serial: int = 0) -> str:
    """A WeChat Pay payment code (18 digits, 10-15 first) the mock answers with ``outcome``:
    ``"paid"``, ``"insufficient_funds"``, ``"code_expired"``, ``"userpaying_then_paid"``
    (the payer enters a password; paid at the first query) or ``"userpaying_forever"``
    (the password never comes: the payment is reversed). ``serial`` makes distinct codes.
    """
    from gongji_mock.codes import payment_code

    return payment_code("wechatpay", outcome, serial=serial)


def alipay_code(outcome: str = "paid", *, serial: int = 0) -> str:
    """An Alipay payment code (16 digits, 25-30 first) the mock answers with ``outcome``;
    the outcomes are those of ``wechat_code``."""
    from gongji_mock.codes import payment_code

    return payment_code("alipay", outcome, serial=serial)


# ---------------------------------------------------------------- faults and the ledger


class FaultPlan:
    """The faults of one test's mock (docs/reference/mock-faults.md). The mock is new for
    every test, so a fault never outlives the test that set it."""

    def __init__(self, mock: MockGateway) -> None:
        self._faults = mock.faults

    def add(
        self,
        kind: str,
        *,
        target: str = "*",
        code: str = "*",
        times: int | None = None,
        percent: int = 100,
        latency_ms: int = 0,
        skew_seconds: int = 0,
    ) -> FaultRule:
        """Any fault rule: ``kind`` (timeout_before_commit, drop_after_commit, error_5xx,
        bad_signature, latency, clock_skew, duplicate_callback, out_of_order_callbacks),
        ``target`` (national, wechatpay, alipay, ``*``), ``code`` (an infno such as
        ``"2102"``, a WeChat Pay path, an Alipay method, ``*``), ``times`` (the next N
        matching requests; all of them by default) or ``percent``."""
        return self._faults.add(
            kind,
            target=target,
            code=code,
            times=times,
            percent=percent,
            latency_ms=latency_ms,
            skew_seconds=skew_seconds,
        )

    def timeout(
        self, code: str, *, target: str = "national", committed: bool = False, times: int = 1
    ) -> FaultRule:
        """The next ``times`` requests ``code`` time out: before the gateway did anything,
        or with ``committed=True`` after it did (the answer is lost: "did it go through?")."""
        kind = "drop_after_commit" if committed else "timeout_before_commit"
        return self.add(kind, target=target, code=code, times=times)

    def unavailable(
        self, code: str = "*", *, target: str = "national", times: int = 1
    ) -> FaultRule:
        """The next ``times`` requests ``code`` get HTTP 503; nothing is processed."""
        return self.add("error_5xx", target=target, code=code, times=times)

    def clear(self) -> None:
        """Every fault off."""
        self._faults.clear()

    @property
    def injected(self) -> Counter[str]:
        """How often each kind of fault was injected so far, by kind."""
        return Counter(self._faults.injected)


class MockLedger:
    """What the mock's centre and channels hold: balances, transactions, cash collected."""

    def __init__(self, mock: MockGateway) -> None:
        self._mock = mock

    def balance(self, id_number: str) -> Fen:
        """The personal account's balance of ``id_number``, in fen."""
        return self._mock.balance(id_number)

    def balances(self) -> dict[str, Fen]:
        """Every personal account of the dataset, by ID number: compare two of these to
        prove that nothing (or exactly what) was drawn."""
        people = self._mock.centre.dataset.people
        return {
            number.number: self._mock.balance(number)
            for number, person in people.items()
            if person.account is not None
        }

    @property
    def transactions(self) -> tuple[Transaction, ...]:
        """Every posting transaction of the centre, in order: settlements and reversals."""
        return self._mock.centre.ledger.transactions

    def settlements(self) -> list[Transaction]:
        """The centre's settlements that stand: posted and not reversed (nor refunded)."""
        ledger = self._mock.centre.ledger
        return [
            t
            for t in ledger.transactions
            if t.kind == "settle" and not ledger.is_reversed(t.settlement_id)
        ]

    def cash_collected(self) -> Fen:
        """Cash taken from payers through WeChat Pay and Alipay, net of refunds and reversals."""
        return self._mock.wechatpay.collected() + self._mock.alipay.collected()

    def check(self) -> list[str]:
        """The ledger's invariant violations; empty when it is sound."""
        return self._mock.check()

    def assert_sound(self) -> None:
        """Fail the test, naming them, if the ledger has invariant violations."""
        violations = self.check()
        if violations:
            raise AssertionError("the mock's ledger is unsound: " + "; ".join(violations))


# ---------------------------------------------------------------- fixtures


def _dataset_from(source: object, request: pytest.FixtureRequest) -> Dataset:
    from gongji_mock import Dataset, load_dataset
    from gongji_mock.centre.builder import DatasetBuilder

    if isinstance(source, Dataset):
        return source
    if isinstance(source, DatasetBuilder):
        return source.build()
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        return load_dataset(path if path.is_absolute() else request.path.parent / path)
    raise TypeError(
        f"@pytest.mark.{MARKER} takes a TOML path, a Dataset or a DatasetBuilder, "
        f"not {type(source).__name__}."
    )


def _marked_dataset(request: pytest.FixtureRequest) -> Dataset | None:
    marker = request.node.get_closest_marker(MARKER)
    if marker is None:
        return None
    if len(marker.args) != 1:
        raise TypeError(f"@pytest.mark.{MARKER} takes one argument: the dataset.")
    return _dataset_from(marker.args[0], request)


@pytest.fixture
def gongji_dataset(request: pytest.FixtureRequest) -> Dataset:
    """The dataset ``gongji_mock`` runs on: the marker's, else the demo (the Zhang family
    of Dalian). Override this fixture in a conftest or module to give a suite its own."""
    from gongji_mock.centre.dataset import demo_dataset

    return _marked_dataset(request) or demo_dataset()


@pytest.fixture
def gongji_mock(request: pytest.FixtureRequest) -> Iterator[MockGateway]:
    """A fresh in-process mock gateway (centre, WeChat Pay, Alipay) for this test.

    Its dataset: the ``gongji_dataset`` marker's if the test has one, else the
    ``gongji_dataset`` fixture's (the demo unless overridden)."""
    from gongji_mock import MockGateway

    dataset = _marked_dataset(request) or request.getfixturevalue("gongji_dataset")
    mock = MockGateway(dataset)
    yield mock
    mock.close()


def _fast_polling() -> Polling:
    from gongji.flows.setup import Polling

    # The mock decides a pending payment at once: polling it needs no pause.
    return Polling(interval_ms=0)


@pytest.fixture
def gongji_client(gongji_mock: MockGateway) -> Iterator[SettlementClient]:
    """``SettlementClient.from_profile("mock", mock=gongji_mock)``, closed after the test.
    Its journal is in memory; a payment waiting for a password is polled without pauses."""
    from gongji import SettlementClient

    client: SettlementClient = SettlementClient.from_profile(
        "mock", mock=gongji_mock, polling=_fast_polling()
    )
    with client:
        yield client


@pytest.fixture
def gongji_async_client(gongji_mock: MockGateway) -> Iterator[AsyncSettlementClient]:
    """``AsyncSettlementClient`` on ``gongji_mock``, closed after the test.

    A plain fixture, so it works with any async runner: ``@pytest.mark.anyio`` (anyio's
    pytest plugin comes with httpx, a dependency of gongji), pytest-asyncio, or
    ``asyncio.run(...)`` inside a sync test."""
    from gongji import AsyncSettlementClient

    client: AsyncSettlementClient = AsyncSettlementClient.from_profile(
        "mock", mock=gongji_mock, polling=_fast_polling()
    )
    yield client
    # The client talks to the mock in process: closing it needs a loop, not the test's.
    asyncio.run(client.aclose())


@pytest.fixture
def gongji_faults(gongji_mock: MockGateway) -> FaultPlan:
    """The faults of this test's mock: ``gongji_faults.timeout("2102")`` and the like."""
    return FaultPlan(gongji_mock)


@pytest.fixture
def gongji_ledger(gongji_mock: MockGateway) -> MockLedger:
    """The ledger of this test's mock: ``balance(id)``, ``balances()``, ``settlements()``,
    ``cash_collected()``, ``check()``, ``assert_sound()``."""
    return MockLedger(gongji_mock)
