"""Every decoder that takes outside bytes, as a function of those bytes.

Each target runs the real code from the point the bytes arrive: a gateway's operation
(a flow, driven by hand) answered with the bytes, a verifier handed them, a file loader
reading them. Layers behind a signature are reached two ways: the verifier on garbage
(it must refuse), and the decoder behind it with the signature layer passed through
(``_auth = None``), as a real answer that verified would reach it.

``TARGETS`` names them; ``corpus/<name>/`` holds the crafted cases of each.
"""

from __future__ import annotations

import datetime
import functools
from collections.abc import Callable, Generator
from typing import Any

import httpx

from gongji.flows.exchange import Pause
from gongji.gateways import CentreSettlement, Holder, SettlementRequest
from gongji.identity import Credential
from gongji.model import Insurance, LineItem, Person
from gongji.money import Fen
from gongji.signing.tif import TifAuth, TifSigner
from gongji_cityins.gateway import CITIES, CityInsuranceGateway, Institution
from gongji_mock import MockGateway

PATIENT = "210202195809120046"
Decode = Callable[[bytes], object]
TARGETS: dict[str, Decode] = {}


def target(name: str) -> Callable[[Decode], Decode]:
    def register(decode: Decode) -> Decode:
        TARGETS[name] = decode
        return decode

    return register


def drive(flow: Generator[Any, Any, Any], answer: Callable[[httpx.Request], httpx.Response]) -> Any:
    """Run a flow to its end, answering every request with ``answer``; at most 8 steps
    (a flow that kept asking would be a hang)."""
    step = next(flow)
    for _ in range(8):
        reply = None if isinstance(step, Pause) else answer(step)
        try:
            step = flow.send(reply)
        except StopIteration as done:
            return done.value
    raise AssertionError("the flow was still asking after 8 answers")


def answering(
    data: bytes, status: int = 200, headers: dict[str, str] | None = None
) -> Callable[[httpx.Request], httpx.Response]:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=data, headers=headers or {}, request=request)

    return answer


# ------------------------------------------------------------------ the insurance centre


@functools.cache
def _mock() -> MockGateway:
    return MockGateway.demo()


def _city() -> CityInsuranceGateway:
    gateway = CityInsuranceGateway(
        profile=CITIES["dalian"],
        institution=Institution(code="H21020200001", name="测试药房"),
        auth=TifAuth(TifSigner("gongji-mock", "gongji-mock-tif-secret")),
        clock=lambda: datetime.datetime(2026, 11, 23, 10, 0, tzinfo=datetime.UTC),
    )
    gateway._sign_no = "SIGNED-IN"  # the day's sign-in done: 9001 is a target of its own
    return gateway


def _request() -> SettlementRequest:
    patient = Person(PATIENT, "测试", Insurance("resident", "active", "210202"), None)
    item = LineItem(code="D01", name="药品", unit_price=Fen(50_000), quantity=1)
    return SettlementRequest(
        psn_no="P1", patient=patient, credential=Credential.id_card(PATIENT), items=(item,)
    )


def _settled() -> CentreSettlement:
    return CentreSettlement(
        setl_id="SETL1",
        mdtrt_id="MDT1",
        msgid="M1",
        total=Fen(50_000),
        fund=Fen(0),
        own_account=Fen(0),
        mutual_aid=(),
        cash=Fen(50_000),
    )


def _holder() -> Holder:
    return Holder(psn_no="P1", person=_request().patient)


_CITY_OPERATIONS: dict[str, Callable[[CityInsuranceGateway], Generator[Any, Any, Any]]] = {
    "9001": lambda g: g.sign_in(),
    "1101": lambda g: g.person(Credential.id_card(PATIENT)),
    "X101": lambda g: g.bindings(_holder()),
    "2101": lambda g: g.pre_settle(_request()),
    "2102": lambda g: g.settle(_request(), "H210202000012026112310000000001"),
    "2103": lambda g: g.cancel(_settled(), "P1", "H210202000012026112310000000002"),
    "2601": lambda g: g.reverse(
        "H210202000012026112310000000001", "P1", "H21020200001202611231000000003"
    ),
    "3201": lambda g: g.day_totals(datetime.date(2026, 11, 23)),
    "3202": lambda g: g.day_details(datetime.date(2026, 11, 23)),
}


def _city_target(infno: str) -> Decode:
    def decode(data: bytes) -> object:
        return drive(_CITY_OPERATIONS[infno](_city()), answering(data))

    return decode


CITY_INFNOS = sorted(_CITY_OPERATIONS)
for _infno in _CITY_OPERATIONS:
    TARGETS[f"cityins-{_infno}"] = _city_target(_infno)
