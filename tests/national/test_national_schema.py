"""The mock's tables of the national interface and their checker: each rule of the
checker can fail, and a request written from NATIONAL.md passes."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import attrs
import pytest

from gongji_mock.national.schema import (
    DRUGINFO_NODES,
    ENVELOPE,
    Field,
    FieldType,
    PharmacyNodes,
    requests,
)
from gongji_mock.national.schema import check_request as check_with_nodes
from tests.national.messages import REQUESTS, names, request, request_bytes

GOLDEN = {name: name.split("-")[0] for name in names(REQUESTS)}


#: The golden 2101/2102 show a region whose lines carry their packs' codes (drug_trac_info).
TRACED = PharmacyNodes(trace_codes=True)
TRACED_DRUGINFO = attrs.evolve(DRUGINFO_NODES, trace_codes=True)


def nodes_of(name: str) -> PharmacyNodes:
    return TRACED_DRUGINFO if name.endswith("druginfo") else TRACED


def check_request(infno: str, body: Any, *, nodes: PharmacyNodes = TRACED) -> list[str]:
    """The checker, for a region whose 2101/2102 lines carry codes unless told otherwise."""
    return check_with_nodes(infno, body, nodes=nodes)


def required_paths(name: str) -> Iterator[tuple[str, ...]]:
    """The path (keys, with 0 for a list's first entry) of every Y field in a golden request."""
    infno = GOLDEN[name]
    body = request(name)
    for spec in ENVELOPE:
        if spec.required == "Y":
            yield (spec.name,)
    for node in requests(nodes_of(name))[infno].nodes:
        yield from _required_in(node, ("input", node.name), body["input"][node.name])


def _required_in(node: Field, path: tuple[Any, ...], value: Any) -> Iterator[tuple[Any, ...]]:
    entry = value[0] if isinstance(value, list) else value
    at = (*path, 0) if isinstance(value, list) else path
    for spec in node.fields:
        if spec.required == "Y":
            yield (*at, spec.name)
        if spec.fields and spec.name in entry:
            yield from _required_in(spec, (*at, spec.name), entry[spec.name])


def edited(name: str, path: tuple[Any, ...], value: Any = ...) -> dict[str, Any]:
    """The golden request with the field at ``path`` set to ``value`` (``...``: removed)."""
    body = copy.deepcopy(request(name))
    parent = body
    for key in path[:-1]:
        parent = parent[key]
    if value is ...:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return body


# ---------------------------------------------------------------- the golden requests


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_a_request_written_from_national_md_passes(name: str) -> None:
    assert check_request(GOLDEN[name], request_bytes(name), nodes=nodes_of(name)) == []


def test_every_transaction_of_the_pharmacy_the_clinic_the_catalogue_and_reconciliation_has_a_table() -> (
    None
):
    pharmacy = {"9001", "9002", "1101", "2101", "2102", "2103", "2601", "3505", "3506"}
    clinic = {"2201", "2202", "2203", "2204", "2205", "2206", "2207", "2208"}
    reconciliation = {"3201", "3202", "9101", "9102"}
    rule_checks = {"3101", "3102"}
    assert set(requests()) == (
        pharmacy | clinic | {"1312", "3301"} | reconciliation | {"5301"} | rule_checks
    )
    assert set(GOLDEN.values()) == set(requests())


@pytest.mark.parametrize("value", [[80, 75, 3, 4, -1, 255], "UEsDBA=="])
def test_a_file_goes_to_9101_as_base64_or_as_an_array_of_bytes(value: object) -> None:
    assert check_request("9101", edited("9101", ("input", "fsUploadIn", "in"), value)) == []


@pytest.mark.parametrize("value", ["not base64!", [256], [1.5], [{"b": 1}], 80])
def test_what_is_not_a_files_bytes_is_named(value: object) -> None:
    problems = check_request("9101", edited("9101", ("input", "fsUploadIn", "in"), value))
    assert problems == [
        "9101 input.fsUploadIn: in must be bytes (a file's bytes, as base64 text or an array of byte values)."
    ]


# ---------------------------------------------------------------- missing fields


@pytest.mark.parametrize(
    ("name", "path"),
    [(name, path) for name in sorted(GOLDEN) for path in required_paths(name)],
    ids=lambda value: ".".join(map(str, value)) if isinstance(value, tuple) else value,
)
@pytest.mark.parametrize("absent", [..., "", None], ids=["removed", "empty", "null"])
def test_a_missing_required_field_is_named(name: str, path: tuple[Any, ...], absent: Any) -> None:
    body = edited(name, path, absent)
    problems = check_request(GOLDEN[name], body, nodes=nodes_of(name))
    assert any(f"{path[-1]} (" in p and "required and missing" in p for p in problems), problems


def test_card_sn_is_required_with_a_social_security_card_only() -> None:
    without = edited("1101", ("input", "data", "card_sn"))
    assert any("card_sn" in p for p in check_request("1101", without))
    by_id_card = edited("1101", ("input", "data", "mdtrt_cert_type"), "02")
    del by_id_card["input"]["data"]["card_sn"]
    assert check_request("1101", by_id_card) == []


def test_the_patients_region_is_required_when_the_input_names_a_person() -> None:
    for infno in ("2101", "2102", "2103", "2601", "2201", "2202", "2205", "2206", "2207", "2208"):
        problems = check_request(infno, edited(infno, ("insuplc_admdvs",), ""))
        assert any("insuplc_admdvs" in p for p in problems), infno
    assert check_request("9001", request("9001")) == []  # sent without a person, and empty


def test_sign_no_is_required_after_sign_in_only() -> None:
    assert any("sign_no" in p for p in check_request("1101", edited("1101", ("sign_no",), "")))
    assert check_request("9001", edited("9001", ("sign_no",))) == []


def test_a_chronic_disease_sale_needs_its_disease() -> None:
    chronic = edited("2102", ("input", "data", "med_type"), "140104")
    problems = check_request("2102", chronic)
    assert sum("dise_codg" in p or "dise_name" in p for p in problems) == 2
    chronic["input"]["data"] |= {"dise_codg": "M03900", "dise_name": "高血压"}
    assert check_request("2102", chronic) == []


@pytest.mark.parametrize("infno", ["2201", "2206", "2207"])
def test_card_sn_goes_with_a_social_security_card_to_the_clinic_messages_too(infno: str) -> None:
    problems = check_request(infno, edited(infno, ("input", "data", "card_sn")))
    assert any("card_sn" in p and "missing" in p for p in problems)
    by_id_card = edited(infno, ("input", "data", "mdtrt_cert_type"), "02")
    del by_id_card["input"]["data"]["card_sn"]
    assert check_request(infno, by_id_card) == []


def test_a_visit_settled_as_chronic_disease_needs_its_disease() -> None:
    chronic = edited("2207", ("input", "data", "med_type"), "14")
    assert sum("dise_codg" in p or "dise_name" in p for p in check_request("2207", chronic)) == 2


def test_a_visit_settlement_carries_no_lines_and_no_begntime() -> None:
    with_lines = edited("2207", ("input", "feedetail"), [{"feedetl_sn": "1"}])
    assert any("feedetail is not a field" in p for p in check_request("2207", with_lines))
    with_begntime = edited("2206", ("input", "data", "begntime"), "2026-11-24 00:35:00")
    assert any("begntime is not a field" in p for p in check_request("2206", with_begntime))


def test_an_insured_sale_upload_needs_its_settlement() -> None:
    problems = check_request("3505", edited("3505", ("input", "selinfo", "setl_id")))
    assert any("setl_id" in p for p in problems)
    cash_sale = edited("3505", ("input", "selinfo", "setl_id"))
    del cash_sale["input"]["selinfo"]["psn_no"]
    assert check_request("3505", cash_sale) == []


# ---------------------------------------------------------------- unknown fields


def test_a_field_the_table_does_not_have_is_named() -> None:
    line = ("input", "feedetail", 0, "chrgitm_lv")
    problems = check_request("2102", edited("2102", line, "01"))
    assert problems == ["2102 input.feedetail[1]: chrgitm_lv is not a field of 2102 here."]


def test_an_unknown_node_and_an_unknown_envelope_field_are_named() -> None:
    body = edited("2103", ("input", "setlinfo"), {"setl_id": "S1"})
    body["mdtrt_area"] = "210200"
    problems = check_request("2103", body)
    assert any("setlinfo is not a field" in p for p in problems)
    assert any("envelope: mdtrt_area is not a field" in p for p in problems)


def test_the_region_node_names_are_checked() -> None:
    problems = check_request("2102", request("2102"), nodes=TRACED_DRUGINFO)
    assert any("druginfo" in p and "missing" in p for p in problems)
    assert any("data is not a field" in p for p in problems)
    assert check_request("2102", request("2102-druginfo"), nodes=TRACED_DRUGINFO) == []


@pytest.mark.parametrize("nodes", [PharmacyNodes(), DRUGINFO_NODES], ids=["data", "druginfo"])
def test_codes_on_the_lines_are_a_field_only_where_the_region_sends_them(
    nodes: PharmacyNodes,
) -> None:
    name = "2102-druginfo" if nodes.header == "druginfo" else "2102"
    problems = check_request("2102", request(name), nodes=nodes)
    assert problems == [
        f"2102 input.{nodes.detail}[{n}]: drug_trac_info is not a field of 2102 here."
        for n in (1, 2)
    ]
    for line in (body := request(name))["input"][nodes.detail]:
        del line["drug_trac_info"]
    assert check_request("2102", body, nodes=nodes) == []


# ---------------------------------------------------------------- gongji's extensions


@pytest.mark.parametrize(
    "path",
    [
        ("gongji_till",),
        ("input", "data", "gongji_purpose"),
        ("input", "feedetail", 1, "gongji_category"),
        ("input", "feedetail", 0, "drug_trac_info", 0, "gongji_scanned_at"),
    ],
)
def test_a_gongji_field_anywhere_is_refused(path: tuple[Any, ...]) -> None:
    problems = check_request("2102", edited("2102", path, "x"))
    assert problems == [
        f"2102: {path[-1]} is gongji's own extension, not a field of the interface."
    ]


def test_a_gongji_field_is_refused_even_when_null() -> None:
    problems = check_request("2102", edited("2102", ("input", "data", "gongji_agent_certno"), None))
    assert len(problems) == 1 and "gongji_agent_certno" in problems[0]


def test_an_x_code_is_not_a_transaction() -> None:
    body = {**request("2103"), "infno": "X101"}
    assert check_request("X101", body) == [
        "X101 is not a transaction of the national interface (X codes are gongji's own)."
    ]


def test_a_transaction_without_a_table_and_a_mismatched_infno_are_named() -> None:
    assert check_request("5205", request("2103")) == [
        "5205: the mock has no table for this transaction."
    ]
    assert any("infno is not 2601" in p for p in check_request("2601", request("2103")))


# ---------------------------------------------------------------- types


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("msgid",), "H" * 31),  # C 30, too long
        (("opter_type",), 1),  # C, a number
        (("inf_time",), "2026-11-24T00:35:00"),  # DT with a T
        (("inf_time",), "2026-02-30 00:35:00"),  # DT, no such day
        (("inf_time",), "2026-11-24"),  # a D where a DT goes
        (("input", "data", "medfee_sumamt"), "37.315"),  # N 16,2, three decimals
        (("input", "data", "medfee_sumamt"), "37,31"),  # N, not a number
        (("input", "data", "medfee_sumamt"), True),  # N, a boolean
        (("input", "data", "medfee_sumamt"), "123456789012345.67"),  # N 16,2: 15 whole digits
        (("input", "feedetail", 0, "cnt"), "0.33333"),  # N 16,4, five decimals
        (("input", "feedetail", 0, "fee_ocur_time"), 1795500000),  # DT, a Unix time
        (("input", "data"), [{"psn_no": "x"}]),  # an object node given a list
        (("input", "feedetail"), {"feedetl_sn": "1"}),  # a list node given an object
        (
            ("input", "feedetail", 0, "drug_trac_info"),
            ["81234567890123456789"],
        ),  # codes, not objects
    ],
)
def test_a_value_of_the_wrong_type_is_named(path: tuple[Any, ...], value: Any) -> None:
    problems = check_request("2102", edited("2102", path, value))
    assert any(f"{path[-1]} must be" in p for p in problems), problems


