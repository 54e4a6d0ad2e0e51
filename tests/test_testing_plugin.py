"""gongji's pytest plugin, seen from an integrator's suite: pytester runs test files that
use the fixtures, in process, with only the plugins that are installed (no ``-p``)."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
from stdnum.cn import ric

import gongji_mock.testing
from gongji import (
    Cash,
    ConfigError,
    Credential,
    Declined,
    Fen,
    InvalidInput,
    LineItem,
    Purchase,
    SettlementClient,
)
from gongji.identity import IdNumber
from gongji_mock import MockGateway, load_dataset
from gongji_mock.alipay import endpoint as mock_alipay
from gongji_mock.codes import Outcome
from gongji_mock.testing import DatasetBuilder, MockLedger, alipay_code, make_id_number, wechat_code
from gongji_mock.wechatpay import endpoint as mock_wechatpay

pytest_plugins = ["pytester"]

# The other installed plugins are not under test here; loading them costs seconds a run.
STRICT = (
    "-W",
    "error",
    "--strict-markers",
    "-p",
    "no:cacheprovider",
    "-p",
    "no:hypothesispytest",
    "-p",
    "no:benchmark",
)

SON = "210202198503170036"
MOTHER = "210202195809120046"

HEADER = """
import asyncio
import pytest
import gongji
from gongji_mock.testing import DatasetBuilder, FaultPlan, MockLedger, wechat_code

SON = "210202198503170036"
MOTHER = "210202195809120046"

def basket(holder, price=12_000, coverage="A"):
    return gongji.Purchase(
        credential=gongji.Credential.id_card(holder),
        items=[gongji.LineItem(code="XA01", name="x", unit_price=gongji.Fen(price),
                               quantity=1, coverage=coverage)],
        use_mutual_aid=True,
    )
"""


def run(pytester: pytest.Pytester, body: str, *args: str) -> pytest.RunResult:
    pytester.makepyfile(test_integrator=HEADER + body)
    return pytester.runpytest(*STRICT, *args)


def test_the_entry_point_provides_every_fixture_without_p(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        """
def test_uses_everything(gongji_mock, gongji_client, gongji_async_client, gongji_faults,
                         gongji_ledger, gongji_dataset):
    assert gongji_mock.centre.dataset is gongji_dataset
    receipt = gongji_client.settle(basket(SON), key="K1")
    assert gongji_ledger.settlements()[0].settlement_id == receipt.settlement_id
    assert gongji_ledger.balance(SON) < gongji.Fen(500_000)
    assert isinstance(gongji_faults, FaultPlan) and isinstance(gongji_ledger, MockLedger)
    gongji_ledger.assert_sound()
""",
    )
    result.assert_outcomes(passed=1)


def test_without_the_plugin_the_fixtures_are_missing(pytester: pytest.Pytester) -> None:
    """What the previous test saw came from the ``gongji`` entry point, nothing else."""
    result = run(pytester, "def test_it(gongji_client):\n    pass\n", "-p", "no:gongji")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*fixture 'gongji_client' not found*"])


def test_each_test_gets_a_fresh_mock_so_a_fault_does_not_leak(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        """
def test_a_sets_a_fault_on_every_request(gongji_client, gongji_faults, gongji_ledger):
    gongji_faults.add("error_5xx")
    with pytest.raises(gongji.Unavailable):
        gongji_client.settle(basket(SON), key="K1")
    assert gongji_faults.injected["error_5xx"] >= 1
    assert gongji_ledger.settlements() == []

def test_b_runs_after_and_settles(gongji_client, gongji_faults, gongji_ledger):
    assert gongji_faults.injected == {}
    gongji_client.settle(basket(SON), key="K1")
    assert len(gongji_ledger.settlements()) == 1
""",
        "-p",
        "no:randomly",  # file order: a before b (pytest-randomly, if installed, would shuffle)
    )
    result.assert_outcomes(passed=2)


def test_timeout_helper_hits_only_the_next_request(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        """
def test_lost_answer_is_reversed_then_the_same_key_settles(
        gongji_client, gongji_faults, gongji_ledger):
    before = gongji_ledger.balances()
    gongji_faults.timeout("2102", committed=True)
    with pytest.raises(gongji.Unavailable):
        gongji_client.settle(basket(SON), key="K1")
    assert gongji_ledger.balances() == before and gongji_ledger.settlements() == []
    assert [t.kind for t in gongji_ledger.transactions] == ["settle", "reverse"]
    gongji_client.settle(basket(SON), key="K1")
    assert len(gongji_ledger.settlements()) == 1
    assert gongji_ledger.balances() != before
    gongji_ledger.assert_sound()
