"""A buggy or hostile plugin inside a hook, and attacks on undoing a sale: a refund
larger than the charge, a refund repeated, a refund of another till's settlement, and a
binding revoked after the cashier's preview (or replayed as still active)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

import attrs
import httpx
import pluggy
import pytest

from gongji import (
    Cash,
    ConfigError,
    Declined,
    Fen,
    InvalidInput,
    SettlementClient,
)
from gongji.client import drive
from gongji.hookspecs import hookimpl
from gongji.journal import EntryState
from gongji.plugins import make_plugin_manager
from gongji.rules.planner import PayerCandidate
from gongji_mock import MockGateway
from tests.client.conftest import (
    ALIPAY_PAID,
    MOTHER,
    SON,
    WECHAT_PAID,
    WECHAT_POOR,
    WIFE,
    Till,
    drug,
    make_till,
    purchase,
)
from tests.security.conftest import ManInTheMiddle, edit_output, ledger, national, nothing_moved

T = TypeVar("T")


class RaisingCheck:
    @hookimpl
    def gongji_check(self, context: Any) -> None:
        raise RuntimeError("the rule plugin crashed")


class RaisingOrder:
    @hookimpl(tryfirst=True)
    def gongji_order_payers(self, candidates: Sequence[PayerCandidate], context: Any) -> None:
        raise KeyError("the ordering plugin crashed")


class StrangerOrder:
    """Returns the candidates with one of them twice: a payer the rules never passed."""

    @hookimpl(tryfirst=True)
    def gongji_order_payers(
        self, candidates: Sequence[PayerCandidate], context: Any
    ) -> list[PayerCandidate]:
        return [*candidates, candidates[0]] if candidates else []


class RaisingObserver:
    def __init__(self) -> None:
        self.heard: list[str] = []

    @hookimpl
    def gongji_settlement_event(self, event: Any) -> None:
        self.heard.append(event.kind)
        raise RuntimeError("the receipt printer is on fire")


@pytest.fixture
def manager() -> pluggy.PluginManager:
    """The client's own plugin manager (the in-process mock's centre keeps the default one:
    a plugin at the till must not change what the centre decides)."""
    return make_plugin_manager(load_entry_points=True)


@pytest.fixture
def till(mitm: ManInTheMiddle, driver: str, manager: pluggy.PluginManager) -> Iterator[Till]:
    yield from make_till(mitm.mock, driver, transport=mitm.transport(), plugins=manager)


@pytest.fixture
def plugin(till: Till, manager: pluggy.PluginManager) -> Callable[[T], T]:
    """Registers a plugin on the very plugin manager the client uses."""
    assert till.client.setup.plugins is manager

    def register(obj: T) -> T:
        manager.register(obj, name=f"attack-{type(obj).__name__}")
        return obj

    return register


@pytest.mark.parametrize("bad", [RaisingCheck, RaisingOrder, StrangerOrder])
def test_a_plugin_failing_inside_a_deciding_hook_fails_safe_nothing_charged(
    till: Till, mitm: ManInTheMiddle, mock: MockGateway, plugin: Callable[[Any], Any], bad: type
) -> None:
    plugin(bad())
    before = ledger(mock)
    with pytest.raises(ConfigError, match="plugin") as caught:
        till.settle(purchase(MOTHER), key=f"ATK-PLUG-{bad.__name__}", cash=Cash.wechat(WECHAT_PAID))
    assert "nothing was charged" in str(caught.value) or "candidates" in str(caught.value)
    assert "2102" not in mitm.infnos()  # the centre was never asked to settle
    assert not any(r.url.path.startswith("/v3/") for r in mitm.sent)
    nothing_moved(mock, before)


def test_an_observer_raising_after_a_sale_never_undoes_the_sale(
    till: Till, mitm: ManInTheMiddle, mock: MockGateway, plugin: Callable[[Any], Any]
) -> None:
    observer = plugin(RaisingObserver())
    receipt = till.settle(purchase(MOTHER), key="ATK-OBS-SOLD", cash=Cash.wechat(WECHAT_PAID))
    assert observer.heard[0] == "settled"
    assert mock.balance(SON) == Fen(460_000) and mock.wechatpay.collected() == receipt.cash
    assert till.client.journal.get("ATK-OBS-SOLD").state is EntryState.SETTLED
    assert not {"2103", "2601"} & set(mitm.infnos())
    assert mock.check() == []


def test_an_observer_raising_on_a_declined_sale_does_not_stop_its_cancellation(
    till: Till, mitm: ManInTheMiddle, mock: MockGateway, plugin: Callable[[Any], Any]
) -> None:
    observer = plugin(RaisingObserver())
    before = ledger(mock)
    with pytest.raises(Declined, match="nothing was charged"):
        till.settle(
            purchase(WIFE, drug(90_000, coverage="C")),
            key="ATK-OBS-DECL",
            cash=Cash.wechat(WECHAT_POOR),
        )
    assert "cancelled" in observer.heard and "2103" in mitm.infnos()
    nothing_moved(mock, before)


# ---------------------------------------------------------------- undoing a sale


def test_a_refund_larger_than_the_charge_is_refused_nothing_given_back(
    till: Till, mock: MockGateway, mitm: ManInTheMiddle
) -> None:
    sold = till.settle(
        purchase(WIFE, drug(90_000, coverage="C")),
        key="ATK-REF-BIG",
        cash=Cash.wechat(WECHAT_PAID),
    )
    entry = till.client.journal.get("ATK-REF-BIG")
    assert entry is not None and sold.cash == Fen(10_000)
    collected, sent = mock.wechatpay.collected(), len(mitm.sent)
    channel = till.client.setup.channel("wechatpay")
    with httpx.Client(transport=mitm.transport()) as http:
        # More than the order's total: refused before anything is sent.
        with pytest.raises(InvalidInput, match="at most the order's total"):
            drive(
                channel.refund(entry.out_trade_no, "ATKRBIG1", sold.cash + Fen(1), sold.cash), http
            )
        assert len(mitm.sent) == sent
        # A total made up to match: WeChat Pay (the mock) refuses it, nothing refunded.
        refund = drive(
            channel.refund(entry.out_trade_no, "ATKRBIG2", Fen(20_000), Fen(20_000)), http
        )
    assert refund.state == "failed" and refund.amount == Fen(20_000)
    assert mock.wechatpay.collected() == collected and mock.check() == []


def test_a_refund_repeated_gives_the_money_back_once(
    till: Till, mock: MockGateway, mitm: ManInTheMiddle
) -> None:
    before = ledger(mock)
    sold = till.settle(
        purchase(MOTHER, drug(50_000, coverage="C")),
        key="ATK-REF-TWICE",
        cash=Cash.alipay(ALIPAY_PAID),
    )
    refunded = till.refund(sold.settlement_id)
    assert ledger(mock) == before  # everything back, once
    sent = len(mitm.sent)
    assert till.refund(sold.settlement_id) == refunded  # the same answer, nothing sent again
    with pytest.raises(InvalidInput, match="refunded"):
        till.cancel(sold.settlement_id)
    assert len(mitm.sent) == sent
    nothing_moved(mock, before)


def test_a_refund_of_another_tills_settlement_is_refused_nothing_sent(
    till: Till, mock: MockGateway
) -> None:
    sold = till.settle(purchase(MOTHER), key="ATK-REF-OTHER", cash=Cash.counter())
    after = ledger(mock)
    stranger = ManInTheMiddle(mock)
    with SettlementClient.from_profile("mock", mock=mock, transport=stranger.transport()) as other:
        with pytest.raises(InvalidInput, match="has no settlement"):
            other.refund(sold.settlement_id)
        with pytest.raises(InvalidInput, match="has no settlement"):
            other.cancel(sold.settlement_id)
    assert stranger.sent == []
    nothing_moved(mock, after)


def revoke(mock: MockGateway, owner: str, beneficiary: str) -> None:
    dataset = mock.centre.dataset
    bindings = tuple(
        attrs.evolve(b, status="revoked") if (b.owner, b.beneficiary) == (owner, beneficiary) else b
        for b in dataset.bindings
    )
    mock.centre.dataset = attrs.evolve(dataset, bindings=bindings)


def test_a_binding_revoked_after_the_preview_is_not_charged(till: Till, mock: MockGateway) -> None:
    quote = till.preview(purchase(MOTHER))
    assert any(leg.payer_id == SON for leg in quote.legs)
    revoke(mock, SON, MOTHER)  # the son revokes it while the mother waits at the till
    son = mock.balance(SON)
    receipt = till.settle(purchase(MOTHER), key="ATK-REVOKED", cash=Cash.counter())
    assert mock.balance(SON) == son
    assert all(leg.payer_id != SON for leg in receipt.legs)
    assert any(r.owner_id == SON for r in receipt.refusals)
    assert mock.check() == []


def test_a_revoked_binding_replayed_as_active_is_not_charged(
    till: Till, mitm: ManInTheMiddle, mock: MockGateway
) -> None:
    revoke(mock, SON, MOTHER)

    def still_active(output: dict[str, Any]) -> None:
        for binding in output["gongji_bindings"]:
            binding["status"] = "active"

    mitm.on(national("X101"), edit_output(still_active))
    son = mock.balance(SON)
    receipt = till.settle(purchase(MOTHER), key="ATK-REVOKED-MITM", cash=Cash.counter())
    assert mock.balance(SON) == son
    assert all(leg.payer_id != SON for leg in receipt.legs) and receipt.divergence


@pytest.fixture
def mock() -> MockGateway:
    """Plugins that order or refuse payers need the bindings at the till: a mock with
    gongji's extensions (X101), where the mock profile's gateway uses them too."""
    return MockGateway.demo(extensions=True)
