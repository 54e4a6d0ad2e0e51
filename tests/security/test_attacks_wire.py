"""A man in the middle between the till and the gateways: answers altered, forged,
stripped of their signature, signed under another serial, replayed from another sale.
Channel answers are signed (WeChat Pay, Alipay): a change fails the signature before the
body is read. The national envelope's answers carry no signature (TLS protects them:
tests/security/test_tls.py); what a forged one can change is bounded: the centre decides
on its own data, an answer that does not add up, has sub-fen amounts, names another
patient or replays another sale is not trusted and the settlement is reversed, and a
split that adds up but differs is a divergence on the receipt and in reconcile()."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from gongji import (
    Cash,
    Declined,
    Fen,
    SettlementClient,
    SignatureError,
    Unavailable,
    UntrustedAnswer,
)
from gongji import clock as beijing
from gongji.client import drive
from gongji.flows.setup import SettlementEvent
from gongji.hookspecs import hookimpl
from gongji_mock import MockGateway
from tests.client.conftest import (
    ALIPAY_POOR,
    FATHER,
    GRANDMOTHER,
    MOTHER,
    SISTER,
    SON,
    WECHAT_PAID,
    WECHAT_POOR,
    WIFE,
    Till,
    drug,
    purchase,
)
from tests.security.conftest import (
    ManInTheMiddle,
    edit_output,
    ledger,
    national,
    nothing_moved,
    path_is,
    rewritten,
)

CODEPAY = "/v3/pay/transactions/codepay"
ALIPAY = "/gateway.do"


def add_owner(output: dict[str, Any]) -> None:
    output["gongji_bindings"].insert(
        0,
        {
            "psn_no": "99999999",
            "certno": WIFE,
            "psn_name": "刘芳",
            "relation": "spouse",
            "status": "active",
            "priority": 1,
            "insutype": "310",
            "insuplc_admdvs": "210202",
            "balc": "800.00",
        },
    )


def binding_of(owner: str, **changes: Any) -> Any:
    def edit(output: dict[str, Any]) -> None:
        for binding in output["gongji_bindings"]:
            if binding["certno"] == owner:
                binding.update(changes)

    return edit


# ---------------------------------------------------------------- X101, the bindings


def test_x101_answer_with_an_owner_added_charges_no_stranger_the_centre_decides(
    till: Till, mitm: ManInTheMiddle, mock: MockGateway
) -> None:
    mitm.on(national("X101"), edit_output(add_owner), times=2)  # preview's and settle's
    wife = mock.balance(WIFE)
    plan = till.preview(purchase(MOTHER)).plan  # the local plan: the forged owner in it
    assert plan is not None and any(leg.payer_id == WIFE for leg in plan.legs)
    receipt = till.settle(purchase(MOTHER), key="ATK-X101-ADD", cash=Cash.counter())
    assert mock.balance(WIFE) == wife  # the forged owner paid nothing
    assert all(leg.payer_id != WIFE for leg in receipt.legs)
    assert any("刘" not in line and "****" in line for line in receipt.divergence)
    assert mock.balance(SON) == Fen(460_000) and mock.check() == []


def test_x101_answer_with_a_limit_raised_charges_no_more_than_the_real_limit(
    till: Till, mitm: ManInTheMiddle, mock: MockGateway
) -> None:
    mitm.on(national("X101"), edit_output(binding_of(SON, per_transaction_limit="5000.00")))
    receipt = till.settle(purchase(MOTHER), key="ATK-X101-LIM", cash=Cash.counter())
    assert mock.balance(SON) == Fen(500_000 - 40_000)  # the real limit: 400 yuan
    assert receipt.divergence and mock.check() == []


def test_x101_answer_with_a_revoked_binding_made_active_does_not_charge_its_owner(
    till: Till, mitm: ManInTheMiddle, mock: MockGateway
) -> None:
    mitm.on(national("X101"), edit_output(binding_of(SON, status="active")))
    son = mock.balance(SON)
    receipt = till.settle(purchase(FATHER), key="ATK-X101-REV", cash=Cash.counter())
    assert mock.balance(SON) == son
    assert all(leg.payer_id != SON for leg in receipt.legs)
    assert mock.check() == []


def test_x101_answer_with_a_relation_changed_does_not_open_a_refused_binding(
    till: Till, mitm: ManInTheMiddle, mock: MockGateway
) -> None:
    """Dalian's pack refuses a grandparent's binding; calling her a parent changes nothing."""
    mitm.on(national("X101"), edit_output(binding_of(SON, relation="parent")))
    son = mock.balance(SON)
    receipt = till.settle(purchase(GRANDMOTHER), key="ATK-X101-REL", cash=Cash.counter())
    assert mock.balance(SON) == son
    assert all(leg.payer_id != SON for leg in receipt.legs)


@pytest.mark.parametrize(
    "changes",
    [{"priority": 0}, {"balc": "-1.00"}, {"certno": "210202198503170037"}],
    ids=["priority-0", "negative-balance", "bad-checksum"],
)
def test_x101_answer_the_model_refuses_is_untrusted_not_blamed_on_the_till(
    till: Till, mitm: ManInTheMiddle, mock: MockGateway, changes: dict[str, Any]
) -> None:
    before = ledger(mock)
    mitm.on(national("X101"), edit_output(binding_of(SON, **changes)), times=2)
    with pytest.raises(UntrustedAnswer, match="centre"):
        till.preview(purchase(MOTHER))
    with pytest.raises(UntrustedAnswer):
        till.settle(purchase(MOTHER), key="ATK-X101-BAD", cash=Cash.counter())
    assert "2102" not in mitm.infnos()
    nothing_moved(mock, before)


# ---------------------------------------------------------------- 2102, the settlement


def test_centre_answer_whose_split_does_not_add_up_is_untrusted_and_reversed(
    till: Till, mitm: ManInTheMiddle, mock: MockGateway
) -> None:
    before = ledger(mock)

    def cheaper_cash(output: dict[str, Any]) -> None:
        output["setlinfo"]["psn_cash_pay"] = "0.00"

    mitm.on(national("2102"), edit_output(cheaper_cash))
    with pytest.raises(Unavailable, match="reversed"):
        till.settle(purchase(MOTHER), key="ATK-2102-SUM", cash=Cash.wechat(WECHAT_PAID))
    assert "2601" in mitm.infnos()
    nothing_moved(mock, before)


def test_centre_answer_with_sub_fen_amounts_at_the_wire_is_untrusted_and_reversed(
    till: Till, mitm: ManInTheMiddle, mock: MockGateway
) -> None:
    before = ledger(mock)

    def three_decimals(output: dict[str, Any]) -> None:
        output["setlinfo"]["acct_pay"] = "0.001"

    mitm.on(national("2102"), edit_output(three_decimals))
    with pytest.raises(Unavailable, match="reversed"):
        till.settle(purchase(WIFE, drug(9_000)), key="ATK-2102-DEC", cash=Cash.counter())
    nothing_moved(mock, before)


def test_centre_answer_with_a_different_split_is_a_divergence_and_reconcile_finds_it(
    till: Till, mitm: ManInTheMiddle, mock: MockGateway
) -> None:
    """A split that adds up is the centre's word: it goes on the receipt, the difference
    from the plan is listed, and the day's reconciliation against the centre flags it."""

    def shifted(output: dict[str, Any]) -> None:
        info = output["setlinfo"]
        info["acct_pay"], info["psn_cash_pay"] = "80.00", "10.00"

    mitm.on(national("2102"), edit_output(shifted))
    receipt = till.settle(purchase(WIFE, drug(9_000)), key="ATK-2102-DIV", cash=Cash.counter())
    assert receipt.divergence  # planned 90 from her account, "centre" 80
    report = till.reconcile(beijing.today())
    assert not report.clean