def test_a_date_field_takes_a_date() -> None:
    assert check_request("3505", edited("3505", ("input", "selinfo", "manu_date"), "2026/04/01"))
    assert (
        check_request("3505", edited("3505", ("input", "selinfo", "manu_date"), "2026-04-01")) == []
    )


@pytest.mark.parametrize("value", ["37.31", "37.310000", 37, "0.00"])
def test_an_amount_may_be_text_or_a_number_and_trailing_zeros_are_the_same_amount(
    value: object,
) -> None:
    assert check_request("2103", request("2103")) == []
    body = edited("2102", ("input", "data", "medfee_sumamt"), value)
    assert check_request("2102", body) == []


def test_numbers_are_read_from_the_text_never_through_a_float() -> None:
    text = request_bytes("2102").replace(b'"medfee_sumamt": "37.31"', b'"medfee_sumamt": 37.315')
    assert any("medfee_sumamt must be" in p for p in check_request("2102", text))
    text = request_bytes("2102").replace(b'"medfee_sumamt": "37.31"', b'"medfee_sumamt": 37.31')
    assert check_request("2102", text) == []


def test_a_body_that_is_not_a_json_object_is_one_problem() -> None:
    assert check_request("2102", b"[1, 2]") == ["2102: the request is not a JSON object."]
    assert check_request("2102", b"{not json") == ["2102: the request is not a JSON object."]


