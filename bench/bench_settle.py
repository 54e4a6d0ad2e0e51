"""The settlement client end to end: a pharmacy sale with a WeChat Pay cash leg
(1101 + bindings + 2101 + 2102 + payment-code charge) against ``gongji mock serve``
(uvicorn on 127.0.0.1, an ephemeral port), next to the floor: the same HTTP exchanges
replayed with one bare reused ``httpx.Client`` and the same signatures (TIF headers, the
WeChat Pay Authorization, the verification of WeChat Pay's answer), and no SDK.

Rounds interleave the two so that the machine's drift hits both alike; the figures are
medians. Also: the in-process figure (``mock.transport()``, one thread) and the SDK's
own CPU per sale (the till thread's CPU time, the floor's subtracted).
Target: median sale <= 1.5 x the floor's median. Every loop is bounded.
"""

from __future__ import annotations

import itertools
import re
import statistics
import sys
import threading
import time
from collections.abc import Callable

import attrs
import httpx

import gongji
from gongji import Cash, Credential, Fen, LineItem, Purchase
from gongji.client import NO_DELAY, drive
from gongji.flows.setup import Polling
from gongji.journal import MemoryJournal
from gongji.signing.tif import TifAuth, TifSigner
from gongji.signing.wechatpay import WechatPayAuth
from gongji_cityins import CITIES, CityInsuranceGateway, Institution
from gongji_mock import MockGateway
from gongji_mock.gateway import DEFAULT_PAASID, DEFAULT_TIF_SECRET
from gongji_mock.server.asgi import bind, make_server
from gongji_wechatpay import WechatPayChannel

TARGET_RATIO = 1.5
ROUNDS, PER_ROUND = 8, 10
IN_PROCESS = 150
MOTHER = "210202195809120046"  # her son's and her sister's accounts pay, the rest is cash
PAID = "134567890123456781"
SALE = Purchase(
    credential=Credential.id_card(MOTHER),
    items=[LineItem(code="XC01", name="药品", unit_price=Fen(50_000), quantity=1, coverage="C")],
)
_keys = itertools.count(1)


