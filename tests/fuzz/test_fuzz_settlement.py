"""A fuzzed answer inside a real settlement: the client against the mock, with one answer
(the centre's 2102, or WeChat Pay's answer to the payment-code charge) replaced by fuzzed
bytes. Whatever the bytes, the client raises a GongjiError or settles, and after
``recover()`` nothing is charged that the journal does not hold as settled.

The mock processes the real request before its answer is replaced (a garbled answer to a
settlement that went through is the dangerous case), except when the fuzzed answer is a
definitive refusal: a gateway that refuses has not processed, and one that lies about it
is beyond what any client can detect. The ledger is checked after every example.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable, Iterator

import httpx
import msgspec
import pytest
from hypothesis import given

from gongji import Cash, GongjiError, SettlementClient, jsonwire
from gongji.journal import EntryState
from gongji.signing.wechatpay import platform_headers
from gongji_cityins import wire
from gongji_mock import MockGateway
from tests.client.conftest import FAST_POLLING, MOTHER, SISTER, SON, WECHAT_PAID, purchase
from tests.fuzz.strategies import (
    Case,
    cases,
    fuzz_settings,
    json_maker,
    prefixed,
    seed,
    with_corpus,
)

pytestmark = pytest.mark.fuzz

CODEPAY = "/v3/pay/transactions/codepay"
CHANNEL_STATUSES = (200, 200, 200, 202, 400, 403, 404, 500)
_KEYS = itertools.count()


class Replacing:
    """The mock's transport, with the next answer to a matching request replaced."""

    def __init__(self, mock: MockGateway) -> None:
        self.mock = mock
        self.pending: tuple[Callable[[httpx.Request], bool], bool, httpx.Response] | None = None

    def replace_next(
        self, matches: Callable[[httpx.Request], bool], answer: httpx.Response, *, forward: bool
    ) -> None:
        self.pending = (matches, forward, answer)

    def handle(self, request: httpx.Request) -> httpx.Response:
        if self.pending is not None and self.pending[0](request):
            _, forward, answer = self.pending
            self.pending = None
            if forward:
                self.mock.handle(request).read()
            return answer
        return self.mock.handle(request)


class Till:
    def __init__(self) -> None:
        self.mock = MockGateway.demo()
        self.transport = Replacing(self.mock)
        self.client = SettlementClient.from_profile(
            "mock",
            mock=self.mock,
            polling=FAST_POLLING,
            transport=httpx.MockTransport(self.transport.handle),
        )

    def standing(self) -> int:
        ledger = self.mock.centre.ledger
        return sum(
            1
            for t in ledger.transactions
            if t.kind == "settle" and not ledger.is_reversed(t.settlement_id)
        )

    def balances(self) -> tuple[object, ...]:
        return (
            tuple(self.mock.balance(who) for who in (SON, SISTER)),
            self.mock.wechatpay.collected(),
        )


@pytest.fixture(scope="module")
def till() -> Iterator[Till]:
    till = Till()
    with till.client:
        yield till


class Tills:
    """A fresh till (and mock) every ``RENEW`` examples: recover() reads the whole journal
    and check() the whole ledger, so one till for 10,000 examples would be quadratic."""

    RENEW = 250

    def __init__(self) -> None:
        self._till: Till | None = None
        self._uses = 0

    def next(self) -> Till:
        if self._till is None or self._uses == self.RENEW:
            self.close()
            self._till, self._uses = Till(), 0
        self._uses += 1
        return self._till

    def close(self) -> None:
        if self._till is not None:
            self._till.client.close()


@pytest.fixture(scope="module")
def tills() -> Iterator[Tills]:
    tills = Tills()
    yield tills
    tills.close()


def _is_2102(request: httpx.Request) -> bool:
    return request.url.path.startswith("/fsi/") and b'"infno":"2102"' in request.content


def _is_codepay(request: httpx.Request) -> bool:
    return request.url.path == CODEPAY


def _centre_refusal(data: bytes) -> bool:
    try:
        return jsonwire.decode(data, type=wire.Answer).infcode != 0
    except msgspec.DecodeError:
        return False


def _replace(till: Till, name: str, data: bytes) -> Cash | None:
    """Arm the replacement; the cash to settle with."""
    if name == "centre-2102":
        answer = httpx.Response(200, content=data)
        till.transport.replace_next(_is_2102, answer, forward=not _centre_refusal(data))
        return None
    status = CHANNEL_STATUSES[data[0] % len(CHANNEL_STATUSES)] if data else 200
    body = data[1:]
    wechat = till.mock.wechatpay
    headers = platform_headers(
        wechat._platform_key,
        body,
        serial=wechat.platform_key_id,
        timestamp=int(till.mock.centre.clock().timestamp()),
    )
    answer = httpx.Response(status, content=body, headers=headers)
    till.transport.replace_next(_is_codepay, answer, forward=status not in (400, 403))
    return Cash.wechat(WECHAT_PAID)


MAKERS = {
    "centre-2102": json_maker(seed("national-2102.answer")),
    "wechatpay-codepay": prefixed(
        json_maker(
            seed("wechatpay-v-pay-transactions-codepay.answer"), seed("wechatpay-error.answer")
        )
    ),
}


@fuzz_settings(slow=True)
@given(cases(MAKERS))
@with_corpus(*(f"settlement-{name}" for name in MAKERS))
def test_a_fuzzed_answer_inside_a_settlement_charges_nothing_unsettled(
    tills: Tills, case: Case
) -> None:
    till = tills.next()
    name, data, _ = case
    name = name.removeprefix("settlement-")
    standing, balances = till.standing(), till.balances()
    key = f"FUZZ-{next(_KEYS)}"
    cash = _replace(till, name, data)
    with contextlib.suppress(GongjiError):  # anything else escapes and fails the test
        till.client.settle(purchase(MOTHER), key=key, cash=cash)
    till.transport.pending = None  # the flow may not have reached the replaced request
    till.client.recover()
    assert till.mock.check() == []
    entry = till.client.setup.journal.get(key)
    if entry is not None and entry.state is EntryState.SETTLED:
        assert till.standing() == standing + 1  # the sale fully settled, once
    else:
        assert till.standing() == standing and till.balances() == balances


def test_a_garbled_2102_answer_is_reversed_by_recover(till: Till) -> None:
    """The harness reaches the dangerous case: the centre settled, its answer was garbage,
    the client raised; after recover() the centre's settlement is reversed, not standing."""
    ledger = till.mock.centre.ledger
    settled_before = sum(1 for t in ledger.transactions if t.kind == "settle")
    standing, balances = till.standing(), till.balances()
    _replace(till, "centre-2102", b'{"infcode":0,"output":{"setlinfo":"garbage"}}')
    with pytest.raises(GongjiError):
        till.client.settle(purchase(MOTHER), key=f"FUZZ-{next(_KEYS)}")
    till.client.recover()
    assert sum(1 for t in ledger.transactions if t.kind == "settle") == settled_before + 1
    assert till.standing() == standing and till.balances() == balances
    assert till.mock.check() == []
