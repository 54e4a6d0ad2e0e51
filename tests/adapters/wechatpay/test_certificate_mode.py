"""Certificate mode, downloaded: the channel fetches ``GET /v3/certificates`` itself, trusts
only certificates that decrypt under the APIv3 key, keeps them in memory, refreshes them
when they are old or about to expire, and downloads again on an unknown serial.

Against the in-process mock; the mock and the channel share one movable clock, so that a
refresh twelve hours on is exercised without waiting."""

from __future__ import annotations

import datetime
from collections.abc import Iterator

import httpx
import msgspec
import pytest

from gongji.errors import ConfigError, SignatureError
from gongji.gateways import CashOrder, PaymentState
from gongji.money import Fen
from gongji.signing.wechatpay import platform_headers
from gongji_mock import MockGateway, testkeys
from gongji_mock.centre.dataset import demo_dataset
from gongji_mock.wechatpay.certificates import PlatformCertificates
from gongji_wechatpay import WechatPayChannel
from gongji_wechatpay.certificates import REFRESH_SECONDS
from tests.adapters.wechatpay.conftest import code, run_flow

START = 1_795_000_000  # 2026-11-18


class MovableClock:
    def __init__(self) -> None:
        self.now = float(START)

    def __call__(self) -> float:
        return self.now

    def moment(self) -> datetime.datetime:
        return datetime.datetime.fromtimestamp(self.now, datetime.UTC)


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock()


@pytest.fixture
def mock(clock: MovableClock) -> MockGateway:
    return MockGateway(demo_dataset(), clock=clock.moment)


@pytest.fixture
def client(mock: MockGateway) -> Iterator[httpx.Client]:
    with httpx.Client(transport=mock.transport()) as sender:
        yield sender


@pytest.fixture
def channel(mock: MockGateway, clock: MovableClock) -> WechatPayChannel:
    return WechatPayChannel.for_mock(
        mock,
        clock=clock,
        download_platform_certificates=True,
        refund_notify_url="https://pos.example/wechat/refund",
    )


def order(out_trade_no: str, last: str = "1") -> CashOrder:
    return CashOrder(out_trade_no=out_trade_no, amount=Fen(1250), auth_code=code(last))


def downloads(mock: MockGateway) -> int:
    return sum(1 for r in mock.recent.records() if r.code == "/v3/certificates")


def test_the_first_operation_downloads_the_certificates_then_they_are_kept_in_memory(
    channel: WechatPayChannel, client: httpx.Client, mock: MockGateway
) -> None:
    assert channel.platform.certificates == ()
    assert run_flow(channel.charge(order("CERT-0001")), client).state is PaymentState.PAID
    assert downloads(mock) == 1
    assert [c.serial_hex for c in channel.platform.certificates] == [
        mock.wechatpay.certificates.current.serial
    ]
    assert run_flow(channel.query("CERT-0001"), client).state is PaymentState.PAID
    assert downloads(mock) == 1


def test_a_rotation_is_followed_on_the_unknown_serial_and_the_old_certificate_is_kept(
    channel: WechatPayChannel, client: httpx.Client, mock: MockGateway
) -> None:
    run_flow(channel.charge(order("CERT-0002")), client)
    old = mock.wechatpay.certificates.current.serial
    new = mock.wechatpay.certificates.rotate()
    assert run_flow(channel.query("CERT-0002"), client).state is PaymentState.PAID
    assert downloads(mock) == 2
    assert {c.serial_hex for c in channel.platform.certificates} == {old, new}


def test_the_certificates_are_downloaded_again_when_twelve_hours_old(
    channel: WechatPayChannel, client: httpx.Client, mock: MockGateway, clock: MovableClock
) -> None:
    run_flow(channel.charge(order("CERT-0003")), client)
    clock.now += REFRESH_SECONDS - 1
    run_flow(channel.query("CERT-0003"), client)
    assert downloads(mock) == 1
    clock.now += 1
    run_flow(channel.query("CERT-0003"), client)
    assert downloads(mock) == 2


def test_the_certificates_are_downloaded_again_before_the_one_held_expires(
    channel: WechatPayChannel, client: httpx.Client, mock: MockGateway, clock: MovableClock
) -> None:
    run_flow(channel.refresh_certificates(), client)
    [held] = channel.platform.certificates
    # Nine days before it expires, the next call looks for its successor first.
    clock.now = (held.not_after - datetime.timedelta(days=9)).timestamp()
    mock.wechatpay.certificates.rotate()
    assert run_flow(channel.query("CERT-0004"), client).state is PaymentState.NOT_FOUND
    assert downloads(mock) == 2
    assert len(channel.platform.certificates) == 2


