"""The clinic visit (2201-2208) as gongji_cityins sends it, against the golden requests
written from NATIONAL.md §8 and its sources; its decoders fed real-shaped answers (a
string ``infcode``, ``""`` and null amounts, lines in another order than sent); and a
whole visit at the demo mock, each of its messages checked against the tables."""

from __future__ import annotations

import json
from typing import Any

import attrs
import httpx
import pytest

from gongji import (
    Credential,
    Diagnosis,
    Fen,
    LineItem,
    Purchase,
    SettlementClient,
    UntrustedAnswer,
    Visit,
)
from gongji.config import client_arguments
from gongji.gateways import CentreSettlement, Registration, SettlementRequest
from gongji.model import Insurance, Person, PersonalAccount, Setting
from gongji_mock import MockGateway
from gongji_mock.national.schema import check_request
from tests.national.centre import AT, Centre, gateway, run
from tests.national.messages import answer_bytes, request

SISTER = "210502198802200422"  # employee insured in Benxi (210500)
PATIENT = Person(
    id=SISTER,
    name="张丽",
    insurance=Insurance(kind="employee", region="210500"),
    account=PersonalAccount(balance=Fen(50_000)),
)
CARD = Credential.social_card("J21050012", card_sn="A1B2C3D4E5F6", region="210500")
PSN_NO = "21050000000000000042"
BATCH = "H21020200001202611240035000103"
VISIT = Visit(
    visit_id="MDT20261124000001",
    psn_no=PSN_NO,
    patient_id=SISTER,
    department="内科",
    department_code="0301",
    department_category="A03",
    doctor="王医生",
    doctor_code="D210200000123",
    outpatient_no="OP-20261124-0042",
    begins_at=AT,
    batch=BATCH,
)
CONSULTATION = LineItem(
    code="110200001",
    national_code="001102000010000-110200001",
    name="普通门诊诊查费",
    unit_price=Fen(1_000),
    quantity=1,
)
TABLETS = LineItem(
    code="SKU-00021",
    national_code="XC08CAA010A001010100445",
    name="硝苯地平缓释片",
    unit_price=Fen(1_250),
    quantity=2,
    prescription="RX2026112400017",
)
DIAGNOSES = (
    Diagnosis(code="I10.x00", name="高血压"),
    Diagnosis(code="E11.900", name="2型糖尿病"),
)


def settlement_request() -> SettlementRequest:
    return SettlementRequest(
        psn_no=PSN_NO,
        patient=PATIENT,
        credential=CARD,
        items=(CONSULTATION, TABLETS),
        setting=Setting.OUTPATIENT,
        visit_id=VISIT.visit_id,
        charge_batch=BATCH,
    )


def sent_as_golden(centre: Centre, infno: str) -> None:
    """The last message sent is the golden one's input, and a centre following
    NATIONAL.md takes the whole of it (envelope included)."""
    sent = centre.sent[-1]
    assert sent["infno"] == infno
    assert sent["input"] == request(infno)["input"]
    assert check_request(infno, json.dumps(sent)) == []


# ---------------------------------------------------------------- each request, golden


def test_2201_registers_with_caty_begntime_and_the_cards_card_sn() -> None:
    centre = Centre(answer_bytes("2201-registered"))
    registration = Registration(
        psn_no=PSN_NO,
        patient=PATIENT,
        credential=CARD,
        department=VISIT.department,
        doctor=VISIT.doctor,
        department_code=VISIT.department_code,
        doctor_code=VISIT.doctor_code,
        outpatient_no=VISIT.outpatient_no,
        begins_at=AT,
        department_category="A03",
    )
    assert run(centre, gateway().register(registration, "M2201")) == VISIT.visit_id
    sent_as_golden(centre, "2201")
    assert centre.sent[-1]["insuplc_admdvs"] == "210500"  # the patient's region


def test_2202_cancels_the_registration_by_visit_and_outpatient_number() -> None:
    centre = Centre(answer_bytes("2202-cancelled-no-output"))
    run(centre, gateway().cancel_registration(VISIT, "M2202"))
    sent_as_golden(centre, "2202")


def test_2203_uploads_the_diagnoses_main_one_first() -> None:
    centre = Centre(answer_bytes("2205-withdrawn-null-output"))
    run(centre, gateway().diagnose(VISIT, DIAGNOSES, "M2203"))
    sent_as_golden(centre, "2203")


def test_2204_uploads_the_lines_in_the_charge_batch_with_the_prescription_fields() -> None:
    centre = Centre(answer_bytes("2204-result-any-order"))
    accepted = run(centre, gateway().upload_fees(VISIT, (CONSULTATION, TABLETS), "M2204"))
    sent_as_golden(centre, "2204")
    assert accepted == Fen(3_500)  # "10.00" + 25.0, whatever the order and the empty fields


def test_2205_withdraws_the_charge_batch() -> None:
    centre = Centre(answer_bytes("2205-withdrawn-null-output"))
    run(centre, gateway().withdraw_fees(VISIT, "M2205"))
    sent_as_golden(centre, "2205")


def test_2206_pre_settles_the_batch_and_reads_empty_amounts_as_zero() -> None:
    centre = Centre(answer_bytes("2206-pre-settled"))
    pre = run(centre, gateway().pre_settle(settlement_request()))
    sent_as_golden(centre, "2206")
    assert (pre.total, pre.fund, pre.own_account, pre.mutual_aid_total, pre.cash) == (
        Fen(3_500),
        Fen(2_000),
        Fen(1_500),
        Fen(0),
        Fen(0),
    )
    assert pre.mdtrt_id == VISIT.visit_id and pre.setl_id == ""


