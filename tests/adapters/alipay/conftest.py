"""Shared pieces for the Alipay adapter's tests: a driver for flows, keys, a fixed clock, the mock.

``run`` is a small stand-in for the SDK's drivers (written elsewhere): it sends each
request a flow yields with ``client.send``, reads the answer, throws transport
errors into the flow, and answers a ``Pause`` at once, without sleeping.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from typing import TypeVar

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from gongji.gateways.exchange import Flow, Pause
from gongji.signing.alipay import AlipayPublicKeys, AlipaySigner, AlipayVerifier
from gongji.signing.keys import RsaPrivateKey
from gongji_alipay import AlipayChannel
from gongji_mock import MockGateway

T = TypeVar("T")

BEIJING = datetime.timezone(datetime.timedelta(hours=8))
#: A fixed "now": 2026-11-23 09:00:00 in Beijing, as Alipay writes its timestamps.
NOW = int(datetime.datetime(2026, 11, 23, 9, 0, 0, tzinfo=BEIJING).timestamp())
TIMESTAMP = "2026-11-23 09:00:00"
#: The example app_id of Alipay's public OpenAPI reference (公共请求参数, app_id).
APP_ID = "2014072300007148"
NOTIFY_URL = "https://pos.example/alipay/notify"
FORM = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}


def run(flow: Flow[T], client: httpx.Client) -> T:
    """Drive ``flow`` to its end with ``client``; its return value."""
    answer: httpx.Response | None = None
    failure: httpx.TransportError | None = None
    while True:
        try:
            step = flow.throw(failure) if failure is not None else flow.send(answer)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]
        answer, failure = None, None
        if isinstance(step, Pause):
            continue  # a driver would sleep step.milliseconds; tests never do
        try:
            answer = client.send(step)
            answer.read()
        except httpx.TransportError as exc:
            failure = exc


def code(last: str) -> str:
    """A mock Alipay payment code (16 digits, '28' first); its last digit picks the outcome."""
    return f"288765432101234{last}"


class FixedClock:
    """A clock that stands still unless moved."""

    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def new_rsa_key() -> RsaPrivateKey:
    return RsaPrivateKey(rsa.generate_private_key(public_exponent=65537, key_size=2048))


@pytest.fixture(scope="session")
def app_key() -> RsaPrivateKey:
    """The merchant app's private key (generated; none is committed)."""
    return new_rsa_key()


@pytest.fixture(scope="session")
def alipay_key() -> RsaPrivateKey:
    """Alipay's platform key, standing in for Alipay in the respx tests."""
    return new_rsa_key()


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def signer(app_key: RsaPrivateKey, clock: FixedClock) -> AlipaySigner:
    return AlipaySigner(app_id=APP_ID, private_key=app_key, clock=clock)


@pytest.fixture
def verifier(alipay_key: RsaPrivateKey, clock: FixedClock) -> AlipayVerifier:
    return AlipayVerifier(AlipayPublicKeys(public_key=alipay_key.public_key), clock=clock)


@pytest.fixture
def mock() -> MockGateway:
    return MockGateway.demo()


@pytest.fixture
def channel(mock: MockGateway) -> AlipayChannel:
    """A channel signing as the mock's test app, notifications asked for."""
    return AlipayChannel.for_mock(mock.alipay, notify_url=NOTIFY_URL)


@pytest.fixture
def client(mock: MockGateway) -> Iterator[httpx.Client]:
    with httpx.Client(transport=mock.transport()) as pos:
        yield pos