def sealed_under_another_apiv3_key(impostor: PlatformCertificates) -> bytes:
    """A certificate list as an impostor without the merchant's APIv3 key would write it."""
    return msgspec.json.encode(impostor.listing("an-apiv3-key-that-is-not-ours-32"))


def test_a_certificate_that_does_not_decrypt_with_the_apiv3_key_is_never_trusted(
    mock: MockGateway, clock: MovableClock
) -> None:
    impostor = PlatformCertificates(testkeys.test_rsa_key("impostor-platform"), clock=clock)
    forged = impostor.current

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path != "/v3/certificates":
            return mock.handle(request)
        body = sealed_under_another_apiv3_key(impostor)
        # Signed under the impostor's own certificate, which would verify if it were trusted.
        headers = platform_headers(forged.private_key, body, serial=forged.serial, timestamp=START)
        return httpx.Response(200, content=body, headers=headers)

    channel = WechatPayChannel.for_mock(mock, clock=clock, download_platform_certificates=True)
    with (
        httpx.Client(transport=httpx.MockTransport(answer)) as client,
        pytest.raises(ConfigError, match="APIv3 key"),
    ):
        run_flow(channel.charge(order("CERT-0005")), client)
    assert channel.platform.certificates == ()
    assert mock.wechatpay.collected() == 0


def test_a_listing_whose_serial_does_not_match_its_certificate_is_not_trusted(
    mock: MockGateway, clock: MovableClock
) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        response = mock.handle(request)
        if request.url.path != "/v3/certificates":
            return response
        body = response.content.replace(
            mock.wechatpay.certificates.current.serial.encode(), b"0123456789ABCDEF"
        )
        return httpx.Response(200, content=body, headers=response.headers)

    channel = WechatPayChannel.for_mock(mock, clock=clock, download_platform_certificates=True)
    with (
        httpx.Client(transport=httpx.MockTransport(answer)) as client,
        pytest.raises(ConfigError),
    ):
        run_flow(channel.refresh_certificates(), client)
    assert channel.platform.certificates == ()


def test_an_altered_download_is_refused_by_its_signature(
    mock: MockGateway, clock: MovableClock, channel: WechatPayChannel
) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        response = mock.handle(request)
        if request.url.path != "/v3/certificates":
            return response
        body = response.content.replace(b'"data":[', b'"data": [')
        return httpx.Response(200, content=body, headers=response.headers)

    with (
        httpx.Client(transport=httpx.MockTransport(answer)) as client,
        pytest.raises(SignatureError),
    ):
        run_flow(channel.refresh_certificates(), client)
    assert channel.platform.certificates == ()


def test_a_callback_under_an_unknown_serial_is_refused_and_the_next_call_downloads(
    channel: WechatPayChannel, client: httpx.Client, mock: MockGateway, clock: MovableClock
) -> None:
    run_flow(channel.charge(order("CERT-0006")), client)
    mock.wechatpay.certificates.rotate()
    clock.now += 120  # past the minimum interval between two downloads
    refund = channel.refund("CERT-0006", "CERT-R006", Fen(500), Fen(1250))
    # The refund's answer names the new serial: downloaded, then verified.
    assert run_flow(refund, client).state == "success"
    assert downloads(mock) == 2
    [callback] = [c for c in mock.wechatpay.notifications if c.event_type == "REFUND.SUCCESS"]
    assert channel.notification(callback.headers, callback.body).state is PaymentState.REFUNDED
    newer = mock.wechatpay.certificates.rotate()
    stale = platform_headers(
        mock.wechatpay.certificates.current.private_key,
        callback.body,
        serial=newer,
        timestamp=int(clock.now),
    )
    with pytest.raises(SignatureError, match="refresh_certificates"):
        channel.notification(stale, callback.body)
    clock.now += 120
    run_flow(channel.query("CERT-0006"), client)
    assert downloads(mock) == 3
    assert channel.notification(stale, callback.body).state is PaymentState.REFUNDED


def test_the_apiv3_key_never_shows_in_a_repr(channel: WechatPayChannel, mock: MockGateway) -> None:
    shown = repr(channel) + repr(channel._downloads)
    assert mock.wechatpay.apiv3_key not in shown
    assert "apiv3_key=<hidden>" in shown
