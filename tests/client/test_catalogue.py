"""The catalogue at the till, against the in-process mock: a download (1312) is incremental
by version and resumable after a cut, both drivers run the same flow, mappings (3301) are
uploaded once, and a line built from a SKU carries the national code and the class the
store holds, or is refused locally with a sentence."""

from __future__ import annotations

import asyncio
import datetime
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from gongji import (
    AsyncSettlementClient,
    ConfigError,
    Fen,
    InvalidInput,
    SettlementClient,
    Unavailable,
)
from gongji.catalogue import UNMAPPED, CatalogueMapping, CatalogueStore
from gongji.clock import BEIJING
from gongji.config import client_arguments
from gongji.journal import MemoryJournal
from gongji_mock import MockGateway
from gongji_mock.national.hilist import REVISION, CatalogueRecord, demo_records

MOTHER = "210202195809120046"  # in the demo dataset
NOW = datetime.datetime(2026, 1, 5, 9, tzinfo=BEIJING)
COLD_REMEDY = "ZA01BAG0331010100000004"  # class A, then B from the revision (2025-07-01)
WITHDRAWN = "XA02BCA211A001010100006"  # withdrawn by the revision


class CutAfter:
    """A transport that loses every 1312 request after the first ``pages`` answered."""

    def __init__(self, mock: MockGateway, pages: int) -> None:
        self.mock = mock
        self.left = pages
        self.infnos: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        infno = request.content.split(b'"infno":"', 1)[1][:4].decode()
        self.infnos.append(infno)
        if infno == "1312":
            if self.left == 0:
                raise httpx.ConnectError("the network went down", request=request)
            self.left -= 1
        return self.mock.handle(request)


#: One journal for every till of a test: msgids come from the journal, and two tills of one
#: institution on separate memory journals would number alike (the centre then refuses one
#: as taken, and it goes again, which the message counts below would see).
JOURNAL = MemoryJournal()


def client(mock: MockGateway, store: CatalogueStore, transport: Any = None) -> SettlementClient:
    arguments = client_arguments("mock", mock=mock)
    arguments["journal"] = JOURNAL
    if transport is not None:
        arguments["transport"] = httpx.MockTransport(transport)
    return SettlementClient(**arguments, catalogue=store)


@pytest.fixture
def mock() -> MockGateway:
    return MockGateway.demo()


# ---------------------------------------------------------------- downloads


def test_a_first_sync_downloads_the_whole_catalogue_page_by_page(mock: MockGateway) -> None:
    seen: list[tuple[int, int]] = []
    with client(mock, CatalogueStore()) as till:
        report = till.sync_catalogue(page_size=3, progress=lambda *at: seen.append(at))
        assert (report.pages, report.entries, report.held) == (4, 10, 10)
        assert seen == [(1, 4), (2, 4), (3, 4), (4, 4)]
        assert report.version == datetime.datetime.strptime(REVISION, "%Y-%m-%d %H:%M:%S").replace(
            tzinfo=BEIJING
        )


def test_a_sync_after_a_revision_downloads_only_what_changed_since_the_version(
    mock: MockGateway,
) -> None:
    revised = [r for r in demo_records() if r.updt_time >= REVISION]
    mock.national.catalogue.load([r for r in demo_records() if r.updt_time < REVISION])
    with client(mock, CatalogueStore()) as till:
        first = till.sync_catalogue()
        assert first.entries == len(demo_records()) - len(revised)
        assert till.catalogue.entry(COLD_REMEDY) is None  # not in the first version
        mock.national.catalogue.publish(*revised)
        second = till.sync_catalogue()
        # The query is inclusive: the record written at the version's own time comes again.
        assert second.entries == len(revised) + 1 < first.entries + len(revised)
        assert second.held == len(demo_records())
        remedy = till.catalogue.entry(COLD_REMEDY)
        assert remedy is not None and remedy.class_code == "02"
        assert till.catalogue.entry(COLD_REMEDY, datetime.date(2025, 6, 1)).class_code == "01"  # type: ignore[union-attr]
        assert till.catalogue.entry(WITHDRAWN) is None
        # Nothing new: the next sync asks from the version and brings back only its edge.
        assert till.sync_catalogue().entries == len(revised)


def test_a_sync_cut_off_by_the_network_goes_on_from_the_next_page(mock: MockGateway) -> None:
    store = CatalogueStore()
    cut = CutAfter(mock, pages=2)
    with (
        client(mock, store, cut) as till,
        pytest.raises(Unavailable, match="page 3 of the catalogue"),
    ):
        till.sync_catalogue(page_size=3)
    assert store.count() == 6 and store.version is None  # two pages kept, not finished
    whole = CutAfter(mock, pages=99)
    with client(mock, store, whole) as till:
        report = till.sync_catalogue(page_size=3)
    assert report.resumed_at_page == 3 and report.pages == 2
    assert whole.infnos.count("1312") == 2  # pages 3 and 4 only
    assert store.count() == 10 and store.version is not None
    assert store.pending_run() is None


