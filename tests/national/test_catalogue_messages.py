"""1312 and 3301 as gongji_cityins sends them, against the golden requests written from
NATIONAL.md §10 and its sources; and its decoder fed real-shaped 1312 answers."""

from __future__ import annotations

import datetime
import json

import pytest

from gongji import UntrustedAnswer
from gongji.catalogue import CatalogueMapping
from gongji.clock import BEIJING
from gongji_mock.national.schema import check_request
from tests.national.centre import Centre, gateway, run
from tests.national.messages import answer, answer_bytes, request

MAPPING = CatalogueMapping(
    sku="SKU-000123",
    name="感冒灵颗粒 10g*9袋",
    national_code="ZA01BAG0331010100000004",
    list_type="101",
    begins=datetime.date(2025, 7, 1),
    approval_no="国药准字Z44021940",
    spec="10g*9袋",
)


# ---------------------------------------------------------------- requests


def test_1312_asks_for_a_page_of_the_records_updated_since_the_version() -> None:
    centre = Centre(answer_bytes("1312-last-page-numbers"))
    since = datetime.datetime(2025, 7, 1, 8, tzinfo=BEIJING)
    run(centre, gateway().catalogue_page(since, 2, 500))
    sent = centre.sent[-1]
    golden = request("1312")
    assert sent["input"] == golden["input"]
    assert set(sent) == set(golden)
    assert check_request("1312", json.dumps(sent)) == []


def test_1312_for_the_whole_catalogue_asks_from_before_the_first_record() -> None:
    centre = Centre(answer_bytes("1312-last-page-numbers"))
    run(centre, gateway().catalogue_page(None, 1, 100))
    data = centre.sent[-1]["input"]["data"]
    assert data["updt_time"] == "2000-01-01 00:00:00" and data["page_num"] == 1
    assert check_request("1312", json.dumps(centre.sent[-1])) == []


def test_3301_sends_one_mapping_in_a_catalogcompin_list_with_an_end_date() -> None:
    centre = Centre(answer_bytes("3301-accepted-empty-output"))
    assert run(centre, gateway().upload_mapping(MAPPING)) is None
    sent = centre.sent[-1]
    golden = request("3301")
    assert sent["input"] == golden["input"]
    assert set(sent) == set(golden)
    assert check_request("3301", json.dumps(sent)) == []


def test_3301_leaves_out_the_details_the_pharmacy_did_not_give() -> None:
    centre = Centre(answer_bytes("3301-accepted-empty-output"))
    bare = CatalogueMapping(
        sku="S1", name="口罩", national_code="C1", list_type="301", begins=datetime.date(2025, 1, 1)
    )
    run(centre, gateway().upload_mapping(bare))
    (record,) = centre.sent[-1]["input"]["catalogcompin"]
    assert set(record) == {
        "fixmedins_hilist_id",
        "fixmedins_hilist_name",
        "list_type",
        "med_list_codg",
        "begndate",
        "enddate",
    }


# ---------------------------------------------------------------- answers


def test_1312_reads_a_page_whose_numbers_are_text_and_fields_empty_or_null() -> None:
    page = run(Centre(answer_bytes("1312-page-as-text")), gateway().catalogue_page(None, 2, 2))
    assert (page.page, page.pages, page.total) == (2, 3, 5)
    current, withdrawn = page.entries
    assert current.national_code == "ZA01BAG0331010100000004"
    assert (current.class_code, current.coverage and current.coverage.value) == ("02", "B")
    assert current.ends is None and current.valid and not current.restricted
    assert current.updated_at == datetime.datetime(2025, 7, 1, 8, tzinfo=BEIJING)
    assert current.record_id == "210000202507010800001234567890"
    assert not withdrawn.valid and withdrawn.restricted
    assert withdrawn.begins == datetime.date(2021, 1, 1)
    assert withdrawn.ends == datetime.date(2025, 6, 30)
    assert withdrawn.updated_at == datetime.datetime(2025, 7, 2, tzinfo=BEIJING)


def test_1312_past_the_last_page_is_an_empty_page() -> None:
    page = run(Centre(answer_bytes("1312-last-page-numbers")), gateway().catalogue_page(None, 3, 2))
    assert (page.entries, page.page, page.pages, page.total) == ((), 3, 2, 4)


@pytest.mark.parametrize(
    ("edit", "words"),
    [
        ({"hilist_code": ""}, "without a national code"),
        ({"begndate": "01/07/2025"}, "begndate that is not a date"),
    ],
)
def test_a_1312_record_that_cannot_be_read_is_not_trusted(edit: dict[str, str], words: str) -> None:
    body = answer("1312-page-as-text")
    body["output"]["data"][0] |= edit
    with pytest.raises(UntrustedAnswer, match=words):
        run(Centre(json.dumps(body, default=str).encode()), gateway().catalogue_page(None, 2, 2))


def test_a_1312_page_count_that_is_not_a_number_is_not_trusted() -> None:
    body = answer("1312-page-as-text")
    body["output"]["pages"] = "three"
    with pytest.raises(UntrustedAnswer, match="pages that is not a whole number"):
        run(Centre(json.dumps(body, default=str).encode()), gateway().catalogue_page(None, 2, 2))