class Recorder(httpx.BaseTransport):
    """Passes requests through and keeps a copy of each, to replay them as the floor."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.requests: list[httpx.Request] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.inner.handle_request(request)


def client_for(
    mock: MockGateway, url: str, transport: httpx.BaseTransport, till: int = 1
) -> gongji.SettlementClient:
    """The city gateway and WeChat Pay at ``url`` (the served mock, or any host in process).
    ``till``: msgids come from each client's own journal, so two clients of one institution
    need two till numbers."""
    gateway = CityInsuranceGateway(
        profile=attrs.evolve(CITIES["dalian"], base_url=url),
        institution=Institution(code="H21020200001", name="大连共济测试药房", till=till),
        auth=TifAuth(TifSigner(DEFAULT_PAASID, DEFAULT_TIF_SECRET)),
    )
    channels = {"wechatpay": WechatPayChannel.for_mock(mock.wechatpay, base_url=url)}
    return gongji.SettlementClient(
        gateway=gateway,
        channels=channels,
        transport=transport,
        journal=MemoryJournal(),  # the SDK's own cost; a durable journal's is measured apart
        # The mock's own (illustrative) pack: its sale scans no packs, as before, so the
        # sales upload (3505) stays out of the comparison with the floor.
        policy=mock.centre.dataset.policy.id,
        polling=Polling(interval_ms=0, attempts=3),
    )


def one_sale(client: gongji.SettlementClient) -> None:
    receipt = client.settle(SALE, key=f"BENCH-{next(_keys):08d}", cash=Cash.wechat(PAID))
    assert receipt.transaction_id, "the cash leg went through WeChat Pay"


class Floor:
    """The recorded exchanges of one sale, re-sent with fresh ids and fresh signatures."""

    def __init__(self, mock: MockGateway, recorded: list[httpx.Request]) -> None:
        self.exchanges = [r for r in recorded if b'"infno":"9001"' not in r.content]
        self.tif = TifSigner(DEFAULT_PAASID, DEFAULT_TIF_SECRET)
        self.wechat = WechatPayAuth(mock.wechatpay.merchant, mock.wechatpay.platform_keys())
        self.serial = itertools.count(1)
        self.msgids = client_for(
            mock, "http://unused.invalid", httpx.MockTransport(print), till=2
        ).setup.gateway

    def sale(self, http: httpx.Client) -> None:
        number = next(self.serial)
        for recorded in self.exchanges:
            msgid = b'"msgid":"%s"' % drive(self.msgids.new_msgid(), http).encode()
            content = re.sub(rb'"msgid":"[^"]+"', msgid, recorded.content)
            content = re.sub(
                rb'"out_trade_no":"[^"]+"', b'"out_trade_no":"FLOOR-%08d"' % number, content
            )
            headers = {
                k: v
                for k, v in recorded.headers.items()
                if not k.lower().startswith(("x-tif", "authorization", "content-length"))
            }
            request = http.build_request(
                recorded.method, recorded.url, content=content, headers=headers
            )
            if "/v3/" in recorded.url.path:
                self.wechat.sign(request)
                response = http.send(request)
                self.wechat.verify(response)
            else:
                request.headers.update(self.tif.headers())
                response = http.send(request)
            response.read()
            assert response.status_code == 200, response.text[:200]
            assert b'"infcode":-1' not in response.content, response.text[:200]


def timed(action: Callable[[], None]) -> tuple[float, float]:
    """(wall seconds, this thread's CPU seconds)."""
    wall, cpu = time.perf_counter(), time.thread_time()
    action()
    return time.perf_counter() - wall, time.thread_time() - cpu


def over_http() -> tuple[float, float, float, float]:
    """(median sale ms, median floor ms, SDK CPU ms per sale, floor CPU ms per sale)."""
    mock = MockGateway.demo()
    server = make_server(mock, bind("127.0.0.1", 0))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        recorder = Recorder(httpx.HTTPTransport(socket_options=NO_DELAY))
        with (
            client_for(mock, server.url, recorder) as client,
            httpx.Client(
                timeout=10, transport=httpx.HTTPTransport(socket_options=NO_DELAY)
            ) as bare,
        ):
            one_sale(client)  # signs in and warms both paths
            floor = Floor(mock, recorder.requests[-6:])
            floor.sale(bare)
            sales, floors, sale_cpu, floor_cpu = [], [], [], []
            for _ in range(ROUNDS):
                for _ in range(PER_ROUND):
                    wall, cpu = timed(lambda: one_sale(client))
                    sales.append(wall)
                    sale_cpu.append(cpu)
                    wall, cpu = timed(lambda: floor.sale(bare))
                    floors.append(wall)
                    floor_cpu.append(cpu)
        assert mock.check() == []
    finally:
        server.stop()
        thread.join(timeout=10)
    ms = 1000
    return (
        statistics.median(sales) * ms,
        statistics.median(floors) * ms,
        statistics.median(sale_cpu) * ms,
        statistics.median(floor_cpu) * ms,
    )


def in_process() -> float:
    mock = MockGateway.demo()
    with client_for(mock, "http://mock.invalid", mock.transport()) as client:
        one_sale(client)
        start = time.perf_counter()
        for _ in range(IN_PROCESS):
            one_sale(client)
        elapsed = time.perf_counter() - start
    assert mock.check() == []
    return IN_PROCESS / elapsed


def main() -> int:
    sale_ms, floor_ms, sale_cpu, floor_cpu = over_http()
    per_second = in_process()
    ratio = sale_ms / floor_ms
    print(f"{'what':<58}{'median ms':>12}")
    print(f"{'a sale through SettlementClient over loopback':<58}{sale_ms:>12.2f}")
    print(f"{'the floor: same exchanges, bare httpx + same signatures':<58}{floor_ms:>12.2f}")
    print(f"{'till-thread CPU per sale, SDK':<58}{sale_cpu:>12.2f}")
    print(f"{'till-thread CPU per sale, floor':<58}{floor_cpu:>12.2f}")
    print(f"{'  the SDK own CPU per sale (difference)':<58}{sale_cpu - floor_cpu:>12.2f}")
    print(f"{'in process (mock.transport()), sales per second':<58}{per_second:>12.0f}")
    verdict = "PASS" if ratio <= TARGET_RATIO else "MISS"
    print(
        f"settle: a sale takes {ratio:.2f} x the floor at the median ({sale_ms:.1f} ms vs {floor_ms:.1f} ms; target <= {TARGET_RATIO}); in process {per_second:.0f}/s: {verdict}"
    )
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
