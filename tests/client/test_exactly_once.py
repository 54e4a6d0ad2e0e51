"""Issue 15's defects, each as the invariant it broke: one key settles once (D1), one
payment serves one sale (D2), a reversal names its own sale (D3), money given back is
never given back again (D4), a msgid is one message's (D5), and the smaller ones."""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import json
from collections.abc import Callable
from typing import Any

import attrs
import httpx
import pytest

from gongji import (
    Cash,
    ConfigError,
    Fen,
    InvalidInput,
    LineItem,
    OutcomeUnknown,
    Purchase,
    SettlementClient,
)
from gongji.client import drive
from gongji.errors import JournalUnavailable
from gongji.flows import settle as flows
from gongji.journal import EntryState, MemoryJournal, SqliteJournal
from gongji_mock import MockGateway
from tests.client.conftest import FAST_POLLING, MOTHER, SON, WECHAT_PAID, WIFE, drug, purchase
from tests.client.test_saga_races import standing, step_until


class Interleaving(MemoryJournal):
    """A journal that calls ``at_boundary`` before each of its calls: where another flow
    is run to the end in the middle of this one."""

    at_boundary: Callable[[], None] = staticmethod(lambda: None)

    def _boundary(self) -> None:
        hook, self.at_boundary = self.at_boundary, staticmethod(lambda: None)
        hook()  # once: the other flow's own journal calls do not recurse
        self.at_boundary = hook

    def get(self, key: str) -> Any:
        self._boundary()
        return super().get(key)

    def put(self, entry: Any, *, durable: bool = True, held: bool = False) -> None:
        self._boundary()
        super().put(entry, durable=durable, held=held)

    def in_doubt(self) -> Any:
        self._boundary()
        return super().in_doubt()

    def acquire(self, key: str) -> bool:
        self._boundary()
        return super().acquire(key)


def a_sale_left_at_the_centre(client: SettlementClient, http: httpx.Client, key: str) -> None:
    """The centre settles ``key``; the till dies before the answer (centre_pending)."""
    sale = flows.settle(client.setup, purchase(MOTHER), key, Cash.wechat(WECHAT_PAID))
    http.send(step_until(sale, http, b'"infno":"2102"')).read()
    sale.close()


@pytest.mark.parametrize("boundary", range(12))
def test_d1_recover_interleaved_with_same_key_retries_settles_one_key_once(boundary: int) -> None:
    mock = MockGateway.demo()
    journal = Interleaving()
    client = SettlementClient.from_profile("mock", mock=mock, journal=journal, polling=FAST_POLLING)
    http = httpx.Client(transport=mock.transport())
    a_sale_left_at_the_centre(client, http, "D1-0001")
    calls = 0

    def retry_once_at_the_boundary() -> None:
        nonlocal calls
        calls += 1
        if calls == boundary + 1:
            # recover() may hold the key: the retry is then told to wait its turn.
            with contextlib.suppress(InvalidInput):
                client.settle(purchase(MOTHER), key="D1-0001", cash=Cash.wechat(WECHAT_PAID))

    journal.at_boundary = retry_once_at_the_boundary
    client.recover()
    journal.at_boundary = staticmethod(lambda: None)
    receipt = client.settle(purchase(MOTHER), key="D1-0001", cash=Cash.wechat(WECHAT_PAID))
    assert client.journal.get("D1-0001").state is EntryState.SETTLED
    assert standing(mock) == 1 and mock.wechatpay.collected() == receipt.cash
    assert mock.balance(SON) == Fen(460_000) and mock.check() == []


def test_d2_one_key_on_two_tills_journals_is_two_payments() -> None:
    mock = MockGateway.demo()
    tills = [
        SettlementClient.from_profile("mock", mock=mock, polling=FAST_POLLING, till=n)
        for n in (1, 2)
    ]
    a = tills[0].settle(purchase(MOTHER), key="SAME-KEY", cash=Cash.wechat(WECHAT_PAID))
    b = tills[1].settle(purchase(WIFE), key="SAME-KEY", cash=Cash.wechat(WECHAT_PAID))
    orders = {till.journal.get("SAME-KEY").out_trade_no for till in tills}
    assert len(orders) == 2
    assert mock.wechatpay.collected() == a.cash + b.cash
    tills[1].refund(b.settlement_id)  # refunds B's customer, never A's
    assert mock.wechatpay.collected() == a.cash and mock.check() == []


