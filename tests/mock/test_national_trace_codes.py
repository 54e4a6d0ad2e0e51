"""The mock checks and records traceability codes (追溯码) as a raw client sends them: on
2101/2102 lines where its region carries them, in 3505 and 3506. The split-pack flag
(trdn_flag) must match the line's quantity; a code is one pack's, sold once, except the
parts of one opened pack; a cancelled settlement's packs may be sold again."""

from __future__ import annotations

import decimal
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from gongji.signing.tif import TifSigner
from gongji_mock.centre.dataset import demo_dataset
from gongji_mock.centre.decisions import Centre
from gongji_mock.national.endpoint import NationalEndpoint
from gongji_mock.national.schema import PharmacyNodes
from tests.mock.test_national import MOTHER, PAASID, SECRET, Clock, Pos, line, settle_input


@pytest.fixture
def centre() -> Iterator[Centre]:
    centre = Centre(demo_dataset(), clock=Clock())
    yield centre
    assert centre.ledger.check() == []


@pytest.fixture
def endpoint(centre: Centre) -> NationalEndpoint:
    # Extensions on: the raw lines are the short ones of tests/mock/test_national.py; the
    # checks below are the handlers', which hold in the strict mock too.
    return NationalEndpoint(
        centre,
        secrets_by_paasid={PAASID: SECRET},
        extensions=True,
        nodes=PharmacyNodes(trace_codes=True),
    )


@pytest.fixture
def pos(endpoint: NationalEndpoint) -> Iterator[Pos]:
    clock = Clock()
    transport = httpx.MockTransport(endpoint)
    with httpx.Client(transport=transport, base_url="http://centre.test") as client:
        pos = Pos(client, TifSigner(PAASID, SECRET, clock=lambda: clock.now.timestamp()))
        pos.sign_in()
        yield pos


def codes(*values: str, sn: str = "1", flag: str = "0", unit: str = "2") -> list[dict[str, str]]:
    return [
        {"drug_trac_codg": v, "feedetl_sn": sn, "trdn_flag": flag, "min_prcunt_type": unit}
        for v in values
    ]


def sale(pos: Pos, cnt: Any, entries: list[dict[str, str]], infno: str = "2102") -> dict[str, Any]:
    basket = settle_input(pos.psn_no(MOTHER), MOTHER, line("12.00", cnt, drug_trac_info=entries))
    return pos.call(infno, basket)


def upload(pos: Pos, infno: str, setl_id: str, cnt: Any, entries: list[dict[str, str]]) -> Any:
    flag = entries[0]["trdn_flag"] if entries else "0"
    selinfo = {
        "med_list_codg": "XA01BAA001",
        "setl_id": setl_id,
        "psn_no": pos.psn_no(MOTHER),
        "trdn_flag": flag,
        "sel_retn_cnt": cnt,
        "drug_trac_info": entries,
    }
    return pos.call(infno, {"selinfo": selinfo})


@pytest.mark.parametrize(
    ("cnt", "entries", "words"),
    [
        ("0.5", codes("C1", flag="0"), "trdn_flag must be 1"),  # part of a pack, flagged whole
        (2, codes("C1", "C2", flag="1", unit="1"), "trdn_flag must be 0"),  # whole, flagged split
        ("0.5", codes("C1", flag="1", unit="3"), "min_prcunt_type"),
        ("1.5", codes("C1", flag="1", unit="1"), "2 or 3"),  # one pack for a part of two
        ("1.5", codes("C1", "C2", "C3", "C4", flag="1", unit="1"), "2 or 3"),
        (2, codes("C1"), "one code a pack"),
        (1, codes("C1", sn="2"), "feedetl_sn"),  # the entry names another line
        (2, codes("C1", "C1"), "twice"),
    ],
)
@pytest.mark.parametrize("infno", ["2101", "2102"])
def test_codes_that_do_not_fit_their_line_are_refused_and_nothing_is_settled(
    pos: Pos, centre: Centre, infno: str, cnt: Any, entries: list[dict[str, str]], words: str
) -> None:
    answer = sale(pos, cnt, entries, infno)
    assert answer["infcode"] == -1 and words in answer["err_msg"]
    assert centre.ledger.transactions == ()


