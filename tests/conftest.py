"""Builders shared by the core tests: people, bindings, purchases and check contexts."""

from __future__ import annotations

import datetime
from collections.abc import Iterable

import pytest
from stdnum.cn import ric

from gongji import Credential, Fen
from gongji.model import Binding, Insurance, LineItem, Person, PersonalAccount, Purchase
from gongji.policy import PolicyPack, get_policy
from gongji.rules.context import CheckContext

TODAY = datetime.date(2026, 11, 23)


def make_id(region: str, birth: str, order: str) -> str:
    """A valid GB 11643 number from its parts: region (6), YYYYMMDD, order code (3; odd = male)."""
    body = f"{region}{birth}{order}"
    return body + ric.calc_check_digit(body + "0")


# A family in Dalian (210202) and relatives elsewhere, with plausible birth dates.
OWNER = make_id("210202", "19850317", "003")  # son, male, 41
OWNER_WIFE = make_id("210202", "19860505", "028")  # female
PATIENT = make_id("210202", "19580912", "004")  # mother, female, 68
FATHER = make_id("210202", "19560101", "011")  # male
CHILD = make_id("210202", "20150601", "022")  # female, 11
SISTER_BENXI = make_id("210502", "19880220", "042")  # female, Benxi (same province)
COUSIN_GANSU = make_id("620102", "19870101", "013")  # male, Gansu
BROTHER_BEIJING = make_id("110101", "19830101", "019")  # male, Beijing
STRANGER = make_id("210203", "19900101", "015")


def person(
    number: str,
    kind: str = "employee",
    *,
    status: str = "active",
    region: str = "210202",
    balance: int | None = None,
) -> Person:
    account = PersonalAccount(Fen(balance)) if balance is not None else None
    if kind == "employee" and balance is None:
        account = PersonalAccount(Fen(100_000))
    return Person(number, "测试", Insurance(kind, status, region), account)


def drug(price: int = 10_000, quantity: int = 1, **kwargs: str) -> LineItem:
    return LineItem(
        code=kwargs.pop("code", "D01"),
        name="药品",
        unit_price=Fen(price),
        quantity=quantity,
        **kwargs,
    )


def purchase(
    holder: str = PATIENT, items: Iterable[LineItem] | None = None, **kwargs: object
) -> Purchase:
    """A purchase whose patient asked for mutual aid (the rules under test judge the bindings)."""
    kwargs.setdefault("use_mutual_aid", True)
    return Purchase(credential=Credential.id_card(holder), items=list(items or [drug()]), **kwargs)  # type: ignore[arg-type]


def binding(
    owner: str = OWNER, beneficiary: str = PATIENT, relation: str = "parent", **kwargs: object
) -> Binding:
    kwargs.setdefault("status", "active")
    return Binding(owner, beneficiary, relation, **kwargs)  # type: ignore[arg-type]


def context(
    *,
    holder: Person | None = None,
    bindings: Iterable[Binding] = (),
    owners: Iterable[Person] = (),
    policy: str | PolicyPack = "national-2025",
    fund: int = 0,
    buy: Purchase | None = None,
    today: datetime.date = TODAY,
) -> CheckContext:
    holder = holder or person(PATIENT, "resident")
    return CheckContext(
        purchase=buy or purchase(holder.id),
        holder=holder,
        policy=get_policy(policy) if isinstance(policy, str) else policy,
        today=today,
        fund=Fen(fund),
        bindings=tuple(bindings),
        owners={o.id: o for o in owners},
    )


@pytest.fixture
def national() -> PolicyPack:
    return get_policy("national-2025")


@pytest.fixture
def dalian() -> PolicyPack:
    return get_policy("liaoning-dalian-2025")


@pytest.fixture
def demo() -> PolicyPack:
    """The mock's demo pack: made-up fund, catalogue and age numbers (illustrative)."""
    return get_policy("demo-dalian")


@pytest.fixture(autouse=True)
def _journal_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A client built without a journal opens SQLite at the per-user default path: in
    tests that is a temporary directory, never the home of whoever runs them."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path_factory.mktemp("xdg-data")))
