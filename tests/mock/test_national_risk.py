"""The mock's 3101/3102 (``gongji_mock.national.risk``), spoken to by hand: the strict tables
refuse a check the interface does not allow, the rule set flags quantities per drug, and a
flagged person's sale comes back with the finding asked for, at the check asked for."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from gongji.identity import IdNumber
from gongji.signing.tif import TifSigner
from gongji_mock import MockGateway
from gongji_mock.centre.dataset import demo_dataset
from gongji_mock.centre.decisions import Centre
from gongji_mock.national.endpoint import NationalEndpoint
from gongji_mock.national.risk import BLOCK, WARN
from tests.mock.test_national import NOW, PAASID, SECRET, SISTER, Clock, Pos
from tests.national.messages import request

AMOXICILLIN = "XJ01CAA040A001010100445"


@pytest.fixture
def endpoint() -> NationalEndpoint:
    clock = Clock()
    # Strict, as against a real centre: the interface of NATIONAL.md only.
    return NationalEndpoint(Centre(demo_dataset(), clock=clock), secrets_by_paasid={PAASID: SECRET})


@pytest.fixture
def pos(endpoint: NationalEndpoint) -> Iterator[Pos]:
    transport = httpx.MockTransport(endpoint)
    with httpx.Client(transport=transport, base_url="http://centre.test") as client:
        pos = Pos(client, TifSigner(PAASID, SECRET, clock=lambda: NOW.timestamp()))
        pos.sign_in()
        yield pos


def check(endpoint: NationalEndpoint, infno: str = "3101", **order: Any) -> dict[str, Any]:
    """The golden 3101 input for the sister, with the first order changed by ``order``."""
    given: dict[str, Any] = copy.deepcopy(request(infno)["input"])
    patient = given["data"]["patient_dtos"][0]
    patient["patn_id"] = endpoint.psn_no(SISTER)
    patient["fsi_encounter_dtos"][0]["fsi_order_dtos"][0].update(order)
    return given


def results(pos: Pos, infno: str, given: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = pos.ok(infno, given)["result"]
    return found


def test_a_plain_check_finds_nothing(pos: Pos, endpoint: NationalEndpoint) -> None:
    assert results(pos, "3101", check(endpoint)) == []
    assert results(pos, "3102", check(endpoint, "3102")) == []


def test_a_quantity_above_the_limit_warns_and_far_above_it_is_a_clear_violation(
    pos: Pos, endpoint: NationalEndpoint
) -> None:
    (warned,) = results(pos, "3101", check(endpoint, cnt=11, sumamt="137.50"))
    assert (warned["rule_id"], warned["sev_deg"], warned["vola_amt"]) == (
        "MOCK-QTY",
        WARN,
        "137.50",
    )
    assert warned["patn_id"] == endpoint.psn_no(SISTER) and warned["judge_result_detail_dtos"]
    (blocked,) = results(pos, "3101", check(endpoint, cnt=101, sumamt="1262.50"))
    assert blocked["sev_deg"] == BLOCK
    # The in-event check does not repeat what the pre-event one found.
    assert results(pos, "3102", check(endpoint, "3102", cnt=101, sumamt="1262.50")) == []


def test_a_drug_may_have_limits_of_its_own(pos: Pos, endpoint: NationalEndpoint) -> None:
    endpoint.risk.limit(AMOXICILLIN, warn_above=1, block_above=3)
    (found,) = results(pos, "3101", check(endpoint, cnt=2, sumamt="25.00"))
    assert found["sev_deg"] == WARN and "阿莫西林胶囊" in found["vola_cont"]
    (found,) = results(pos, "3101", check(endpoint, cnt=4, sumamt="50.00"))
    assert found["sev_deg"] == BLOCK


@pytest.mark.parametrize("stage", ["3101", "3102"])
def test_a_flagged_persons_sale_comes_back_with_the_finding_at_its_check(
    pos: Pos, endpoint: NationalEndpoint, stage: str
) -> None:
    endpoint.risk.flag(SISTER, BLOCK, stage=stage, content="该参保人已被暂停购药。")
    other = "3102" if stage == "3101" else "3101"
    (found,) = results(pos, stage, check(endpoint, stage))
    assert (found["sev_deg"], found["vola_cont"]) == (BLOCK, "该参保人已被暂停购药。")
    assert found["vola_amt"] == "37.31"  # the visit's total
    assert results(pos, other, check(endpoint, other)) == []
    endpoint.risk.unflag(SISTER)
    assert results(pos, stage, check(endpoint, stage)) == []


def test_no_answer_carries_an_id_number(pos: Pos, endpoint: NationalEndpoint) -> None:
    endpoint.risk.flag(SISTER, WARN)
    answer = pos.call("3101", check(endpoint, cnt=101, sumamt="1262.50"))
    assert len(answer["output"]["result"]) == 2
    assert SISTER not in str(answer)


def test_a_check_the_interface_does_not_allow_is_refused_naming_the_field(
    pos: Pos, endpoint: NationalEndpoint
) -> None:
    given = check(endpoint)
    del given["data"]["syscode"]
    refused = pos.call("3101", given)
    assert refused["infcode"] == -1 and "syscode" in refused["err_msg"]
    given = check(endpoint)
    given["data"]["patient_dtos"][0]["gongji_note"] = "x"
    refused = pos.call("3101", given)
    assert refused["infcode"] == -1 and "gongji_note" in refused["err_msg"]


def test_an_unknown_person_is_refused(pos: Pos, endpoint: NationalEndpoint) -> None:
    given = check(endpoint)
    given["data"]["patient_dtos"][0]["patn_id"] = "21020200000000000000"
    refused = pos.call("3101", given)
    assert refused["infcode"] == -1 and "人员编号不存在" in refused["err_msg"]


def test_a_flag_names_a_check_that_exists(endpoint: NationalEndpoint) -> None:
    with pytest.raises(ValueError, match="3101 or 3102"):
        endpoint.risk.flag(SISTER, BLOCK, stage="2102")


def test_a_served_mock_flags_and_unflags_a_person_over_its_admin_endpoint() -> None:
    mock = MockGateway.demo()
    admin = httpx.Client(transport=mock.transport(), base_url="http://mock.test/gongji-admin/")
    body = {"id_number": SISTER, "severity": BLOCK, "stage": "3102", "content": "暂停购药。"}
    flagged = admin.post("risk", json=body).json()
    assert flagged == {"id": "210502********0422", "flag": {"severity": BLOCK, "stage": "3102"}}
    found = mock.risk.flagged(IdNumber(SISTER))
    assert found is not None and found.content == "暂停购药。"
    assert admin.delete("risk", params={"id_number": SISTER}).json()["flag"] is None
    assert mock.risk.flagged(IdNumber(SISTER)) is None
    refused = admin.post("risk", json={"id_number": SISTER, "stage": "2102"})
    assert refused.status_code == 400 and SISTER not in refused.text
    assert admin.post("risk", json={"id_number": "123"}).status_code == 400
    assert admin.get("risk").status_code == 405
