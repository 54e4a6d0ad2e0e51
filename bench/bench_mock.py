"""The mock gateway under load: full pharmacy settlements (1101 + 2101 + 2102 + a WeChat Pay
payment-code charge), with the real signing on both sides.

1. In process (``mock.transport()``), one thread: settlements per second. Target >= 300.
   Next to it, measured in the same run and interleaved with it, the floor: what a
   settlement cannot go below on this machine whatever the mock does, two RSA-2048
   signatures (the till's WeChat ``Authorization``, the mock's response signature) and
   four ``httpx`` round trips through a ``MockTransport`` whose handler does nothing.
   The ratio settlement / floor says how much is left to the mock and the signing
   helpers, on any machine.
2. Over HTTP (uvicorn on 127.0.0.1, an ephemeral port), 20 concurrent tills: settlements
   per second and p50/p99 latency, next to a bare uvicorn endpoint measured in the same run.
   Server and tills share one process (and its GIL), the bare endpoint's too.

The machine is noisy, so every figure is the median of several rounds, and the
candidates run interleaved. Every loop is bounded; the server stops by itself at the end.
"""

from __future__ import annotations

import itertools
import statistics
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import msgspec
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from gongji import Fen
from gongji.signing.tif import TifSigner
from gongji.signing.wechatpay import WechatPayAuth
from gongji_mock import MockGateway
from gongji_mock.gateway import DEFAULT_PAASID, DEFAULT_TIF_SECRET
from gongji_mock.national.endpoint import PATH
from gongji_mock.server.asgi import bind, make_server
from gongji_mock.wechatpay.endpoint import CODEPAY_PATH, DEFAULT_APPID, DEFAULT_MCHID

TARGET_PER_SECOND = 300
MOTHER = "210202195809120046"  # resident, pays through her son's account; the rest is cash
PHARMACY = "H21020200001"
ROUNDS, PER_ROUND = 15, 60  # in process: rounds of settlements, each next to a round of floor
HTTP_ROUNDS = 3
TILLS, PER_TILL, BARE_PER_TILL = 20, 10, 40
JSON = {"Content-Type": "application/json"}


class Till:
    """One POS: signs in once, then settles purchases through both protocols."""

    _serial = itertools.count(1)

    def __init__(self, mock: MockGateway, client: httpx.Client, wechat: httpx.Client) -> None:
        self.client, self.wechat = client, wechat
        self.signer = TifSigner(DEFAULT_PAASID, DEFAULT_TIF_SECRET)
        self.sign_no = ""
        self.sign_no = self.call(
            "9001",
            {"signIn": {"opter_no": "001", "mac": "00-1A-2B-3C-4D-5E", "ip": "192.168.1.20"}},
        )["signinoutb"]["sign_no"]
        self.psn_no = self.call(
            "1101", {"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": MOTHER}}
        )["baseinfo"]["psn_no"]

    def call(self, infno: str, data: dict[str, Any]) -> dict[str, Any]:
        number = next(self._serial)
        envelope = {
            "infno": infno,
            "msgid": f"{PHARMACY}{number:018d}",  # unique per run: 12 + 18 = 30 characters
            "mdtrtarea_admvs": "210200",
            "insuplc_admdvs": "210200",
            "recer_sys_code": "POS",
            "infver": "V1.0",
            "opter_type": "1",
            "opter": "001",
            "opter_name": "收银员",
            "inf_time": "2026-11-23 09:00:00",
            "fixmedins_code": PHARMACY,
            "fixmedins_name": "大连测试药房",
            "sign_no": self.sign_no,
            "input": data,
        }
        body = msgspec.json.encode(envelope)
        answer: dict[str, Any] = msgspec.json.decode(
            self.client.post(PATH, content=body, headers=self.signer.headers()).content
        )
        if str(answer["infcode"]) != "0":
            raise RuntimeError(f"{infno} refused: {answer['err_msg']}")
        output: dict[str, Any] = answer["output"]
        return output

    def settle(self) -> None:
        person = self.call("1101", {"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": MOTHER}})
        assert person["baseinfo"]["psn_no"] == self.psn_no
        data = {
            "data": {
                "psn_no": self.psn_no,
                "mdtrt_cert_type": "02",
                "mdtrt_cert_no": MOTHER,
                "begntime": "2026-11-23 09:00:00",
                "medfee_sumamt": "500.00",
                "med_type": "41",
                "insutype": "390",
                "acct_used_flag": "1",
            },
            "feedetail": [
                {
                    "feedetl_sn": "1",
                    "fee_ocur_time": "2026-11-23 09:00:00",
                    "rx_circ_flag": "0",
                    "med_list_codg": "XA01",
                    "medins_list_codg": "SKU-1",
                    "cnt": 1,
                    "pric": "500.00",
                    "det_item_fee_sumamt": "500.00",
                }
            ],
        }
        self.call("2101", data)
        setlinfo = self.call("2102", data)["setlinfo"]
        cash = int(Fen.from_yuan(setlinfo["psn_cash_pay"]))  # the centre's cash share, in fen
        out_trade_no = f"T{next(self._serial):020d}"
        assert cash > 0  # 500 yuan is more than the son and the sister may pay
        if cash:
            order = msgspec.json.encode(
                {
                    "appid": DEFAULT_APPID,
                    "mchid": DEFAULT_MCHID,
                    "description": "药品",
                    "out_trade_no": out_trade_no,
                    "payer": {"auth_code": "134567890123456781"},
                    "amount": {"total": cash, "currency": "CNY"},
                }
            )
            answer = self.wechat.post(CODEPAY_PATH, content=order, headers=JSON)
            assert answer.status_code == 200, answer.text


