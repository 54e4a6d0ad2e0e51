"""The sign-in cycle through both drivers: the client's close (``close()``, ``aclose()``, the
context managers) ends the sign-in at the centre (9002); a client that never signed in
sends nothing; a sign-out that fails never raises out of close and close still releases
the connections and the journal; each till has a sign-in of its own; and a till that
runs across Beijing midnight signs in anew, whatever the OS time zone."""

from __future__ import annotations

import asyncio
import datetime
import json
import logging
from typing import Any

import attrs
import httpx
import pytest

from gongji import AsyncSettlementClient, SettlementClient
from gongji.journal import MemoryJournal
from gongji.signing.tif import TifAuth, TifSigner
from gongji_cityins import CITIES, CityInsuranceGateway, Institution
from gongji_mock import MockGateway
from gongji_mock.centre.dataset import demo_dataset
from gongji_mock.gateway import DEFAULT_PAASID, DEFAULT_TIF_SECRET
from gongji_mock.profile import MOCK_CENTRE_URL, MOCK_INSTITUTION
from tests.adapters.cityins import test_cityins_signin
from tests.client.conftest import FAST_POLLING, MOTHER, SON, purchase

#: 23:59:59 and 00:00:01 in Beijing: 15:59:59 and 16:00:01 UTC of one UTC day.
LAST_SECOND = datetime.datetime(2026, 11, 24, 15, 59, 59, tzinfo=datetime.UTC)
NEXT_DAY = datetime.datetime(2026, 11, 24, 16, 0, 1, tzinfo=datetime.UTC)

Client = SettlementClient | AsyncSettlementClient

os_zone = test_cityins_signin.os_zone  # the fixture: the till's OS in UTC, then New York


class Wire:
    """The mock behind a transport that notes each national message (infno, sign_no) and
    can break the sign-out with an error the drivers do not expect."""

    def __init__(self, mock: MockGateway) -> None:
        self.mock = mock
        self.sent: list[tuple[str, str]] = []
        self.break_sign_out = False

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("callService"):
            message = json.loads(request.content)
            self.sent.append((message["infno"], message["sign_no"]))
            if self.break_sign_out and message["infno"] == "9002":
                raise RuntimeError("a transport that fails in a way no driver expects")
        return self.mock.handle(request)

    def infnos(self) -> list[str]:
        return [infno for infno, _ in self.sent]


class OwnedJournal(MemoryJournal):
    """A journal that says whether it was closed."""

    closed = False

    def close(self) -> None:
        self.closed = True


def client_on(wire: Wire, driver: str, **options: Any) -> Client:
    options = {"polling": FAST_POLLING, "transport": httpx.MockTransport(wire)} | options
    if driver == "sync":
        return SettlementClient.from_profile("mock", mock=wire.mock, **options)
    return AsyncSettlementClient.from_profile("mock", mock=wire.mock, **options)


def preview_then_close(client: Client) -> None:
    if isinstance(client, SettlementClient):
        with client:
            client.preview(purchase(MOTHER))
        return

    async def run() -> None:
        async with client:
            await client.preview(purchase(MOTHER))

    asyncio.run(run())


def close(client: Client) -> None:
    if isinstance(client, SettlementClient):
        client.close()
    else:
        asyncio.run(client.aclose())


def test_closing_the_client_ends_its_sign_in_at_the_centre(mock: MockGateway, driver: str) -> None:
    wire = Wire(mock)
    preview_then_close(client_on(wire, driver))
    assert wire.infnos() == ["9001", "1101", "2101", "9002"]
    signed_in_as = wire.sent[1][1]  # the 1101 after the sign-in
    assert wire.sent[-1][1] == signed_in_as
    assert len(mock.national.records.sign_ins) == 0  # the centre forgot it


def test_a_client_that_never_signed_in_sends_nothing_at_close(
    mock: MockGateway, driver: str
) -> None:
    wire = Wire(mock)
    close(client_on(wire, driver))
    assert wire.sent == []


def test_closing_twice_signs_out_once(mock: MockGateway, driver: str) -> None:
    wire = Wire(mock)
    client = client_on(wire, driver)
    preview_then_close(client)
    close(client)
    assert wire.infnos().count("9002") == 1