@pytest.mark.parametrize(
    ("cnt", "entries"),
    [
        ("0.5", codes("C1", flag="1", unit="1")),
        ("0.5", codes("C1", "C2", flag="1", unit="1")),  # the part begins in an opened pack
        ("1.5", codes("C1", "C2", "C3", flag="1", unit="1")),
        (2, codes("C1", "C2")),
    ],
)
def test_a_2102_records_its_lines_codes_with_the_split_flag_and_unit(
    pos: Pos, endpoint: NationalEndpoint, cnt: Any, entries: list[dict[str, str]]
) -> None:
    answer = sale(pos, cnt, entries)
    assert answer["infcode"] == 0, answer["err_msg"]
    setl_id = answer["output"]["setlinfo"]["setl_id"]
    for entry in entries:
        recorded = endpoint.records.traced.get(entry["drug_trac_codg"])
        assert recorded is not None and recorded.setl_id == setl_id
        assert recorded.split == (entry["trdn_flag"] == "1")
        assert recorded.unit == entry["min_prcunt_type"]
    # Its sales upload reports the same sale: taken, not "sold twice".
    assert upload(pos, "3505", setl_id, cnt, entries)["infcode"] == 0


def test_a_whole_pack_sells_once_until_its_sale_is_cancelled(pos: Pos) -> None:
    first = sale(pos, 1, codes("W1"))
    assert first["infcode"] == 0
    again = sale(pos, 1, codes("W1"))
    assert again["infcode"] == -1 and "already sold" in again["err_msg"]
    setlinfo = first["output"]["setlinfo"]
    cancel = {k: setlinfo[k] for k in ("setl_id", "mdtrt_id", "psn_no")}
    assert pos.call("2103", {"data": cancel})["infcode"] == 0
    assert sale(pos, 1, codes("W1"))["infcode"] == 0  # its pack went back


def test_an_opened_pack_sells_its_parts_in_several_sales_but_never_whole(pos: Pos) -> None:
    for _ in range(2):
        assert sale(pos, "0.25", codes("P1", flag="1", unit="1"))["infcode"] == 0
    whole = sale(pos, 1, codes("P1"))
    assert whole["infcode"] == -1 and "already sold" in whole["err_msg"]


@pytest.mark.parametrize(
    ("cnt", "flag"), [("0.5", "0"), (1, "1")], ids=["part-flagged-whole", "whole-flagged-part"]
)
def test_a_sales_upload_whose_split_flag_is_not_its_quantitys_is_refused(
    pos: Pos, endpoint: NationalEndpoint, cnt: Any, flag: str
) -> None:
    settled = sale(pos, 1, [])  # a line without codes: the codes come with 3505 only
    setl_id = settled["output"]["setlinfo"]["setl_id"]
    entries = codes("U1", flag=flag, unit="1" if flag == "1" else "2")
    answer = upload(pos, "3505", setl_id, cnt, entries)
    assert answer["infcode"] == -1 and "trdn_flag" in answer["err_msg"]
    assert endpoint.records.traced.get("U1") is None


def test_a_return_gives_back_a_whole_pack_and_leaves_an_opened_one_open(
    pos: Pos, endpoint: NationalEndpoint
) -> None:
    whole = sale(pos, 1, [])["output"]["setlinfo"]["setl_id"]
    part = sale(pos, 1, [])["output"]["setlinfo"]["setl_id"]
    half = decimal.Decimal("0.5")
    assert upload(pos, "3505", whole, 1, codes("R1"))["infcode"] == 0
    assert upload(pos, "3505", part, str(half), codes("R2", flag="1", unit="1"))["infcode"] == 0
    assert upload(pos, "3506", whole, 1, codes("R1"))["infcode"] == 0
    assert upload(pos, "3506", part, str(half), codes("R2", flag="1", unit="1"))["infcode"] == 0
    returned, opened = endpoint.records.traced.get("R1"), endpoint.records.traced.get("R2")
    assert returned is not None and returned.returned
    assert opened is not None and opened.split and not opened.returned