class Floor:
    """Two RSA-2048 signatures and four bare ``MockTransport`` round trips: a settlement's floor."""

    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        # About the size of what is signed: the codepay request message, the response body.
        self.message = (
            b"POST\n" + CODEPAY_PATH.encode() + b"\n1795395600\n" + b"n" * 32 + b"\n" + b"{}" * 150
        )
        self.body = b"{}" * 350  # about the size of a 2101 envelope
        self.client = httpx.Client(
            transport=httpx.MockTransport(lambda request: httpx.Response(200)),
            base_url="http://centre.test",
        )

    def sign(self) -> None:
        self.key.sign(self.message, padding.PKCS1v15(), hashes.SHA256())

    def round_trip(self) -> None:
        self.client.post(PATH, content=self.body)

    def settlement(self) -> None:
        self.sign()
        self.sign()
        for _ in range(4):
            self.round_trip()


def seconds_per_call(function: Callable[[], object], calls: int) -> float:  # float-ok: time
    start = time.perf_counter()
    for _ in range(calls):
        function()
    return (time.perf_counter() - start) / calls


class InProcess:
    """Medians over ``ROUNDS`` interleaved rounds, in seconds per settlement."""

    def __init__(self) -> None:
        self.settlement: list[float] = []  # float-ok: seconds
        self.mock_only: list[float] = []  # float-ok: seconds
        self.floor: list[float] = []  # float-ok: seconds
        self.sign: list[float] = []  # float-ok: seconds
        self.round_trip: list[float] = []  # float-ok: seconds
        self.ratio: list[float] = []  # float-ok: settlement / floor, per round


