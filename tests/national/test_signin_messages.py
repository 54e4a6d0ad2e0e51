"""9001 and 9002 as gongji_cityins sends and reads them: the requests are what the mock's
tables of NATIONAL.md §4 allow, and the answers are read in the shapes real centres send
(``infcode`` a string or a number, ``sign_time`` missing or null, a sign-out with no
``output``)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from gongji import Credential, Declined
from gongji.client import drive
from gongji.signing.tif import TifAuth, TifSigner
from gongji_cityins import CITIES, CityInsuranceGateway, Institution
from gongji_mock.national.schema import check_request
from tests.national.messages import answer, answer_bytes

PERSON = {"baseinfo": {"psn_no": "P1", "certno": "210202195809120046"}, "insuinfo": []}


def gateway() -> CityInsuranceGateway:
    return CityInsuranceGateway(
        profile=CITIES["dalian"],
        institution=Institution(
            code="H21020200001",
            name="大连共济测试药房",
            mac="00-1A-2B-3C-4D-5E",
            ip="192.168.1.20",
        ),
        auth=TifAuth(TifSigner("POS01", "s3cret")),
    )


class Centre:
    """Answers each message with the next of ``answers`` (bytes as a centre sent them)."""

    def __init__(self, *answers: bytes) -> None:
        self.sent: list[dict[str, Any]] = []
        self._answers: Iterator[bytes] = iter(answers)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(json.loads(request.content))
        return httpx.Response(200, content=next(self._answers))

    def client(self) -> httpx.Client:
        return httpx.Client(transport=httpx.MockTransport(self))


def person_answer() -> bytes:
    return json.dumps({"infcode": "0", "output": PERSON}).encode()


@pytest.mark.parametrize("shape", ["9001-signed-in", "9001-no-sign-time", "9001-null-sign-time"])
def test_the_sign_no_of_a_sign_in_goes_into_every_later_message_and_the_sign_out(
    shape: str,
) -> None:
    centre = Centre(answer_bytes(shape), person_answer(), answer_bytes("9002-signed-out"))
    city, http = gateway(), centre.client()
    drive(city.person(Credential.id_card("210202195809120046")), http)
    assert drive(city.sign_out(), http) is True
    sign_no = answer(shape)["output"]["signinoutb"]["sign_no"]
    sign_in, person, sign_out = centre.sent
    assert sign_in["sign_no"] == ""
    assert person["sign_no"] == sign_out["sign_no"] == sign_no
    assert sign_out["input"]["signOut"] == {"sign_no": sign_no, "opter_no": "001"}


@pytest.mark.parametrize("shape", ["9002-signed-out", "9002-no-output"])
def test_a_sign_out_answered_in_either_shape_ends_the_sign_in(shape: str) -> None:
    centre = Centre(answer_bytes("9001-signed-in"), answer_bytes(shape))
    city, http = gateway(), centre.client()
    drive(city.sign_in(), http)
    assert drive(city.sign_out(), http) is True
    assert drive(city.sign_out(), http) is False  # ended: nothing more is sent
    assert [m["infno"] for m in centre.sent] == ["9001", "9002"]


def test_a_refused_sign_in_is_declined_with_the_centres_words() -> None:
    centre = Centre(answer_bytes("refused-string-infcode"))
    with pytest.raises(Declined) as refused:
        drive(gateway().sign_in(), centre.client())
    assert refused.value.infcode == "-1" and refused.value.err_msg


def test_the_sign_in_and_the_sign_out_sent_are_what_a_centre_accepts() -> None:
    centre = Centre(answer_bytes("9001-signed-in"), answer_bytes("9002-signed-out"))
    city, http = gateway(), centre.client()
    drive(city.sign_in(), http)
    drive(city.sign_out(), http)
    sign_in, sign_out = centre.sent
    assert check_request("9001", sign_in) == []
    assert check_request("9002", sign_out) == []
    assert sign_in["input"] == {
        "signIn": {"opter_no": "001", "mac": "00-1A-2B-3C-4D-5E", "ip": "192.168.1.20"}
    }
