"""What a second caller, a recover() or a wrong button cannot do while a sale is under way.
Flows are stepped by hand here, so two of them can be interleaved exactly."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import httpx
import pytest

from gongji import Cash, ConfigError, Credential, Fen, InvalidInput, Purchase, SettlementClient
from gongji.client import drive
from gongji.flows import settle as flows
from gongji.flows import undo as undo_flows
from gongji.gateways.exchange import Blocking
from gongji.journal import EntryState
from gongji_mock import MockGateway
from tests.client.conftest import FAST_POLLING, MOTHER, SON, WECHAT_PAID, WIFE, drug, purchase


@pytest.fixture
def mock() -> MockGateway:
    return MockGateway.demo()


@pytest.fixture
def client(mock: MockGateway) -> SettlementClient:
    return SettlementClient.from_profile("mock", mock=mock, polling=FAST_POLLING)


@pytest.fixture
def http(mock: MockGateway) -> httpx.Client:
    return httpx.Client(transport=mock.transport())


def answer(step: Any, http: httpx.Client) -> Any:
    """What a driver sends back for ``step``: a journal call's result, or the response."""
    if isinstance(step, Blocking):
        return step.call()
    response = http.send(step)
    response.read()
    return response


def step_until(flow: Generator[Any, Any, Any], http: httpx.Client, marker: bytes) -> Any:
    """Run ``flow`` until it yields a request whose body holds ``marker``; return that request."""
    step = next(flow)
    while isinstance(step, Blocking) or marker not in step.content:
        step = flow.send(answer(step, http))
    return step


def finish(flow: Generator[Any, Any, Any], step: Any, http: httpx.Client) -> Any:
    try:
        while True:
            step = flow.send(answer(step, http))
    except StopIteration as stop:
        return stop.value


def standing(mock: MockGateway) -> int:
    ledger = mock.centre.ledger
    return sum(
        1
        for t in ledger.transactions
        if t.kind == "settle" and not ledger.is_reversed(t.settlement_id)
    )


def test_two_calls_with_one_key_cannot_run_at_once(
    client: SettlementClient, http: httpx.Client, mock: MockGateway
) -> None:
    first = flows.settle(client.setup, purchase(MOTHER), "RACE-0001", Cash.counter())
    pending = step_until(first, http, b'"infno":"2102"')
    with pytest.raises(InvalidInput, match="being settled right now"):
        drive(flows.settle(client.setup, purchase(MOTHER), "RACE-0001", Cash.counter()), http)
    receipt = finish(first, pending, http)
    assert (
        drive(flows.settle(client.setup, purchase(MOTHER), "RACE-0001", Cash.counter()), http)
        == receipt
    )
    assert standing(mock) == 1 and mock.balance(SON) == Fen(460_000)


def test_recover_leaves_a_sale_in_flight_alone(
    client: SettlementClient, http: httpx.Client, mock: MockGateway
) -> None:
    sale = flows.settle(client.setup, purchase(MOTHER), "RACE-0002", Cash.wechat(WECHAT_PAID))
    pending = step_until(sale, http, b'"infno":"2102"')
    assert client.journal.get("RACE-0002").state is EntryState.CENTRE_PENDING
    assert client.recover() == []  # the entry is unfinished, not in doubt
    receipt = finish(sale, pending, http)
    assert client.journal.get("RACE-0002").state is EntryState.SETTLED
    assert standing(mock) == 1 and mock.wechatpay.collected() == receipt.cash


def test_a_code_scanned_under_the_wrong_channel_is_refused_before_anything_is_sent() -> None:
    with pytest.raises(InvalidInput, match="not a payment code for WeChat Pay"):
        Cash.wechat("2887654321012341")  # an Alipay code
    with pytest.raises(InvalidInput, match="not a payment code for Alipay"):
        Cash("alipay")


def test_refund_without_the_cash_channel_configured_gives_nothing_back(mock: MockGateway) -> None:
    till = SettlementClient.from_profile("mock", mock=mock, polling=FAST_POLLING)
    receipt = till.settle(purchase(MOTHER), key="UNDO-0001", cash=Cash.wechat(WECHAT_PAID))
    other = SettlementClient(
        gateway=till.setup.gateway, journal=till.journal, transport=mock.transport()
    )
    with pytest.raises(ConfigError, match="No wechatpay channel"):
        other.refund(receipt.settlement_id)
    assert till.journal.get("UNDO-0001").state is EntryState.SETTLED
    assert standing(mock) == 1 and mock.wechatpay.collected() == receipt.cash


def test_a_key_reused_for_another_patients_e_voucher_is_refused(
    client: SettlementClient, mock: MockGateway
) -> None:
    items = [drug(9_000, coverage="C")]
    mother = Purchase(credential=Credential.e_voucher(mock.issue_e_voucher(MOTHER)), items=items)
    client.settle(mother, key="EV-OTHER-1")
    wife = Purchase(credential=Credential.e_voucher(mock.issue_e_voucher(WIFE)), items=items)
    with pytest.raises(InvalidInput, match="another patient"):
        client.settle(wife, key="EV-OTHER-1")
    assert mock.balance(WIFE) == Fen(80_000) and standing(mock) == 1


def test_two_refunds_of_one_sale_cannot_run_at_once(
    client: SettlementClient, http: httpx.Client, mock: MockGateway
) -> None:
    receipt = client.settle(purchase(MOTHER), key="RACE-0003", cash=Cash.wechat(WECHAT_PAID))
    first = undo_flows.undo(client.setup, receipt.settlement_id, "refund")
    pending = next(first)  # the first refund holds the sale
    with pytest.raises(InvalidInput, match="being settled or undone"):
        drive(undo_flows.undo(client.setup, receipt.settlement_id, "refund"), http)
    finish(first, pending, http)
    assert client.journal.get("RACE-0003").state is EntryState.REFUNDED
    assert mock.wechatpay.collected() == Fen(0) and standing(mock) == 0 and mock.check() == []
