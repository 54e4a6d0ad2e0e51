"""Callbacks delivered over HTTP: each to its URL (or the mock-wide one), verified by the SDK on
arrival, retried with backoff until the receiver answers as the channel requires, with the
callback faults applied, and never blocking the request that caused it.

The receiver here is an in-process POS endpoint (httpx.MockTransport), and ``flush()``
delivers in the test's own thread, so nothing waits on a clock; test_http.py delivers over
real HTTP from a served mock.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import httpx
import pytest

from gongji.signing.alipay import AlipayAuth
from gongji.signing.wechatpay import WechatPayAuth, WechatPayNotifications
from gongji_mock import MockGateway
from gongji_mock.centre.dataset import demo_dataset
from gongji_mock.server.delivery import DEFAULT_BACKOFF, CallbackDelivery
from tests.mock.test_mock_alipay import code, pay
from tests.mock.test_mock_alipay import refund as alipay_refund
from tests.mock.test_mock_wechatpay import code as wechat_code
from tests.mock.test_mock_wechatpay import codepay
from tests.mock.test_mock_wechatpay import refund as wechat_refund
from tests.mock.test_mock_wechatpay_medins import create, order, sealed

NOTIFY = "https://pos.example/alipay/notify"
WECHAT_NOTIFY = "https://pos.example/wechat/refund"  # the refund helper's notify_url


class Receiver:
    """A POS's callback endpoint: records every request; answers from ``script`` first, then
    as each channel expects a success (WeChat 204, Alipay 200 ``success``)."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.script: list[Callable[[httpx.Request], httpx.Response]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        if self.script:
            return self.script.pop(0)(request)
        if request.headers.get("content-type", "").startswith("application/x-www-form"):
            return httpx.Response(200, text="success")
        return httpx.Response(204)

    def answer(self, *responses: httpx.Response | type[Exception]) -> None:
        for response in responses:
            if isinstance(response, httpx.Response):
                self.script.append(lambda _, r=response: r)
            else:
                self.script.append(lambda request, e=response: _raise(e, request))

    def urls(self) -> list[str]:
        return [str(request.url) for request in self.requests]


def _raise(error: type[Exception], request: httpx.Request) -> httpx.Response:
    raise error("mock receiver", request=request)  # type: ignore[call-arg]


@pytest.fixture
def receiver() -> Receiver:
    return Receiver()


@pytest.fixture
def delays() -> list[float]:
    return []


@pytest.fixture
def delivery(receiver: Receiver, delays: list[float]) -> Iterator[CallbackDelivery]:
    delivery = CallbackDelivery(transport=httpx.MockTransport(receiver), sleep=delays.append)
    yield delivery
    delivery.close()


@pytest.fixture
def mock(delivery: CallbackDelivery) -> MockGateway:
    return MockGateway(demo_dataset(), delivery=delivery)


@pytest.fixture
def alipay(mock: MockGateway) -> Iterator[httpx.Client]:
    auth = AlipayAuth(mock.alipay.signer(), mock.alipay.verifier())
    with httpx.Client(
        transport=mock.transport(), base_url="https://openapi.alipay.com", auth=auth
    ) as client:
        yield client


@pytest.fixture
def wechat(mock: MockGateway) -> Iterator[httpx.Client]:
    wx = mock.wechatpay
    auth = WechatPayAuth(wx.merchant, wx.platform_keys())
    with httpx.Client(
        transport=mock.transport(), base_url="https://api.mch.weixin.qq.com", auth=auth
    ) as client:
        yield client


def test_callbacks_are_only_collected_unless_delivery_is_configured() -> None:
    mock = MockGateway.demo()
    assert mock.delivery is None
    auth = AlipayAuth(mock.alipay.signer(), mock.alipay.verifier())
    with httpx.Client(transport=mock.transport(), base_url="https://x.test", auth=auth) as client:
        pay(client, "POS01-C0", code("1"), notify_url=NOTIFY)
    assert len(mock.alipay.notifications) == 1


def test_alipay_notification_is_posted_to_its_notify_url_and_verifies(
    alipay: httpx.Client, mock: MockGateway, receiver: Receiver, delivery: CallbackDelivery
) -> None:
    pay(alipay, "POS01-H1", code("1"), notify_url=NOTIFY)
    assert receiver.requests == []  # the request only queued it
    assert delivery.pending == 1
    [record] = delivery.flush()
    [posted] = receiver.requests
    assert str(posted.url) == NOTIFY
    assert posted.headers["content-type"].startswith("application/x-www-form-urlencoded")
    params = mock.alipay.verifier().verify_notification_body(posted.content)
    assert params["out_trade_no"] == "POS01-H1"
    assert params["trade_status"] == "TRADE_SUCCESS"
    assert (record.status, record.channel, record.event, record.url) == (
        "delivered",
        "alipay",
        "TRADE_SUCCESS",
        NOTIFY,
    )
    assert [a.status_code for a in record.attempts] == [200]
    assert delivery.pending == 0


