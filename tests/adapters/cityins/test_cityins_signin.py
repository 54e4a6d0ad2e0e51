"""The city gateway's sign-in cycle: 9001 before the first message of each Beijing day
(whatever the OS time zone and the clock's own zone), again once when the centre no longer
knows the ``sign_no``, and 9002 to end it, which is sent only for a sign-in there is."""

from __future__ import annotations

import datetime
import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from gongji import Credential, Declined, UntrustedAnswer
from gongji.client import drive
from gongji.journal import MemoryJournal, MsgidOwner
from gongji.signing.tif import TifAuth, TifSigner
from gongji_cityins import CITIES, CityInsuranceGateway, Institution
from gongji_cityins.gateway import SIGN_IN_LOST

MOTHER = "210202195809120046"
PERSON = {"baseinfo": {"psn_no": "P1", "certno": MOTHER}, "insuinfo": []}
LOST = f"{SIGN_IN_LOST[0]}或签到编号无效，请先签到(9001)"

#: 23:59:59 and 00:00:01 in Beijing: 15:59:59 and 16:00:01 UTC of one UTC day.
LAST_SECOND = datetime.datetime(2026, 11, 24, 15, 59, 59, tzinfo=datetime.UTC)
NEXT_DAY = datetime.datetime(2026, 11, 24, 16, 0, 1, tzinfo=datetime.UTC)


class Centre:
    """A centre that answers by transaction code: 9001 with a new ``sign_no`` each time,
    1101 with a person, 9002 with success; ``refuse(infno, words)`` refuses the next one."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.sign_ins = 0
        self.refusals: dict[str, list[str]] = {}

    def refuse(self, infno: str, *words: str) -> None:
        self.refusals.setdefault(infno, []).extend(words)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        message = json.loads(request.content)
        self.sent.append(message)
        infno = message["infno"]
        if self.refusals.get(infno):
            words = self.refusals[infno].pop(0)
            return httpx.Response(200, json={"infcode": "-1", "err_msg": words})
        if infno == "9001":
            self.sign_ins += 1
            output: Any = {"signinoutb": {"sign_no": f"SIGN{self.sign_ins}"}}
        elif infno == "9002":
            output = {"signoutoutb": {"sign_time": "2026-11-24 23:59:59"}}
        else:
            output = PERSON
        return httpx.Response(200, json={"infcode": "0", "output": output})

    def infnos(self) -> list[str]:
        return [message["infno"] for message in self.sent]

    def client(self) -> httpx.Client:
        return httpx.Client(transport=httpx.MockTransport(self))


class Clock:
    def __init__(self, now: datetime.datetime, zone: Callable[[datetime.datetime], Any]) -> None:
        self.now, self._zone = now, zone

    def __call__(self) -> datetime.datetime:
        moment: datetime.datetime = self._zone(self.now)
        return moment


@pytest.fixture(params=["UTC", "America/New_York"])
def os_zone(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The till's OS time zone: nothing the gateway decides may depend on it."""
    monkeypatch.setenv("TZ", request.param)
    time.tzset()
    yield str(request.param)
    monkeypatch.undo()
    time.tzset()


@pytest.fixture(params=["utc", "os-local"])
def clock(request: pytest.FixtureRequest, os_zone: str) -> Clock:
    """A clock reading moments in UTC, or in the OS's own zone (``astimezone()``)."""
    if request.param == "utc":
        return Clock(LAST_SECOND, lambda moment: moment)
    return Clock(LAST_SECOND, lambda moment: moment.astimezone())


def gateway(clock: Callable[[], datetime.datetime] | None = None) -> CityInsuranceGateway:
    options: dict[str, Any] = {} if clock is None else {"clock": clock}
    return CityInsuranceGateway(
        profile=CITIES["dalian"],
        institution=Institution(code="H21020200001", name="大连测试药房", operator="007"),
        auth=TifAuth(TifSigner("POS01", "s3cret")),
        **options,
    )


def person(city: CityInsuranceGateway, http: httpx.Client) -> None:
    drive(city.person(Credential.id_card(MOTHER)), http)


def test_the_first_message_of_a_new_beijing_day_signs_in_again(clock: Clock) -> None:
    centre, city = Centre(), gateway(clock)
    http = centre.client()
    person(city, http)
    person(city, http)  # 23:59:59 Beijing: the same day, the same sign-in
    assert centre.infnos() == ["9001", "1101", "1101"]
    clock.now = NEXT_DAY  # 00:00:01 Beijing, on the same UTC day
    person(city, http)
    assert centre.infnos()[3:] == ["9001", "1101"]
    assert [m["sign_no"] for m in centre.sent if m["infno"] == "1101"] == ["SIGN1"] * 2 + ["SIGN2"]
    assert centre.sent[-1]["inf_time"] == "2026-11-25 00:00:01"


