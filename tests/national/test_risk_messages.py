"""3101/3102, the centre's rule checks: what gongji_cityins sends is what the mock's tables of
NATIONAL.md §12 accept, and its decoder reads answers in the shapes real centres send
(``answers/3101-*``, ``3102-*``): an empty result, a null output, ``sev_deg`` as text, as a
number or in words, ``vola_amt`` null, ``""`` or a number, one object for a list."""

from __future__ import annotations

import datetime
import decimal
import json
from typing import Any

import attrs
import httpx
import msgspec
import pytest

from gongji import ChronicDisease, ConfigError, Credential, Fen, LineItem, UntrustedAnswer
from gongji.clock import BEIJING
from gongji.gateways import Capability, CentreSettlement, RiskStage, SettlementRequest
from gongji.gateways.exchange import Flow
from gongji.model import Insurance, Person, Setting
from gongji.signing.tif import TifAuth, TifSigner
from gongji_cityins import CITIES, CityInsuranceGateway, Institution
from gongji_cityins.risk import RiskSettings, findings_from
from gongji_mock.national.schema import check_request
from tests.national.messages import answer, answer_bytes

SISTER = "210502198802200422"  # insured in Benxi, buying in Dalian
AT = datetime.datetime(2026, 11, 24, 9, 30, tzinfo=BEIJING)
ON = RiskSettings(enabled=True)


def gateway(settings: RiskSettings = ON) -> CityInsuranceGateway:
    return CityInsuranceGateway(
        profile=attrs.evolve(CITIES["dalian"], risk=settings),
        institution=Institution(code="H21020200001", name="大连共济测试药房"),
        auth=TifAuth(TifSigner("p", "s")),
        clock=lambda: AT,
    )


def sale(setting: Setting = Setting.PHARMACY, visit_id: str = "") -> SettlementRequest:
    patient = Person(SISTER, "张丽", Insurance("employee", region="210500"))
    items = (
        LineItem(
            code="SKU-00017",
            national_code="XJ01CAA040A001010100445",
            name="阿莫西林胶囊",
            unit_price=Fen(1_250),
            quantity=2,
            prescription="RX2026112400017",
        ),
        LineItem(
            code="SKU-00233",
            national_code="ZA01AAX0195010100887",
            name="复方丹参片" * 20,  # longer than hilist_name's 50 characters
            unit_price=Fen(3_693),
            quantity=decimal.Decimal("0.3333"),
        ),
    )
    return SettlementRequest(
        psn_no="21050000000000000042",
        patient=patient,
        credential=Credential.id_card(SISTER),
        items=items,
        setting=setting,
        visit_id=visit_id,
    )


PRE = CentreSettlement(
    setl_id="",
    mdtrt_id="MDT2026112400000042",
    msgid="m",
    total=Fen(3_731),
    fund=Fen(1_000),
    own_account=Fen(2_000),
    mutual_aid=(),
    cash=Fen(731),
)


def exchanged(flow: Flow[Any], output: Any) -> tuple[list[dict[str, Any]], Any]:
    """Drive a gateway flow, answering the check with ``output``; every request's body, and
    the flow's result."""
    bodies: list[dict[str, Any]] = []
    try:
        step = next(flow)
        while True:
            body = json.loads(step.content)
            bodies.append(body)
            out = {"signinoutb": {"sign_no": "S1"}} if body["infno"] == "9001" else output
            step = flow.send(
                httpx.Response(200, content=msgspec.json.encode({"infcode": 0, "output": out}))
            )
    except StopIteration as done:
        return bodies, done.value


def sent(
    stage: RiskStage,
    request: SettlementRequest,
    pre: CentreSettlement | None,
    city: CityInsuranceGateway | None = None,
) -> Any:
    city = city or gateway()
    bodies, _ = exchanged(city.risk_check(stage, request, pre), {"result": []})
    (body,) = [b for b in bodies if b["infno"] == stage.value]
    return body


# ---------------------------------------------------------------- the requests


