"""The mock centre's national catalogue (医保目录, ``hilist``), small and versioned, and
the SKU mappings institutions uploaded to it (3301); ``gongji_mock.national.catalogue``
answers 1312 and 3301 from it.

Each record carries its ``updt_time``, and a record is served once the centre's clock
has reached that time, so a test that moves the clock sees the catalogue change.
``publish`` adds records. The demo catalogue has two versions: the first (2025-01-01)
and a revision (2025-07-01) that moves one drug from class A to B, adds a drug and
withdraws one. The codes, names and classes are made up for the rehearsal: they have the
shape of national codes, not their meaning.
"""

from __future__ import annotations

import datetime
from typing import Any

import msgspec

from gongji import clock as beijing
from gongji.model import Coverage
from gongji_mock.records import Table

__all__ = ["CatalogueRecord", "MappingRow", "MockCatalogue", "demo_records"]

_CLASSES = {"01": Coverage.A, "02": Coverage.B, "03": Coverage.C}


class CatalogueRecord(msgspec.Struct, frozen=True, kw_only=True):
    """One 1312 record, with the national names."""

    hilist_code: str
    hilist_name: str
    insu_admdvs: str = ""
    begndate: str
    enddate: str = ""
    med_chrgitm_type: str
    chrgitm_lv: str
    lmt_used_flag: str = "0"
    list_type: str
    med_use_flag: str = "1"
    matn_used_flag: str = "0"
    hilist_use_type: str = "1"
    lmt_cpnd_type: str = "0"
    vali_flag: str = "1"
    rid: str
    updt_time: str

    def in_force(self, day: datetime.date) -> bool:
        begins = datetime.date.fromisoformat(self.begndate)
        ends = datetime.date.fromisoformat(self.enddate) if self.enddate else None
        return self.vali_flag == "1" and begins <= day and (ends is None or day <= ends)


class MappingRow(msgspec.Struct, frozen=True, kw_only=True):
    """A mapping an institution uploaded (3301)."""

    fixmedins_hilist_name: str
    list_type: str
    med_list_codg: str
    begndate: str
    enddate: str


def _drug(
    code: str,
    name: str,
    level: str,
    rid: str,
    updated: str,
    *,
    begins: str = "2025-01-01",
    ends: str = "",
    list_type: str = "101",
    valid: str = "1",
    charge_type: str = "09",  # 西药费
) -> CatalogueRecord:
    return CatalogueRecord(
        hilist_code=code,
        hilist_name=name,
        begndate=begins,
        enddate=ends,
        med_chrgitm_type=charge_type,
        chrgitm_lv=level,
        list_type=list_type,
        vali_flag=valid,
        rid=rid,
        updt_time=updated,
    )


FIRST = "2025-01-01 08:00:00"
REVISION = "2025-07-01 08:00:00"


def first(second: int) -> str:
    """A time of the first version: its records were written one second apart."""
    return f"2025-01-01 08:00:{second:02d}"


def demo_records() -> list[CatalogueRecord]:
    """The demo catalogue: a first version and a revision."""
    return [
        _drug("XC08CAN057A001010100001", "硝苯地平缓释片", "01", "MOCK-R0001", first(1)),
        _drug("XC10AAA143A001010100002", "阿托伐他汀钙片", "02", "MOCK-R0002", first(2)),
        _drug("XJ01CAA076E001010100003", "阿莫西林胶囊", "01", "MOCK-R0003", first(3)),
        # Revised: class A until 2025-06-30 (the first record, ended), class B from 07-01.
        _drug(
            "ZA01BAG0331010100000004",
            "感冒灵颗粒",
            "01",
            "MOCK-R0004",
            REVISION,
            ends="2025-06-30",
            charge_type="10",  # 中成药费
        ),
        _drug(
            "ZA01BAG0331010100000004",
            "感冒灵颗粒",
            "02",
            "MOCK-R0104",
            REVISION,
            begins="2025-07-01",
            charge_type="10",
        ),
        _drug("XR06AEB084A001010100005", "氯雷他定片", "02", "MOCK-R0005", first(4)),
        # Withdrawn by the revision.
        _drug(
            "XA02BCA211A001010100006", "奥美拉唑肠溶胶囊", "01", "MOCK-R0006", REVISION, valid="0"
        ),
        _drug(
            "T000200581", "党参片", "02", "MOCK-R0007", first(5), list_type="102", charge_type="11"
        ),
        _drug(
            "C14030102000000000000008",
            "一次性使用医用口罩",
            "03",
            "MOCK-R0008",
            FIRST,
            list_type="301",
            charge_type="08",  # 卫生材料费
        ),
        # Added by the revision.
        _drug(
            "XA10BAB005A001010100009",
            "二甲双胍片",
            "01",
            "MOCK-R0009",
            REVISION,
            begins="2025-07-01",
        ),
    ]


class MockCatalogue:
    """The centre's catalogue, and the mappings institutions uploaded."""

    def __init__(self, records: list[CatalogueRecord] | None = None) -> None:
        self._records: dict[str, CatalogueRecord] = {}
        for record in demo_records() if records is None else records:
            self._records[record.rid] = record
        # (fixmedins_code, fixmedins_hilist_id) -> the mapping
        self.mappings: Table[tuple[str, str], MappingRow] = Table(
            "national.catalogue_mappings", tuple[str, str], MappingRow
        )

    def tables(self) -> list[Table[Any, Any]]:
        return [self.mappings]

    def load(self, records: list[CatalogueRecord]) -> None:
        """Serve ``records`` instead of every record served so far (a test's catalogue)."""
        self._records = {record.rid: record for record in records}

    def publish(self, *records: CatalogueRecord) -> None:
        """Add or replace records (by ``rid``); each is served from its ``updt_time``."""
        for record in records:
            self._records[record.rid] = record

    def served(self, now: datetime.datetime) -> list[CatalogueRecord]:
        """The records the centre's clock has reached, oldest update first."""
        stamp = beijing.wire_time(now)
        found = [r for r in self._records.values() if r.updt_time <= stamp]
        return sorted(found, key=lambda r: (r.updt_time, r.rid))

    def coverage_of(self, code: str, day: datetime.date) -> Coverage | None:
        """The class of ``code`` on ``day``, as the centre settles it; None: not covered."""
        for record in self._records.values():
            if record.hilist_code == code and record.in_force(day):
                return _CLASSES.get(record.chrgitm_lv)
        return None

    def record(self, code: str, day: datetime.date) -> CatalogueRecord | None:
        return next(
            (r for r in self._records.values() if r.hilist_code == code and r.in_force(day)),
            None,
        )
