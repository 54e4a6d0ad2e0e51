"""5301 and med_type 14 as gongji_cityins sends them, against the golden request written
from NATIONAL.md §12 and the mock's tables; and the 5301 decoder fed real-shaped answers
(an empty list, a null one, no output, null and "" dates, a date with a time)."""

from __future__ import annotations

import datetime
import json
from typing import Any

import attrs
import pytest

from gongji import ChronicDisease, ConfigError, Credential, Fen, LineItem, UntrustedAnswer
from gongji.gateways import Holder, SettlementRequest
from gongji.model import Insurance, Person, PersonalAccount, Setting
from gongji_cityins import CITIES, CityInsuranceGateway
from gongji_cityins.chronic import diseases_from
from gongji_mock.national.schema import check_request
from tests.national.messages import answer, answer_bytes, request
from tests.national.test_catalogue_messages import Centre, gateway, run

SISTER = "210502198802200422"
HOLDER = Holder(
    psn_no="21050000000000000042",
    person=Person(
        SISTER, "张丽", Insurance("employee", "active", "210500"), PersonalAccount(Fen(3_000))
    ),
)
HYPERTENSION = ChronicDisease("M03900", "高血压", datetime.date(2023, 3, 1))


# ---------------------------------------------------------------- the request


def test_5301_asks_for_the_patients_registrations_with_the_region_1101_gave() -> None:
    centre = Centre(answer_bytes("5301-registered"))
    run(centre, gateway().chronic_diseases(HOLDER))
    sent, golden = centre.sent[-1], request("5301")
    assert sent["input"] == golden["input"]
    assert set(sent) == set(golden)
    assert sent["insuplc_admdvs"] == "210500"  # the patient's region, not the pharmacy's
    assert check_request("5301", json.dumps(sent)) == []


def test_5301_without_psn_no_is_not_what_a_centre_accepts() -> None:
    golden = request("5301")
    golden["input"]["data"] = {}
    assert any("psn_no" in problem for problem in check_request("5301", golden))


# ---------------------------------------------------------------- the decoder


def test_5301_reads_registrations_with_null_and_empty_dates_and_a_time_after_a_date() -> None:
    centre = Centre(answer_bytes("5301-registered"))
    found = run(centre, gateway().chronic_diseases(HOLDER))
    assert found == (
        ChronicDisease("M01600", "糖尿病", datetime.date(2020, 1, 1), datetime.date(2025, 6, 30)),
        HYPERTENSION,
        ChronicDisease("M07800", "慢性阻塞性肺疾病", None, datetime.date(2027, 12, 31)),
    )


@pytest.mark.parametrize("name", ["5301-none-registered", "5301-null-list", "5301-empty-output"])
def test_5301_with_no_registration_is_an_empty_tuple(name: str) -> None:
    assert run(Centre(answer_bytes(name)), gateway().chronic_diseases(HOLDER)) == ()


@pytest.mark.parametrize("raw", [b"", b"null", b"{}", b"  "])
def test_a_5301_output_that_is_empty_or_null_lists_none(raw: bytes) -> None:
    assert diseases_from(raw) == ()


@pytest.mark.parametrize(
    ("edit", "words"),
    [
        ({"opsp_dise_code": ""}, "no opsp_dise_code"),
        ({"opsp_dise_code": None}, "no opsp_dise_code"),
        ({"begndate": "2023/03/01"}, "begndate is not a date"),
        ({"enddate": "31.12.2027"}, "enddate is not a date"),
        ({"opsp_dise_code": "高血压"}, "not usable"),  # a code gongji cannot send back as is
    ],
)
def test_a_5301_registration_that_cannot_be_read_is_not_trusted(
    edit: dict[str, Any], words: str
) -> None:
    body = answer("5301-registered")
    body["output"]["feedetail"][0].update(edit)
    with pytest.raises(UntrustedAnswer, match=words):
        run(Centre(json.dumps(body, default=str).encode()), gateway().chronic_diseases(HOLDER))


def test_a_5301_list_in_another_node_names_the_region_setting() -> None:
    moved = {"data": answer("5301-registered")["output"]["feedetail"]}
    with pytest.raises(UntrustedAnswer, match="chronic_node"):
        diseases_from(json.dumps(moved).encode())
    # Where the region's node is "data", the profile's setting reads it.
    assert len(diseases_from(json.dumps(moved).encode(), "data")) == 3


