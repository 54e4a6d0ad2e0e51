"""1312 (the national catalogue, paged) and 3301 (an institution's SKU mappings) at the
mock centre, in the shapes of NATIONAL.md §10 and its sources, over ``hilist``.

1312 answers a page (``pageNum``, ``pageSize``, ``size``, ``pages``, ``recordCounts``,
``data``: S2's ``Output_1312``) of the records updated at or after ``updt_time``,
oldest first. 3301 takes a ``catalogcompin`` list and refuses a national code it does
not hold in force on the mapping's first day, or of another list type; a mapping sent
again replaces the one before (an institution corrects its mappings so).
"""

from __future__ import annotations

import msgspec

from gongji import clock as beijing
from gongji_mock.centre.decisions import CentreRefusal
from gongji_mock.national.hilist import MappingRow
from gongji_mock.national.office import Office
from gongji_mock.national.transform import Answer, Malformed, date, decode_input, wrapped
from gongji_mock.national.wire import Data, RequestEnvelope

__all__ = ["map_items", "query"]

#: ``page_size`` is N 4: a centre pages at most this many records.
MAX_PAGE_SIZE = 9_999


class _QueryData(msgspec.Struct, frozen=True, kw_only=True):
    updt_time: str
    page_num: int
    page_size: int
    insu_admdvs: str | None = None
    hilist_code: str | None = None
    hilist_name: str | None = None


class _Mapping(msgspec.Struct, frozen=True, kw_only=True):
    fixmedins_hilist_id: str
    fixmedins_hilist_name: str
    list_type: str
    med_list_codg: str
    begndate: str
    enddate: str


class _MappingInput(msgspec.Struct, frozen=True, kw_only=True):
    catalogcompin: list[_Mapping]


def query(office: Office, envelope: RequestEnvelope) -> Answer:
    """1312: one page of the records updated at or after ``updt_time``."""
    catalogue, now = office.catalogue, office.centre.clock()
    data = decode_input(envelope, Data[_QueryData]).data
    since = beijing.from_wire_time(data.updt_time)
    if since is None:
        raise Malformed("更新时间格式错误", "updt_time must be yyyy-MM-dd HH:mm:ss.")
    if data.page_num < 1 or not 1 <= data.page_size <= MAX_PAGE_SIZE:
        raise Malformed(
            "分页参数错误",
            f"page_num must be 1 or more and page_size 1 to {MAX_PAGE_SIZE}.",
        )
    stamp = beijing.wire_time(since)
    found = [
        r
        for r in catalogue.served(now)
        if r.updt_time >= stamp
        and (not data.hilist_code or r.hilist_code == data.hilist_code)
        and (not data.hilist_name or data.hilist_name in r.hilist_name)
    ]
    region = data.insu_admdvs or ""
    size = data.page_size
    pages = -(-len(found) // size)
    start = (data.page_num - 1) * size
    rows = [msgspec.structs.replace(r, insu_admdvs=region) for r in found[start : start + size]]
    return Answer(
        wrapped(
            pageNum=data.page_num,
            pageSize=size,
            size=len(rows),
            startRow=start + 1 if rows else 0,
            endRow=start + len(rows),
            pages=pages,
            recordCounts=len(found),
            firstPage=1,
            lastPage=pages,
            data=rows,
        )
    )


def map_items(office: Office, envelope: RequestEnvelope) -> Answer:
    """3301: record each mapping, once every one of them is good (all or nothing)."""
    catalogue = office.catalogue
    mappings = decode_input(envelope, _MappingInput).catalogcompin
    if not mappings:
        raise Malformed("对照信息为空", "catalogcompin holds no mapping.")
    rows = []
    for mapping in mappings:
        first = date(mapping.begndate, "begndate")
        if date(mapping.enddate, "enddate") < first:
            raise Malformed(
                "日期错误", f"{mapping.fixmedins_hilist_id}: enddate is before begndate."
            )
        record = catalogue.record(mapping.med_list_codg, first)
        if record is None:
            raise CentreRefusal(
                "医疗目录编码不存在或未生效",
                f"{mapping.med_list_codg[:50]} is not in the catalogue on {first}; "
                "download the catalogue (1312) and map to a current code.",
            )
        if record.list_type != mapping.list_type:
            raise CentreRefusal(
                "目录类别与医保目录不符",
                f"{mapping.med_list_codg[:50]} is of list type {record.list_type}.",
            )
        rows.append(
            (
                (envelope.fixmedins_code, mapping.fixmedins_hilist_id),
                MappingRow(
                    fixmedins_hilist_name=mapping.fixmedins_hilist_name,
                    list_type=mapping.list_type,
                    med_list_codg=mapping.med_list_codg,
                    begndate=mapping.begndate,
                    enddate=mapping.enddate,
                ),
            )
        )
    for key, row in rows:
        catalogue.mappings.put(key, row)
    return Answer(None)