def test_a_new_utc_day_within_one_beijing_day_keeps_the_sign_in(clock: Clock) -> None:
    centre, city = Centre(), gateway(clock)
    http = centre.client()
    clock.now = datetime.datetime(2026, 11, 24, 23, 0, tzinfo=datetime.UTC)  # 07:00 Beijing
    person(city, http)
    clock.now = datetime.datetime(2026, 11, 25, 1, 0, tzinfo=datetime.UTC)  # 09:00 Beijing
    person(city, http)
    assert centre.infnos() == ["9001", "1101", "1101"]


def test_a_lost_sign_in_is_renewed_once_and_not_twice() -> None:
    centre, city = Centre(), gateway()
    http = centre.client()
    centre.refuse("1101", LOST, LOST)
    with pytest.raises(Declined):
        person(city, http)
    assert centre.infnos() == ["9001", "1101", "9001", "1101"]
    assert centre.sent[1]["msgid"] == centre.sent[3]["msgid"]  # unprocessed: the same msgid
    assert centre.sent[3]["sign_no"] == "SIGN2"


def test_a_gateway_that_never_signed_in_sends_no_sign_out() -> None:
    centre, city = Centre(), gateway()
    assert drive(city.sign_out(), centre.client()) is False
    assert centre.sent == []


def test_the_sign_out_ends_this_gateways_sign_in_and_the_next_message_signs_in_anew() -> None:
    centre, city = Centre(), gateway()
    http = centre.client()
    person(city, http)
    assert drive(city.sign_out(), http) is True
    sign_out = centre.sent[-1]
    assert sign_out["sign_no"] == "SIGN1"
    assert sign_out["input"] == {"signOut": {"sign_no": "SIGN1", "opter_no": "007"}}
    assert drive(city.sign_out(), http) is False  # nothing left to end: nothing sent
    person(city, http)
    assert centre.infnos() == ["9001", "1101", "9002", "9001", "1101"]


def test_sign_in_and_sign_out_msgids_are_journaled_as_what_they_are() -> None:
    centre, journal = Centre(), MemoryJournal()
    city = gateway().with_journal(journal)
    http = centre.client()
    person(city, http)
    drive(city.sign_out(), http)
    owners = [journal.msgid_owner(m["msgid"]) for m in centre.sent]
    assert owners == [
        MsgidOwner(key="", purpose="9001"),
        MsgidOwner(key="", purpose="read"),
        MsgidOwner(key="", purpose="9002"),
    ]


def test_a_sign_out_the_centre_no_longer_knows_is_no_sign_out_and_signs_nothing_in() -> None:
    centre, city = Centre(), gateway()
    http = centre.client()
    person(city, http)
    centre.refuse("9002", LOST)  # the centre ended the sign-in itself (midnight)
    assert drive(city.sign_out(), http) is False
    assert centre.infnos() == ["9001", "1101", "9002"]


def test_a_refused_sign_out_is_raised_and_the_sign_in_forgotten() -> None:
    centre, city = Centre(), gateway()
    http = centre.client()
    person(city, http)
    centre.refuse("9002", "操作员不符 / another operator's sign-in")
    with pytest.raises(Declined):
        drive(city.sign_out(), http)
    person(city, http)
    assert centre.infnos() == ["9001", "1101", "9002", "9001", "1101"]


def test_a_lost_sign_out_answer_is_raised_and_the_sign_in_forgotten() -> None:
    centre, city = Centre(), gateway()
    http = centre.client()
    person(city, http)

    def unreachable(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("the centre is unreachable", request=request)

    with pytest.raises(httpx.ConnectError):
        drive(city.sign_out(), httpx.Client(transport=httpx.MockTransport(unreachable)))
    assert drive(city.sign_out(), http) is False  # forgotten: nothing sent again
    assert centre.infnos() == ["9001", "1101"]


def test_a_sign_in_answered_without_a_sign_no_is_not_trusted() -> None:
    def no_sign_no(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"infcode": 0, "output": {"signinoutb": {"sign_no": ""}}})

    city = gateway()
    with pytest.raises(UntrustedAnswer, match="without a sign_no"):
        drive(city.sign_in(), httpx.Client(transport=httpx.MockTransport(no_sign_no)))
    centre = Centre()
    person(city, centre.client())  # not signed in: the next message signs in first
    assert centre.infnos() == ["9001", "1101"]
