"""3505 sales upload and 3506 return upload: the packs a sale moved, with their codes.

NATIONAL.md §11: one sale line per message, node ``selinfo`` (one HIS's name: the 2025
node names are unconfirmed), the line's catalogue codes, the stock batch and lot, the
pharmacist, the sale's numbers, and the packs' traceability codes as ``drug_trac_info``
(a list of ``drug_trac_codg`` with ``feedetl_sn``, ``trdn_flag``, ``min_prcunt_type``).
A 3506 carries the same item fields, the return's own time and ``medins_prod_sel_no``.

The split-pack flag ``trdn_flag`` is ``1`` for a line that sells part of a pack (拆零,
``LineItem.split_pack``) and ``0`` for whole packs, on the line and in each code entry.
``min_prcunt_type`` says in which unit the line is priced: ``2`` the smallest package
(whole packs: the one public HIS that sends it, S12, sends 2 for "by the smallest
package, a scanned code is a whole pack"), ``1`` the smallest dose unit (a split pack).
Unconfirmed values, documented as such in docs/reference/config.md: ``hi_feesetl_type``
``1`` (settled with insurance), ``rx_flag`` ``0`` (no prescription on the line: gongji's
lines carry none yet), both ``min_prcunt_type`` codes.
No ID number goes in: the person is ``psn_no`` (the payload is journaled as it is).
"""

from __future__ import annotations

import datetime
from typing import Any

import msgspec
from attrs import frozen

from gongji import clock as beijing
from gongji.errors import ConfigError, InvalidInput
from gongji.gateways import CentreSettlement, SettlementRequest
from gongji.gateways.uploads import RETURN_UPLOAD, SALE_UPLOAD, Upload
from gongji.model import LineItem

NODE = "selinfo"
_INSURED_SALE = "1"  # hi_feesetl_type: settled with insurance (unconfirmed code)
#: min_prcunt_type (unconfirmed codes): priced by the smallest package, or by the dose unit.
WHOLE_PACK_UNIT, SPLIT_PACK_UNIT = "2", "1"


@frozen
class Pharmacy:
    """Who sells, as 3505 names them: the operator, the pharmacist on duty, and who
    prescribed (the pharmacist for a sale without a prescription, unconfirmed)."""

    operator_name: str
    pharmacist: str
    pharmacist_cert_no: str
    prescriber: str = ""


def check_uploadable(request: SettlementRequest, pharmacist_cert_no: str) -> None:
    """Refuse, before anything is sent, a sale whose sales upload (3505) a centre would
    refuse after the money moved: each line with packs names its stock batch, the maker's
    lot and the production date, and the upload names the pharmacist's practice
    certificate (required fields, NATIONAL.md §11)."""
    traced = [item for item in request.items if item.packs is not None and item.packs.codes]
    for item in traced:
        packs = item.packs
        assert packs is not None
        given = (("batch", packs.batch), ("lot", packs.lot), ("made_on", packs.made_on))
        missing = [name for name, value in given if not value]
        if missing:
            name = item.name or item.code
            raise InvalidInput(
                f"The sales upload (3505) of {name} needs its stock batch, the maker's lot "
                f"and the production date; {', '.join(missing)} not given.",
                next_step="Give them from the stock record, as gongji.Packs(codes=[...], "
                "batch=..., lot=..., made_on=...), then settle again; nothing was sent. / "
                f"请录入「{name}」的库存批次、生产批号和生产日期后再医保结算。",
            )
    if traced and not pharmacist_cert_no:
        raise ConfigError(
            "The sales upload (3505) names the pharmacist on duty and her practice "
            "certificate number, and this till's institution has none.",
            next_step="Set pharmacist_cert_no (and pharmacist) in the [gateway] table of "
            "the config (docs/reference/config.md); nothing was sent.",
        )


def sale_inputs(
    request: SettlementRequest,
    settlement: CentreSettlement,
    sale: str,
    at: datetime.datetime,
    pharmacy: Pharmacy,
) -> list[dict[str, Any]]:
    """One 3505 input per line that carries packs, numbered as the settlement's lines."""
    inputs = []
    for number, item in enumerate(request.items, 1):
        if item.packs is None or not item.packs.codes:
            continue
        inputs.append({NODE: _sold(number, item, request, settlement, sale, at, pharmacy)})
    return inputs


