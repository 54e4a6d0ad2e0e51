"""What the national catalogue is to a till: its entries (1312), the pharmacy's mappings of
its own SKUs to them (3301), and the gateway that reads and writes both.

A catalogue entry is the centre's word on one national code (医保目录编码): its name, its
class (甲 / 乙 / 丙, ``chrgitm_lv`` 01 / 02 / 03: coverage A / B / C), and the dates it
is in force. The class is the centre's output, never the till's choice: a line built from
the catalogue (``Catalogue.line``) carries the class the store holds.
"""

from __future__ import annotations

import datetime
from typing import Protocol, runtime_checkable

from attrs import frozen

from gongji.gateways.exchange import Flow
from gongji.model import Category, Coverage

__all__ = [
    "CatalogueEntry",
    "CatalogueGateway",
    "CatalogueMapping",
    "CataloguePage",
    "MappingReport",
    "SyncReport",
]

#: ``chrgitm_lv``: the national dictionary's charge class (收费项目等级).
CLASS_CODES = {"01": Coverage.A, "02": Coverage.B, "03": Coverage.C}
#: ``list_type`` (目录类别) codes whose lines are not drugs: medical consumables (301).
#: Drugs are 101 (western and Chinese patent), 102 (herbal pieces), 103 (preparations).
_DEVICE_LIST_TYPES = frozenset({"301"})


@frozen
class CatalogueEntry:
    """One record of the national catalogue (1312), as the centre sent it."""

    national_code: str  # hilist_code
    name: str  # hilist_name
    class_code: str  # chrgitm_lv, kept as sent: an unknown class is refused when used
    record_id: str = ""  # rid: the centre's id of this record (one code has several over time)
    list_type: str = ""  # list_type: 101 drugs, 102 herbal pieces, 201 services, 301 consumables
    charge_type: str = ""  # med_chrgitm_type: the charge item type
    restricted: bool = False  # lmt_used_flag: restricted use (限制使用)
    region: str = ""  # insu_admdvs: the insurance region the record is for
    begins: datetime.date | None = None  # begndate
    ends: datetime.date | None = None  # enddate; None: open-ended
    valid: bool = True  # vali_flag
    updated_at: datetime.datetime | None = None  # updt_time, Beijing time

    @property
    def coverage(self) -> Coverage | None:
        """A / B / C from ``chrgitm_lv``; None for a class gongji does not know."""
        return CLASS_CODES.get(self.class_code)

    @property
    def category(self) -> Category:
        return Category.MEDICAL_DEVICE if self.list_type in _DEVICE_LIST_TYPES else Category.DRUG

    def in_force(self, day: datetime.date) -> bool:
        """Valid, and ``day`` within its dates."""
        return (
            self.valid
            and (self.begins is None or self.begins <= day)
            and (self.ends is None or day <= self.ends)
        )


@frozen
class CatalogueMapping:
    """The pharmacy's SKU (定点医药机构目录编号) mapped to a national code, for 3301.

    ``uploaded_at`` is when the centre accepted it (None: not yet): a line is built from
    a mapping only once the centre has it, since the centre matches ``medins_list_codg``
    against the mappings it received.
    """

    sku: str  # fixmedins_hilist_id
    name: str  # fixmedins_hilist_name
    national_code: str  # med_list_codg
    list_type: str  # list_type, as the national entry's
    begins: datetime.date  # begndate
    ends: datetime.date | None = None  # enddate; None: until further notice
    approval_no: str = ""  # aprvno: the drug's approval number (批准文号)
    dosage_form: str = ""  # dosform
    spec: str = ""  # spec
    pack_spec: str = ""  # pacspec
    unit: str = ""  # prcunt: the pricing unit
    memo: str = ""
    uploaded_at: datetime.datetime | None = None

    def in_force(self, day: datetime.date) -> bool:
        return self.begins <= day and (self.ends is None or day <= self.ends)


@frozen
class CataloguePage:
    """One page of a 1312 answer: ``page`` of ``pages``, ``total`` records in all."""

    entries: tuple[CatalogueEntry, ...]
    page: int
    pages: int
    total: int


@frozen
class SyncReport:
    """What ``sync_catalogue`` did: pages and records downloaded by this call, and the
    version (the latest ``updt_time`` held) the next sync asks from."""

    pages: int
    entries: int
    version: datetime.datetime | None
    resumed_at_page: int | None = None  # the page an interrupted sync went on from
    held: int = 0  # records in the store after it


@frozen
class MappingReport:
    """What ``upload_mappings`` did: SKUs the centre accepted, and those it refused (why)."""

    uploaded: tuple[str, ...]
    refused: tuple[tuple[str, str], ...]  # (sku, the centre's words)


@runtime_checkable
class CatalogueGateway(Protocol):
    """An insurance gateway that reads the national catalogue and takes mappings.

    Optional, like ``OutpatientGateway``: a gateway that declares
    ``Capability.CATALOGUE`` implements these.
    """

    def catalogue_page(
        self, since: datetime.datetime | None, page: int, page_size: int
    ) -> Flow[CataloguePage]:
        """Page ``page`` (from 1) of the records updated at or after ``since`` (None:
        the whole catalogue) (1312). A read: asking again is safe."""
        ...

    def upload_mapping(self, mapping: CatalogueMapping) -> Flow[None]:
        """Upload one SKU-to-national-code mapping (3301); ``Declined`` when refused."""
        ...