def test_d2_a_crafted_key_never_takes_another_sales_order_number() -> None:
    mock = MockGateway.demo()
    till = SettlementClient.from_profile("mock", mock=mock, polling=FAST_POLLING)
    key = "POS01:0001"  # outside the channels' alphabet: once turned into a digest of itself
    crafted = "G" + hashlib.sha256(key.encode()).hexdigest()[:26]
    a = till.settle(purchase(MOTHER), key=key, cash=Cash.wechat(WECHAT_PAID))
    b = till.settle(purchase(WIFE), key=crafted, cash=Cash.wechat(WECHAT_PAID))
    assert till.journal.get(key).out_trade_no != till.journal.get(crafted).out_trade_no
    assert mock.wechatpay.collected() == a.cash + b.cash and mock.check() == []


def test_d3_a_pos_and_recover_sharing_a_till_number_never_share_a_msgid(tmp_path: Any) -> None:
    path = tmp_path / "journal.sqlite3"
    pos, recovery = SqliteJournal(path), SqliteJournal(path)
    second = datetime.datetime(2026, 11, 23, 10, 0, 0, tzinfo=datetime.UTC)
    ids = [j.allocate_msgid("H21020200001", second, 3) for _ in range(50) for j in (pos, recovery)]
    assert len(set(ids)) == len(ids)
    pos.close()
    recovery.close()


def test_d3_a_reversal_is_never_sent_for_a_msgid_this_sale_was_not_given() -> None:
    mock = MockGateway.demo()
    sent: list[str] = []

    def centre(request: httpx.Request) -> httpx.Response:
        if request.url.path.startswith("/fsi/"):
            sent.append(json.loads(request.content)["infno"])
        return mock.handle(request)

    till = SettlementClient.from_profile(
        "mock", mock=mock, transport=httpx.MockTransport(centre), polling=FAST_POLLING
    )
    other = till.settle(purchase(WIFE, drug(9_000)), key="OTHER-1")
    http = httpx.Client(transport=mock.transport())
    a_sale_left_at_the_centre(till, http, "MINE-1")
    mine = till.journal.get("MINE-1")
    # The entry names the other sale's msgid (as a clash between processes once made it).
    till.journal.put(attrs.evolve(mine, msgid=till.journal.get("OTHER-1").msgid))
    sent.clear()
    [ended] = till.recover()
    assert ended.state is EntryState.NEEDS_ATTENTION and "another sale" in ended.reason
    assert "2601" not in sent
    assert till.journal.get("OTHER-1").receipt == other  # its settlement stands
    assert standing(mock) == 2  # nothing reversed: a person settles the unanswered one


def reverse_answer_lost(mock: MockGateway) -> httpx.MockTransport:
    lost: list[str] = []

    def channel(request: httpx.Request) -> httpx.Response:
        response = mock.handle(request)
        if request.url.path.endswith("/reverse") and not lost:
            lost.append(request.url.path)
            raise httpx.ReadTimeout("the answer was lost", request=request)
        return response

    return httpx.MockTransport(channel)


def test_d4_a_cancel_whose_answer_was_lost_then_a_refund_gives_the_cash_back_once() -> None:
    mock = MockGateway.demo()
    till = SettlementClient.from_profile(
        "mock", mock=mock, transport=reverse_answer_lost(mock), polling=FAST_POLLING
    )
    receipt = till.settle(purchase(MOTHER), key="D4-0001", cash=Cash.wechat(WECHAT_PAID))
    till.cancel(receipt.settlement_id)  # the lost answer is settled by querying the trade
    entry = till.journal.get("D4-0001")
    assert entry.state is EntryState.CANCELLED
    with pytest.raises(InvalidInput, match="is cancelled"):  # nothing more to give back
        till.refund(receipt.settlement_id)
    assert mock.wechatpay.collected() == Fen(0) and standing(mock) == 0
    assert mock.check() == []


def test_d4_a_refund_after_a_cancel_left_undoing_is_never_declined_for_money_already_back() -> None:
    mock = MockGateway.demo()
    till = SettlementClient.from_profile(
        "mock", mock=mock, transport=reverse_answer_lost(mock), polling=FAST_POLLING
    )
    receipt = till.settle(purchase(MOTHER), key="D4-0002", cash=Cash.wechat(WECHAT_PAID))
    entry = till.journal.get("D4-0002")
    channel = till.setup.channels["wechatpay"]
    http = httpx.Client(transport=mock.transport())
    drive(channel.reverse(entry.out_trade_no), http)  # reversed; the till never heard it
    undoing = attrs.evolve(
        entry, state=EntryState.UNDOING, undo="cancel", out_refund_no=f"{entry.out_trade_no}-R"
    )
    till.journal.put(undoing)
    assert till.refund(receipt.settlement_id) == receipt
    assert till.journal.get("D4-0002").state is EntryState.REFUNDED
    assert mock.wechatpay.collected() == Fen(0) and mock.check() == []


