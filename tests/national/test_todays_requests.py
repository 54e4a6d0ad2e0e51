"""What gongji_cityins sends on the pharmacy path, checked against the mock's tables of
NATIONAL.md (the golden tables): every required field present, no unknown field, the right
types, for each of 9001, 1101, 2101, 2102, 2103, 2601, 3505 and 3506.

The requests are captured from a day at the in-process mock (demo dataset, Dalian
profile): a sale with a whole-pack line and a split-pack line (its 3505 uploads, then its
refund: 2103 and 3506), a sale for a patient insured in Benxi, a sale whose 2102 answer
is lost (2601), and the sign-out (9002) when the client closes. The day is spent in two
regions: the default input, and ``druginfo`` / ``drugdetail`` with the packs' codes on
the lines.
"""

from __future__ import annotations

import json
from typing import Any

import attrs
import httpx
import pytest

from gongji import Credential, Purchase, SettlementClient, Unavailable
from gongji.config import client_arguments
from gongji_mock import MockGateway
from gongji_mock.centre.dataset import demo_dataset
from gongji_mock.national.schema import PharmacyNodes, check_request
from tests.national.messages import PART_OF_A_PACK, WHOLE_PACKS

MOTHER = "210202195809120046"  # resident; mutual aid from her son
SON = "210202198503170036"  # employee with an own account
SISTER = "210502198802200422"  # employee insured in Benxi, buying in Dalian


#: The regions a day is spent in: the default input, and the variant whose 2101/2102 come
#: in druginfo / drugdetail with the packs' codes on the lines (the mock profile follows).
REGIONS = {
    "data": PharmacyNodes(),
    "druginfo-traced": PharmacyNodes("druginfo", "drugdetail", trace_codes=True),
}


class Day:
    """The national messages of a day at the mock: (request, answer) in order."""

    def __init__(self, nodes: PharmacyNodes) -> None:
        self.mock = MockGateway(demo_dataset(), nodes=nodes)
        self.nodes = nodes
        self.exchanges: list[tuple[dict[str, Any], dict[str, Any]]] = []

    def record(self, request: httpx.Request) -> httpx.Response:
        response = self.mock.handle(request)
        if request.url.path.endswith("callService"):
            self.exchanges.append((json.loads(request.content), json.loads(response.read())))
        return response

    def first(self) -> dict[str, dict[str, Any]]:
        """The first request of each transaction code."""
        found: dict[str, dict[str, Any]] = {}
        for request, _ in self.exchanges:
            found.setdefault(request["infno"], request)
        return found


@pytest.fixture(scope="module", params=sorted(REGIONS))
def day(request: pytest.FixtureRequest) -> Day:
    day = Day(REGIONS[request.param])
    arguments = client_arguments("mock", mock=day.mock)
    arguments["transport"] = httpx.MockTransport(day.record)
    # The first sale's packs were scanned: 3505 follows it, and 3506 its refund. Its
    # second line sells part of a pack (拆零), with the code of the pack it is taken from.
    traced, part = WHOLE_PACKS, PART_OF_A_PACK
    item = attrs.evolve(traced, packs=None)
    with SettlementClient(**arguments) as client:
        sale = client.settle(
            Purchase(credential=Credential.id_card(MOTHER), items=[traced, part]), key="N1"
        )
        client.refund(sale.settlement_id)
        client.settle(Purchase(credential=Credential.id_card(SISTER), items=[item]), key="N2")
        day.mock.faults.add("drop_after_commit", target="national", code="2102", times=1)
        with pytest.raises(Unavailable):
            client.settle(Purchase(credential=Credential.id_card(SON), items=[item]), key="N3")
    return day


@pytest.fixture(scope="module")
def sent(day: Day) -> dict[str, dict[str, Any]]:
    return day.first()


def test_no_x_code_is_sent_without_extensions(sent: dict[str, dict[str, Any]]) -> None:
    assert [infno for infno in sent if infno.upper().startswith("X")] == []


@pytest.mark.parametrize(
    "infno",
    [
        "9001",
        "9002",
        "1101",
        "2101",
        "2102",
        "2103",
        "2601",
        "3505",
        "3506",
    ],
)
def test_each_request_of_the_day_is_what_a_centre_accepts(
    day: Day, sent: dict[str, dict[str, Any]], infno: str
) -> None:
    assert infno in sent, f"gongji sent no {infno} in the day"
    assert check_request(infno, sent[infno], nodes=day.nodes) == []


def test_every_call_for_a_patient_names_the_region_1101_gave(day: Day) -> None:
    # The sister is insured in Benxi: every call after her 1101 must carry her region.
    regions = None
    for request, answer in day.exchanges:
        if request["infno"] == "1101":
            entries = (answer.get("output") or {}).get("insuinfo") or []
            regions = {entry["insuplc_admdvs"] for entry in entries}
        elif request["infno"] in ("2101", "2102", "2103", "2601") and regions:
            assert request["insuplc_admdvs"] in regions, request["infno"]


def test_a_line_sends_the_national_code_and_the_shops_own(
    sent: dict[str, dict[str, Any]],
) -> None:
    for line in sent["2102"]["input"][day_detail(sent)]:
        assert line["med_list_codg"] != line["medins_list_codg"]


def day_detail(sent: dict[str, dict[str, Any]]) -> str:
    return "drugdetail" if "drugdetail" in sent["2102"]["input"] else "feedetail"


def test_a_split_pack_goes_with_its_count_its_exact_money_and_the_split_flag(
    day: Day, sent: dict[str, dict[str, Any]]
) -> None:
    whole, part = sent["2102"]["input"][day_detail(sent)]
    assert (part["cnt"], part["det_item_fee_sumamt"]) == ("0.3333", "12.31")
    assert sent["2102"]["input"][day.nodes.header]["medfee_sumamt"] == "37.31"
    sold = [r["input"]["selinfo"] for r, _ in day.exchanges if r["infno"] == "3505"]
    assert [(s["trdn_flag"], s["sel_retn_cnt"]) for s in sold] == [("0", 2), ("1", "0.3333")]
    assert [c["trdn_flag"] for s in sold for c in s["drug_trac_info"]] == ["0", "0", "1"]
    on_lines = [c["trdn_flag"] for line in (whole, part) for c in line.get("drug_trac_info", ())]
    assert on_lines == (["0", "0", "1"] if day.nodes.trace_codes else [])