def test_a_full_sync_downloads_everything_again(mock: MockGateway) -> None:
    with client(mock, CatalogueStore()) as till:
        till.sync_catalogue()
        assert till.sync_catalogue(full=True).entries == len(demo_records())


def test_a_sync_writes_the_store_beside_the_sqlite_journal(
    mock: MockGateway, tmp_path: Path
) -> None:
    from gongji.journal import SqliteJournal

    arguments = client_arguments("mock", mock=mock)
    journal = SqliteJournal(tmp_path / "journal.sqlite3")
    with SettlementClient(**(arguments | {"journal": journal})) as till:
        till.sync_catalogue()
    journal.close()
    with CatalogueStore(tmp_path / "journal.catalogue.sqlite3") as store:
        assert store.count() == len(demo_records())


def test_the_async_driver_runs_the_same_sync_and_upload(mock: MockGateway) -> None:
    async def day() -> tuple[int, tuple[str, ...]]:
        arguments = client_arguments("mock", mock=mock)
        arguments["transport"] = httpx.MockTransport(mock.handle)
        store = CatalogueStore()
        async with AsyncSettlementClient(**arguments, catalogue=store) as till:
            report = await till.sync_catalogue(page_size=4)
            till.catalogue.map(mapping("SKU-1", COLD_REMEDY))
            uploaded = await till.upload_mappings()
            return report.entries, uploaded.uploaded

    assert asyncio.run(day()) == (len(demo_records()), ("SKU-1",))


def test_a_page_size_out_of_range_is_refused_before_anything_is_sent(mock: MockGateway) -> None:
    cut = CutAfter(mock, pages=99)
    with client(mock, CatalogueStore(), cut) as till, pytest.raises(InvalidInput):
        till.sync_catalogue(page_size=0)
    assert cut.infnos == []


def test_a_gateway_without_the_catalogue_is_refused_before_anything_is_sent(
    mock: MockGateway,
) -> None:
    with client(mock, CatalogueStore()) as till:
        gateway = till.setup.gateway
        object.__setattr__(gateway, "capabilities", frozenset())
        with pytest.raises(ConfigError, match="catalogue"):
            till.sync_catalogue()


# ---------------------------------------------------------------- mappings and lines


def mapping(sku: str, code: str, **kwargs: Any) -> CatalogueMapping:
    kwargs.setdefault("begins", datetime.date(2025, 7, 1))
    kwargs.setdefault("list_type", "")
    return CatalogueMapping(sku=sku, name="感冒灵颗粒 10袋", national_code=code, **kwargs)


@pytest.fixture
def till(mock: MockGateway) -> Any:
    with client(mock, CatalogueStore()) as till:
        till.sync_catalogue()
        yield till


def test_a_line_from_a_mapped_sku_carries_the_national_code_and_the_class(till: Any) -> None:
    till.catalogue.map(mapping("SKU-0042", COLD_REMEDY))
    assert till.upload_mappings().uploaded == ("SKU-0042",)
    line = till.catalogue.line("SKU-0042", quantity=2, unit_price=Fen(1_250))
    assert (line.code, line.national_code, line.coverage.value) == ("SKU-0042", COLD_REMEDY, "B")
    assert line.name == "感冒灵颗粒 10袋" and line.amount == Fen(2_500)


def test_a_consumable_is_a_medical_device_of_class_c(till: Any) -> None:
    till.catalogue.map(mapping("MASK", "C14030102000000000000008"))
    till.upload_mappings()
    line = till.catalogue.line("MASK", quantity=1, unit_price=Fen(300))
    assert (line.category.value, line.coverage.value) == ("medical_device", "C")


@pytest.mark.parametrize(
    ("prepare", "words"),
    [
        (lambda till: None, "is not mapped to a national catalogue code"),
        (
            lambda till: till.catalogue.map(mapping("SKU-0042", COLD_REMEDY)),
            "has not reached the insurance centre yet",
        ),
        (
            lambda till: (
                till.catalogue.map(
                    mapping("SKU-0042", COLD_REMEDY, ends=datetime.date(2025, 7, 31))
                ),
                till.upload_mappings(),
            ),
            "is not in force today",
        ),
    ],
)
def test_an_unmapped_sku_is_refused_locally_with_what_to_do(
    till: Any, prepare: Any, words: str
) -> None:
    prepare(till)
    with pytest.raises(InvalidInput, match=words) as refused:
        till.catalogue.line("SKU-0042", quantity=1, unit_price=Fen(100))
    assert refused.value.code == UNMAPPED
    assert "cash sale" in refused.value.next_step


