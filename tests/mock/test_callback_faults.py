"""Callback faults: a notification delivered twice, or newest first, so a POS can prove it
handles both (idempotent processing, ordering by state not by arrival)."""

from __future__ import annotations

import httpx

from gongji_mock import MockGateway
from gongji_mock.alipay.endpoint import AlipayEndpoint
from tests.mock.test_mock_alipay import ali, client, code, mock, pay, refund

__all__ = ["ali", "client", "mock"]  # fixtures used below
NOTIFY = "https://pos.example/alipay/notify"


def test_duplicate_callback_delivers_the_same_notification_twice(
    client: httpx.Client, ali: AlipayEndpoint, mock: MockGateway
) -> None:
    mock.faults.add("duplicate_callback", target="alipay", times=1)
    pay(client, "POS01-D1", code("1"), notify_url=NOTIFY)
    first, second = ali.notifications
    assert first is second
    assert mock.faults.injected["duplicate_callback"] == 1
    pay(client, "POS01-D2", code("1"), notify_url=NOTIFY)
    assert len(ali.notifications) == 3  # the fault hit once only


def test_out_of_order_callbacks_deliver_the_newest_first(
    client: httpx.Client, ali: AlipayEndpoint, mock: MockGateway
) -> None:
    pay(client, "POS01-O1", code("1"), notify_url=NOTIFY)
    mock.faults.add("out_of_order_callbacks", target="alipay", times=1)
    refund(client, "POS01-O1", "2.50", "R1")
    newest, oldest = ali.notifications
    assert newest.params.get("out_biz_no") == "R1"
    assert oldest.params.get("out_biz_no") is None


def test_callback_faults_never_touch_requests(
    client: httpx.Client, ali: AlipayEndpoint, mock: MockGateway
) -> None:
    mock.faults.add("duplicate_callback", target="alipay")
    assert pay(client, "POS01-R1", code("1"))["code"] == "10000"
    assert mock.faults.injected["duplicate_callback"] == 0  # no notify_url: no callback sent


def test_request_faults_are_not_counted_against_callbacks(
    client: httpx.Client, ali: AlipayEndpoint, mock: MockGateway
) -> None:
    pay(client, "POS01-C1", code("1"), notify_url=NOTIFY)
    mock.faults.add("error_5xx", target="alipay", times=1)
    ali.notifications.append(
        ali.notifications[0]
    )  # a callback event while a request fault is armed
    assert mock.faults.injected["error_5xx"] == 0