def _sold(
    number: int,
    item: LineItem,
    request: SettlementRequest,
    settlement: CentreSettlement,
    sale: str,
    at: datetime.datetime,
    pharmacy: Pharmacy,
) -> dict[str, Any]:
    packs = item.packs
    assert packs is not None
    line: dict[str, Any] = {
        "med_list_codg": item.listed_code,  # the national code; the pharmacy's own below
        "fixmedins_hilist_id": item.code,
        "fixmedins_hilist_name": item.name or item.code,
        "fixmedins_bchno": packs.batch,
        "setl_id": settlement.setl_id,
        "psn_no": request.psn_no,
        "rx_flag": "0",
        "trdn_flag": split_flag(item),
        "drug_trac_info": trace_entries(number, item),
        "sel_retn_cnt": item.quantity,
        "sel_retn_time": beijing.wire_time(at),
        "sel_retn_opter_name": pharmacy.operator_name,
        "prsc_dr_name": pharmacy.prescriber or pharmacy.pharmacist,
        "phar_name": pharmacy.pharmacist,
        "phar_prac_cert_no": pharmacy.pharmacist_cert_no,
        "hi_feesetl_type": _INSURED_SALE,
        "mdtrt_sn": sale,
        "manu_lotnum": packs.lot,
        "manu_date": packs.made_on.isoformat() if packs.made_on else "",
        "finl_trns_pric": item.unit_price.to_yuan(),
        "rtal_docno": sale,
    }
    if packs.expires_on is not None:
        line["expy_end"] = packs.expires_on.isoformat()
    return line


def split_flag(item: LineItem) -> str:
    """``trdn_flag``: 1 when the line sells part of a pack (拆零), 0 for whole packs."""
    return "1" if item.split_pack else "0"


def trace_entries(number: int, item: LineItem) -> list[dict[str, str]]:
    """The ``drug_trac_info`` of line ``number``: one entry per code scanned from its packs,
    each with the line's serial, split flag and pricing unit (empty without codes)."""
    codes = item.packs.codes if item.packs is not None else ()
    unit = SPLIT_PACK_UNIT if item.split_pack else WHOLE_PACK_UNIT
    return [
        {
            "drug_trac_codg": code,
            "feedetl_sn": str(number),
            "trdn_flag": split_flag(item),
            "min_prcunt_type": unit,
        }
        for code in codes
    ]


#: The fields a 3506 keeps from the 3505 it returns (the item, batch and codes).
_RETURNED = (
    "med_list_codg",
    "fixmedins_hilist_id",
    "fixmedins_hilist_name",
    "fixmedins_bchno",
    "setl_id",
    "psn_no",
    "rx_flag",
    "trdn_flag",
    "drug_trac_info",
    "sel_retn_cnt",
    "sel_retn_opter_name",
)


def return_input(sold: dict[str, Any], sale: str, at: datetime.datetime) -> dict[str, Any]:
    """The 3506 input that returns what a 3505 input sold."""
    line = sold[NODE]
    returned = {name: line[name] for name in _RETURNED if name in line}
    returned["sel_retn_time"] = beijing.wire_time(at)
    returned["medins_prod_sel_no"] = sale
    return {NODE: returned}


def uploads(
    infno: str, inputs: list[dict[str, Any]], msgids: list[str], insured_in: str
) -> tuple[Upload, ...]:
    return tuple(
        Upload(
            infno=infno,
            msgid=msgid,
            # msgspec, as every message is sent: a split pack's Decimal count goes as its text.
            payload=msgspec.json.encode(body).decode(),
            insured_in=insured_in,
        )
        for body, msgid in zip(inputs, msgids, strict=True)
    )


__all__ = [
    "NODE",
    "RETURN_UPLOAD",
    "SALE_UPLOAD",
    "Pharmacy",
    "return_input",
    "sale_inputs",
    "split_flag",
    "trace_entries",
    "uploads",
]