def test_a_sku_mapped_to_a_code_the_catalogue_withdrew_is_refused(till: Any) -> None:
    # Mapped while the drug was in force, withdrawn since (the store holds the revision).
    record = next(r for r in demo_records() if r.hilist_code == WITHDRAWN)
    till.catalogue.store.put_mapping(
        mapping("OME", WITHDRAWN, uploaded_at=NOW, begins=datetime.date(2025, 1, 1))
    )
    assert record.vali_flag == "0"
    with pytest.raises(InvalidInput, match="does not hold in force today") as refused:
        till.catalogue.line("OME", quantity=1, unit_price=Fen(100))
    assert "gongji catalogue sync" in refused.value.next_step


def test_a_mapping_to_a_code_not_in_the_store_is_refused_before_the_upload(till: Any) -> None:
    with pytest.raises(InvalidInput, match="holds no record"):
        till.catalogue.map(mapping("SKU-1", "X-NOT-A-CODE"))
    with pytest.raises(InvalidInput, match="list type 101, not 301"):
        till.catalogue.map(mapping("SKU-1", COLD_REMEDY, list_type="301"))
    assert till.catalogue.store.mappings() == []


def test_a_mapping_is_uploaded_once_and_again_only_when_it_changes(
    till: Any, mock: MockGateway
) -> None:
    till.catalogue.map(mapping("SKU-1", COLD_REMEDY))
    assert till.upload_mappings().uploaded == ("SKU-1",)
    till.catalogue.map(mapping("SKU-1", COLD_REMEDY))
    assert till.upload_mappings().uploaded == ()
    till.catalogue.map(mapping("SKU-1", COLD_REMEDY, spec="10g*9袋"))
    assert till.upload_mappings().uploaded == ("SKU-1",)
    taken = dict(mock.national.catalogue.mappings.items())
    assert [(sku, row.med_list_codg) for (_, sku), row in taken.items()] == [("SKU-1", COLD_REMEDY)]


def test_a_mapping_the_centre_refuses_stays_pending_with_its_words(
    till: Any, mock: MockGateway
) -> None:
    till.catalogue.map(mapping("SKU-1", COLD_REMEDY))
    # The centre withdraws the code before the upload reaches it.
    withdrawn = [r for r in demo_records() if r.hilist_code == COLD_REMEDY]
    mock.national.catalogue.publish(
        *(
            CatalogueRecord(**{**_fields(r), "vali_flag": "0", "updt_time": "2025-08-01 09:00:00"})
            for r in withdrawn
        )
    )
    report = till.upload_mappings()
    assert report.uploaded == () and report.refused[0][0] == "SKU-1"
    assert "医疗目录编码" in report.refused[0][1]
    assert [m.sku for m in till.catalogue.store.mappings(pending=True)] == ["SKU-1"]


def _fields(record: CatalogueRecord) -> dict[str, Any]:
    import msgspec

    return msgspec.structs.asdict(record)


def test_find_looks_up_names_and_code_prefixes(till: Any) -> None:
    assert [e.national_code for e in till.catalogue.find("感冒灵")] == [COLD_REMEDY] * 2
    assert {e.name for e in till.catalogue.find("XC")} == {"硝苯地平缓释片", "阿托伐他汀钙片"}
    assert till.catalogue.find("100%") == []  # a wildcard is a character here
    with pytest.raises(InvalidInput, match="Give a name"):
        till.catalogue.find("  ")


def test_a_memory_journal_keeps_the_catalogue_in_memory(mock: MockGateway) -> None:
    arguments = client_arguments("mock", mock=mock)
    assert isinstance(arguments["journal"], MemoryJournal)
    with SettlementClient(**arguments) as till:
        assert till.catalogue.store.path is None


def test_a_line_from_the_catalogue_sends_the_national_code_and_the_sku(
    till: Any, mock: MockGateway
) -> None:
    from gongji import Credential, Purchase

    till.catalogue.map(mapping("SKU-0042", COLD_REMEDY))
    till.upload_mappings()
    line = till.catalogue.line("SKU-0042", quantity=1, unit_price=Fen(1_250))
    sent: list[dict[str, Any]] = []

    def spy(request: httpx.Request) -> httpx.Response:
        if b'"infno":"2101"' in request.content:
            sent.append(json.loads(request.content))
        return mock.handle(request)

    arguments = client_arguments("mock", mock=mock) | {"transport": httpx.MockTransport(spy)}
    with SettlementClient(**arguments) as other:
        other.preview(Purchase(credential=Credential.id_card(MOTHER), items=[line]))
    (detail,) = sent[0]["input"]["feedetail"]
    assert (detail["med_list_codg"], detail["medins_list_codg"]) == (COLD_REMEDY, "SKU-0042")