def in_process() -> InProcess:
    """Settlements through ``mock.transport()``, one thread, rounds interleaved with the floor."""
    mock = MockGateway.demo()
    wx = mock.wechatpay
    inside = [0.0]  # float-ok: seconds spent inside the mock
    handle = mock.handle

    def timed(request: httpx.Request) -> httpx.Response:
        start = time.perf_counter()
        try:
            return handle(request)
        finally:
            inside[0] += time.perf_counter() - start

    mock.handle = timed  # type: ignore[method-assign]
    floor = Floor()
    figures = InProcess()
    with (
        httpx.Client(transport=mock.transport(), base_url="http://centre.test") as client,
        httpx.Client(
            transport=mock.transport(),
            base_url="https://api.mch.weixin.qq.com",
            auth=WechatPayAuth(wx.merchant, wx.platform_keys()),
        ) as wechat,
    ):
        till = Till(mock, client, wechat)
        for _ in range(PER_ROUND // 4):  # warm up both
            till.settle()
            floor.settlement()
        for number in range(ROUNDS):
            # Alternate the order each round so a drifting clock favours neither.
            for part in ("settle", "floor") if number % 2 == 0 else ("floor", "settle"):
                if part == "settle":
                    inside[0] = 0.0
                    figures.settlement.append(seconds_per_call(till.settle, PER_ROUND))
                    figures.mock_only.append(inside[0] / PER_ROUND)
                else:
                    figures.sign.append(seconds_per_call(floor.sign, PER_ROUND))
                    figures.round_trip.append(seconds_per_call(floor.round_trip, PER_ROUND))
                    figures.floor.append(seconds_per_call(floor.settlement, PER_ROUND))
            figures.ratio.append(figures.settlement[-1] / figures.floor[-1])
    assert mock.check() == []
    return figures


def over_http(mock: MockGateway, app: Any, per_till: int, work: str) -> tuple[float, float, float]:
    """Run ``TILLS`` concurrent tills against ``app`` served by uvicorn; (per second, p50 ms, p99 ms)."""
    server = make_server(mock, bind("127.0.0.1", 0))
    if app is not None:
        server.server.config.app = app
        server.server.config.loaded = False
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    latencies: list[float] = []
    lock = threading.Lock()
    wx = mock.wechatpay

    def till() -> None:
        with (
            httpx.Client(base_url=server.url, timeout=30) as client,
            httpx.Client(
                base_url=server.url, timeout=30, auth=WechatPayAuth(wx.merchant, wx.platform_keys())
            ) as wechat,
        ):
            pos = Till(mock, client, wechat) if work == "settle" else None
            for _ in range(per_till):
                start = time.perf_counter()
                if pos is not None:
                    pos.settle()
                else:
                    client.get("/")
                with lock:
                    latencies.append(time.perf_counter() - start)

    started = time.perf_counter()
    threads = [threading.Thread(target=till) for _ in range(TILLS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    elapsed = time.perf_counter() - started
    server.stop()
    thread.join(timeout=10)
    latencies.sort()
    p50 = statistics.median(latencies) * 1000
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000
    return len(latencies) / elapsed, p50, p99


async def bare_app(scope: Any, receive: Any, send: Any) -> None:
    """The floor: an ASGI endpoint that answers 200 at once."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            await send({"type": f"{message['type']}.complete"})
            if message["type"] == "lifespan.shutdown":
                return
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]}
    )
    await send({"type": "http.response.body", "body": b"ok"})


def main() -> int:
    inside = in_process()
    settle_s = statistics.median(inside.settlement)
    floor_s = statistics.median(inside.floor)
    per_second = 1 / settle_s
    http: list[tuple[float, float, float]] = []  # float-ok: rate, p50 ms, p99 ms
    bare: list[tuple[float, float, float]] = []  # float-ok: rate, p50 ms, p99 ms
    for _ in range(HTTP_ROUNDS):
        mock = MockGateway.demo()
        http.append(over_http(mock, None, PER_TILL, "settle"))
        assert mock.check() == []
        bare.append(over_http(MockGateway.demo(), bare_app, BARE_PER_TILL, "bare"))
    http_rate, http_p50, http_p99 = (statistics.median(f[i] for f in http) for i in range(3))
    bare_rate, bare_p50, bare_p99 = (statistics.median(f[i] for f in bare) for i in range(3))

    def row(label: str, seconds: list[float]) -> None:  # float-ok: time
        median = statistics.median(seconds)
        print(f"{label:<56}{1 / median:>12.0f}{median * 1000:>10.3f}{min(seconds) * 1000:>10.3f}")

    print(
        f"medians of {ROUNDS} interleaved rounds of {PER_ROUND} (in process), {HTTP_ROUNDS} (HTTP)"
    )
    print(f"{'what':<56}{'per second':>12}{'ms each':>10}{'best ms':>10}")
    row("full settlement, in process (1 thread)", inside.settlement)
    row("  of which the mock alone (time inside handle)", inside.mock_only)
    row("floor: 2 RSA-2048 signs + 4 bare MockTransport posts", inside.floor)
    row("  one RSA-2048 PKCS#1 v1.5 sign", inside.sign)
    row("  one bare MockTransport post", inside.round_trip)
    ratio = statistics.median(inside.ratio)
    needed = (1 / TARGET_PER_SECOND) / floor_s
    print(
        f"settlement / floor: {ratio:.2f}x (median of per-round ratios); "
        f"{TARGET_PER_SECOND}/s here needs <= {needed:.2f}x"
    )
    print()
    print(f"{'over HTTP, 20 concurrent clients':<56}{'per second':>12}{'p50 ms':>10}{'p99 ms':>10}")
    print(
        f"{'full settlement (1101, 2101, 2102, codepay)':<56}{http_rate:>12.0f}{http_p50:>10.1f}{http_p99:>10.1f}"
    )
    print(
        f"{'bare uvicorn endpoint (floor)':<56}{bare_rate:>12.0f}{bare_p50:>10.1f}{bare_p99:>10.1f}"
    )
    print(
        f"{'settlement requests / bare requests per second':<56}{http_rate * 4 / bare_rate:>12.3f}  (4 requests a settlement)"
    )
    verdict = "PASS" if per_second >= TARGET_PER_SECOND else "MISS"
    print(
        f"mock: {per_second:.0f} full pharmacy settlements/s in process (target >= {TARGET_PER_SECOND}; "
        f"{ratio:.2f}x the floor of {1 / floor_s:.0f}/s); over HTTP {http_rate:.0f}/s, "
        f"p50 {http_p50:.1f} ms, p99 {http_p99:.1f} ms: {verdict}"
    )
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
