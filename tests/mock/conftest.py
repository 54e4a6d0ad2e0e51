"""The protocol suites run twice: in process (``httpx.MockTransport``) and over real HTTP
(uvicorn on 127.0.0.1, an ephemeral port), against the same handler. One server serves
the whole session; each test points it at its own mock through the switchboard."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from gongji_mock.server.asgi import bind, make_server

Handler = Callable[[httpx.Request], httpx.Response]
Connect = Callable[..., httpx.Client]


class Switchboard:
    """What uvicorn serves: whichever handler the running test connected last."""

    delivery = None  # no callback deliverer to start or stop with the server

    def __init__(self) -> None:
        self.target: Handler | None = None

    def handle(self, request: httpx.Request) -> httpx.Response:
        assert self.target is not None, "no test has connected a handler"
        return self.target(request)


@pytest.fixture(scope="session")
def served_switchboard() -> Iterator[tuple[Switchboard, str]]:
    board = Switchboard()
    server = make_server(board, bind("127.0.0.1", 0))  # type: ignore[arg-type]
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield board, server.url
    server.stop()
    thread.join(timeout=10)


@pytest.fixture(params=["in_process", "http"])
def connect(request: pytest.FixtureRequest) -> Connect:
    """``connect(handler, base_url=..., **client_options)``: a client reaching ``handler``."""
    if request.param == "in_process":

        def in_process(handler: Handler, **options: Any) -> httpx.Client:
            return httpx.Client(transport=httpx.MockTransport(handler), **options)

        return in_process
    board, url = request.getfixturevalue("served_switchboard")

    def over_http(handler: Handler, **options: Any) -> httpx.Client:
        board.target = handler
        options["base_url"] = (
            url  # the host is the server's; paths, bodies and signatures are as sent
        )
        return httpx.Client(timeout=10, **options)

    return over_http