@pytest.mark.parametrize("setting", [Setting.PHARMACY, Setting.OUTPATIENT])
@pytest.mark.parametrize("stage", list(RiskStage))
def test_each_check_of_a_sale_is_what_a_centre_accepts(stage: RiskStage, setting: Setting) -> None:
    visit = "MDT2026112400000007" if setting is Setting.OUTPATIENT else ""
    pre = PRE if stage is RiskStage.IN_EVENT else None
    body = sent(stage, sale(setting, visit), pre)
    assert check_request(stage.value, body) == []
    data = body["input"]["data"]
    assert data["trig_scen"] == ON.scene(stage, setting) and data["syscode"] == "GONGJI"
    (patient,) = data["patient_dtos"]
    (encounter,) = patient["fsi_encounter_dtos"]
    assert patient["curr_mdtrt_id"] == encounter["mdtrt_id"]
    assert encounter["med_type"] == {"pharmacy": "41", "outpatient": "11"}[setting.value]
    assert [o["hilist_code"] for o in encounter["fsi_order_dtos"]] == [
        "XJ01CAA040A001010100445",
        "ZA01AAX0195010100887",
    ]
    assert [o["sumamt"] for o in encounter["fsi_order_dtos"]] == ["25.00", "12.31"]


def test_the_check_names_the_patients_region_and_the_visit_the_centre_knows() -> None:
    city = gateway()
    before = sent(RiskStage.PRE_EVENT, sale(), None, city)
    during = sent(RiskStage.IN_EVENT, sale(), PRE, city)
    for body in (before, during):
        (patient,) = body["input"]["data"]["patient_dtos"]
        assert body["insuplc_admdvs"] == "210500" and patient["poolarea"] == "210500"
        assert patient["fsi_encounter_dtos"][0]["out_setl_flag"] == "1"  # insured elsewhere
    # A pharmacy sale has no visit id before 2101: the task names it; 3102 sends the centre's.
    task = before["input"]["data"]["task_id"]
    assert before["input"]["data"]["patient_dtos"][0]["curr_mdtrt_id"] == task
    encounter = during["input"]["data"]["patient_dtos"][0]["fsi_encounter_dtos"][0]
    assert encounter["mdtrt_id"] == "MDT2026112400000042"
    assert (encounter["hifp_payamt"], encounter["acct_payamt"]) == ("10.00", "20.00")
    assert task != during["input"]["data"]["task_id"]  # unique per request


@pytest.mark.parametrize("stage", list(RiskStage))
def test_a_chronic_disease_sale_is_checked_as_med_type_14_with_its_disease(
    stage: RiskStage,
) -> None:
    disease = ChronicDisease("M03900", "高血压", datetime.date(2023, 3, 1))
    city = gateway()
    body = sent(
        stage, attrs.evolve(sale(), disease=disease), PRE if stage.value == "3102" else None, city
    )
    assert check_request(stage.value, body) == []
    (encounter,) = body["input"]["data"]["patient_dtos"][0]["fsi_encounter_dtos"]
    assert encounter["med_type"] == city.profile.chronic_med_type == "14"
    assert [(d["dise_codg"], d["dise_name"]) for d in encounter["fsi_diagnose_dtos"]] == [
        ("M03900", "高血压")
    ]


def test_an_outpatient_check_names_the_registered_visit() -> None:
    body = sent(RiskStage.PRE_EVENT, sale(Setting.OUTPATIENT, "MDT7"), None)
    assert body["input"]["data"]["patient_dtos"][0]["curr_mdtrt_id"] == "MDT7"


def test_a_region_chooses_its_scenes_and_system_code() -> None:
    settings = RiskSettings.from_settings(
        {"enabled": True, "syscode": "HIS01", "pharmacy_pre_scene": "1", "blocking": ["3"]}
    )
    bodies, _ = exchanged(
        gateway(settings).risk_check(RiskStage.PRE_EVENT, sale(), None), {"result": []}
    )
    data = bodies[-1]["input"]["data"]
    assert (data["syscode"], data["trig_scen"]) == ("HIS01", "1")
    assert settings.blocking == ("3",)


