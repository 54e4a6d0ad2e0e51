"""The attacker's tools: a man in the middle between the real client and the in-process
mock (it sees every request and may rewrite any answer), and the till as a POS uses it,
through the sync and the async driver alike (tests/client's drivers, reused)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from gongji import Fen
from gongji_mock import MockGateway
from gongji_mock.national.endpoint import PATH as NATIONAL_PATH
from tests.client.conftest import FATHER, MOTHER, SISTER, SON, WIFE, Till, make_till

Match = Callable[[httpx.Request], bool]
Rewrite = Callable[[httpx.Request, httpx.Response], httpx.Response]

EVERYONE_WITH_AN_ACCOUNT = (SON, FATHER, SISTER, WIFE)


class ManInTheMiddle:
    """Sits on the wire: records every request, rewrites the answers a rule matches."""

    def __init__(self, mock: MockGateway) -> None:
        self.mock = mock
        self.sent: list[httpx.Request] = []
        self._rules: list[tuple[Match, Rewrite, list[int]]] = []

    def on(self, match: Match, rewrite: Rewrite, *, times: int = 1) -> None:
        self._rules.append((match, rewrite, [times]))

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(request)
        response = self.mock.handle(request)
        for match, rewrite, left in self._rules:
            if left[0] > 0 and match(request):
                left[0] -= 1
                response = rewrite(request, response)
        return response

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def infnos(self) -> list[str]:
        return [infno(r) for r in self.sent if r.url.path == NATIONAL_PATH]


def infno(request: httpx.Request) -> str:
    return str(json.loads(request.content).get("infno", ""))


def national(code: str) -> Match:
    return lambda request: request.url.path == NATIONAL_PATH and infno(request) == code


def path_is(prefix: str) -> Match:
    return lambda request: request.url.path.startswith(prefix)


def rewritten(
    response: httpx.Response,
    content: bytes,
    *,
    drop: tuple[str, ...] = (),
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    """The same answer with another body (and headers), as a man in the middle sends it."""
    kept = {
        name: value
        for name, value in response.headers.items()
        if name.lower() not in {"content-length", *(d.lower() for d in drop)}
    }
    return httpx.Response(response.status_code, headers=kept | (headers or {}), content=content)


def edit_output(edit: Callable[[dict[str, Any]], None]) -> Rewrite:
    """Rewrite the ``output`` of a national answer (it carries no signature of its own)."""

    def rewrite(_request: httpx.Request, response: httpx.Response) -> httpx.Response:
        answer = json.loads(response.content)
        edit(answer["output"])
        return rewritten(response, json.dumps(answer, ensure_ascii=False).encode())

    return rewrite


def ledger(mock: MockGateway) -> dict[str, Fen]:
    """Every personal account on the mock's ledger, and what the channels collected."""
    found = {who: mock.balance(who) for who in EVERYONE_WITH_AN_ACCOUNT}
    found["wechatpay"] = mock.wechatpay.collected()
    found["alipay"] = mock.alipay.collected()
    return found


def nothing_moved(mock: MockGateway, before: dict[str, Fen]) -> None:
    assert ledger(mock) == before
    assert mock.check() == []


@pytest.fixture(params=["sync", "async"])
def driver(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def mock() -> MockGateway:
    return MockGateway.demo()


@pytest.fixture
def mitm(mock: MockGateway) -> ManInTheMiddle:
    return ManInTheMiddle(mock)


@pytest.fixture
def till(mitm: ManInTheMiddle, driver: str) -> Iterator[Till]:
    """The real client, its traffic through the man in the middle to the mock."""
    yield from make_till(mitm.mock, driver, transport=mitm.transport())


__all__ = ["MOTHER", "SON"]
