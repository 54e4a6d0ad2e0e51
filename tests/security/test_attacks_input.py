"""Hostile input at the till: negative and overflowing amounts, sub-fen yuan, invisible
and look-alike characters, 10 MB strings, and identifiers that try to change a request's
path or headers. Each is refused with InvalidInput before a byte is sent (the man in the
middle saw nothing), or, where a value travels inside a body, it is encoded there and
the path and headers stay as they were."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from gongji import Cash, Credential, Fen, InvalidInput, LineItem, Purchase
from gongji.client import drive
from gongji_mock import MockGateway
from tests.client.conftest import WECHAT_PAID, WIFE, Till, drug, purchase
from tests.security.conftest import ManInTheMiddle, ledger, nothing_moved

TEN_MB = "药" * (10 * 1024 * 1024 // 3)
INJECTIONS = {
    "dotdot": "../../v3/refund/domestic/refunds",
    "crlf": "POS01-1\r\nX-Injected: yes",
    "lf": "POS01-1\nHost: evil.example",
    "query": "POS01-1?mchid=1",
    "fragment": "POS01-1#frag",
    "space": "POS01 1",
    "nul": "POS01-1\x00",
    "homoglyph": "РOS01-1",  # a Cyrillic Р
    "rtl": "POS01-\u202e1-",
    "ten-mb": TEN_MB,
}


def line(**changes: Any) -> LineItem:
    fields: dict[str, Any] = {
        "code": "X01",
        "name": "阿莫西林胶囊",
        "unit_price": Fen(1250),
        "quantity": 2,
    }
    return LineItem(**(fields | changes))


# ---------------------------------------------------------------- amounts


@pytest.mark.parametrize(
    "changes",
    [
        {"unit_price": Fen(-1)},
        {"unit_price": Fen(-(2**63))},
        {"unit_price": Fen(2**63)},
        {"unit_price": Fen(10_000_000_01)},
        {"quantity": 0},
        {"quantity": -3},
        {"quantity": 10**12},
        {"quantity": True},
        {"quantity": 2.0},  # float-ok: the attack is the float
        {"quantity": "2"},
    ],
    ids=[
        "negative",
        "int64-min",
        "int64-overflow",
        "above-cap",
        "zero",
        "negative-qty",
        "huge-qty",
        "bool-qty",
        "float-qty",
        "str-qty",
    ],
)
def test_negative_and_overflowing_line_amounts_are_refused_invalid_input(
    changes: dict[str, Any],
) -> None:
    with pytest.raises(InvalidInput):
        line(**changes)


def test_a_basket_beyond_the_purchase_limit_is_refused_before_anything_is_sent(
    till: Till, mitm: ManInTheMiddle, mock: MockGateway
) -> None:
    before = ledger(mock)
    lines = [line(code=f"X{n}", unit_price=Fen(9_000_000_00), quantity=1) for n in range(2)]
    with pytest.raises(InvalidInput, match=r"above the 10000000\.00 yuan"):
        Purchase(credential=Credential.id_card(WIFE), items=lines)
    assert mitm.sent == []
    nothing_moved(mock, before)


@pytest.mark.parametrize(
    "amount", [12.5, "12.50", None, True], ids=["float", "str", "none", "bool"]
)
def test_money_that_is_not_integer_fen_is_refused(amount: object) -> None:
    with pytest.raises(InvalidInput):
        Fen(amount)  # type: ignore[arg-type]


@pytest.mark.parametrize("yuan", ["12.505", "0.001", "1e3", "12,50", "NaN", "-0.000001"])
def test_yuan_with_more_than_two_decimals_or_not_a_number_is_refused_not_rounded(
    yuan: str,
) -> None:
    with pytest.raises(InvalidInput):
        Fen.from_yuan(yuan)


def test_the_purchase_changed_under_the_same_key_is_refused_and_charged_once(
    till: Till, mock: MockGateway
) -> None:
    till.settle(purchase(WIFE, drug(9_000)), key="ATK-SAME-KEY", cash=Cash.counter())
    after = ledger(mock)
    with pytest.raises(InvalidInput, match="different purchase"):
        till.settle(purchase(WIFE, drug(90_000)), key="ATK-SAME-KEY", cash=Cash.counter())
    with pytest.raises(InvalidInput, match="different purchase"):
        till.settle(
            purchase(WIFE, drug(9_000, quantity=2)), key="ATK-SAME-KEY", cash=Cash.counter()
        )
    nothing_moved(mock, after)


# ---------------------------------------------------------------- text fields


@pytest.mark.parametrize(
    "name",
    ["阿莫西林\x00胶囊", "阿莫西林\u202e囊胶", "阿莫\u200b西林", "药\r\n品", "\ue000私用", TEN_MB],
    ids=["nul", "rtl-override", "zero-width", "crlf", "private-use", "ten-mb"],
)
def test_invisible_control_and_oversized_item_names_are_refused(name: str) -> None:
    with pytest.raises(InvalidInput):
        line(name=name)


@pytest.mark.parametrize(
    "code",
    ["Х01", "X01\x00", "X 01", "X01\u200b", "X01\r\n", "Ｘ01", "X" * 65, TEN_MB],
    ids=["cyrillic-homoglyph", "nul", "space", "zero-width", "crlf", "fullwidth", "65", "ten-mb"],
)
def test_item_codes_with_look_alike_invisible_or_too_many_characters_are_refused(
    code: str,
) -> None:
    with pytest.raises(InvalidInput):
        line(code=code)


@pytest.mark.parametrize(
    "token",
    ["ev-abc\r\nX-Injected: 1", "ev-abc\x00", "ev abc", "ev-аbc", "x" * 513, TEN_MB],
    ids=["crlf", "nul", "space", "homoglyph", "513", "ten-mb"],
)
def test_malformed_e_voucher_tokens_are_refused(token: str) -> None:
    with pytest.raises(InvalidInput, match="e-voucher"):
        Credential.e_voucher(token)


@pytest.mark.parametrize(
    "card_sn",
    ["D2102\r\n0012", "D2102\x00", "D２１０２", "D 2102", "D" * 65, TEN_MB],
    ids=["crlf", "nul", "fullwidth", "space", "65", "ten-mb"],
)
def test_malformed_social_card_serial_numbers_are_refused(card_sn: str) -> None:
    with pytest.raises(InvalidInput, match="card_sn"):
        Credential.social_card("21000001", card_sn=card_sn, region="210200")


@pytest.mark.parametrize(
    "code",
    [
        "134567890123456781\r\nX-A: 1",
        "１３４５６７８９０１２３４５６７８１",
        "13456789012345678\x00",
        TEN_MB,
    ],
)
def test_malformed_payment_codes_are_refused(code: str) -> None:
    with pytest.raises(InvalidInput, match="payment code"):
        Cash.wechat(code)


# ---------------------------------------------------------------- identifiers in requests


@pytest.mark.parametrize("key", list(INJECTIONS.values()), ids=list(INJECTIONS))
def test_an_idempotency_key_crafted_to_inject_is_refused_before_anything_is_sent(
    till: Till, mitm: ManInTheMiddle, mock: MockGateway, key: str
) -> None:
    before = ledger(mock)
    with pytest.raises(InvalidInput, match="idempotency key"):
        till.settle(purchase(WIFE, drug(9_000)), key=key, cash=Cash.wechat(WECHAT_PAID))
    assert mitm.sent == []
    nothing_moved(mock, before)


@pytest.mark.parametrize("settlement_id", list(INJECTIONS.values()), ids=list(INJECTIONS))
def test_a_settlement_id_crafted_to_inject_is_refused_before_anything_is_sent(
    till: Till, mitm: ManInTheMiddle, mock: MockGateway, settlement_id: str
) -> None:
    sold = till.settle(purchase(WIFE, drug(9_000)), key="ATK-INJ-SID", cash=Cash.counter())
    sent, after = len(mitm.sent), ledger(mock)
    for undo in (till.refund, till.cancel):
        with pytest.raises(InvalidInput, match="has no settlement"):
            undo(settlement_id)
        with pytest.raises(InvalidInput):
            undo(sold.settlement_id + settlement_id)
    assert len(mitm.sent) == sent
    nothing_moved(mock, after)


@pytest.mark.parametrize("out_trade_no", list(INJECTIONS.values()), ids=list(INJECTIONS))
def test_an_out_trade_no_crafted_to_inject_never_changes_a_request_path_or_header(
    mitm: ManInTheMiddle, mock: MockGateway, out_trade_no: str
) -> None:
    """WeChat Pay puts out_trade_no in the path: refused. Alipay puts it in the signed
    body: refused when too long, otherwise sent encoded, the path and headers untouched."""
    from gongji import SettlementClient

    with (
        SettlementClient.from_profile("mock", mock=mock, transport=mitm.transport()) as client,
        httpx.Client(transport=mitm.transport()) as http,
    ):
        with pytest.raises(InvalidInput, match="out_trade_no"):
            drive(client.setup.channel("wechatpay").query(out_trade_no), http)
        assert mitm.sent == []
        try:
            drive(client.setup.channel("alipay").query(out_trade_no), http)
        except InvalidInput:
            assert mitm.sent == []
            return
    for request in mitm.sent:
        assert request.url.path == "/gateway.do"
        assert all(
            "injected" not in f"{k}{v}".lower() and "evil" not in v
            for k, v in request.headers.items()
        )
        assert "X-Injected" not in request.headers and request.url.host != "evil.example"