def test_wechat_callback_is_posted_with_its_signed_headers_and_exact_body(
    wechat: httpx.Client, mock: MockGateway, receiver: Receiver, delivery: CallbackDelivery
) -> None:
    wx = mock.wechatpay
    created = create(wechat, order("MI-H1", sealed(wx))).json()
    wx.confirm_med_ins(created["mix_trade_no"])
    [record] = delivery.flush()
    [posted] = receiver.requests
    assert str(posted.url) == "https://pos.example/wechat/med-ins"
    assert posted.content == wx.notifications[0].body
    opened = WechatPayNotifications(wx.platform_keys(), wx.apiv3_key).open(
        posted.headers, posted.content
    )
    assert opened.event_type == "MEDICAL_INSURANCE.SUCCESS"
    assert (record.status, record.event) == ("delivered", "MEDICAL_INSURANCE.SUCCESS")


def test_refused_delivery_is_retried_with_backoff_until_the_receiver_accepts(
    wechat: httpx.Client, receiver: Receiver, delivery: CallbackDelivery, delays: list[float]
) -> None:
    receiver.answer(httpx.Response(503), httpx.Response(500, json={"code": "FAIL"}))
    codepay(wechat, "POS01-H2", wechat_code("1"))
    wechat_refund(wechat, "POS01-H2", "R-H2", 100)
    [record] = delivery.flush()
    assert [a.status_code for a in record.attempts] == [503, 500, 204]
    assert [a.accepted for a in record.attempts] == [False, False, True]
    assert record.status == "delivered"
    assert delays == list(DEFAULT_BACKOFF[:2])
    assert receiver.urls() == [WECHAT_NOTIFY] * 3


def test_alipay_counts_a_notification_received_only_when_the_body_is_success(
    alipay: httpx.Client, receiver: Receiver, delivery: CallbackDelivery, delays: list[float]
) -> None:
    receiver.answer(*[httpx.Response(200, text="ok")] * 4)
    pay(alipay, "POS01-H3", code("1"), notify_url=NOTIFY)
    [record] = delivery.flush()
    assert record.status == "failed"
    assert [a.status_code for a in record.attempts] == [200] * 4
    assert len(record.attempts) == 1 + len(DEFAULT_BACKOFF)  # bounded: then it gives up
    assert delays == list(DEFAULT_BACKOFF)


def test_connection_errors_are_retried_and_recorded(
    alipay: httpx.Client, receiver: Receiver, delivery: CallbackDelivery
) -> None:
    receiver.answer(httpx.ConnectError, httpx.ReadTimeout)
    pay(alipay, "POS01-H4", code("1"), notify_url=NOTIFY)
    [record] = delivery.flush()
    assert [a.as_json() for a in record.attempts] == [
        {"error": "ConnectError"},
        {"error": "ReadTimeout"},
        {"status": 200, "accepted": True},
    ]
    assert record.status == "delivered"


def test_mock_wide_notify_url_receives_every_callback(
    receiver: Receiver, delays: list[float]
) -> None:
    override = "http://127.0.0.1:9/pos/callbacks"
    delivery = CallbackDelivery(
        notify_url=override, transport=httpx.MockTransport(receiver), sleep=delays.append
    )
    mock = MockGateway(demo_dataset(), delivery=delivery)
    wx, ali = mock.wechatpay, mock.alipay
    with (
        httpx.Client(
            transport=mock.transport(),
            base_url="https://x.test",
            auth=AlipayAuth(ali.signer(), ali.verifier()),
        ) as alipay,
        httpx.Client(
            transport=mock.transport(),
            base_url="https://x.test",
            auth=WechatPayAuth(wx.merchant, wx.platform_keys()),
        ) as wechat,
    ):
        pay(alipay, "POS01-H5", code("1"), notify_url=NOTIFY)
        codepay(wechat, "POS01-H5", wechat_code("1"))
        wechat_refund(wechat, "POS01-H5", "R-H5", 100)
    records = delivery.flush()
    assert receiver.urls() == [override, override]
    assert [(r.channel, r.status) for r in records] == [
        ("alipay", "delivered"),
        ("wechatpay", "delivered"),
    ]
    delivery.close()


def test_callback_without_an_http_url_is_recorded_as_skipped(
    wechat: httpx.Client, receiver: Receiver, delivery: CallbackDelivery
) -> None:
    codepay(wechat, "POS01-H6", wechat_code("1"))
    wechat.post(
        "/v3/refund/domestic/refunds",
        json={
            "out_trade_no": "POS01-H6",
            "out_refund_no": "R-H6",
            "amount": {"refund": 100, "total": 1250, "currency": "CNY"},
        },
    )
    [record] = delivery.flush()
    assert (record.status, record.url, record.attempts) == ("skipped", "", ())
    assert receiver.requests == []


