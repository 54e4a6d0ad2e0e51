"""Two tills, one journal, one key: one settlement. The first till's flow is stepped by
hand up to the centre's settlement, so the second till asks at exactly that moment."""

from __future__ import annotations

import httpx
import pytest

from gongji import Cash, InvalidInput, SettlementClient
from gongji.flows import settle as flows
from gongji.journal import EntryState
from gongji_mock import MockGateway
from tests.client.conftest import FAST_POLLING, MOTHER, SON, WECHAT_PAID, purchase
from tests.client.test_saga_races import finish, standing, step_until
from tests.journal.conftest import Backend


def test_two_tills_sharing_a_journal_settle_one_key_once(durable: Backend) -> None:
    mock = MockGateway.demo()
    tills = [
        SettlementClient.from_profile(
            "mock", mock=mock, journal=durable.open(), polling=FAST_POLLING
        )
        for _ in range(2)
    ]
    http = httpx.Client(transport=mock.transport())
    sale = purchase(MOTHER)
    first = flows.settle(tills[0].setup, sale, "CHAIN-0001", Cash.wechat(WECHAT_PAID))
    pending = step_until(first, http, b'"infno":"2102"')  # the centre's settlement, unsent
    with pytest.raises(InvalidInput, match="being settled right now"):
        tills[1].settle(sale, key="CHAIN-0001", cash=Cash.wechat(WECHAT_PAID))
    assert tills[1].recover() == []  # a sale in flight at another till is not in doubt
    receipt = finish(first, pending, http)
    # The second till now finds the first's sale in the shared journal: the same receipt.
    assert tills[1].settle(sale, key="CHAIN-0001", cash=Cash.wechat(WECHAT_PAID)) == receipt
    assert tills[1].journal.get("CHAIN-0001").state is EntryState.SETTLED
    assert standing(mock) == 1 and mock.wechatpay.collected() == receipt.cash
    assert mock.balance(SON) == 460_000 and mock.check() == []
    http.close()


def test_recover_at_one_till_resolves_a_sale_another_till_left_in_doubt(
    durable: Backend,
) -> None:
    mock = MockGateway.demo()
    crashed = SettlementClient.from_profile(
        "mock", mock=mock, journal=durable.open(), polling=FAST_POLLING
    )
    http = httpx.Client(transport=mock.transport())
    sale = flows.settle(crashed.setup, purchase(MOTHER), "CHAIN-0002", Cash.wechat(WECHAT_PAID))
    step = step_until(sale, http, b'"infno":"2102"')
    http.send(step).read()  # the centre settles; the till dies before it hears the answer
    sale.close()  # the flow ends where it stood (its lease is let go, as a dead process's is taken)
    crashed.journal.close()  # type: ignore[attr-defined]
    other = SettlementClient.from_profile(
        "mock", mock=mock, journal=durable.open(), polling=FAST_POLLING
    )
    assert [entry.state for entry in other.recover()] == [EntryState.FAILED]
    assert other.journal.in_doubt() == [] and standing(mock) == 0 and mock.check() == []
    http.close()