def test_a_reversal_the_centre_refuses_for_good_ends_in_needs_attention() -> None:
    mock = MockGateway.demo()

    def centre(request: httpx.Request) -> httpx.Response:
        if request.url.path.startswith("/fsi/") and b'"infno":"2601"' in request.content:
            return httpx.Response(200, json={"infcode": -1, "err_msg": "超过冲正时限 / too late"})
        return mock.handle(request)

    till = SettlementClient.from_profile(
        "mock", mock=mock, transport=httpx.MockTransport(centre), polling=FAST_POLLING
    )
    a_sale_left_at_the_centre(till, httpx.Client(transport=mock.transport()), "REV-0001")
    [ended] = till.recover()
    assert ended.state is EntryState.NEEDS_ATTENTION and "too late" in ended.reason
    assert till.journal.in_doubt() == []  # recover() stops retrying it
    assert till.recover() == []
    with pytest.raises(InvalidInput, match="needs a person"):
        till.settle(purchase(MOTHER), key="REV-0001", cash=Cash.wechat(WECHAT_PAID))


def test_a_purchase_that_costs_nothing_is_not_settled_at_the_centre() -> None:
    mock = MockGateway.demo()
    till = SettlementClient.from_profile("mock", mock=mock)
    free = Purchase(credential=purchase(MOTHER).credential, items=[drug(0)])
    with pytest.raises(InvalidInput, match="costs nothing"):
        till.settle(free, key="FREE-0001")
    assert standing(mock) == 0 and till.journal.get("FREE-0001") is None


def test_a_basket_of_10000_lines_is_refused_before_anything_is_sent() -> None:
    lines = [
        LineItem(code=f"X{n}", name="药", unit_price=Fen(1), quantity=1) for n in range(10_000)
    ]
    with pytest.raises(InvalidInput, match="more than the 500"):
        Purchase(credential=purchase(MOTHER).credential, items=lines)


def test_an_http_client_that_does_not_verify_certificates_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("GONGJI_ALLOW_INSECURE_TLS", raising=False)
    with pytest.raises(ConfigError, match="verification off"):
        SettlementClient.from_profile("mock", http=httpx.Client(verify=False))  # noqa: S501


def test_a_lease_whose_release_failed_is_free_after_the_journals_next_write(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "journal.sqlite3"
    till, other = SqliteJournal(path, lease_seconds=300), SqliteJournal(path)
    assert till.acquire("FULL-0001")
    real = till._drop_lease

    def disk_full(key: str, owner: str) -> None:
        raise JournalUnavailable("database or disk is full")

    monkeypatch.setattr(till, "_drop_lease", disk_full)
    till.release("FULL-0001")
    assert not other.acquire("FULL-0001")  # still held: the row could not be deleted
    monkeypatch.setattr(till, "_drop_lease", real)
    assert till.acquire("FULL-0002")  # the disk has room again: the next write drops it
    assert other.acquire("FULL-0001")  # not 300 s later
    till.close()
    other.close()


def test_the_clis_item_quantity_is_whole_digits_only() -> None:
    from gongji.cli.purchase import _item_fields

    with pytest.raises(InvalidInput, match="not a whole number"):
        _item_fields("X01:感冒灵颗粒:12.50:1e3")
    assert _item_fields("X01:感冒灵颗粒:12.50:2")["quantity"] == "2"


def test_a_sale_in_doubt_stays_in_doubt_not_needs_attention_while_the_centre_is_unreachable() -> (
    None
):
    mock = MockGateway.demo()

    def centre(request: httpx.Request) -> httpx.Response:
        if b'"infno":"2601"' in request.content:
            raise httpx.ConnectError("down", request=request)
        return mock.handle(request)

    till = SettlementClient.from_profile(
        "mock", mock=mock, transport=httpx.MockTransport(centre), polling=FAST_POLLING
    )
    a_sale_left_at_the_centre(till, httpx.Client(transport=mock.transport()), "DOWN-0001")
    [left] = till.recover()
    assert left.state is EntryState.CENTRE_PENDING
    with pytest.raises(OutcomeUnknown):
        till.settle(purchase(MOTHER), key="DOWN-0001", cash=Cash.wechat(WECHAT_PAID))