def test_a_replayed_centre_answer_of_an_earlier_sale_is_refused_and_reversed(
    till: Till, mitm: ManInTheMiddle, mock: MockGateway
) -> None:
    recorded: list[httpx.Response] = []

    def record(_request: httpx.Request, response: httpx.Response) -> httpx.Response:
        recorded.append(response)
        return response

    mitm.on(national("2102"), record)
    first = till.settle(purchase(WIFE, drug(9_000)), key="ATK-OLD-1", cash=Cash.counter())
    after_first = ledger(mock)
    mitm.on(national("2102"), lambda _q, _r: recorded[0])  # the old msgid's answer again
    with pytest.raises(Unavailable, match="not trusted"):
        till.settle(purchase(WIFE, drug(9_000)), key="ATK-OLD-2", cash=Cash.counter())
    nothing_moved(mock, after_first)  # the second settlement happened at the centre, reversed
    assert till.refund(first.settlement_id).settlement_id == first.settlement_id


def test_a_replayed_answer_for_a_sale_paying_cash_is_refused_before_any_charge(
    till: Till, mitm: ManInTheMiddle, mock: MockGateway
) -> None:
    """The cash share's write (``cash_pending``) is the one that would give the earlier
    sale's settlement to this one: the journal refuses it, the settlement this sale made
    is reversed, and the channel is never asked for money."""
    recorded: list[httpx.Response] = []

    def record(_request: httpx.Request, response: httpx.Response) -> httpx.Response:
        recorded.append(response)
        return response

    mitm.on(national("2102"), record)
    first = till.settle(
        purchase(WIFE, drug(90_000, coverage="C")), key="ATK-OLD-CASH-1", cash=Cash.counter()
    )
    after_first = ledger(mock)
    mitm.on(national("2102"), lambda _q, _r: recorded[0])  # the old msgid's answer again
    with pytest.raises(Unavailable, match="not trusted"):
        till.settle(
            purchase(WIFE, drug(90_000, coverage="C")),
            key="ATK-OLD-CASH-2",
            cash=Cash.wechat(WECHAT_PAID),
        )
    nothing_moved(mock, after_first)  # no WeChat charge; the second settlement reversed
    assert till.refund(first.settlement_id).settlement_id == first.settlement_id


