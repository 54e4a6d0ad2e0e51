"""The mock gateway under load: full pharmacy settlements (1101 + 2101 + 2102 + a WeChat Pay
payment-code charge), with the real signing on both sides.

1. In process (``mock.transport()``), one thread: settlements per second. Target >= 300.
2. Over HTTP (uvicorn on 127.0.0.1, an ephemeral port), 20 concurrent tills: settlements
   per second and p50/p99 latency, next to a bare uvicorn endpoint measured in the same run.
Every loop is bounded; the server stops by itself at the end.
"""

from __future__ import annotations

import itertools
import json
import statistics
import sys
import threading
import time
from typing import Any

import httpx

from gongji import Fen
from gongji.signing.tif import TifSigner
from gongji.signing.wechatpay import WechatPayAuth
from gongji_mock import MockGateway
from gongji_mock.asgi import bind, make_server
from gongji_mock.gateway import DEFAULT_PAASID, DEFAULT_TIF_SECRET
from gongji_mock.national import PATH
from gongji_mock.wechatpay import CODEPAY_PATH, DEFAULT_APPID, DEFAULT_MCHID

TARGET_PER_SECOND = 300
MOTHER = "210202195809120046"  # resident, pays through her son's account; the rest is cash
PHARMACY = "H21020200001"
IN_PROCESS = 300
TILLS, PER_TILL, BARE_PER_TILL = 20, 10, 40


class Till:
    """One POS: signs in once, then settles purchases through both protocols."""

    _serial = itertools.count(1)

    def __init__(self, mock: MockGateway, client: httpx.Client, wechat: httpx.Client) -> None:
        self.client, self.wechat = client, wechat
        self.signer = TifSigner(DEFAULT_PAASID, DEFAULT_TIF_SECRET)
        self.sign_no = ""
        self.sign_no = self.call("9001", {"signIn": {"opter_no": "001", "mac": "", "ip": ""}})[
            "signinoutb"
        ]["sign_no"]
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
        body = json.dumps(envelope, ensure_ascii=False).encode()
        answer: dict[str, Any] = self.client.post(
            PATH, content=body, headers=self.signer.headers()
        ).json()
        if answer["infcode"] != 0:
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
                "med_type": "41",
                "insutype": "390",
                "acct_used_flag": "1",
            },
            "feedetail": [
                {
                    "feedetl_sn": "1",
                    "med_list_codg": "XA01",
                    "medins_list_codg": "SKU-1",
                    "cnt": 1,
                    "pric": "500.00",
                    "chrgitm_lv": "03",
                }
            ],
        }
        self.call("2101", data)
        setlinfo = self.call("2102", data)["setlinfo"]
        cash = int(Fen.from_yuan(setlinfo["psn_cash_pay"]))  # the centre's cash share, in fen
        out_trade_no = f"T{next(self._serial):020d}"
        assert cash > 0  # a 500-yuan class-C basket always leaves a cash share
        if cash:
            answer = self.wechat.post(
                CODEPAY_PATH,
                json={
                    "appid": DEFAULT_APPID,
                    "mchid": DEFAULT_MCHID,
                    "description": "药品",
                    "out_trade_no": out_trade_no,
                    "payer": {"auth_code": "134567890123456781"},
                    "amount": {"total": cash, "currency": "CNY"},
                },
            )
            assert answer.status_code == 200, answer.text


def in_process() -> tuple[float, float]:
    """(settlements per second end to end, settlements per second of the mock's own time)."""
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
    with (
        httpx.Client(transport=mock.transport(), base_url="http://centre.test") as client,
        httpx.Client(
            transport=mock.transport(),
            base_url="https://api.mch.weixin.qq.com",
            auth=WechatPayAuth(wx.merchant, wx.platform_keys()),
        ) as wechat,
    ):
        till = Till(mock, client, wechat)
        till.settle()  # warm
        inside[0] = 0.0
        start = time.perf_counter()
        for _ in range(IN_PROCESS):
            till.settle()
        elapsed = time.perf_counter() - start
    assert mock.check() == []
    return IN_PROCESS / elapsed, IN_PROCESS / inside[0]


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
    per_second, mock_only = in_process()
    mock = MockGateway.demo()
    http_rate, http_p50, http_p99 = over_http(mock, None, PER_TILL, "settle")
    bare_rate, bare_p50, bare_p99 = over_http(MockGateway.demo(), bare_app, BARE_PER_TILL, "bare")
    assert mock.check() == []
    print(f"{'what':<52}{'per second':>12}{'p50 ms':>10}{'p99 ms':>10}")
    print(f"{'full settlement, in process (1 thread)':<52}{per_second:>12.0f}{'':>10}{'':>10}")
    print(
        f"{'  of which the mock alone (time inside handle)':<52}{mock_only:>12.0f}{'':>10}{'':>10}"
    )
    print(
        f"{'full settlement over HTTP, 20 tills':<52}{http_rate:>12.0f}{http_p50:>10.1f}{http_p99:>10.1f}"
    )
    print(
        f"{'bare uvicorn endpoint, 20 clients (floor)':<52}{bare_rate:>12.0f}{bare_p50:>10.1f}{bare_p99:>10.1f}"
    )
    print(
        f"{'settlement requests / bare requests per second':<52}{http_rate * 5 / bare_rate:>12.3f}  (5 requests a settlement)"
    )
    verdict = "PASS" if per_second >= TARGET_PER_SECOND else "MISS"
    print(
        f"mock: {per_second:.0f} full pharmacy settlements/s in process (target >= {TARGET_PER_SECOND}); over HTTP {http_rate:.0f}/s, p50 {http_p50:.1f} ms, p99 {http_p99:.1f} ms: {verdict}"
    )
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