def test_the_region_setting_chronic_node_is_read_by_the_gateway() -> None:
    body = answer("5301-registered")
    body["output"] = {"data": body["output"]["feedetail"]}
    profile = attrs.evolve(CITIES["dalian"], chronic_node="data")
    mine = CityInsuranceGateway(
        profile=profile, institution=gateway().institution, auth=gateway()._auth
    )
    found = run(Centre(json.dumps(body, default=str).encode()), mine.chronic_diseases(HOLDER))
    assert [disease.code for disease in found] == ["M01600", "M03900", "M07800"]


def test_a_5301_list_that_is_not_a_list_is_not_trusted() -> None:
    with pytest.raises(UntrustedAnswer, match="not a list"):
        diseases_from(b'{"feedetail": {"opsp_dise_code": "M03900"}}')


# ---------------------------------------------------------------- med_type 14


def _request(setting: Setting = Setting.PHARMACY, visit_id: str = "") -> SettlementRequest:
    item = LineItem(
        code="SKU-00017",
        national_code="XJ01CAA040A001010100445",
        name="降压药",
        unit_price=Fen(3_000),
        quantity=1,
    )
    return SettlementRequest(
        psn_no=HOLDER.psn_no,
        patient=HOLDER.person,
        credential=Credential.id_card(SISTER),
        items=(item,),
        setting=setting,
        visit_id=visit_id,
        disease=HYPERTENSION,
    )


def test_a_pharmacy_sale_under_a_disease_sends_med_type_14_with_its_code_and_name() -> None:
    centre = Centre(answer_bytes("2102-mutual-aid-separate"))
    run(centre, gateway().settle(_request(), "H21020200001202611240035000101"))
    sent = centre.sent[-1]
    data = sent["input"]["data"]
    assert (data["med_type"], data["dise_codg"], data["dise_name"]) == ("14", "M03900", "高血压")
    assert check_request("2102", sent) == []
    # The same message without the disease's code is what a centre refuses.
    del sent["input"]["data"]["dise_codg"]
    assert any("dise_codg" in problem for problem in check_request("2102", sent))


def test_an_ordinary_sale_sends_med_type_41_and_no_disease() -> None:
    centre = Centre(answer_bytes("2102-mutual-aid-separate"))
    ordinary = attrs.evolve(_request(), disease=None)
    run(centre, gateway().settle(ordinary, "H21020200001202611240035000101"))
    data = centre.sent[-1]["input"]["data"]
    assert data["med_type"] == "41" and "dise_codg" not in data and "dise_name" not in data


def test_a_visit_settlement_under_a_disease_sends_med_type_14_in_2207() -> None:
    centre = Centre(answer_bytes("2102-mutual-aid-separate"))
    request_ = _request(Setting.OUTPATIENT, visit_id="MDT20261124000001")
    run(centre, gateway().settle(request_, "H21020200001202611240035000101"))
    sent = centre.sent[-1]
    assert sent["infno"] == "2207"
    data = sent["input"]["data"]
    assert (data["med_type"], data["dise_codg"], data["dise_name"]) == ("14", "M03900", "高血压")


def test_a_region_with_a_chronic_sub_code_sends_it() -> None:
    profile = attrs.evolve(CITIES["dalian"], chronic_med_type="140104")
    mine = CityInsuranceGateway(
        profile=profile, institution=gateway().institution, auth=gateway()._auth
    )
    centre = Centre(answer_bytes("2102-mutual-aid-separate"))
    run(centre, mine.pre_settle(_request()))
    sent = centre.sent[-1]
    assert sent["input"]["data"]["med_type"] == "140104"
    assert check_request("2101", sent) == []


def test_a_config_file_sets_the_regions_chronic_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GONGJI_TEST_CHRONIC_SECRET", "s3cret")
    settings: dict[str, Any] = {
        "city": "dalian",
        "institution_code": "H21020200001",
        "paasid": "POS01",
        "secret_env": "GONGJI_TEST_CHRONIC_SECRET",
    }
    default = CityInsuranceGateway.from_settings(settings).profile
    assert (default.chronic_node, default.chronic_med_type) == ("feedetail", "14")
    settings |= {"chronic_node": "data", "chronic_med_type": "140104"}
    profile = CityInsuranceGateway.from_settings(settings).profile
    assert (profile.chronic_node, profile.chronic_med_type) == ("data", "140104")
    with pytest.raises(ConfigError, match="chronic_med_type"):
        CityInsuranceGateway.from_settings(settings | {"chronic_med_type": 14})