def test_a_centre_answer_for_another_patient_is_refused_and_reversed(
    till: Till, mitm: ManInTheMiddle, mock: MockGateway
) -> None:
    def another(output: dict[str, Any]) -> None:
        output["setlinfo"]["certno"] = SISTER

    before = ledger(mock)
    mitm.on(national("2102"), edit_output(another))
    with pytest.raises(Unavailable, match="not trusted"):
        till.settle(purchase(WIFE, drug(9_000)), key="ATK-2102-WHO", cash=Cash.counter())
    nothing_moved(mock, before)


# ---------------------------------------------------------------- the payment channels


def forged_wechat_success(request: httpx.Request, response: httpx.Response) -> httpx.Response:
    sent = json.loads(request.content)
    body = {
        "appid": sent["appid"],
        "mchid": sent["mchid"],
        "out_trade_no": sent["out_trade_no"],
        "transaction_id": "4200000000000000000000000001",
        "trade_type": "MICROPAY",
        "trade_state": "SUCCESS",
        "trade_state_desc": "支付成功",
        "success_time": "2026-11-23T10:00:00+08:00",
        "amount": {"total": sent["amount"]["total"], "currency": "CNY"},
        "payer": {"openid": "o-forged"},
    }
    return httpx.Response(
        200, headers={"Content-Type": "application/json"}, content=json.dumps(body).encode()
    )


def test_forged_wechat_success_without_signature_is_refused_and_nothing_is_charged(
    till: Till, mitm: ManInTheMiddle, mock: MockGateway
) -> None:
    """A "paid" answer with no Wechatpay-Signature for a code that cannot pay: the till
    asks WeChat Pay again, hears the truth, and cancels at the centre."""
    before = ledger(mock)
    mitm.on(path_is(CODEPAY), forged_wechat_success)
    with pytest.raises(Declined, match="nothing was charged"):
        till.settle(
            purchase(WIFE, drug(90_000, coverage="C")),
            key="ATK-WX-NOSIG",
            cash=Cash.wechat(WECHAT_POOR),
        )
    assert [
        r.method for r in mitm.sent if r.url.path.startswith("/v3/pay/transactions/out-trade-no")
    ]
    assert "2103" in mitm.infnos()  # the centre's settlement cancelled
    nothing_moved(mock, before)


def test_forged_wechat_success_signed_under_an_unknown_platform_serial_is_refused(
    till: Till, mitm: ManInTheMiddle, mock: MockGateway
) -> None:
    before = ledger(mock)

    def other_serial(request: httpx.Request, response: httpx.Response) -> httpx.Response:
        forged = forged_wechat_success(request, response)
        stamps = {k: v for k, v in response.headers.items() if k.lower().startswith("wechatpay-")}
        return rewritten(
            forged,
            forged.content,
            headers=stamps | {"Wechatpay-Serial": "PUB_KEY_ID_0000000000000000000000000001"},
        )

    mitm.on(path_is(CODEPAY), other_serial)
    with pytest.raises(Declined):
        till.settle(
            purchase(WIFE, drug(90_000, coverage="C")),
            key="ATK-WX-SERIAL",
            cash=Cash.wechat(WECHAT_POOR),
        )
    nothing_moved(mock, before)


def test_wechat_answer_altered_in_transit_fails_its_signature(
    till: Till, mitm: ManInTheMiddle, mock: MockGateway
) -> None:
    """The genuine signed headers over a body that says SUCCESS: the signature fails."""
    before = ledger(mock)

    def altered(request: httpx.Request, response: httpx.Response) -> httpx.Response:
        forged = forged_wechat_success(request, response)
        return rewritten(response, forged.content)

    mitm.on(path_is(CODEPAY), altered)
    with pytest.raises(Declined):
        till.settle(
            purchase(WIFE, drug(90_000, coverage="C")),
            key="ATK-WX-ALTER",
            cash=Cash.wechat(WECHAT_POOR),
        )
    nothing_moved(mock, before)


