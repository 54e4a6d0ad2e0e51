"""The city adapter's outpatient messages, pinned against the national interface:
2201 registration, 2204 fee upload (lines numbered on within a visit, withdrawn ones
too, in the visit's charge batch), and the 2206/2207 settlement of a visit, which names
it and its batch and carries no lines of its own. The exact messages are pinned against
the golden requests in tests/national/test_visit_messages.py."""

from __future__ import annotations

import datetime

import attrs
import pytest

from gongji import Credential, Fen, LineItem, UntrustedAnswer, Visit
from gongji.client import drive
from gongji.gateways import Capability, OutpatientGateway, Registration
from gongji.model import Insurance, Person, Setting
from tests.adapters.cityins.test_cityins_wire import (
    MOTHER,
    SETTLED,
    answering,
    gateway,
    request_for,
)

CONSULTATION = LineItem(code="110200001", name="诊查费", unit_price=Fen(1_000), quantity=1)
SYRUP = LineItem(code="XB02", name="止咳糖浆", unit_price=Fen(1_275), quantity=2, coverage="B")
VISIT = Visit(
    visit_id="MDT2026112300000001",
    psn_no="P1",
    patient_id=MOTHER,
    department="内科",
    doctor="王医生",
    department_code="0301",
    doctor_code="D1",
    outpatient_no="OP-1",
    department_category="A03",
    batch="H21020200001202611230930000007",
)


def test_the_city_gateway_is_an_outpatient_gateway() -> None:
    city = gateway()
    assert isinstance(city, OutpatientGateway)
    assert {
        Capability.REGISTER,
        Capability.DIAGNOSE,
        Capability.UPLOAD_FEES,
        Capability.WITHDRAW_FEES,
        Capability.CANCEL_REGISTRATION,
    } <= city.capabilities


def test_registration_sends_caty_and_begntime_and_card_sn_only_with_a_card() -> None:
    client, sent, _ = answering(
        {"data": {"mdtrt_id": "MDT1", "psn_no": "P1", "ipt_otp_no": "OP-1"}}
    )
    registration = Registration(
        psn_no="P1",
        patient=Person(id=MOTHER, name="王秀兰", insurance=Insurance(kind="resident")),
        credential=Credential.id_card(MOTHER),
        department="内科",
        doctor="王医生",
        department_code="0301",
        doctor_code="D1",
        outpatient_no="OP-1",
        begins_at=datetime.datetime(2026, 11, 23, 9, 30),
        department_category="A03",
    )
    visit_id = drive(gateway().register(registration, "H21020200001202611230930000001"), client)
    message = sent[1]
    assert message["infno"] == "2201" and message["msgid"] == "H21020200001202611230930000001"
    data = message["input"]["data"]
    assert (data["caty"], data["begntime"], data["dept_code"]) == (
        "A03",
        "2026-11-23 09:30:00",
        "0301",
    )
    assert "card_sn" not in data  # an ID card has none
    assert visit_id == "MDT1"


def test_fee_upload_numbers_lines_on_within_the_visit_and_names_visit_and_patient() -> None:
    accepted = [
        {"feedetl_sn": "2", "det_item_fee_sumamt": "25.50", "cnt": "2", "pric": "12.75"},
    ]
    client, sent, _ = answering({"result": accepted})
    # One line stands; two were uploaded before it and withdrawn (2205).
    already = attrs.evolve(VISIT, items=(CONSULTATION,), uploaded=3)
    total = drive(gateway().upload_fees(already, (SYRUP,), "M-UPLOAD"), client)
    (line,) = sent[1]["input"]["feedetail"]
    assert sent[1]["infno"] == "2204"
    assert line["feedetl_sn"] == "4"  # never a number the centre saw for the visit
    assert (line["chrg_bchno"], line["hosp_appr_flag"], line["rx_circ_flag"]) == (
        VISIT.batch,
        "1",
        "0",
    )
    assert (line["mdtrt_id"], line["psn_no"]) == (VISIT.visit_id, "P1")
    assert (line["pric"], line["cnt"], line["det_item_fee_sumamt"]) == ("12.75", 2, "25.50")
    assert (line["gongji_chrgitm_lv"], line["bilg_dept_name"], line["bilg_dr_codg"]) == (
        "02",
        "内科",
        "D1",
    )
    assert len(line["fee_ocur_time"]) == len("2026-11-23 09:30:00")
    assert total == Fen(2_550)


def test_a_fee_line_the_centre_states_in_a_fraction_of_a_fen_is_not_trusted() -> None:
    client, _, _ = answering({"result": [{"feedetl_sn": "1", "det_item_fee_sumamt": "25.505"}]})
    with pytest.raises(UntrustedAnswer):
        drive(gateway().upload_fees(VISIT, (SYRUP,), "M-UPLOAD"), client)


@pytest.mark.parametrize(("infno", "operation"), [("2206", "pre_settle"), ("2207", "settle")])
def test_a_visit_is_settled_by_its_id_and_total_without_lines(infno: str, operation: str) -> None:
    client, sent, _ = answering(SETTLED)
    request = attrs.evolve(
        request_for(CONSULTATION, SYRUP),
        setting=Setting.OUTPATIENT,
        visit_id=VISIT.visit_id,
        charge_batch=VISIT.batch,
    )
    city = gateway()
    flow = city.pre_settle(request) if operation == "pre_settle" else city.settle(request, "M1")
    drive(flow, client)
    message = sent[1]
    assert message["infno"] == infno
    assert message["input"]["data"]["mdtrt_id"] == VISIT.visit_id
    assert message["input"]["data"]["medfee_sumamt"] == "35.50"
    assert message["input"]["data"]["med_type"] == "11"
    assert message["input"]["data"]["chrg_bchno"] == VISIT.batch
    assert message["input"]["data"]["psn_setlway"] == "01"  # required here: by item
    assert "begntime" not in message["input"]["data"]  # not a field of 2206/2207
    assert "feedetail" not in message["input"]
