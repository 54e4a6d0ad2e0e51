"""The adapter contract (gongji.contract) over every adapter registered through
``gongji_register_adapters``, each against the in-process mock gateway."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from gongji.config import client_arguments
from gongji.contract import InsuranceGatewayContract, PaymentChannelContract
from gongji.identity import Credential
from gongji.plugins import adapter_registry
from gongji_mock import MockGateway

REGISTERED = list(adapter_registry())
CHANNELS = [a.name for a in REGISTERED if a.kind == "channel"]
GATEWAYS = [a.name for a in REGISTERED if a.kind == "insurance"]
PAYING_CODES = {"wechatpay": "134567890123456781", "alipay": "2887654321012341"}
MOTHER = "210202195809120046"


def test_the_shipped_adapters_are_registered_with_their_plugin() -> None:
    assert {"cityins", "wechatpay", "alipay"} <= {a.name for a in REGISTERED}
    assert all(a.origin for a in REGISTERED)


@pytest.fixture
def mock_client() -> Iterator[tuple[dict[str, Any], httpx.Client]]:
    arguments = client_arguments("mock", mock=MockGateway.demo())
    with httpx.Client(transport=arguments["transport"]) as http:
        yield arguments, http


class TestRegisteredChannels(PaymentChannelContract):
    @pytest.fixture(params=CHANNELS)
    def name(self, request: pytest.FixtureRequest) -> str:
        if request.param not in PAYING_CODES:
            pytest.skip(f"{request.param}: a third-party channel runs gongji.contract itself")
        return str(request.param)

    @pytest.fixture
    def channel(self, name: str, mock_client: tuple[dict[str, Any], httpx.Client]) -> Any:
        return mock_client[0]["channels"][name]

    @pytest.fixture
    def http(self, mock_client: tuple[dict[str, Any], httpx.Client]) -> httpx.Client:
        return mock_client[1]

    @pytest.fixture
    def payment_code(self, name: str) -> str:
        return PAYING_CODES[name]


class TestRegisteredGateways(InsuranceGatewayContract):
    @pytest.fixture(params=GATEWAYS)
    def gateway(
        self, request: pytest.FixtureRequest, mock_client: tuple[dict[str, Any], httpx.Client]
    ) -> Any:
        if request.param != "cityins":
            pytest.skip(f"{request.param}: a third-party gateway runs gongji.contract itself")
        return mock_client[0]["gateway"]

    @pytest.fixture
    def http(self, mock_client: tuple[dict[str, Any], httpx.Client]) -> httpx.Client:
        return mock_client[1]

    @pytest.fixture
    def credential(self) -> Credential:
        return Credential.id_card(MOTHER)

    @pytest.fixture
    def credential_id(self) -> str:
        return MOTHER
