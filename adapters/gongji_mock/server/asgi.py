"""The mock over real HTTP: a small ASGI app around ``MockGateway.handle``, served by uvicorn.

The same transport-free core answers in process (``mock.transport()``) and here;
this module only turns ASGI messages into an ``httpx.Request`` and back.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import httpx

from gongji.errors import ConfigError
from gongji_mock.gateway import MockGateway

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

MAX_BODY_BYTES = 2_000_000


class MockApp:
    """ASGI 3 application over one ``MockGateway``."""

    def __init__(self, mock: MockGateway) -> None:
        self.mock = mock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send, self.mock)
            return
        if scope["type"] != "http":
            return
        body = bytearray()
        while True:
            message = await receive()
            body += message.get("body", b"")
            if len(body) > MAX_BODY_BYTES:
                await _reply(send, httpx.Response(413, json={"error": "too_large"}))
                return
            if not message.get("more_body"):
                break
        # The exact target bytes the client sent: signatures (WeChat Pay) cover path and query.
        target = scope.get("raw_path") or scope["path"].encode()
        if scope.get("query_string"):
            target += b"?" + scope["query_string"]
        host, port = scope.get("server") or ("127.0.0.1", 0)
        request = httpx.Request(
            scope["method"],
            httpx.URL(scheme=scope.get("scheme", "http"), host=host, port=port, raw_path=target),
            headers=[(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]],
            content=bytes(body),
        )
        # The core holds locks and does no I/O: run it off the event loop so that
        # concurrent tills are not serialised behind one slow request.
        try:
            response = await asyncio.to_thread(self.mock.handle, request)
        except httpx.TransportError:
            # A timeout or dropped-answer fault: over HTTP the connection is cut mid-answer,
            # which a client sees as a transport error, exactly as with a real lost reply.
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-length", b"1000")],
                }
            )
            raise
        await _reply(send, response)


async def _reply(send: Send, response: httpx.Response) -> None:
    body = response.content
    headers = [
        (k.encode("latin-1"), v.encode("latin-1"))
        for k, v in response.headers.items()
        if k.lower() not in ("content-length", "transfer-encoding")
    ]
    headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": response.status_code, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _lifespan(receive: Receive, send: Send, mock: MockGateway) -> None:
    # A served mock delivers its callbacks in the background for as long as it serves.
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            if mock.delivery is not None:
                mock.delivery.start()
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            if mock.delivery is not None:
                await asyncio.to_thread(mock.delivery.stop)
            await send({"type": "lifespan.shutdown.complete"})
            return


def bind(host: str, port: int) -> socket.socket:
    """A listening socket; with port 0 the system picks a free one (``getsockname()`` tells)."""
    # IPPROTO_TCP named explicitly: asyncio turns Nagle off (TCP_NODELAY) only on sockets
    # whose proto says TCP, and with it on, every keep-alive answer written in two parts
    # waited for the client's delayed ACK: 40 ms a request.
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigError(
            f"Cannot listen on {host}:{port} ({exc.strerror}).",
            next_step="Choose another --port, or stop what is using this one.",
        ) from None
    # Listening before uvicorn starts: clients that connect early wait in the backlog
    # instead of being refused, so a caller never has to sleep until the server is up.
    sock.listen(128)
    return sock


def make_server(mock: MockGateway, sock: socket.socket) -> Any:
    """A uvicorn ``Server`` for the mock on an already bound socket (extra ``mock``)."""
    try:
        import uvicorn
    except ImportError:
        raise ConfigError(
            "Serving the mock over HTTP needs uvicorn, which is not installed.",
            next_step="Install the extra: pip install 'gongji[mock]'.",
        ) from None
    config = uvicorn.Config(MockApp(mock), log_level="warning", lifespan="on", access_log=False)
    server = uvicorn.Server(config)
    return _BoundServer(server, sock)


class _BoundServer:
    """A uvicorn server and its socket: ``run()`` blocks, ``should_exit = True`` stops it."""

    def __init__(self, server: Any, sock: socket.socket) -> None:
        self.server = server
        self.sock = sock

    @property
    def url(self) -> str:
        host, port = self.sock.getsockname()[:2]
        return f"http://{host}:{port}"

    def run(self) -> None:
        self.server.run(sockets=[self.sock])

    def stop(self) -> None:
        self.server.should_exit = True