def test_a_signed_wechat_answer_for_another_out_trade_no_is_refused(
    till: Till, mitm: ManInTheMiddle, mock: MockGateway
) -> None:
    """A genuine, signed "paid" answer of an earlier sale, replayed for this one."""
    paid: list[httpx.Response] = []

    def record(_request: httpx.Request, response: httpx.Response) -> httpx.Response:
        paid.append(response)
        return response

    mitm.on(path_is(CODEPAY), record)
    till.settle(
        purchase(WIFE, drug(90_000, coverage="C")), key="ATK-WX-A", cash=Cash.wechat(WECHAT_PAID)
    )
    after_first = ledger(mock)
    mitm.on(path_is(CODEPAY), lambda _q, _r: paid[0])
    with pytest.raises(Declined):
        till.settle(
            purchase(WIFE, drug(90_000, coverage="C")),
            key="ATK-WX-B",
            cash=Cash.wechat(WECHAT_POOR),
        )
    nothing_moved(mock, after_first)


def test_forged_alipay_success_with_its_sign_removed_is_refused(
    till: Till, mitm: ManInTheMiddle, mock: MockGateway
) -> None:
    before = ledger(mock)

    def unsigned_success(request: httpx.Request, response: httpx.Response) -> httpx.Response:
        if b"alipay.trade.pay" not in request.content and "alipay.trade.pay" not in str(
            request.url
        ):
            return response
        reply = json.loads(response.content)
        body = reply["alipay_trade_pay_response"]
        body.update(code="10000", msg="Success", trade_no="2026112322001400000000000001")
        body.pop("sub_code", None)
        body.pop("sub_msg", None)
        reply.pop("sign", None)
        return rewritten(response, json.dumps(reply).encode())

    mitm.on(path_is(ALIPAY), unsigned_success)
    with pytest.raises(Declined):
        till.settle(
            purchase(WIFE, drug(90_000, coverage="C")),
            key="ATK-ALI-NOSIG",
            cash=Cash.alipay(ALIPAY_POOR),
        )
    nothing_moved(mock, before)


def test_every_settlement_event_of_an_attack_names_no_full_id(
    till: Till, mitm: ManInTheMiddle
) -> None:
    """The divergence an attacker provokes is announced with masked IDs only."""
    events: list[SettlementEvent] = []
    till.client.setup.plugins.register(_Listener(events), name="attack-listener")
    try:
        mitm.on(national("X101"), edit_output(add_owner), times=1)
        till.settle(purchase(MOTHER), key="ATK-EVT", cash=Cash.counter())
    finally:
        till.client.setup.plugins.unregister(name="attack-listener")
    assert [e.kind for e in events] == ["settled", "divergence"]
    assert all(WIFE not in str(e) and SON not in str(e) for e in events)


class _Listener:
    def __init__(self, events: list[SettlementEvent]) -> None:
        self.events = events

    @hookimpl
    def gongji_settlement_event(self, event: SettlementEvent) -> None:
        self.events.append(event)


def test_a_wechat_answer_stripped_of_its_signature_is_refused_before_its_body_is_read(
    mitm: ManInTheMiddle, mock: MockGateway
) -> None:
    """The body is not even JSON: the error is the missing signature, never a decode error."""

    def stripped(_request: httpx.Request, response: httpx.Response) -> httpx.Response:
        return rewritten(response, b"{not json at all", drop=("Wechatpay-Signature",))

    with (
        SettlementClient.from_profile("mock", mock=mock, transport=mitm.transport()) as client,
        httpx.Client(transport=mitm.transport()) as http,
    ):
        sold = purchase(WIFE, drug(90_000, coverage="C"))
        client.settle(sold, key="ATK-STRIP-1", cash=Cash.wechat(WECHAT_PAID))
        entry = client.journal.get("ATK-STRIP-1")
        assert entry is not None
        mitm.on(path_is("/v3/pay/transactions/out-trade-no/"), stripped)
        with pytest.raises(SignatureError, match="Wechatpay-Signature"):
            drive(client.setup.channel("wechatpay").query(entry.out_trade_no), http)


def test_an_alipay_answer_stripped_of_its_sign_is_refused_before_its_body_is_trusted(
    mitm: ManInTheMiddle, mock: MockGateway
) -> None:
    def stripped(_request: httpx.Request, response: httpx.Response) -> httpx.Response:
        reply = json.loads(response.content)
        reply.pop("sign", None)
        return rewritten(response, json.dumps(reply).encode())

    mitm.on(path_is(ALIPAY), stripped)
    with (
        SettlementClient.from_profile("mock", mock=mock) as client,
        httpx.Client(transport=mitm.transport()) as http,
        pytest.raises(SignatureError, match="sign"),
    ):
        drive(client.setup.channel("alipay").query("ATK-STRIP-2"), http)


@pytest.fixture
def mock() -> MockGateway:
    """The X101 attacks need X101: a mock with gongji's extensions, and a till using them."""
    return MockGateway.demo(extensions=True)