@pytest.mark.parametrize("fault", ["error_5xx", "timeout_before_commit", "drop_after_commit"])
def test_a_failed_sign_out_is_logged_never_raised_and_close_releases_everything(
    mock: MockGateway, driver: str, fault: str, caplog: pytest.LogCaptureFixture
) -> None:
    wire = Wire(mock)
    journal = OwnedJournal()
    client = client_on(wire, driver, journal=journal)
    client._owns_journal = True  # as a client from a config file owns its journal
    mock.faults.add(fault, target="national", code="9002", times=1)
    with caplog.at_level(logging.WARNING, logger="gongji"):
        preview_then_close(client)
    assert wire.infnos()[-1] == "9002"
    assert journal.closed and client._http.is_closed
    said = " ".join(record.getMessage() for record in caplog.records)
    assert "sign-out (9002) failed" in said
    assert wire.sent[-1][1] not in said  # the sign_no is not logged


def test_an_unexpected_failure_of_the_sign_out_never_raises_out_of_close(
    mock: MockGateway, driver: str, caplog: pytest.LogCaptureFixture
) -> None:
    wire = Wire(mock)
    journal = OwnedJournal()
    client = client_on(wire, driver, journal=journal)
    client._owns_journal = True
    wire.break_sign_out = True
    with caplog.at_level(logging.WARNING, logger="gongji"):
        preview_then_close(client)
    assert journal.closed and client._http.is_closed
    assert "RuntimeError" in caplog.text and "closing all the same" in caplog.text


def test_two_tills_of_one_operator_each_end_only_their_own_sign_in(
    mock: MockGateway, driver: str
) -> None:
    first_wire, second_wire = Wire(mock), Wire(mock)
    first = SettlementClient.from_profile(
        "mock", mock=mock, till=1, polling=FAST_POLLING, transport=httpx.MockTransport(first_wire)
    )
    second = client_on(second_wire, driver, till=2)
    first.preview(purchase(MOTHER))
    preview_then_close(second)
    first.preview(purchase(SON))  # its own sign-in still stands: no new 9001
    first.close()
    assert first_wire.infnos() == ["9001", "1101", "2101", "1101", "2101", "9002"]
    assert {sign_no for _, sign_no in first_wire.sent[1:]}.isdisjoint(
        {sign_no for _, sign_no in second_wire.sent[1:]}
    )


# ---------------------------------------------------------------- across Beijing midnight


class Clock:
    """One clock for the till and the mock centre, moved by the test."""

    def __init__(self) -> None:
        self.now = LAST_SECOND

    def __call__(self) -> datetime.datetime:
        return self.now

    def unix(self) -> float:  # float-ok: the TIF signer stamps seconds since the epoch
        return self.now.timestamp()


def night_till(mock: MockGateway, wire: Wire, clock: Clock, till_clock: Clock) -> SettlementClient:
    """A till whose gateway reads ``till_clock``, against ``mock`` (which reads ``clock``)."""
    gateway = CityInsuranceGateway(
        profile=attrs.evolve(CITIES["dalian"], base_url=MOCK_CENTRE_URL),
        institution=Institution(code=MOCK_INSTITUTION[0], name=MOCK_INSTITUTION[1]),
        auth=TifAuth(TifSigner(DEFAULT_PAASID, DEFAULT_TIF_SECRET, clock=clock.unix)),
        clock=till_clock,
    )
    return SettlementClient(
        gateway=gateway,
        transport=httpx.MockTransport(wire),
        journal=MemoryJournal(),
        policy=mock.centre.dataset.policy.id,
        polling=FAST_POLLING,
        clock=till_clock,
    )


def test_the_first_sale_after_beijing_midnight_signs_in_anew(os_zone: str) -> None:
    clock = Clock()
    mock = MockGateway(demo_dataset(), clock=clock)
    wire = Wire(mock)
    with night_till(mock, wire, clock, clock) as till:
        till.preview(purchase(MOTHER))  # 23:59:59 Beijing
        clock.now = NEXT_DAY  # 00:00:01 Beijing: the mock ended yesterday's sign-ins
        till.preview(purchase(MOTHER))
    assert wire.infnos() == ["9001", "1101", "2101", "9001", "1101", "2101", "9002"]
    # Nothing was refused: the till signed in before the centre had to say so.
    assert len(mock.recent.records()) == len(wire.sent)
    assert {record.verdict for record in mock.recent.records()} == {"answered"}


def test_a_till_whose_clock_lags_the_centres_is_refused_once_and_signs_in_again(
    os_zone: str,
) -> None:
    clock, lagging = Clock(), Clock()
    mock = MockGateway(demo_dataset(), clock=clock)
    wire = Wire(mock)
    with night_till(mock, wire, clock, lagging) as till:
        till.preview(purchase(MOTHER))
        clock.now = NEXT_DAY  # the centre's midnight; the till's clock still says 23:59:59
        till.preview(purchase(MOTHER))
    assert wire.infnos() == ["9001", "1101", "2101", "1101", "9001", "1101", "2101", "9002"]
