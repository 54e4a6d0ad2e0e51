"""``from_profile("mock", url=...)``: a till in one process, ``gongji mock serve`` in another
(here uvicorn on 127.0.0.1, an ephemeral port, in a thread), real HTTP between them, and
the test keys fetched from the mock's admin endpoint."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator

import httpx
import pytest

from gongji import AsyncSettlementClient, Cash, ConfigError, Fen, SettlementClient
from gongji.config import client_arguments
from gongji_mock import MockGateway
from gongji_mock.profile import _fetch_served_mock_keys
from gongji_mock.server.asgi import bind, make_server
from tests.client.conftest import (
    ALIPAY_PAID,
    FAST_POLLING,
    MOTHER,
    SISTER,
    SON,
    WECHAT_PAID,
    Till,
    purchase,
)
from tests.mock.test_http import cli_server


class Served:
    def __init__(self, mock: MockGateway, url: str) -> None:
        self.mock = mock
        self.url = url


@pytest.fixture
def served() -> Iterator[Served]:
    mock = MockGateway.demo()
    # Listening before the thread starts: the first request waits in the backlog, no sleep.
    server = make_server(mock, bind("127.0.0.1", 0))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield Served(mock, server.url)
    finally:
        server.stop()
        thread.join(timeout=10)
        assert not thread.is_alive()


@pytest.fixture
def till(served: Served, driver: str) -> Iterator[Till]:
    if driver == "sync":
        with SettlementClient.from_profile("mock", url=served.url, polling=FAST_POLLING) as client:
            yield Till(client, None)
        return
    with asyncio.Runner() as runner:
        async_client = AsyncSettlementClient.from_profile(
            "mock", url=served.url, polling=FAST_POLLING
        )
        yield Till(async_client, runner)
        runner.run(async_client.aclose())


@pytest.mark.parametrize(
    ("cash", "channel"),
    [(Cash.wechat(WECHAT_PAID), "wechatpay"), (Cash.alipay(ALIPAY_PAID), "alipay")],
)
def test_a_sale_paid_by_code_settles_against_a_served_mock_with_its_keys(
    served: Served, till: Till, cash: Cash, channel: str
) -> None:
    mock = served.mock
    collected = mock.wechatpay.collected if channel == "wechatpay" else mock.alipay.collected
    receipt = till.settle(purchase(MOTHER), key=f"SERVED-{channel}", cash=cash)
    assert receipt.cash == Fen(7_000)
    legs = sum((leg.amount for leg in receipt.legs), Fen(0))
    assert receipt.total == receipt.fund + legs + receipt.cash
    # A strict centre reports mutual aid as one amount, without owners.
    paid = [(leg.source, leg.payer_id, leg.amount) for leg in receipt.legs]
    assert paid == [("mutual_aid", None, Fen(43_000))]
    # The served mock's own ledger: the son's limit of 400 yuan, then the sister's 30 yuan.
    assert (mock.balance(SON), mock.balance(SISTER)) == (Fen(460_000), Fen(0))
    assert collected() == Fen(7_000)
    assert mock.check() == []
    till.refund(receipt.settlement_id)
    assert (mock.balance(SON), mock.balance(SISTER)) == (Fen(500_000), Fen(3_000))
    assert collected() == Fen(0)
    assert mock.check() == []


def test_a_served_mock_that_is_not_running_is_a_config_error_saying_what_to_do() -> None:
    # A port bound but not listening: connecting is refused at once, never a wait.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as closed:
        closed.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{closed.getsockname()[1]}"
        with pytest.raises(ConfigError) as raised:
            SettlementClient.from_profile("mock", url=url)
    message = str(raised.value)
    assert f"No gongji mock answers at {url} (ConnectError)" in message
    assert "gongji mock serve" in message


def test_a_url_that_is_not_a_gongji_mock_is_a_config_error(served: Served) -> None:
    with pytest.raises(ConfigError, match="answered GET /gongji-admin/keys with HTTP 404"):
        SettlementClient.from_profile("mock", url=f"{served.url}/not-the-mock")


def test_mock_and_url_together_are_refused() -> None:
    with pytest.raises(ConfigError, match=r"either mock= .* or url= .*not both"):
        SettlementClient.from_profile("mock", mock=MockGateway.demo(), url="http://127.0.0.1:1")


def test_a_url_that_is_not_http_is_refused_before_any_request() -> None:
    with pytest.raises(ConfigError, match="is not an http\\(s\\) URL"):
        SettlementClient.from_profile("mock", url="127.0.0.1:8930")


def test_a_till_settles_against_gongji_mock_serve_in_another_process() -> None:
    # Another process generates its own test keys: only the admin endpoint can tell them.
    with (
        cli_server() as (url, _),
        SettlementClient.from_profile("mock", url=url, polling=FAST_POLLING) as client,
    ):
        receipt = client.settle(purchase(MOTHER), key="CLI-0001", cash=Cash.wechat(WECHAT_PAID))
        assert receipt.cash == Fen(7_000)
        state = httpx.get(f"{url}/gongji-admin/state", timeout=10).json()
    son = next(person for person in state["people"] if person["id"].endswith(SON[-4:]))
    assert son["balance"] == "4600.00"
    assert state["violations"] == []


def test_no_key_fetched_from_a_served_mock_shows_in_a_repr(served: Served) -> None:
    keys = httpx.get(f"{served.url}/gongji-admin/keys", timeout=10).json()
    secrets = [keys["tif"]["secret"], keys["wechatpay"]["apiv3_key"]]
    secrets += [
        keys[channel][name].splitlines()[1]  # a line of the PEM's base64
        for channel, name in [
            ("wechatpay", "merchant_private_key"),
            ("alipay", "app_private_key"),
        ]
    ]
    arguments = client_arguments("mock", url=served.url)
    with SettlementClient(**arguments) as client:
        shown = [repr(client.setup), repr(_fetch_served_mock_keys(served.url))]
    assert "CityInsuranceGateway" in shown[0] and "WechatPayChannel" in shown[0]
    for text in shown:
        for secret in secrets:
            assert secret not in text
