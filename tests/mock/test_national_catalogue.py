"""The mock centre's 1312 and 3301: what it refuses (nothing recorded), and the mappings
it took kept in its state file."""

from __future__ import annotations

import datetime
from pathlib import Path

import httpx
import pytest

from gongji import Declined, SettlementClient
from gongji.catalogue import CatalogueMapping, CatalogueStore
from gongji.client import drive
from gongji.config import client_arguments
from gongji_mock import MockGateway

COLD_REMEDY = "ZA01BAG0331010100000004"


def test_1312_answers_a_page_and_refuses_page_0() -> None:
    mock = MockGateway.demo()
    with SettlementClient(**client_arguments("mock", mock=mock)) as till:
        gateway = till.setup.gateway
        asking = gateway.catalogue_page(None, 1, 10)  # type: ignore[attr-defined]
        page = drive(asking, till._http)
        assert page.total == 10
        with pytest.raises(Declined, match="分页参数错误"):
            drive(gateway.catalogue_page(None, 0, 10), till._http)  # type: ignore[attr-defined]


def test_3301_of_a_withdrawn_code_is_refused_and_nothing_is_recorded() -> None:
    mock = MockGateway.demo()
    withdrawn = CatalogueMapping(
        sku="OME",
        name="奥美拉唑",
        national_code="XA02BCA211A001010100006",
        list_type="101",
        begins=datetime.date(2025, 8, 1),
    )
    with SettlementClient(**client_arguments("mock", mock=mock)) as till:
        gateway = till.setup.gateway
        with pytest.raises(Declined, match="医疗目录编码不存在或未生效"):
            drive(gateway.upload_mapping(withdrawn), till._http)  # type: ignore[attr-defined]
    assert list(mock.national.catalogue.mappings.items()) == []


def test_the_mappings_the_centre_took_are_kept_in_its_state_file(tmp_path: Path) -> None:
    state = tmp_path / "mock.sqlite3"
    mock = MockGateway.demo(state=state)
    arguments = client_arguments("mock", mock=mock)
    arguments["transport"] = httpx.MockTransport(mock.handle)
    with SettlementClient(**arguments, catalogue=CatalogueStore()) as till:
        till.sync_catalogue()
        till.catalogue.map(
            CatalogueMapping(
                sku="SKU-1",
                name="感冒灵颗粒",
                national_code=COLD_REMEDY,
                list_type="",
                begins=datetime.date(2025, 7, 1),
            )
        )
        assert till.upload_mappings().uploaded == ("SKU-1",)
    mock.close()
    again = MockGateway.demo(state=state)
    taken = {sku: row.med_list_codg for (_, sku), row in again.national.catalogue.mappings.items()}
    again.close()
    assert taken == {"SKU-1": COLD_REMEDY}