def test_the_checks_are_off_unless_the_region_turns_them_on() -> None:
    off = gateway(RiskSettings())
    assert Capability.RISK_CHECKS not in off.capabilities
    assert Capability.RISK_CHECKS in gateway().capabilities
    with pytest.raises(ConfigError, match="risk_checks"):
        next(off.risk_check(RiskStage.PRE_EVENT, sale(), None))


def test_a_config_file_turns_them_on_in_gateway_risk() -> None:
    settings = {
        "city": "dalian",
        "institution_code": "H21020200001",
        "institution_name": "大连共济测试药房",
        "secret_env": "GONGJI_TEST_RISK_SECRET",
        "paasid": "p",
        "risk": {"enabled": True, "blocking": ["1"]},
    }
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GONGJI_TEST_RISK_SECRET", "s")
        city = CityInsuranceGateway.from_settings(settings)
    assert city.profile.risk == RiskSettings(enabled=True, blocking=("1",))
    assert Capability.RISK_CHECKS in city.capabilities


@pytest.mark.parametrize(
    "table",
    [
        {"enable": True},
        {"enabled": "yes"},
        {"blocking": "1"},
        {"blocking": [1]},
        {"syscode": ""},
        {"syscode": "MORE-THAN-10"},
        {"pharmacy_in_scene": 10},
        "on",
    ],
)
def test_a_setting_it_cannot_be_is_refused_naming_gateway_risk(table: Any) -> None:
    with pytest.raises(ConfigError, match=r"gateway\.risk"):
        RiskSettings.from_settings(table)


# ---------------------------------------------------------------- the answers


def findings(name: str, settings: RiskSettings = ON) -> Any:
    stage = RiskStage(name[:4])
    output = msgspec.json.encode(answer(name).get("output"))
    return findings_from(output, stage, settings)


@pytest.mark.parametrize("name", ["3101-empty-result", "3101-null-output"])
def test_nothing_found_is_no_finding(name: str) -> None:
    assert findings(name) == ()


def test_a_raw_output_as_the_envelope_carries_it_is_read() -> None:
    raw = msgspec.json.decode(answer_bytes("3101-two-findings"), type=dict[str, msgspec.Raw])
    found = findings_from(raw["output"], RiskStage.PRE_EVENT, ON)
    assert [f.rule_id for f in found] == ["R07", "1001"]


def test_each_violation_is_read_with_its_rule_amount_and_severity() -> None:
    first, second = findings("3101-two-findings")
    assert (first.rule_id, first.rule_name, first.severity) == ("R07", "超限定频次", "1")
    assert (first.amount, second.amount) == (Fen(0), Fen(0))  # null and "" are 0
    assert (second.rule_id, second.severity) == ("1001", "2")  # numbers read as text
    assert (first.blocking, second.blocking) == (True, False)  # sev_deg 1 blocks by default
    assert all(f.stage is RiskStage.PRE_EVENT for f in (first, second))


def test_a_finding_never_carries_a_full_id_number() -> None:
    first, _ = findings("3101-two-findings")
    assert SISTER not in first.content and SISTER not in repr(first)
    assert "210502********0422" in first.content


def test_one_object_for_a_list_and_severity_in_words_are_read() -> None:
    (found,) = findings("3102-single-object")
    assert found.stage is RiskStage.IN_EVENT and found.amount == Fen(1_250)
    assert found.severity == "明确违规" and found.blocking  # the words block by default


def test_the_regions_blocking_levels_decide_what_stops_the_sale() -> None:
    only_words = RiskSettings(enabled=True, blocking=("明确违规",))
    first, second = findings("3101-two-findings", only_words)
    assert not first.blocking and not second.blocking
    (found,) = findings("3102-single-object", RiskSettings(enabled=True, blocking=("1",)))
    assert not found.blocking


@pytest.mark.parametrize(
    "output",
    [
        b'{"result": "none"}',
        b'{"result": [{"vola_amt": "12.345"}]}',
        b'{"result": [{"vola_amt": "-1"}]}',
    ],
    ids=["not a list", "part of a fen", "negative"],
)
def test_an_answer_not_as_documented_is_not_trusted(output: bytes) -> None:
    with pytest.raises(UntrustedAnswer):
        findings_from(output, RiskStage.PRE_EVENT, ON)
