"""A centre that answers a gateway's messages with golden answers, in turn."""

from __future__ import annotations

import datetime
import json
from typing import Any

import attrs
import httpx

from gongji.client import drive
from gongji.clock import BEIJING
from gongji.signing.tif import TifAuth, TifSigner
from gongji_cityins import CITIES, CityInsuranceGateway, Institution
from tests.national.messages import answer_bytes

AT = datetime.datetime(2026, 11, 24, 0, 35, tzinfo=BEIJING)


class Centre:
    """Signs in with the real-shaped 9001 answer, then answers each message with the next
    body; keeps what was sent."""

    def __init__(self, *bodies: bytes) -> None:
        self.bodies = [answer_bytes("9001-signed-in"), *bodies]
        self.sent: list[dict[str, Any]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(json.loads(request.content))
        return httpx.Response(200, content=self.bodies[len(self.sent) - 1])


def gateway(**profile: Any) -> CityInsuranceGateway:
    """A Dalian pharmacy's gateway at 00:35 Beijing time, with ``profile`` settings changed."""
    return CityInsuranceGateway(
        profile=attrs.evolve(CITIES["dalian"], **profile),
        institution=Institution(code="H21020200001", name="大连共济测试药房"),
        auth=TifAuth(TifSigner("POS01", "s3cret")),
        clock=lambda: AT,
    )


def run(centre: Centre, flow: Any) -> Any:
    with httpx.Client(transport=httpx.MockTransport(centre)) as http:
        return drive(flow, http)