def test_duplicate_callback_fault_posts_the_notification_twice(
    alipay: httpx.Client, mock: MockGateway, receiver: Receiver, delivery: CallbackDelivery
) -> None:
    mock.faults.add("duplicate_callback", target="alipay", times=1)
    pay(alipay, "POS01-H7", code("1"), notify_url=NOTIFY)
    pay(alipay, "POS01-H8", code("1"), notify_url=NOTIFY)
    delivery.flush()
    posted = [request.content for request in receiver.requests]
    assert len(posted) == 3
    assert posted[0] == posted[1] != posted[2]


def test_out_of_order_fault_posts_the_newest_before_those_not_yet_sent(
    alipay: httpx.Client, mock: MockGateway, receiver: Receiver, delivery: CallbackDelivery
) -> None:
    pay(alipay, "POS01-H9", code("1"), notify_url=NOTIFY)
    mock.faults.add("out_of_order_callbacks", target="alipay", times=1)
    alipay_refund(alipay, "POS01-H9", "2.50", "R1")
    delivery.flush()
    verify = mock.alipay.verifier().verify_notification_body
    events = [verify(request.content) for request in receiver.requests]
    assert [e.get("out_biz_no") for e in events] == ["R1", None]  # the refund overtook the payment


def test_a_full_queue_drops_the_callback_instead_of_blocking_the_till(
    receiver: Receiver, delays: list[float]
) -> None:
    delivery = CallbackDelivery(
        queue_size=1, transport=httpx.MockTransport(receiver), sleep=delays.append
    )
    mock = MockGateway(demo_dataset(), delivery=delivery)
    auth = AlipayAuth(mock.alipay.signer(), mock.alipay.verifier())
    with httpx.Client(transport=mock.transport(), base_url="https://x.test", auth=auth) as client:
        assert pay(client, "POS01-H10", code("1"), notify_url=NOTIFY)["code"] == "10000"
        assert pay(client, "POS01-H11", code("1"), notify_url=NOTIFY)["code"] == "10000"
    assert [r.status for r in delivery.flush()] == ["delivered", "dropped"]
    assert len(receiver.requests) == 1
    delivery.close()


def test_a_slow_receiver_blocks_neither_the_request_nor_the_records(
    delays: list[float],
) -> None:
    inside, release, finished = threading.Event(), threading.Event(), threading.Event()

    def slow(request: httpx.Request) -> httpx.Response:
        inside.set()
        release.wait(timeout=10)
        finished.set()
        return httpx.Response(200, text="success")

    delivery = CallbackDelivery(transport=httpx.MockTransport(slow), sleep=delays.append)
    mock = MockGateway(demo_dataset(), delivery=delivery)
    auth = AlipayAuth(mock.alipay.signer(), mock.alipay.verifier())
    delivery.start()
    try:
        with httpx.Client(
            transport=mock.transport(), base_url="https://x.test", auth=auth
        ) as client:
            pay(client, "POS01-H12", code("1"), notify_url=NOTIFY)
            assert inside.wait(timeout=10)  # the worker is inside the receiver's I/O now
            # A second payment needs the Alipay endpoint's lock and the delivery's queue;
            # records() needs the delivery's lock. Neither may wait for the receiver.
            answer = pay(client, "POS01-H13", code("1"), notify_url=NOTIFY)
            statuses = [r.status for r in delivery.records()]
            assert not finished.is_set()
        assert answer["code"] == "10000"
        assert statuses == ["pending", "pending"]
        release.set()
        assert [r.status for r in delivery.flush(timeout=10)] == ["delivered", "delivered"]
    finally:
        release.set()
        delivery.close()
    assert not delivery.running


def test_admin_endpoint_shows_deliveries_and_flushes_them(
    alipay: httpx.Client, mock: MockGateway, receiver: Receiver
) -> None:
    receiver.answer(httpx.Response(502))
    pay(alipay, "POS01-H14", code("1"), notify_url=NOTIFY)
    with httpx.Client(
        transport=mock.transport(), base_url="http://mock.test/gongji-admin/"
    ) as admin:
        before = admin.get("callbacks").json()
        after = admin.post("callbacks/flush").json()
    assert before["delivering"] is True
    assert before["pending"] == 1
    assert before["collected"] == {"wechatpay": 0, "alipay": 1}
    [delivered] = after["deliveries"]
    assert delivered["status"] == "delivered"
    assert delivered["attempts"] == [
        {"status": 502, "accepted": False},
        {"status": 200, "accepted": True},
    ]
    assert after["pending"] == 0


def test_a_bad_mock_wide_notify_url_is_a_config_error() -> None:
    from gongji.errors import ConfigError

    with pytest.raises(ConfigError, match="not an absolute http"):
        MockGateway(demo_dataset(), notify_url="pos.example/callbacks")
