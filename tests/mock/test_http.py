"""The mock over real HTTP (uvicorn on 127.0.0.1, an ephemeral port), in a thread and
through the real `gongji mock serve` entry point."""

from __future__ import annotations

import contextlib
import http.server
import json
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from gongji.signing.tif import TifSigner
from gongji_mock import MockGateway
from gongji_mock.gateway import DEFAULT_PAASID, DEFAULT_TIF_SECRET
from gongji_mock.national.endpoint import PATH
from gongji_mock.server.asgi import bind, make_server
from tests.mock.test_gateway import envelope, sign_in

GONGJI = shutil.which("gongji", path=str(Path(sys.executable).parent)) or "gongji"
SIGN_IN = {"signIn": {"opter_no": "001", "mac": "00-1A-2B-3C-4D-5E", "ip": "192.168.1.20"}}


@pytest.fixture
def served() -> Iterator[tuple[MockGateway, str]]:
    mock = MockGateway.demo()
    server = make_server(mock, bind("127.0.0.1", 0))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield mock, server.url
    finally:
        server.stop()
        thread.join(timeout=10)
        assert not thread.is_alive()


def test_national_sign_in_over_real_http(served: tuple[MockGateway, str]) -> None:
    mock, url = served
    signer = TifSigner(DEFAULT_PAASID, DEFAULT_TIF_SECRET)
    with httpx.Client(base_url=url, timeout=10) as client:
        response = client.post(
            PATH,
            content=envelope("9001", "H21020200001202611230900000001", SIGN_IN),
            headers=signer.headers(),
        )
    assert response.status_code == 200
    assert response.json()["infcode"] == 0
    assert mock.check() == []


def test_unsigned_request_over_http_is_refused_with_401(served: tuple[MockGateway, str]) -> None:
    _, url = served
    with httpx.Client(base_url=url, timeout=10) as client:
        response = client.post(
            PATH, content=envelope("9001", "H21020200001202611230900000001", SIGN_IN)
        )
    assert response.status_code == 401
    assert response.json()["infcode"] == -1


def test_twenty_concurrent_clients_are_all_answered(served: tuple[MockGateway, str]) -> None:
    _, url = served
    signer = TifSigner(DEFAULT_PAASID, DEFAULT_TIF_SECRET)
    codes: list[int] = []

    def till(n: int) -> None:
        with httpx.Client(base_url=url, timeout=10) as client:
            body = envelope("9001", f"H2102020000120261123090000{n:04d}", SIGN_IN)
            codes.append(
                client.post(PATH, content=body, headers=signer.headers()).json()["infcode"]
            )

    tills = [threading.Thread(target=till, args=(n,)) for n in range(20)]
    for t in tills:
        t.start()
    for t in tills:
        t.join(timeout=30)
    assert codes == [0] * 20


@contextlib.contextmanager
def cli_server(*options: str) -> Iterator[tuple[str, list[str]]]:
    """`gongji mock serve --port 0 ...` in a subprocess: its URL, and (after the block) its stderr."""
    with cli_started(*options) as (started, errors):
        yield json.loads(started)["url"], errors


