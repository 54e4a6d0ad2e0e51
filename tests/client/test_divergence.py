"""The centre decides; the receipt says where it disagreed with the local plan, and
``gongji_settlement_event`` observers hear every settlement and every divergence."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gongji import Cash, Fen
from gongji.flows.setup import SettlementEvent
from gongji.hookspecs import hookimpl
from gongji.plugins import make_plugin_manager
from gongji.rules.context import CheckContext
from gongji.rules.planner import PayerCandidate
from gongji_mock import MockGateway
from tests.client.conftest import MOTHER, SISTER, SON, drug, make_till, purchase


class SisterFirst:
    """A local ordering plugin the centre does not have: the plan and the centre part ways."""

    @hookimpl
    def gongji_order_payers(
        self, candidates: Sequence[PayerCandidate], context: CheckContext
    ) -> list[PayerCandidate]:
        return sorted(candidates, key=lambda c: c.owner.id != SISTER)


class Observer:
    def __init__(self) -> None:
        self.events: list[SettlementEvent] = []

    @hookimpl
    def gongji_settlement_event(self, event: Any) -> None:
        self.events.append(event)


class Broken:
    @hookimpl
    def gongji_settlement_event(self, event: Any) -> None:
        raise RuntimeError("the receipt printer is out of paper")


def plugins(*extra: object) -> Any:
    manager = make_plugin_manager(load_entry_points=True)
    for plugin in extra:
        manager.register(plugin)
    return manager


def test_divergence_between_plan_and_centre_is_on_the_receipt_and_announced(driver: str) -> None:
    observer = Observer()
    mock = MockGateway.demo(extensions=True)  # the plan needs the bindings (X101)
    for till in make_till(mock, driver, plugins=plugins(SisterFirst(), observer)):
        basket = purchase(MOTHER, drug(10_000, coverage="C"))  # less than the two accounts hold
        quote = till.preview(basket)
        # The preview shows the centre's split (2101); the local plan is its explanation.
        assert [(leg.payer_id, leg.amount) for leg in quote.legs] == [(SON, Fen(10_000))]
        assert quote.plan is not None
        assert [(leg.payer_id, leg.amount) for leg in quote.plan.legs] == [
            (SISTER, Fen(3_000)),
            (SON, Fen(7_000)),
        ]
        receipt = till.settle(basket, key="DIV-0001", cash=Cash.counter())
        assert [(leg.payer_id, leg.amount) for leg in receipt.legs] == [(SON, Fen(10_000))]
        assert len(receipt.divergence) == 2  # the son's and the sister's shares
        assert all(SON not in line for line in receipt.divergence)  # masked IDs only
        assert [e.kind for e in observer.events] == ["settled", "divergence"]
        assert mock.check() == []


def test_a_failing_observer_never_undoes_a_settled_sale(driver: str) -> None:
    mock = MockGateway.demo(extensions=True)  # the plan needs the bindings (X101)
    for till in make_till(mock, driver, plugins=plugins(Broken())):
        receipt = till.settle(purchase(MOTHER), key="OBS-0001", cash=Cash.counter())
        assert receipt.total == Fen(50_000)
        assert mock.balance(SON) == Fen(460_000)
