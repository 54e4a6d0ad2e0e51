"""The mock's sign-in cycle, strict as a real centre: 9002 is checked against NATIONAL.md's
table, a signed-out ``sign_no`` is refused in the words of a lost sign-in, and so is a
sign-in of an earlier Beijing day where sign-ins last a day (the default; NATIONAL.md §4
leaves it unconfirmed, so a mock may keep them until 9002 instead)."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from gongji.signing.tif import TifSigner
from gongji_cityins.gateway import SIGN_IN_LOST
from gongji_mock.centre.dataset import demo_dataset
from gongji_mock.centre.decisions import Centre
from gongji_mock.national.endpoint import NationalEndpoint
from gongji_mock.national.records import SignIn
from gongji_mock.records import decode
from tests.mock.test_national import NOW, PAASID, SECRET, SON, Clock, Pos

#: 23:59:59 and 00:00:01 in Beijing: 15:59:59 and 16:00:01 UTC of one UTC day.
LAST_SECOND = datetime.datetime(2026, 11, 23, 15, 59, 59, tzinfo=datetime.UTC)
NEXT_DAY = datetime.datetime(2026, 11, 23, 16, 0, 1, tzinfo=datetime.UTC)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def endpoint(clock: Clock) -> NationalEndpoint:
    # Strict: the interface of NATIONAL.md only, as against a real centre.
    return NationalEndpoint(Centre(demo_dataset(), clock=clock), secrets_by_paasid={PAASID: SECRET})


@pytest.fixture
def pos(endpoint: NationalEndpoint, clock: Clock) -> Iterator[Pos]:
    signer = TifSigner(PAASID, SECRET, clock=lambda: clock.now.timestamp())
    transport = httpx.MockTransport(endpoint)
    with httpx.Client(transport=transport, base_url="http://centre.test") as client:
        pos = Pos(client, signer)
        pos.sign_in()
        yield pos


def person(pos: Pos) -> dict[str, Any]:
    return pos.call("1101", {"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": SON}})


def lost(answer: dict[str, Any]) -> bool:
    """Refused in the words gongji_cityins reads as a lost sign-in (its default wording)."""
    return answer["infcode"] == -1 and str(answer["err_msg"]).startswith(SIGN_IN_LOST)


def test_a_sign_out_is_checked_against_the_table_of_national_md(pos: Pos) -> None:
    without_operator = pos.call("9002", {"signOut": {"sign_no": pos.sign_no}})
    assert without_operator["infcode"] == -1 and "opter_no" in without_operator["err_msg"]
    extra = {"sign_no": pos.sign_no, "opter_no": "0001", "gongji_till": "1"}
    assert pos.call("9002", {"signOut": extra})["infcode"] == -1
    assert person(pos)["infcode"] == 0  # refused unprocessed: still signed in


def test_a_signed_out_sign_no_is_refused_as_a_lost_sign_in(pos: Pos) -> None:
    output = pos.ok("9002", {"signOut": {"sign_no": pos.sign_no, "opter_no": "0001"}})
    assert output["signoutoutb"]["sign_time"] == "2026-11-23 09:00:00"
    assert lost(person(pos))
    assert lost(pos.call("9002", {"signOut": {"sign_no": pos.sign_no, "opter_no": "0001"}}))


def test_a_sign_in_of_an_earlier_beijing_day_is_refused_as_lost(pos: Pos, clock: Clock) -> None:
    clock.now = LAST_SECOND
    pos.sign_in()
    assert person(pos)["infcode"] == 0
    clock.now = NEXT_DAY  # the same UTC day, the next Beijing day
    assert lost(person(pos))
    pos.sign_in()
    assert person(pos)["infcode"] == 0


def test_where_sign_ins_last_until_sign_out_the_next_day_keeps_them(
    pos: Pos, clock: Clock, endpoint: NationalEndpoint
) -> None:
    endpoint.sign_in_lasts = "sign_out"
    clock.now = NOW + datetime.timedelta(days=1)
    assert person(pos)["infcode"] == 0


def test_two_sign_ins_of_one_operator_each_stand_until_their_own_sign_out(
    pos: Pos, endpoint: NationalEndpoint, clock: Clock
) -> None:
    other = Pos(pos.client, TifSigner(PAASID, SECRET, clock=lambda: clock.now.timestamp()))
    other._serial = pos._serial  # one institution numbers its msgids once
    other.sign_in()
    assert other.sign_no != pos.sign_no
    pos.ok("9002", {"signOut": {"sign_no": pos.sign_no, "opter_no": "0001"}})
    assert person(other)["infcode"] == 0
    assert lost(person(pos))


def test_a_sign_in_from_a_state_file_without_its_day_lasts_until_sign_out(
    pos: Pos, clock: Clock, endpoint: NationalEndpoint
) -> None:
    # A state file written before sign-ins were dated: its rows read back without a day.
    row = decode(b'{"fixmedins_code":"P21020200001","opter_no":"0001"}', SignIn)
    assert row.day == ""
    assert pos.sign_no is not None
    endpoint.records.sign_ins.put(pos.sign_no, row)
    clock.now = NOW + datetime.timedelta(days=1)
    assert person(pos)["infcode"] == 0