@contextlib.contextmanager
def cli_started(*options: str, as_json: bool = True) -> Iterator[tuple[str, list[str]]]:
    """`gongji mock serve --port 0 ...` in a subprocess: the first line it printed (JSON
    unless ``as_json`` is False), and (after the block) its stderr."""
    process = subprocess.Popen(
        [GONGJI, *(["--json"] if as_json else []), "mock", "serve", "--port", "0", *options],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    errors: list[str] = []
    try:
        assert process.stdout is not None
        yield process.stdout.readline(), errors
    finally:
        process.terminate()
        errors.append(process.communicate(timeout=10)[1])
        # uvicorn shuts down gracefully on SIGTERM, then re-raises the signal: -15.
        assert process.returncode in (0, -15)


def test_gongji_mock_serve_is_strict_by_default_and_says_so() -> None:
    with cli_started(as_json=False) as (started, _):
        assert "national endpoint strict, as a real centre" in started
        url = started.split(" on ", 1)[1].split(" ", 1)[0]
        signer = TifSigner(DEFAULT_PAASID, DEFAULT_TIF_SECRET)
        with httpx.Client(base_url=url, timeout=10) as client:
            sign_no = sign_in(client)
            query = {"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": "210202198503170036"}}
            query["data"]["gongji_agent_certno"] = "210202195809120046"
            refused = client.post(
                PATH,
                content=envelope("1101", "H21020200001202611230900000002", query, sign_no),
                headers=signer.headers(),
            ).json()
    assert refused["infcode"] == -1 and "gongji_agent_certno" in refused["err_msg"]
    with cli_started("--extensions") as (started, _):
        assert json.loads(started)["national"] == "extensions"


def test_gongji_mock_serve_entry_point_serves_and_stops() -> None:
    with cli_server() as (url, errors):
        signer = TifSigner(DEFAULT_PAASID, DEFAULT_TIF_SECRET)
        with httpx.Client(base_url=url, timeout=10) as client:
            answer = client.post(
                PATH,
                content=envelope("9001", "H21020200001202611230900000001", SIGN_IN),
                headers=signer.headers(),
            )
        assert answer.json()["infcode"] == 0
    assert "Traceback" not in errors[0]


