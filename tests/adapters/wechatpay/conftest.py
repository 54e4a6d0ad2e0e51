"""A small sync driver for flows, and the keys, channels and fakes the WeChat Pay adapter tests share.

The real drivers (``SettlementClient`` / ``AsyncSettlementClient``) are written elsewhere;
``run_flow`` does what they do, minus the waiting: each yielded ``httpx.Request`` is sent
with ``client.send`` and its body read, a ``httpx.TransportError`` is thrown back into the
flow, and a ``Pause`` is answered at once with ``None``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, TypeVar

import httpx
import msgspec
import pytest
import respx

from gongji.gateways.exchange import Flow, Pause
from gongji.signing.keys import RsaPrivateKey
from gongji.signing.wechatpay import WechatPayMerchant, platform_headers
from gongji.signing.wechatpay_keys import PlatformKeyStore
from gongji_mock import MockGateway, testkeys
from gongji_wechatpay import WechatPayChannel

T = TypeVar("T")

BASE = "https://api.mch.weixin.qq.com"
NOW = 1_795_000_000  # 2026-11-18, a fixed "now" for the respx tests' clock
MCHID = "1230000109"  # the merchant id of WeChat Pay's documentation examples
APPID = "wxd678efh567hg6787"
MERCHANT_SERIAL = "1DDE55AD98ED71D6EDD4A4A16996DE7B47773A8C"
PLATFORM_KEY_ID = "PUB_KEY_ID_0112345678202411090011111111"
APIV3_KEY = "0123456789abcdef0123456789ABCDEF"  # 32 characters; a test value


def run_flow(flow: Flow[T], client: httpx.Client) -> T:
    """Drive ``flow`` to its return value over ``client`` (sync, no sleeping)."""
    try:
        step = next(flow)
        while True:
            if isinstance(step, Pause):
                step = flow.send(None)
                continue
            try:
                response = client.send(step)
                response.read()
            except httpx.TransportError as exc:
                step = flow.throw(exc)
                continue
            step = flow.send(response)
    except StopIteration as finished:
        return finished.value  # type: ignore[no-any-return]


def code(last: str, middle: str = "345678901234567") -> str:
    """A WeChat payment code for the mock: 18 digits, '13' first; the last digit decides."""
    return f"13{middle}{last}"


class FixedClock:
    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


# ---------------------------------------------------------------- against the in-process mock


@pytest.fixture
def mock() -> MockGateway:
    return MockGateway.demo()


@pytest.fixture
def client(mock: MockGateway) -> Iterator[httpx.Client]:
    with httpx.Client(transport=mock.transport()) as sender:
        yield sender


@pytest.fixture
def channel(mock: MockGateway) -> WechatPayChannel:
    return WechatPayChannel.for_mock(mock, refund_notify_url="https://pos.example/wechat/refund")


# ---------------------------------------------------------------- against respx fakes


@pytest.fixture(scope="session")
def merchant_key() -> RsaPrivateKey:
    return testkeys.test_rsa_key("adapter-wechatpay-merchant")


@pytest.fixture(scope="session")
def platform_key() -> RsaPrivateKey:
    return testkeys.test_rsa_key("adapter-wechatpay-platform")


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def fake_channel(
    merchant_key: RsaPrivateKey, platform_key: RsaPrivateKey, clock: FixedClock
) -> WechatPayChannel:
    return WechatPayChannel(
        merchant=WechatPayMerchant(
            mchid=MCHID, serial_no=MERCHANT_SERIAL, private_key=merchant_key
        ),
        platform=PlatformKeyStore(public_keys={PLATFORM_KEY_ID: platform_key.public_key}),
        apiv3_key=APIV3_KEY,
        appid=APPID,
        clock=clock,
        store_id="SZTX001",
    )


@pytest.fixture
def router() -> respx.Router:
    return respx.Router(assert_all_called=False)


@pytest.fixture
def fake_client(router: respx.Router) -> Iterator[httpx.Client]:
    with httpx.Client(transport=httpx.MockTransport(router.handler)) as sender:
        yield sender


class Signer:
    """WeChat Pay's side of a respx fake: answers signed with the test platform key."""

    def __init__(self, key: RsaPrivateKey, clock: FixedClock) -> None:
        self.key = key
        self.clock = clock

    def response(
        self, status: int, payload: Any = None, *, raw: bytes | None = None
    ) -> httpx.Response:
        body = (
            raw if raw is not None else (b"" if payload is None else msgspec.json.encode(payload))
        )
        headers = platform_headers(
            self.key, body, serial=PLATFORM_KEY_ID, timestamp=int(self.clock())
        )
        headers["Content-Type"] = "application/json"
        headers["Request-ID"] = "08F78BB5AF0610D302AD2B99"
        return httpx.Response(status, content=body, headers=headers)


@pytest.fixture
def wechat(platform_key: RsaPrivateKey, clock: FixedClock) -> Signer:
    return Signer(platform_key, clock)