def test_2207_settles_the_batch_and_reads_the_split_from_string_amounts() -> None:
    centre = Centre(answer_bytes("2207-settled"))
    settled = run(centre, gateway().settle(settlement_request(), "M2207"))
    sent_as_golden(centre, "2207")
    assert settled.setl_id == "SETL20261124000006"
    assert (settled.total, settled.fund, settled.own_account) == (
        Fen(3_500),
        Fen(2_000),
        Fen(1_000),
    )
    assert (settled.mutual_aid_total, settled.cash) == (Fen(200), Fen(300))
    assert settled.fund + settled.own_account + settled.mutual_aid_total + settled.cash == (
        settled.total
    )


@pytest.mark.parametrize(
    ("answer", "cash"),
    [("2208-cancelled", Fen(1_500)), ("2208-cancelled-cash-payamt", Fen(300))],
)
def test_2208_is_read_with_its_real_field_names(answer: str, cash: Fen) -> None:
    centre = Centre(answer_bytes(answer))
    original = CentreSettlement(
        setl_id="SETL20261124000006",
        mdtrt_id=VISIT.visit_id,
        msgid="M2207",
        total=Fen(0),
        fund=Fen(0),
        own_account=Fen(0),
        mutual_aid=(),
        cash=Fen(0),
    )
    cancelled = run(
        centre, gateway().cancel(original, PSN_NO, "M2208", Setting.OUTPATIENT, insured_in="210500")
    )
    sent_as_golden(centre, "2208")
    # pdn_cash_pay (the spec's spelling) or cash_payamt, as magnitudes of money going back.
    assert cancelled.cash == cash and cancelled.setl_id == "SETL20261124000006"
    assert cancelled.fund + cancelled.own_account + cancelled.mutual_aid_total + cash == (
        cancelled.total
    )


def test_a_2204_answer_in_a_fraction_of_a_fen_is_not_trusted() -> None:
    body = json.loads(answer_bytes("2204-result-any-order"))
    body["output"]["result"][0]["det_item_fee_sumamt"] = "25.005"
    centre = Centre(json.dumps(body).encode())
    with pytest.raises(UntrustedAnswer):
        run(centre, gateway().upload_fees(VISIT, (CONSULTATION, TABLETS), "M2204"))


def test_a_2201_answer_without_a_visit_id_is_not_trusted() -> None:
    body = json.loads(answer_bytes("2201-registered"))
    body["output"]["data"]["mdtrt_id"] = None
    centre = Centre(json.dumps(body).encode())
    registration = Registration(psn_no=PSN_NO, patient=PATIENT, credential=CARD, begins_at=AT)
    with pytest.raises(UntrustedAnswer, match="mdtrt_id"):
        run(centre, gateway().register(registration, "M2201"))


# ---------------------------------------------------------------- a whole visit at the mock


MOTHER = "210202195809120046"


@pytest.fixture(scope="module")
def clinic_day() -> list[dict[str, Any]]:
    """The national requests of a clinic's day at the demo mock: a visit settled after a
    withdrawn line and refunded (2208), and a visit whose registration is cancelled."""
    mock = MockGateway.demo()
    sent: list[dict[str, Any]] = []

    def record(message: httpx.Request) -> httpx.Response:
        if message.url.path.endswith("callService"):
            sent.append(json.loads(message.content))
        return mock.handle(message)

    arguments = client_arguments("mock", mock=mock)
    arguments["transport"] = httpx.MockTransport(record)
    details = {
        "department": "内科",
        "department_code": "0301",
        "department_category": "A03",
        "doctor": "王医生",
        "doctor_code": "D210200000123",
    }
    with SettlementClient(**arguments) as client:
        credential = Credential.id_card(MOTHER)
        visit = client.register_visit(credential, **details)
        visit = client.diagnose(visit, DIAGNOSES)
        visit = client.upload_fees(visit, [CONSULTATION, TABLETS])
        visit = client.upload_fees(client.withdraw_fees(visit), [CONSULTATION])
        receipt = client.settle(Purchase.for_visit(visit, credential), key="VISIT-DAY-1")
        client.refund(receipt.settlement_id)
        other = client.register_visit(credential, **details)
        client.cancel_registration(other)
    assert mock.check() == []
    return sent


@pytest.mark.parametrize("infno", ["2201", "2202", "2203", "2204", "2205", "2206", "2207", "2208"])
def test_each_clinic_request_of_the_day_is_what_a_centre_accepts(
    clinic_day: list[dict[str, Any]], infno: str
) -> None:
    messages = [message for message in clinic_day if message["infno"] == infno]
    assert messages, f"gongji sent no {infno} in the day"
    for message in messages:
        assert check_request(infno, message) == []


def test_the_lines_kept_after_a_withdrawal_go_in_a_new_batch_under_new_numbers(
    clinic_day: list[dict[str, Any]],
) -> None:
    uploads = [m["input"]["feedetail"] for m in clinic_day if m["infno"] == "2204"]
    first, second = uploads
    assert {line["chrg_bchno"] for line in first} != {line["chrg_bchno"] for line in second}
    numbers = [line["feedetl_sn"] for lines in uploads for line in lines]
    assert numbers == ["1", "2", "3"]  # never a number used before, withdrawn or not
    (settled,) = [m for m in clinic_day if m["infno"] == "2207"]
    assert settled["input"]["data"]["chrg_bchno"] == second[0]["chrg_bchno"]


def test_a_visit_keeps_its_fields_when_made_again_from_them() -> None:
    again = Visit(**attrs.asdict(VISIT, recurse=False))
    assert again == VISIT and again.uploaded == 0