def test_mock_serve_with_a_bad_dataset_is_a_one_line_error(tmp_path: Path) -> None:
    bad = tmp_path / "family.toml"
    bad.write_text(
        'policy = "liaoning-dalian-2025"\n[[person]]\nid_number = "1"\n', encoding="utf-8"
    )
    result = subprocess.run(
        [GONGJI, "mock", "serve", "--port", "0", "--data", str(bad)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1
    assert "family.toml" in result.stderr


def test_mock_serve_with_a_missing_dataset_is_a_one_line_error(tmp_path: Path) -> None:
    result = subprocess.run(
        [GONGJI, "mock", "serve", "--port", "0", "--data", str(tmp_path / "missing.toml")],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 1
    assert "cannot be read" in result.stderr


def test_mock_serve_with_a_bad_faults_file_is_a_one_line_error(tmp_path: Path) -> None:
    bad = tmp_path / "faults.toml"
    bad.write_text('[[fault]]\nkind = "meteor"\n', encoding="utf-8")
    result = subprocess.run(
        [GONGJI, "mock", "serve", "--port", "0", "--faults", str(bad)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1
    assert "faults.toml" in result.stderr


def test_mock_serve_applies_a_faults_file(tmp_path: Path) -> None:
    faults = tmp_path / "faults.toml"
    faults.write_text(
        '[[fault]]\nkind = "error_5xx"\ntarget = "national"\ntimes = 1\n', encoding="utf-8"
    )
    with cli_server("--faults", str(faults)) as (url, _):
        signer = TifSigner(DEFAULT_PAASID, DEFAULT_TIF_SECRET)
        with httpx.Client(base_url=url, timeout=10) as client:
            body = envelope("9001", "H21020200001202611230900000001", SIGN_IN)
            first = client.post(PATH, content=body, headers=signer.headers())
            second = client.post(PATH, content=body, headers=signer.headers())
            injected = client.get("/gongji-admin/faults").json()["injected"]
        assert (first.status_code, second.status_code) == (503, 200)
        assert injected == {"error_5xx": 1}


def test_signed_wechat_pay_request_verifies_over_real_http(served: tuple[MockGateway, str]) -> None:
    # Signatures cover the exact path and query: the server must hand the core the bytes sent.
    from gongji.signing.wechatpay import WechatPayAuth
    from gongji_mock.wechatpay.endpoint import CODEPAY_PATH, DEFAULT_APPID, DEFAULT_MCHID

    mock, url = served
    wx = mock.wechatpay
    with httpx.Client(
        base_url=url, timeout=10, auth=WechatPayAuth(wx.merchant, wx.platform_keys())
    ) as client:
        paid = client.post(
            CODEPAY_PATH,
            json={
                "appid": DEFAULT_APPID,
                "mchid": DEFAULT_MCHID,
                "description": "药品",
                "out_trade_no": "T-HTTP-1",
                "payer": {"auth_code": "134567890123456781"},
                "amount": {"total": 1250, "currency": "CNY"},
            },
        )
        queried = client.get(f"/v3/pay/transactions/out-trade-no/T-HTTP-1?mchid={DEFAULT_MCHID}")
    assert paid.status_code == 200, paid.text
    assert queried.status_code == 200, queried.text
    assert queried.json()["amount"]["total"] == 1250


class _Receiver(http.server.BaseHTTPRequestHandler):
    """A POS's notification endpoint on 127.0.0.1: keeps each POST and answers ``success``."""

    received: list[tuple[str, dict[str, str], bytes]]
    arrived: threading.Event

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.received.append((self.path, dict(self.headers.items()), body))
        answer = b"success"
        self.send_response(200)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)
        self.arrived.set()

    def log_message(self, format: str, *args: object) -> None:  # quiet
        pass


@pytest.fixture
def receiver() -> Iterator[tuple[str, type[_Receiver]]]:
    handler = type("Receiver", (_Receiver,), {"received": [], "arrived": threading.Event()})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        host, port = server.server_address[:2]
        yield f"http://{host!s}:{port}/pos/alipay/notify", handler
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def test_served_mock_delivers_notifications_to_the_trade_url_over_real_http(
    receiver: tuple[str, type[_Receiver]],
) -> None:
    from gongji.signing.alipay import AlipayAuth
    from gongji_mock.centre.dataset import demo_dataset
    from gongji_mock.server.delivery import CallbackDelivery
    from tests.mock.test_mock_alipay import code, pay

    notify_url, handler = receiver
    delivery = CallbackDelivery(timeout=5)
    mock = MockGateway(demo_dataset(), delivery=delivery)
    server = make_server(mock, bind("127.0.0.1", 0))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        auth = AlipayAuth(mock.alipay.signer(), mock.alipay.verifier())
        with httpx.Client(base_url=server.url, timeout=10, auth=auth) as client:
            assert pay(client, "T-HTTP-N1", code("1"), notify_url=notify_url)["code"] == "10000"
        # The served mock's own worker (started by the ASGI lifespan) posts it.
        assert handler.arrived.wait(timeout=10)
        [record] = delivery.flush(timeout=10)  # waits for the worker to record the answer
    finally:
        server.stop()
        thread.join(timeout=10)
    assert not thread.is_alive()
    assert not delivery.running  # stopped with the server
    [(path, headers, body)] = handler.received
    assert path == "/pos/alipay/notify"
    assert headers["Content-Type"].startswith("application/x-www-form-urlencoded")
    assert mock.alipay.verifier().verify_notification_body(body)["out_trade_no"] == "T-HTTP-N1"
    assert (record.status, [a.status_code for a in record.attempts]) == ("delivered", [200])


def test_gongji_mock_serve_notify_url_option_is_where_every_callback_goes(
    receiver: tuple[str, type[_Receiver]],
) -> None:
    notify_url, _ = receiver
    with (
        cli_server("--notify-url", notify_url) as (url, _errors),
        httpx.Client(base_url=url, timeout=10) as client,
    ):
        callbacks = client.get("/gongji-admin/callbacks").json()
    assert callbacks["delivering"] is True
    assert callbacks["notify_url"] == notify_url


def test_mock_serve_with_a_bad_notify_url_is_a_one_line_error() -> None:
    result = subprocess.run(
        [GONGJI, "mock", "serve", "--port", "0", "--notify-url", "pos.example/notify"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1
    assert "not an absolute http(s) URL" in result.stderr
