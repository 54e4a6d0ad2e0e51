"""Beijing time on the wire, whatever the till's OS time zone (issue 14, item 8).

Each test runs with the process's zone set to UTC and to New York (``time.tzset``), the
zones a misconfigured till or a container most often has. The moment chosen, 00:35 in
Beijing, is 16:35 of the day before in UTC and 11:35 in New York: a wire time taken
from the OS zone would be a day off.
"""

from __future__ import annotations

import datetime
import json
import os
import time
from collections.abc import Iterator

import httpx
import pytest

from gongji import Credential, Fen, LineItem, Purchase, SettlementClient
from gongji import clock as beijing
from gongji.config import client_arguments
from gongji.signing.tif import TifAuth, TifSigner
from gongji_cityins import CityInsuranceGateway
from gongji_mock import MockGateway
from gongji_mock.gateway import DEFAULT_PAASID, DEFAULT_TIF_SECRET

SON = "210202198503170036"  # employee of the demo dataset, with an own account
#: 2026-11-24 00:35:00 in Beijing.
MOMENT = datetime.datetime(2026, 11, 23, 16, 35, tzinfo=datetime.UTC)
BEIJING_DAY = datetime.date(2026, 11, 24)


@pytest.fixture(params=["UTC", "America/New_York"])
def os_zone(request: pytest.FixtureRequest) -> Iterator[str]:
    """The process's local time zone, as the till's OS would set it."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = request.param
    time.tzset()
    try:
        yield request.param
    finally:
        if before is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = before
        time.tzset()


def os_local(moment: datetime.datetime) -> datetime.datetime:
    """``moment`` as the OS's local time, the way ``datetime.now().astimezone()`` reads it."""
    return moment.astimezone()


def test_the_fixture_really_moves_the_os_zone(os_zone: str) -> None:
    # Without this, every test below could pass on a machine that runs in Beijing time.
    assert os_local(MOMENT).date() != BEIJING_DAY


def test_wire_texts_are_beijing_time_from_any_zone(os_zone: str) -> None:
    local = os_local(MOMENT)
    assert beijing.wire_time(local) == "2026-11-24 00:35:00"
    assert beijing.msgid_time(local) == "20261124003500"
    assert beijing.day(local) == BEIJING_DAY
    assert beijing.wire_day(local) == "2026-11-24"
    assert beijing.wire_day(BEIJING_DAY) == "2026-11-24"


def test_a_naive_time_is_beijing_wall_clock_never_the_os_zone(os_zone: str) -> None:
    naive = datetime.datetime(2026, 11, 24, 0, 35)
    assert beijing.wire_time(naive) == "2026-11-24 00:35:00"
    assert beijing.in_beijing(naive).utcoffset() == datetime.timedelta(hours=8)


def test_a_time_the_centre_sends_is_read_as_beijing_time(os_zone: str) -> None:
    read = beijing.from_wire_time("2026-11-24 00:35:00")
    assert read is not None and read == MOMENT
    assert beijing.from_wire_time("") is None
    assert beijing.from_wire_time("24/11/2026") is None


def test_now_is_beijing_time_whatever_the_os_zone(os_zone: str) -> None:
    before = time.time()
    now = beijing.now()
    after = time.time()
    assert now.utcoffset() == datetime.timedelta(hours=8)
    # The same instant as the OS clock (bracketed, not timed), read in Beijing.
    assert int(before) <= now.timestamp() <= after
    assert (
        beijing.today(lambda: now)
        == (
            datetime.datetime.fromtimestamp(now.timestamp(), datetime.UTC)
            + datetime.timedelta(hours=8)
        ).date()
    )


# ---------------------------------------------------------------- a sale at 00:35


class Recorder(httpx.MockTransport):
    """The mock's transport, keeping every national envelope the till sends."""

    def __init__(self, mock: MockGateway) -> None:
        self.envelopes: list[dict[str, object]] = []
        self.answers: list[dict[str, object]] = []
        self._mock = mock
        super().__init__(self._record)

    def _record(self, request: httpx.Request) -> httpx.Response:
        response = self._mock.handle(request)
        if request.url.path.endswith("callService"):
            self.envelopes.append(json.loads(request.content))
            body = response.read()
            # 9102 answers with the file itself, not an envelope.
            self.answers.append(json.loads(body) if body.startswith(b"{") else {"file": body})
        return response


def till_at(moment: datetime.datetime) -> tuple[SettlementClient, Recorder, MockGateway]:
    """The mock and a till, both with their clocks stopped at ``moment`` in the OS zone."""

    def clock() -> datetime.datetime:
        return os_local(moment)

    mock = MockGateway.demo()
    mock.centre.clock = clock
    arguments = client_arguments("mock", mock=mock)
    given: CityInsuranceGateway = arguments["gateway"]
    arguments["gateway"] = CityInsuranceGateway(
        profile=given.profile,
        institution=given.institution,
        auth=TifAuth(TifSigner(DEFAULT_PAASID, DEFAULT_TIF_SECRET, clock=moment.timestamp)),
        clock=clock,
    )
    recorder = Recorder(mock)
    arguments["transport"] = recorder
    return SettlementClient(**arguments, clock=clock), recorder, mock


def a_purchase() -> Purchase:
    item = LineItem(code="X1", name="药品", unit_price=Fen(1_250), quantity=2, coverage="A")
    return Purchase(credential=Credential.id_card(SON), items=[item])


def test_every_envelope_time_is_beijing_time_at_0035(os_zone: str) -> None:
    client, recorder, _ = till_at(MOMENT)
    with client:
        client.settle(a_purchase(), key="TZ-0001")
    assert recorder.envelopes, "the sale sent nothing"
    for envelope in recorder.envelopes:
        assert envelope["inf_time"] == "2026-11-24 00:35:00", envelope["infno"]
        msgid = str(envelope["msgid"])
        assert msgid[-18:-4] == "20261124003500", envelope["infno"]


def test_the_mock_answers_in_beijing_time_at_0035(os_zone: str) -> None:
    client, recorder, _ = till_at(MOMENT)
    with client:
        client.settle(a_purchase(), key="TZ-0002")
    settled = next(
        a for e, a in zip(recorder.envelopes, recorder.answers, strict=True) if e["infno"] == "2102"
    )
    output = settled["output"]
    assert isinstance(output, dict)
    assert output["setlinfo"]["setl_time"] == "2026-11-24 00:35:00"
    assert str(settled["refmsg_time"]).startswith("20261124003500")


def test_3201_at_0035_finds_the_sale_on_the_beijing_date(os_zone: str) -> None:
    client, recorder, _ = till_at(MOMENT)
    with client:
        receipt = client.settle(a_purchase(), key="TZ-0003")
        report = client.reconcile(BEIJING_DAY)
        day_before = client.reconcile(BEIJING_DAY - datetime.timedelta(days=1))
    totals = [e for e in recorder.envelopes if e["infno"] == "3201"]
    assert totals[0]["input"]["data"]["stmt_begndate"] == "2026-11-24"  # type: ignore[index]
    assert report.clean and report.matched == 1
    assert report.centre.count == 1 and report.centre.total == receipt.total
    assert day_before.centre.count == 0 and day_before.journal.count == 0
