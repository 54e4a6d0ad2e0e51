"""The mock's own premium channel (``/gongji-mock/premium/``, not the national interface):
signed like the centre, idempotent by msgid, a reversed msgid never pays, and its ledger
postings owed to the collector, never to the pharmacy."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from gongji import Fen
from gongji.signing.tif import TifAuth, TifSigner
from gongji_mock import MockGateway
from gongji_mock.centre.ledger import COLLECTOR, INSTITUTION
from gongji_mock.gateway import DEFAULT_PAASID, DEFAULT_TIF_SECRET

SON = "210202198503170036"
MOTHER = "210202195809120046"
BASE = "http://centre.gongji-mock.invalid/gongji-mock/premium"

_serial = itertools.count(1)


@pytest.fixture
def mock() -> MockGateway:
    return MockGateway.demo()


@pytest.fixture
def http(mock: MockGateway) -> Iterator[httpx.Client]:
    auth = TifAuth(TifSigner(DEFAULT_PAASID, DEFAULT_TIF_SECRET))
    with httpx.Client(transport=mock.transport(), auth=auth) as client:
        yield client


def msgid() -> str:
    return f"H21020200001202501010000{next(_serial):04d}"[-30:]


def pay_body(mock: MockGateway, number: str, **changes: str) -> dict[str, Any]:
    return {
        "msgid": number,
        "fixmedins_code": "H21020200001",
        "psn_no": mock.psn_no(SON),
        "mdtrt_cert_type": "02",
        "mdtrt_cert_no": SON,
        "insured_certno": MOTHER,
        "insutype": "390",
        "amount": "380.00",
        **changes,
    }


def reverse_body(mock: MockGateway, omsgid: str) -> dict[str, Any]:
    return {
        "msgid": msgid(),
        "fixmedins_code": "H21020200001",
        "psn_no": mock.psn_no(SON),
        "omsgid": omsgid,
    }


def test_an_unsigned_payment_is_refused_before_it_is_read(mock: MockGateway) -> None:
    with httpx.Client(transport=mock.transport()) as unsigned:
        answer = unsigned.post(f"{BASE}/pay", json=pay_body(mock, msgid()))
    assert answer.status_code == 401
    assert mock.balance(SON) == Fen(500_000)


def test_the_same_message_gets_the_same_answer_and_pays_once(
    mock: MockGateway, http: httpx.Client
) -> None:
    body = pay_body(mock, msgid())
    first = http.post(f"{BASE}/pay", json=body).json()
    again = http.post(f"{BASE}/pay", json=body | {"inf_time": "2025-01-01 00:00:01"}).json()
    assert first["code"] == 0 and again["payment"] == first["payment"]
    assert first["payment"]["amount"] == "380.00" and first["payment"]["balc"] == "4620.00"
    assert mock.balance(SON) == Fen(462_000)
    [posted] = mock.centre.ledger.transactions
    owed = {p.account: p.amount for p in posted.postings if p.amount > 0}
    assert owed == {COLLECTOR: Fen(38_000)} and INSTITUTION not in owed
    assert mock.check() == []


def test_another_message_under_a_used_msgid_is_refused(
    mock: MockGateway, http: httpx.Client
) -> None:
    number = msgid()
    assert http.post(f"{BASE}/pay", json=pay_body(mock, number)).json()["code"] == 0
    other = http.post(f"{BASE}/pay", json=pay_body(mock, number, amount="320.00")).json()
    assert other["code"] == -1 and "报文ID重复" in other["message"]
    assert mock.balance(SON) == Fen(462_000)


def test_a_reversed_msgid_never_pays_even_when_it_arrives_late(
    mock: MockGateway, http: httpx.Client
) -> None:
    late = msgid()
    reversal = http.post(f"{BASE}/reverse", json=reverse_body(mock, late)).json()
    assert reversal["reversal"]["state"] == "original_not_received"
    answer = http.post(f"{BASE}/pay", json=pay_body(mock, late)).json()
    assert answer["code"] == -1 and "冲正" in answer["message"]
    assert mock.balance(SON) == Fen(500_000) and mock.check() == []


def test_a_paid_premium_is_reversed_once_and_the_account_made_whole(
    mock: MockGateway, http: httpx.Client
) -> None:
    number = msgid()
    paid = http.post(f"{BASE}/pay", json=pay_body(mock, number)).json()["payment"]
    first = http.post(f"{BASE}/reverse", json=reverse_body(mock, number)).json()["reversal"]
    again = http.post(f"{BASE}/reverse", json=reverse_body(mock, number)).json()["reversal"]
    assert first == again == {"omsgid": number, "state": "reversed", "pay_id": paid["pay_id"]}
    assert mock.balance(SON) == Fen(500_000) and mock.check() == []


def test_a_refused_payment_reverses_as_original_refused(
    mock: MockGateway, http: httpx.Client
) -> None:
    number = msgid()
    refused = http.post(f"{BASE}/pay", json=pay_body(mock, number, insutype="310")).json()
    assert refused["code"] == -1  # the mother is on resident insurance: R6
    reversal = http.post(f"{BASE}/reverse", json=reverse_body(mock, number)).json()
    assert reversal["reversal"]["state"] == "original_refused"
    assert mock.balance(SON) == Fen(500_000)


def test_a_credential_that_is_not_the_payers_is_refused(
    mock: MockGateway, http: httpx.Client
) -> None:
    answer = http.post(f"{BASE}/pay", json=pay_body(mock, msgid(), mdtrt_cert_no=MOTHER)).json()
    assert answer["code"] == -1 and "凭证与人员编号不符" in answer["message"]
    assert mock.balance(SON) == Fen(500_000)


def test_an_amount_that_is_not_whole_fen_is_refused(mock: MockGateway, http: httpx.Client) -> None:
    answer = http.post(f"{BASE}/pay", json=pay_body(mock, msgid(), amount="380.001")).json()
    assert answer["code"] == -1
    assert mock.balance(SON) == Fen(500_000)


def test_the_premium_channel_is_kept_by_a_state_file(tmp_path: Any) -> None:
    state = tmp_path / "mock.sqlite3"
    first = MockGateway.demo(state=state)
    auth = TifAuth(TifSigner(DEFAULT_PAASID, DEFAULT_TIF_SECRET))
    number = msgid()
    with httpx.Client(transport=first.transport(), auth=auth) as http:
        paid = http.post(f"{BASE}/pay", json=pay_body(first, number)).json()["payment"]
    first.close()
    restarted = MockGateway.demo(state=state)
    with httpx.Client(transport=restarted.transport(), auth=auth) as http:
        again = http.post(f"{BASE}/pay", json=pay_body(restarted, number)).json()["payment"]
    assert again["pay_id"] == paid["pay_id"]
    assert restarted.balance(SON) == Fen(462_000) and restarted.check() == []
    restarted.close()