def test_no_sentence_repeats_a_value_it_refuses() -> None:
    id_number = "210502198802200422"
    body = edited("1101", ("input", "data", "mdtrt_cert_no"), id_number * 3)  # C 50: too long
    body["input"]["data"]["gongji_holder"] = id_number
    problems = check_request("1101", body)
    assert len(problems) == 2
    assert not any(id_number in p for p in problems)
    assert id_number not in json.dumps(problems)


# ---------------------------------------------------------------- the tables themselves


def all_fields() -> Iterator[tuple[str, Field]]:
    for spec in ENVELOPE:
        yield "envelope", spec
    for infno, table in requests().items():
        stack = list(table.nodes)
        while stack:
            spec = stack.pop()
            yield infno, spec
            stack.extend(spec.fields)


def test_every_conditional_field_says_when_or_is_a_prescription_field() -> None:
    unchecked = {
        (infno, spec.name) for infno, spec in all_fields() if spec.required == "C" and not spec.when
    }
    # Prescription drugs need rxno and the prescribing doctor; which lines are prescription
    # drugs is the catalogue's knowledge, not the request's. drug_trac_info: from which date
    # codes are required is a region pack's knowledge.
    prescription = {"rxno", "bilg_dr_codg", "bilg_dr_name", "drug_trac_info"}
    assert {name for _, name in unchecked} <= prescription


def test_field_types_read_back_as_written() -> None:
    for text in ("C 30", "N 16,2", "N 16,6", "D", "DT", "C"):
        assert str(FieldType.parse(text)) == text
    with pytest.raises(ValueError, match="unknown field type"):
        FieldType.parse("X 3")


def test_no_node_lists_a_field_twice() -> None:
    for infno, spec in [("envelope", Field("envelope", FieldType("object"), fields=ENVELOPE))] + [
        (infno, node) for infno, node in all_fields() if node.fields
    ]:
        listed = [f.name for f in spec.fields]
        assert len(listed) == len(set(listed)), (infno, spec.name)
