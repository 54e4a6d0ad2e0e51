"""The mock's national endpoint behind a CSB gateway: a city whose profile signs with CSB
(``signing = "csb"``) is accepted when gongji's own ``CsbSigner`` signs, in process and over
real HTTP (``_api_*`` header names with underscores survive uvicorn), and refused (HTTP 401,
nothing read) when the signature is wrong, stale, replayed or from an unknown access key."""

from __future__ import annotations

import attrs
import httpx
import pytest

from gongji.errors import SignatureError
from gongji.signing.csb import CsbAuth, CsbSigner
from gongji_cityins.gateway import CITIES, CityInsuranceGateway, Institution
from gongji_mock import MockGateway
from gongji_mock.national.endpoint import PATH
from gongji_mock.national.vouchers import MockVoucherDecoder
from tests.adapters.wechatpay.conftest import run_flow
from tests.client.conftest import MOTHER
from tests.mock.conftest import Switchboard

API_NAME = "hsa.fsi.callService"


def csb_gateway(url: str, access_key: str, secret: str) -> CityInsuranceGateway:
    profile = attrs.evolve(CITIES["dalian"], base_url=url, signing="csb")
    return CityInsuranceGateway(
        profile=profile,
        institution=Institution(code="H21020200001", name="大连测试药房"),
        auth=CsbAuth(CsbSigner(access_key=access_key, secret=secret, api_name=API_NAME)),
    )


def test_a_csb_city_signs_in_and_reads_a_person_in_process() -> None:
    mock = MockGateway.demo()
    gateway = csb_gateway("https://centre.test", *mock.csb_caller())
    with httpx.Client(transport=mock.transport()) as client:
        assert run_flow(gateway.sign_in(), client)
        scanned = mock.issue_e_voucher(MOTHER)
        decoder = MockVoucherDecoder.at("https://centre.test", "H21020200001")
        decoded = run_flow(decoder.decode(scanned), client)
        holder = run_flow(gateway.person(decoded.credential()), client)
    assert holder.person.id.number == MOTHER
    assert holder.psn_no == mock.psn_no(MOTHER)


def test_a_csb_city_signs_in_over_real_http(
    served_switchboard: tuple[Switchboard, str],
) -> None:
    board, url = served_switchboard
    mock = MockGateway.demo()
    board.target = mock.handle
    gateway = csb_gateway(url, *mock.csb_caller())
    with httpx.Client(timeout=10) as client:
        assert run_flow(gateway.sign_in(), client)
    assert [r.status for r in mock.recent.records()] == [200]


@pytest.mark.parametrize(
    ("access_key", "secret"), [("gongji-mock-csb", "not-the-secret"), ("someone-else", "x")]
)
def test_a_wrong_csb_signature_or_access_key_is_refused_before_anything_is_read(
    access_key: str, secret: str
) -> None:
    mock = MockGateway.demo()
    gateway = csb_gateway("https://centre.test", access_key, secret)
    with httpx.Client(transport=mock.transport()) as client, pytest.raises(SignatureError):
        run_flow(gateway.sign_in(), client)
    answer = mock.recent.records()[0]
    assert answer.status == 401


def test_a_replayed_csb_request_is_refused() -> None:
    mock = MockGateway.demo()
    access_key, secret = mock.csb_caller()
    signer = CsbSigner(access_key=access_key, secret=secret, api_name=API_NAME)
    headers = signer.headers()
    body = b'{"infno":"9001"}'
    first = mock.handle(
        httpx.Request("POST", "https://c.test" + PATH, headers=headers, content=body)
    )
    again = mock.handle(
        httpx.Request("POST", "https://c.test" + PATH, headers=headers, content=body)
    )
    assert first.status_code != 401
    assert again.status_code == 401


def test_two_csb_messages_signed_in_one_millisecond_are_not_a_replay() -> None:
    # CSB signs no nonce and no body: two messages of one millisecond share a signature.
    mock = MockGateway.demo()
    access_key, secret = mock.csb_caller()
    signer = CsbSigner(access_key=access_key, secret=secret, api_name=API_NAME)
    headers = signer.headers()
    answers = [
        mock.handle(httpx.Request("POST", "https://c.test" + PATH, headers=headers, content=body))
        for body in (b'{"infno":"9001"}', b'{"infno":"1101"}')
    ]
    assert [answer.status_code for answer in answers] == [200, 200]