""",
    )
    result.assert_outcomes(passed=1)


def test_the_marker_runs_the_mock_on_a_file_relative_to_the_test(
    pytester: pytest.Pytester,
) -> None:
    family = DatasetBuilder()
    family.person(insurance="resident", born="1970-01-01", e_voucher="only-one")
    pytester.makefile(".toml", one_resident=family.to_toml())
    result = run(
        pytester,
        """
@pytest.mark.gongji_dataset("one_resident.toml")
def test_marked(gongji_mock, gongji_dataset):
    assert len(gongji_mock.centre.dataset.people) == 1
    assert gongji_dataset is not None and len(gongji_dataset.people) == 1
    assert "only-one" in gongji_mock.centre.dataset.e_vouchers

def test_unmarked_gets_the_demo(gongji_mock):
    assert len(gongji_mock.centre.dataset.people) == 7
""",
    )
    result.assert_outcomes(passed=2)


def test_an_overridden_dataset_fixture_is_used_and_a_marker_beats_it(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeconftest(
        """
import pytest
from gongji_mock.testing import DatasetBuilder

@pytest.fixture
def gongji_dataset():
    family = DatasetBuilder()
    family.person(born="1980-01-01")
    family.person(born="1981-01-01")
    return family.build()
"""
    )
    result = run(
        pytester,
        """
lone = DatasetBuilder()
lone.person(born="1990-01-01")

def test_the_override(gongji_mock):
    assert len(gongji_mock.centre.dataset.people) == 2

@pytest.mark.gongji_dataset(lone)
def test_the_marker_wins(gongji_mock):
    assert len(gongji_mock.centre.dataset.people) == 1
""",
    )
    result.assert_outcomes(passed=2)


def test_a_bad_marker_argument_says_what_it_takes(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        """
@pytest.mark.gongji_dataset(42)
def test_it(gongji_mock):
    pass
""",
    )
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*takes a TOML path, a Dataset or a DatasetBuilder, not int*"])


def test_the_async_client_works_with_asyncio_run_and_with_anyio(
    pytester: pytest.Pytester,
) -> None:
    result = run(
        pytester,
        """
def test_with_asyncio_run(gongji_async_client, gongji_ledger):
    receipt = asyncio.run(gongji_async_client.settle(basket(SON), key="A1"))
    assert gongji_ledger.settlements()[0].settlement_id == receipt.settlement_id

@pytest.mark.anyio
async def test_with_anyio(gongji_async_client, gongji_ledger):
    quote = await gongji_async_client.preview(basket(MOTHER))
    receipt = await gongji_async_client.settle(basket(MOTHER), key="A2")
    assert receipt.total == quote.total
    assert len(gongji_ledger.settlements()) == 1

def test_with_asyncio_run_after_anyio(gongji_async_client, gongji_ledger):
    asyncio.run(gongji_async_client.settle(basket(SON), key="A3"))
    assert len(gongji_ledger.settlements()) == 1
""",
        "-p",
        "no:randomly",
    )
    result.assert_outcomes(passed=3)


def test_the_clients_poll_a_pending_payment_without_pauses(pytester: pytest.Pytester) -> None:
    """A code whose password never comes is polled to the end, then reversed: at the
    default two-second interval a test would wait 30 s for that."""
    result = run(
        pytester,
        """
def test_password_never_comes(gongji_client, gongji_async_client, gongji_ledger):
    assert gongji_client.setup.polling.interval_ms == 0
    assert gongji_async_client.setup.polling.interval_ms == 0
    with pytest.raises(gongji.Declined):
        gongji_client.settle(basket(MOTHER, 50_000, "C"), key="P1",
                             cash=gongji.Cash.wechat(wechat_code("userpaying_forever")))
    assert gongji_ledger.cash_collected() == 0 and gongji_ledger.settlements() == []
