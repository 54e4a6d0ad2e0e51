"""An integrator's own test suite, written with gongji's pytest plugin only.

Run: pip install 'gongji[testing]' (pytest; `make demo` installs it), then
python -m pytest examples/test_my_pos.py
The fixtures (gongji_client, gongji_mock, gongji_faults, gongji_ledger) come with
gongji (its mock's plugin, gongji_mock.testing): no conftest, no -p option. Each test
gets a fresh mock gateway.
"""

from __future__ import annotations

import asyncio
import datetime
import itertools

import pytest

import gongji
from gongji_mock.testing import DatasetBuilder, FaultPlan, MockLedger, alipay_code, wechat_code

# The demo dataset: Mr Zhang (employee, 5000 yuan) and his mother (resident, no account,
# bound to him with a 400-yuan limit per purchase). docs/reference/dataset.md.
SON = "210202198503170036"
MOTHER = "210202195809120046"


def basket(holder: str, price: int = 12_000, coverage: str = "A") -> gongji.Purchase:
    """What the till rings up: one drug, the patient's own ID card; the patient asks to pay
    from relatives' accounts too (family mutual aid is used only when asked)."""
    return gongji.Purchase(
        credential=gongji.Credential.id_card(holder),
        use_mutual_aid=True,
        items=[
            gongji.LineItem(
                code="XA01",
                name="阿莫西林",
                unit_price=gongji.Fen(price),
                quantity=1,
                coverage=coverage,
                # The pack's traceability code (追溯码), scanned: Dalian requires it.
                packs=gongji.Packs(
                    codes=[f"8123456789{next(_PACKS):010d}"],
                    batch="B20261101-17",
                    lot="L2026041",
                    made_on=datetime.date(2026, 4, 1),
                ),
            )
        ],
    )


_PACKS = itertools.count(1)  # each pack sold has its own code


def test_own_account_pays_the_self_pay_share(
    gongji_client: gongji.SettlementClient, gongji_ledger: MockLedger
) -> None:
    receipt = gongji_client.settle(basket(SON), key="POS01-20261123-0001")
    own = sum((leg.amount for leg in receipt.legs if leg.source == "own_account"), gongji.Fen(0))
    assert own > 0
    assert gongji_ledger.balance(SON) == gongji.Fen(500_000) - own
    gongji_ledger.assert_sound()


def test_a_timeout_at_settlement_is_reversed_and_nothing_is_charged(
    gongji_client: gongji.SettlementClient, gongji_faults: FaultPlan, gongji_ledger: MockLedger
) -> None:
    before = gongji_ledger.balances()
    gongji_faults.timeout("2102", committed=True)  # the centre settles; its answer is lost
    with pytest.raises(gongji.Unavailable):
        gongji_client.settle(basket(SON), key="POS01-20261123-0002")
    assert gongji_ledger.balances() == before
    assert gongji_ledger.settlements() == []
    gongji_ledger.assert_sound()


def test_settling_twice_with_one_key_charges_once(
    gongji_client: gongji.SettlementClient, gongji_ledger: MockLedger
) -> None:
    # 500 yuan, not covered: the son's account pays 400, her daughter's 30, WeChat the rest.
    purchase = basket(MOTHER, price=50_000, coverage="C")
    cash = gongji.Cash.wechat(wechat_code("paid"))
    first = gongji_client.settle(purchase, key="POS01-20261123-0003", cash=cash)
    again = gongji_client.settle(purchase, key="POS01-20261123-0003", cash=cash)
    assert again == first
    assert len(gongji_ledger.settlements()) == 1
    assert gongji_ledger.cash_collected() == first.cash == gongji.Fen(7_000)


def test_an_empty_wallet_is_declined_and_nothing_is_charged(
    gongji_client: gongji.SettlementClient, gongji_ledger: MockLedger
) -> None:
    with pytest.raises(gongji.Declined):
        gongji_client.settle(
            basket(MOTHER, price=50_000, coverage="C"),
            key="POS01-20261123-0004",
            cash=gongji.Cash.wechat(wechat_code("insufficient_funds")),
        )
    assert gongji_ledger.settlements() == []
    assert gongji_ledger.cash_collected() == 0


def test_a_relatives_card_is_refused(gongji_client: gongji.SettlementClient) -> None:
    purchase = gongji.Purchase(
        credential=gongji.Credential.id_card(SON),  # the son's card, for his mother
        patient_id=MOTHER,
        items=basket(MOTHER).items,
    )
    with pytest.raises(gongji.OwnCardViolation):
        gongji_client.preview(purchase)


# A family of our own, built in the test: a daughter whose account pays for her father.
family = DatasetBuilder("liaoning-dalian-2025")
DAUGHTER = family.person(insurance="employee", balance=gongji.Fen(80_000), born="1990-04-02")
FATHER = family.person(insurance="resident", born="1960-10-01", sex="male")
family.bind(DAUGHTER, FATHER, "parent", limit=gongji.Fen(5_000))


@pytest.mark.gongji_dataset(family)
def test_mutual_aid_from_a_built_family_stops_at_the_limit(
    gongji_client: gongji.SettlementClient, gongji_ledger: MockLedger
) -> None:
    receipt = gongji_client.settle(
        basket(FATHER, price=30_000),
        key="POS01-20261123-0005",
        cash=gongji.Cash.alipay(alipay_code()),
    )
    aid = [leg for leg in receipt.legs if leg.source == "mutual_aid"]
    assert [leg.amount for leg in aid] == [gongji.Fen(5_000)]
    assert gongji_ledger.balance(DAUGHTER) == gongji.Fen(75_000)
    assert receipt.cash > 0


def test_the_async_client_settles_too(
    gongji_async_client: gongji.AsyncSettlementClient, gongji_ledger: MockLedger
) -> None:
    receipt = asyncio.run(gongji_async_client.settle(basket(SON), key="POS01-20261123-0006"))
    assert gongji_ledger.settlements()[0].settlement_id == receipt.settlement_id
