"""The national catalogue on the wire: 1312 (catalogue query, paged) and 3301 (mapping
upload), as NATIONAL.md §10 and its sources give them.

1312 asks with ``updt_time`` (the records updated at or after it), ``page_num`` and
``page_size``, and the pooling region in ``insu_admdvs``: the class of a national code
may differ by region. Its ``output`` is a page (S2, ``Output_1312``): ``pageNum``,
``pages``, ``recordCounts`` and the records in ``data``; the paging numbers come as
numbers or as strings. A record's dates come as ``yyyy-MM-dd``, ``yyyy-MM-dd HH:mm:ss``
or empty.

3301 sends one mapping per message, in a ``catalogcompin`` list: the node name of the
two public clients that send it (S10, and a Guangzhou client), where NATIONAL.md's
summary says ``data``. Its output is not read: ``infcode`` 0 is the acceptance.
"""

from __future__ import annotations

import datetime
from typing import Any

import msgspec

from gongji import clock as beijing
from gongji.catalogue import CatalogueEntry, CatalogueMapping, CataloguePage
from gongji.errors import UntrustedAnswer

__all__ = [
    "FIRST_UPDATE",
    "MAPPING_NODE",
    "NO_END",
    "mapping_input",
    "page_from",
    "query_input",
]

#: ``updt_time`` of the first download: before the national platform's first record.
#: What a centre expects for "everything" is unconfirmed; an early time is what it implies.
FIRST_UPDATE = datetime.datetime(2000, 1, 1, tzinfo=beijing.BEIJING)
#: 3301 ``enddate`` is required; a mapping without an end is sent with this one.
NO_END = datetime.date(2099, 12, 31)
MAPPING_NODE = "catalogcompin"

Text = str | int | None  # a date or number some centres send as a number


class _Out(msgspec.Struct, frozen=True, kw_only=True):
    """Answer structs: unknown fields ignored, absent ones default."""


class CatalogueRecordOut(_Out, frozen=True, kw_only=True):
    hilist_code: str = ""
    hilist_name: str = ""
    insu_admdvs: str | None = None
    begndate: str | None = None
    enddate: str | None = None
    med_chrgitm_type: str | None = None
    chrgitm_lv: str | None = None
    lmt_used_flag: str | None = None
    list_type: str | None = None
    vali_flag: str | None = None
    rid: str | None = None
    updt_time: str | None = None


class CataloguePageOut(_Out, frozen=True, kw_only=True):
    data: list[CatalogueRecordOut] | None = None
    pageNum: Text = None
    pages: Text = None
    recordCounts: Text = None


def query_input(
    since: datetime.datetime | None, page: int, page_size: int, region: str
) -> dict[str, Any]:
    """The input of 1312: records of ``region`` updated at or after ``since``."""
    return {
        "data": {
            "insu_admdvs": region,
            "updt_time": beijing.wire_time(since or FIRST_UPDATE),
            "page_num": page,
            "page_size": page_size,
        }
    }


def page_from(answer: CataloguePageOut, asked: int) -> CataloguePage:
    """The page the centre sent; ``asked`` stands in for a missing ``pageNum``."""
    records = answer.data or []
    page = _whole(answer.pageNum, "pageNum", default=asked)
    pages = _whole(answer.pages, "pages", default=page if records else 0)
    total = _whole(answer.recordCounts, "recordCounts", default=len(records))
    return CataloguePage(
        entries=tuple(_entry(record) for record in records),
        page=page,
        pages=pages,
        total=total,
    )


def mapping_input(mapping: CatalogueMapping) -> dict[str, Any]:
    """The input of 3301 for one mapping; optional fields only when the pharmacy gave them."""
    record = {
        "fixmedins_hilist_id": mapping.sku,
        "fixmedins_hilist_name": mapping.name,
        "list_type": mapping.list_type,
        "med_list_codg": mapping.national_code,
        "begndate": beijing.wire_day(mapping.begins),
        "enddate": beijing.wire_day(mapping.ends or NO_END),
    }
    optional = {
        "aprvno": mapping.approval_no,
        "dosform": mapping.dosage_form,
        "spec": mapping.spec,
        "pacspec": mapping.pack_spec,
        "prcunt": mapping.unit,
        "memo": mapping.memo,
    }
    record |= {name: value for name, value in optional.items() if value}
    return {MAPPING_NODE: [record]}


def _entry(record: CatalogueRecordOut) -> CatalogueEntry:
    if not record.hilist_code:
        raise UntrustedAnswer(
            "The centre's catalogue page has a record without a national code (hilist_code).",
            next_step="Nothing of this page was kept; run the sync again, and report it if it repeats.",
        )
    return CatalogueEntry(
        national_code=record.hilist_code,
        name=record.hilist_name,
        class_code=record.chrgitm_lv or "",
        record_id=record.rid or "",
        list_type=record.list_type or "",
        charge_type=record.med_chrgitm_type or "",
        restricted=record.lmt_used_flag == "1",
        region=record.insu_admdvs or "",
        begins=_day(record.begndate, "begndate"),
        ends=_day(record.enddate, "enddate"),
        # An absent flag is a valid record: the query answers records, not deletions.
        valid=record.vali_flag in (None, "", "1"),
        updated_at=_moment(record.updt_time),
    )


def _whole(value: Text, name: str, *, default: int) -> int:
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        number = -1
    if number < 0:
        raise UntrustedAnswer(
            f"The centre's catalogue page has {name} that is not a whole number.",
            next_step="Nothing of this page was kept; run the sync again, and report it if it repeats.",
        )
    return number


def _day(text: str | None, name: str) -> datetime.date | None:
    if not text:
        return None
    try:
        return datetime.date.fromisoformat(text[:10])
    except ValueError:
        raise UntrustedAnswer(
            f"The centre's catalogue record has a {name} that is not a date.",
            next_step="Nothing of this page was kept; report it to the centre.",
        ) from None


def _moment(text: str | None) -> datetime.datetime | None:
    if not text:
        return None
    found = beijing.from_wire_time(text)
    if found is None:
        day = _day(text, "updt_time")
        assert day is not None
        found = datetime.datetime.combine(day, datetime.time(), tzinfo=beijing.BEIJING)
    return found