""",
    )
    result.assert_outcomes(passed=1)


# ---------------------------------------------------------------- the helpers, directly


@pytest.mark.parametrize("sex", ["male", "female"])
def test_made_id_numbers_pass_gb_11643_and_encode_birth_and_sex(sex: str) -> None:
    numbers = {
        make_id_number(born="1960-10-01", sex=sex, region="210502", serial=n)  # type: ignore[arg-type]
        for n in range(50)
    }
    assert len(numbers) == 50
    for number in numbers:
        assert number[17] == ric.calc_check_digit(number)  # GB 11643's checksum
        parsed = IdNumber(number)
        assert parsed.birth_date == datetime.date(1960, 10, 1)
        assert parsed.sex == sex and parsed.region == "210502"


def test_the_builder_refuses_bad_arguments_at_the_call() -> None:
    family = DatasetBuilder()
    with pytest.raises(InvalidInput):
        family.person(insurance="commercial")
    with pytest.raises(InvalidInput):
        family.person(id_number="210202198503170037")  # wrong checksum
    son = family.person()
    with pytest.raises(InvalidInput):
        family.bind(son, son, "cousin")


def test_the_builder_checks_the_whole_dataset_like_a_file() -> None:
    resident_with_account = DatasetBuilder("liaoning-dalian-2025")
    resident_with_account.person(insurance="resident", balance=Fen(100))
    with pytest.raises(ConfigError, match=r"\[\[person\]\] #1.*no personal account"):
        resident_with_account.build()

    stranger = DatasetBuilder()
    son = stranger.person()
    stranger.bind(son, MOTHER, "parent")  # the mother is not in this dataset
    with pytest.raises(ConfigError, match="is not a \\[\\[person\\]\\]"):
        stranger.build()


def test_a_built_dataset_round_trips_through_its_toml(tmp_path: Path) -> None:
    family = DatasetBuilder()
    son = family.person(balance=Fen(12_345), sex="male", name="张三", e_voucher='tok"1')
    mother = family.person(insurance="resident", born="1958-09-12")
    family.bind(son, mother, "parent", priority=2, limit=Fen(4_000), status="pending")
    path = tmp_path / "family.toml"
    path.write_text(family.to_toml(), encoding="utf-8")
    assert load_dataset(path) == family.build()
    mock = MockGateway(family.build())
    assert mock.balance(son) == Fen(12_345)
    (binding,) = mock.centre.dataset.bindings
    assert binding.per_transaction_limit == Fen(4_000) and binding.priority == 2
    assert mock.centre.dataset.e_vouchers['tok"1'] == son


@pytest.mark.parametrize("outcome", list(Outcome))
def test_payment_codes_get_the_outcome_asked_for(outcome: Outcome) -> None:
    name = outcome.name.lower()
    wechat, alipay = wechat_code(name, serial=3), alipay_code(name, serial=3)
    assert mock_wechatpay.outcome_of(wechat) is outcome
    assert mock_alipay.outcome_of(alipay) is outcome
    assert Cash.wechat(wechat).auth_code == wechat and Cash.alipay(alipay).auth_code == alipay
    assert wechat_code(name, serial=4) != wechat


def test_an_unknown_payment_outcome_lists_the_known_ones() -> None:
    with pytest.raises(InvalidInput) as error:
        wechat_code("lucky")
    assert "insufficient_funds" in str(error.value.next_step)


@pytest.mark.parametrize("channel", ["wechatpay", "alipay"])
@pytest.mark.parametrize(
    ("outcome", "pays"),
    [
        ("paid", True),
        ("userpaying_then_paid", True),
        ("userpaying_forever", False),
        ("insufficient_funds", False),
        ("code_expired", False),
    ],
)
def test_a_payment_code_settles_or_is_declined_as_its_outcome_says(
    gongji_client: SettlementClient,
    gongji_ledger: MockLedger,
    channel: str,
    outcome: str,
    pays: bool,
) -> None:
    """Our own suite uses the plugin too: it is loaded here by its entry point."""
    code = wechat_code(outcome) if channel == "wechatpay" else alipay_code(outcome)
    purchase = Purchase(
        credential=Credential.id_card(MOTHER),
        items=[LineItem(code="XC01", name="x", unit_price=Fen(50_000), quantity=1, coverage="C")],
        use_mutual_aid=True,
    )
    cash = Cash(channel, code)  # type: ignore[arg-type]
    if pays:
        receipt = gongji_client.settle(purchase, key="CODE-1", cash=cash)
        assert receipt.cash == gongji_ledger.cash_collected() == Fen(7_000)
    else:
        with pytest.raises(Declined):
            gongji_client.settle(purchase, key="CODE-1", cash=cash)
        assert gongji_ledger.cash_collected() == 0
        assert gongji_ledger.settlements() == []
    gongji_ledger.assert_sound()


def test_every_fixture_and_helper_is_in_the_reference() -> None:
    text = (Path(__file__).resolve().parent.parent / "docs/reference/testing.md").read_text(
        encoding="utf-8"
    )
    fixtures = [name for name in vars(gongji_mock.testing) if name.startswith("gongji_")]
    assert len(fixtures) == 6
    for name in [*fixtures, *gongji_mock.testing.__all__]:
        assert f"`{name}" in text, f"docs/reference/testing.md does not mention `{name}`"
    assert "@pytest.mark.gongji_dataset(" in text  # the marker


def test_the_builder_makes_distinct_numbers_until_a_birth_date_is_full() -> None:
    family = DatasetBuilder()
    numbers = {family.person(born="2000-02-29", sex="male") for _ in range(499)}
    assert len(numbers) == 499
    with pytest.raises(InvalidInput, match="500 numbers at most"):
        family.person(born="2000-02-29", sex="male")
    assert family.person(born="2000-02-29", sex="female") not in numbers
    assert len(family.build().people) == 500
