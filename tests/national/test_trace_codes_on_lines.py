"""Traceability codes on 2101/2102 lines (``drug_trac_info``, unconfirmed on 2102 in
NATIONAL.md §7): a region setting, off by default. Where it is on, each line carries one
entry per code with the line's serial, the split flag and the pricing unit, and the
message is what the mock's table of that region accepts."""

from __future__ import annotations

import datetime
import decimal
from typing import Any

import attrs
import pytest

from gongji import ConfigError, Credential, Fen, LineItem
from gongji.clock import BEIJING
from gongji.gateways import SettlementRequest
from gongji.model import Insurance, Person
from gongji_cityins import CITIES, CityInsuranceGateway, transform
from gongji_mock.national.schema import PharmacyNodes, check_input
from tests.national.messages import PART_OF_A_PACK, WHOLE_PACKS

SON = "210202198503170036"
AT = datetime.datetime(2026, 11, 24, 0, 35, tzinfo=BEIJING)
WHOLE, PART = WHOLE_PACKS, PART_OF_A_PACK
UNTRACED = LineItem(code="SKU-9", name="器械", unit_price=Fen(500), quantity=1)


def request(*items: LineItem) -> SettlementRequest:
    return SettlementRequest(
        psn_no="21020000000000000017",
        patient=Person(id=SON, name="张伟", insurance=Insurance(kind="employee", region="210200")),
        credential=Credential.id_card(SON),
        items=items,
    )


def lines(dialect: transform.Dialect) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = transform.settle_input(
        request(WHOLE, PART, UNTRACED), AT, dialect
    )["feedetail"]
    return found


def test_by_default_the_codes_go_with_3505_only() -> None:
    assert not CITIES["dalian"].trace_codes_on_lines
    assert not any("drug_trac_info" in line for line in lines(CITIES["dalian"].dialect))


def test_where_the_region_says_so_each_line_carries_its_codes_with_the_split_flag() -> None:
    profile = attrs.evolve(CITIES["dalian"], trace_codes_on_lines=True)
    whole, part, untraced = lines(profile.dialect)
    assert whole["drug_trac_info"] == [
        {"drug_trac_codg": code, "feedetl_sn": "1", "trdn_flag": "0", "min_prcunt_type": "2"}
        for code in WHOLE.packs.codes  # type: ignore[union-attr]
    ]
    assert part["drug_trac_info"] == [
        {
            "drug_trac_codg": "83456789012345678901",
            "feedetl_sn": "2",
            "trdn_flag": "1",
            "min_prcunt_type": "1",
        }
    ]
    # Part of a pack: the count as sent, the money exact at the line total.
    assert part["cnt"] == decimal.Decimal("0.3333") and part["det_item_fee_sumamt"] == "12.31"
    assert "drug_trac_info" not in untraced


@pytest.mark.parametrize("on", [False, True])
def test_the_mock_of_the_same_region_accepts_the_lines_and_the_other_refuses_them(
    on: bool,
) -> None:
    sent = transform.settle_input(
        request(WHOLE, PART), AT, transform.Dialect(trace_codes_on_lines=on)
    )
    for carried in (False, True):
        problems = check_input("2102", sent, nodes=PharmacyNodes(trace_codes=carried))
        if carried or not on:
            assert problems == []
        else:
            assert problems == [
                f"2102 input.feedetail[{n}]: drug_trac_info is not a field of 2102 here."
                for n in (1, 2)
            ]


def test_the_setting_is_read_from_the_gateway_table(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GONGJI_TEST_TIF_SECRET", "secret")
    settings = {
        "city": "dalian",
        "institution_code": "H21020200001",
        "paasid": "POS01",
        "secret_env": "GONGJI_TEST_TIF_SECRET",
    }
    on = CityInsuranceGateway.from_settings({**settings, "trace_codes_on_lines": True})
    assert on.profile.trace_codes_on_lines and on.profile.dialect.trace_codes_on_lines
    with pytest.raises(ConfigError, match="trace_codes_on_lines"):
        CityInsuranceGateway.from_settings({**settings, "trace_codes_on_lines": "yes"})
