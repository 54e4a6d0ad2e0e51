"""The national interface's requests as the mock knows them, and a checker for them.

One table per request of the pharmacy path (9001, 9002, 1101, 2101, 2102, 2103, 2601,
3505, 3506), of the clinic visit (2201-2208), of the catalogue (1312, 3301), of
reconciliation (3201, 3202, 9101, 9102), of chronic diseases (5301) and of the rule checks
(3101, 3102), and one for the envelope, written from NATIONAL.md (../shared/NATIONAL.md, the
field reference taken from public code that talks to real centres), never from
gongji_cityins' own wire structs: the mock is the rehearsal of a real centre, so its
knowledge of the interface must not follow the client's mistakes.

Each field has its type as NATIONAL.md writes it (``C 30`` a string of at most 30
characters, ``N 16,2`` a number with at most 2 decimals, ``D`` ``yyyy-MM-dd``, ``DT``
``yyyy-MM-dd HH:mm:ss``), its required flag (``Y`` required, ``C`` required when a
condition holds, empty optional) and ``unconfirmed`` where NATIONAL.md says no public
source is behind the row or the sources disagree. A region that differs changes its
row here, with its source.

``check_request(infno, body)`` returns one sentence per problem: a required field that
is missing (``""`` and ``null`` count as missing), a field or node the table does not
have, a value of the wrong type, and any ``gongji_*`` field or ``X`` transaction code
(gongji's own extensions, which a real centre refuses). A sentence names the field,
never its value: values may be ID numbers.
"""

from __future__ import annotations

import base64
import datetime
import decimal
import functools
import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Literal

from attrs import frozen

Required = Literal["Y", "C", ""]
Kind = Literal["C", "N", "D", "DT", "object", "list", "bytes"]
_KINDS: dict[str, Kind] = {k: k for k in ("C", "N", "D", "DT", "object", "list", "bytes")}
#: A condition of a ``C`` field: (the record the field belongs to, the whole request).
Condition = Callable[[Mapping[str, Any], Mapping[str, Any]], bool]


@frozen
class FieldType:
    """``C``, ``N``, ``D``, ``DT``, a nested ``object`` / ``list`` of fields, or ``bytes``
    (a file's content, 字节数组: base64 text or a JSON array of byte values)."""

    kind: Kind
    length: int | None = None  # C: characters; N: digits in all
    decimals: int = 0  # N only

    @classmethod
    def parse(cls, text: str) -> FieldType:
        """``"C 30"``, ``"N 16,2"``, ``"D"``, ``"DT"``, ``"C"`` (no length known)."""
        kind, _, size = text.partition(" ")
        if kind == "N":
            digits, _, decimals = size.partition(",")
            return cls("N", int(digits), int(decimals or 0))
        if kind not in _KINDS:
            raise ValueError(f"unknown field type {text!r}")
        return cls(_KINDS[kind], int(size) if size else None)

    def __str__(self) -> str:
        if self.kind == "N":
            return f"N {self.length},{self.decimals}"
        return f"{self.kind} {self.length}" if self.length else self.kind


@frozen
class Field:
    name: str
    type: FieldType
    required: Required = ""
    #: NATIONAL.md: no public source behind the row, or the sources disagree.
    unconfirmed: bool = False
    #: For a ``C`` field, when it is required; None: the table cannot tell (not checked).
    when: Condition | None = None
    #: The fields of a nested ``object`` or of each entry of a ``list``.
    fields: tuple[Field, ...] = ()

    def is_required(self, record: Mapping[str, Any], request: Mapping[str, Any]) -> bool:
        if self.required == "Y":
            return True
        return self.required == "C" and self.when is not None and self.when(record, request)


def field(
    name: str,
    type_: str,
    required: Required = "",
    *,
    unconfirmed: bool = False,
    when: Condition | None = None,
    fields: Sequence[Field] = (),
) -> Field:
    return Field(name, FieldType.parse(type_), required, unconfirmed, when, tuple(fields))


@frozen
class Request:
    """A transaction's input: its nodes (each an ``object`` or a ``list`` field)."""

    infno: str
    nodes: tuple[Field, ...]
    #: The node names themselves are unconfirmed (3505/3506).
    unconfirmed: bool = False


@frozen
class PharmacyNodes:
    """The input nodes of 2101/2102 as a region has them: ``data`` + ``feedetail`` (the
    default, and gongji's today), or ``druginfo`` + ``drugdetail`` (vendor models, the
    Dongguan DLL), which is unconfirmed for Liaoning; and whether a detail line may carry
    its packs' traceability codes (``drug_trac_info``), which NATIONAL.md §7 finds in one
    HIS's 2207 only and marks unconfirmed on 2102: off, the node is not a field here."""

    header: str = "data"
    detail: str = "feedetail"
    trace_codes: bool = False


DATA_NODES = PharmacyNodes()
DRUGINFO_NODES = PharmacyNodes("druginfo", "drugdetail")


def one_node(
    infno: str, node: str, fields: Sequence[Field], *, unconfirmed: bool = False
) -> Request:
    """A transaction whose input is one required object node (most of them)."""
    return Request(infno, (field(node, "object", "Y", fields=fields),), unconfirmed)


# ---------------------------------------------------------------- conditions


def _input_names_a_person(record: Mapping[str, Any], request: Mapping[str, Any]) -> bool:
    """insuplc_admdvs: required when the input carries psn_no (NATIONAL.md §2)."""
    return any(key == "psn_no" and _present(value) for key, value in _walk(request.get("input")))


def _after_sign_in(record: Mapping[str, Any], request: Mapping[str, Any]) -> bool:
    return request.get("infno") != "9001"


def _card(record: Mapping[str, Any], request: Mapping[str, Any]) -> bool:
    """card_sn: required with a social-security card (mdtrt_cert_type 03, §5)."""
    return record.get("mdtrt_cert_type") == "03"


def _chronic(record: Mapping[str, Any], request: Mapping[str, Any]) -> bool:
    """dise_codg / dise_name: for med_type 14 and its regional sub-codes (§7, §12)."""
    return str(record.get("med_type") or "").startswith("14")


def _insured_sale(record: Mapping[str, Any], request: Mapping[str, Any]) -> bool:
    """3505/3506 setl_id: required for a sale settled with insurance (§11)."""
    return _present(record.get("psn_no"))


# ---------------------------------------------------------------- the envelope (§2)

ENVELOPE = (
    field("infno", "C 4", "Y"),
    field("msgid", "C 30", "Y"),
    field("mdtrtarea_admvs", "C 6", "Y"),
    field("insuplc_admdvs", "C 6", "C", when=_input_names_a_person),
    field("recer_sys_code", "C 10", "Y"),
    field("dev_no", "C 100"),
    field("dev_safe_info", "C 2000"),
    field("cainfo", "C 1024"),
    field("signtype", "C 10"),
    field("infver", "C 6", "Y", unconfirmed=True),  # the required flag is unconfirmed
    field("opter_type", "C 3", "Y"),
    field("opter", "C 30", "Y"),
    field("opter_name", "C 50", "Y"),
    field("inf_time", "DT", "Y"),
    # Length 12 in most copies of the spec, 30 in some: the longer one is checked.
    field("fixmedins_code", "C 30", "Y", unconfirmed=True),
    # Length 20 in S1, 200 in S2.
    field("fixmedins_name", "C 200", "Y", unconfirmed=True),
    # How strictly centres check it is unconfirmed; every message after 9001 carries it.
    field("sign_no", "C 30", "C", unconfirmed=True, when=_after_sign_in),
    field("input", "object", "Y"),
)


# ---------------------------------------------------------------- 9001 sign-in (§4)

SIGN_IN = one_node(
    "9001",
    "signIn",
    (
        field("opter_no", "C 20", "Y"),
        # How strictly centres check mac and ip is unconfirmed.
        field("mac", "C 20", "Y", unconfirmed=True),
        field("ip", "C 20", "Y", unconfirmed=True),
    ),
)


# ---------------------------------------------------------------- 9002 sign-out (§4)

SIGN_OUT = one_node(
    "9002",
    "signOut",
    (
        field("sign_no", "C 30", "Y"),
        field("opter_no", "C 20", "Y"),
    ),
)


# ---------------------------------------------------------------- 1101 person (§6)

PERSON = one_node(
    "1101",
    "data",
    (
        field("mdtrt_cert_type", "C 3", "Y"),
        field("mdtrt_cert_no", "C 50", "Y"),
        field("card_sn", "C 32", "C", when=_card),
        field("begntime", "DT"),
        field("psn_cert_type", "C 6"),
        field("certno", "C 50"),
        field("psn_name", "C 50"),
    ),
)


# ---------------------------------------------------------------- 2101/2102 (§7)


def _pharmacy_header(infno: str) -> tuple[Field, ...]:
    fields = [
        field("psn_no", "C 30", "Y"),
        field("mdtrt_cert_type", "C 3", "Y"),
        field("mdtrt_cert_no", "C 50", "Y"),
        # §5 gives card_sn to a 03 credential; §7's tables do not list it for 2101/2102.
        field("card_sn", "C 32", "C", unconfirmed=True, when=_card),
        # In every public pharmacy model; the flag is inferred.
        field("begntime", "DT", "Y", unconfirmed=True),
        field("medfee_sumamt", "N 16,2", "Y"),
        field("insutype", "C 6", "Y"),
        field("med_type", "C 6", "Y"),
        # The patient's choice (seed 002); the flag is inferred from 2206.
        field("acct_used_flag", "C 1", "Y", unconfirmed=True),
        # Required in 2206/2207, absent from both public pharmacy models.
        field("psn_setlway", "C 6", unconfirmed=True),
        field("dise_codg", "C", "C", when=_chronic),
        field("dise_name", "C", "C", when=_chronic),
        field("mdtrt_id", "C 30"),
        field("chrg_bchno", "C 30"),
        field("expContent", "C 4000"),
    ]
    if infno == "2102":
        fields.append(field("invono", "C 20"))
    return tuple(fields)


#: A pack's traceability code as one public HIS sends it with its lines (S12).
_TRACEABILITY = field(
    "drug_trac_info",
    "list",
    "C",
    unconfirmed=True,  # on 2102 (§7) and in 3505 (§11) the node is unconfirmed
    fields=(
        field("drug_trac_codg", "C 30", "Y"),
        field("feedetl_sn", "C 30", "Y"),
        field("trdn_flag", "C 3", "Y", unconfirmed=True),
        field("min_prcunt_type", "C 6", "Y", unconfirmed=True),
    ),
)

_PHARMACY_LINE = (
    field("feedetl_sn", "C 30", "Y"),
    field("rxno", "C 30", "C"),  # for prescription drugs: the table cannot tell which
    field("rx_circ_flag", "C 3", "Y"),
    field("fee_ocur_time", "DT", "Y"),
    field("med_list_codg", "C 50", "Y"),
    field("medins_list_codg", "C 150", "Y"),
    field("det_item_fee_sumamt", "N 16,2", "Y"),
    field("cnt", "N 16,4", "Y"),
    field("pric", "N 16,6", "Y"),
    field("sin_dos_dscr", "C 200"),
    field("used_frqu_dscr", "C 200"),
    field("prd_days", "N 4,2"),
    field("medc_way_dscr", "C 200"),
    field("bilg_dr_codg", "C 30", "C"),  # for prescription drugs
    field("bilg_dr_name", "C 50", "C"),
    field("tcmdrug_used_way", "C 6"),
    field("hosp_appr_flag", "C 3"),
)


def pharmacy_settlement(infno: str, nodes: PharmacyNodes = PharmacyNodes()) -> Request:
    """2101 (pre-settlement) or 2102 (settlement) with the region's nodes."""
    line = (*_PHARMACY_LINE, _TRACEABILITY) if nodes.trace_codes else _PHARMACY_LINE
    return Request(
        infno,
        (
            field(nodes.header, "object", "Y", fields=_pharmacy_header(infno)),
            field(nodes.detail, "list", "Y", fields=line),
        ),
    )


# ---------------------------------------------------------------- 2103, 2601 (§7, §9)

CANCEL = one_node(
    "2103",
    "data",
    (
        field("setl_id", "C 30", "Y"),
        field("mdtrt_id", "C 30", "Y"),
        field("psn_no", "C 30", "Y"),
        field("expContent", "C 4000"),
    ),
)

REVERSAL = one_node(
    "2601",
    "data",
    (
        field("psn_no", "C 30", "Y"),
        field("omsgid", "C 30", "Y"),
        field("oinfno", "C 4", "Y"),
    ),
)


# ---------------------------------------------------------------- 2201-2208, the clinic visit (§8)
# Fields and flags from NATIONAL.md §8; lengths from S1 (GH2201, GH2202, ZJ2203, ZJ2204,
# ZJ2205, YJS2206, ZJCX2208), which §8 is written from.

REGISTRATION = one_node(
    "2201",
    "data",
    (
        field("psn_no", "C 30", "Y"),
        field("insutype", "C 6", "Y"),
        field("begntime", "DT", "Y"),
        field("mdtrt_cert_type", "C 3", "Y"),
        field("mdtrt_cert_no", "C 50", "Y"),
        # §5 gives card_sn to a 03 credential; §8's row does not list it.
        field("card_sn", "C 32", "C", unconfirmed=True, when=_card),
        field("ipt_otp_no", "C 30", "Y"),
        field("atddr_no", "C 30", "Y"),
        field("dr_name", "C 50", "Y"),
        field("dept_code", "C 30", "Y"),
        field("dept_name", "C 100", "Y"),
        field("caty", "C 6", "Y"),
    ),
)

REGISTRATION_CANCEL = one_node(
    "2202",
    "data",
    (
        field("psn_no", "C 30", "Y"),
        field("mdtrt_id", "C 30", "Y"),
        field("ipt_otp_no", "C 30", "Y"),
    ),
)

DIAGNOSIS = Request(
    "2203",
    (
        field(
            "mdtrtinfo",
            "object",
            "Y",
            fields=(
                field("mdtrt_id", "C 30", "Y"),
                field("psn_no", "C 30", "Y"),
                field("med_type", "C 6", "Y"),
                field("begntime", "DT", "Y"),
                field("main_cond_dscr", "C 1000"),
                field("dise_codg", "C 30"),
                field("dise_name", "C 500"),
                field("birctrl_type", "C 6"),
                field("birctrl_matn_date", "D"),
                # S1 does not type these two; the names say a code and a number of weeks.
                field("matn_type", "C 6", unconfirmed=True),
                field("geso_val", "N 2", unconfirmed=True),
            ),
        ),
        field(
            "diseinfo",
            "list",
            "Y",
            fields=(
                field("diag_type", "C 3", "Y"),
                field("diag_srt_no", "N 2", "Y"),
                field("diag_code", "C 20", "Y"),
                field("diag_name", "C 100", "Y"),
                field("diag_dept", "C 50", "Y"),
                field("dise_dor_no", "C 30", "Y"),
                field("dise_dor_name", "C 50", "Y"),
                field("diag_time", "DT", "Y"),
                field("vali_flag", "C 3", "Y"),
            ),
        ),
    ),
)

FEE_UPLOAD = Request(
    "2204",
    (
        field(
            "feedetail",
            "list",
            "Y",
            fields=(
                field("feedetl_sn", "C 30", "Y"),
                field("mdtrt_id", "C 30", "Y"),
                field("psn_no", "C 30", "Y"),
                field("chrg_bchno", "C 30", "Y"),  # one disease code per batch
                field("dise_codg", "C 30"),
                field("rxno", "C 30"),
                field("rx_circ_flag", "C 3", "Y"),
                field("fee_ocur_time", "DT", "Y"),
                field("med_list_codg", "C 50", "Y"),
                field("medins_list_codg", "C 150", "Y"),
                field("det_item_fee_sumamt", "N 16,2", "Y"),
                field("cnt", "N 16,4", "Y"),
                field("pric", "N 16,6", "Y"),
                field("sin_dos_dscr", "C 200"),
                field("used_frqu_dscr", "C 200"),
                field("prd_days", "N 4,2"),
                field("medc_way_dscr", "C 200"),
                field("bilg_dept_codg", "C 30", "Y"),
                field("bilg_dept_name", "C 100", "Y"),
                field("bilg_dr_codg", "C 30", "Y"),
                field("bilg_dr_name", "C 50", "Y"),
                field("acord_dept_codg", "C 30"),
                field("acord_dept_name", "C 100"),
                field("orders_dr_code", "C 30"),
                field("orders_dr_name", "C 50"),
                field("hosp_appr_flag", "C 3", "Y"),
                field("tcmdrug_used_way", "C 6"),
                field("etip_flag", "C 3"),
                field("etip_hosp_code", "C 30"),
                field("dscg_tkdrug_flag", "C 3"),
                field("matn_fee_flag", "C 6"),
            ),
        ),
    ),
)

FEE_WITHDRAWAL = one_node(
    "2205",
    "data",
    (
        field("mdtrt_id", "C 30", "Y"),
        field("chrg_bchno", "C 30", "Y"),  # "0000" withdraws every unsettled line
        field("psn_no", "C 30", "Y"),
    ),
)


def visit_settlement(infno: str) -> Request:
    """2206 (pre-settlement) or 2207 (settlement) of a visit: it names the visit and its
    charge batch, and carries no lines (they were uploaded with 2204)."""
    return one_node(
        infno,
        "data",
        (
            field("psn_no", "C 30", "Y"),
            field("mdtrt_cert_type", "C 3", "Y"),
            field("mdtrt_cert_no", "C 50"),
            # §5 gives card_sn to a 03 credential; §8's row does not list it.
            field("card_sn", "C 32", "C", unconfirmed=True, when=_card),
            field("med_type", "C 6", "Y"),
            field("medfee_sumamt", "N 16,2", "Y"),
            field("psn_setlway", "C 6", "Y"),
            field("mdtrt_id", "C 30", "Y"),
            field("chrg_bchno", "C 30", "Y"),
            field("insutype", "C 6", "Y"),
            field("acct_used_flag", "C 1", "Y"),
            field("invono", "C 20"),
            field("fulamt_ownpay_amt", "N 16,2"),
            field("overlmt_selfpay", "N 16,2"),
            field("preselfpay_amt", "N 16,2"),
            field("inscp_scp_amt", "N 16,2"),
            field("dise_codg", "C 30", "C", when=_chronic),
            field("dise_name", "C 500", "C", when=_chronic),
        ),
    )


VISIT_CANCEL = one_node(
    "2208",
    "data",
    (
        field("setl_id", "C 30", "Y"),
        field("mdtrt_id", "C 30", "Y"),
        field("psn_no", "C 30", "Y"),
    ),
)


# ---------------------------------------------------------------- 3505, 3506 (§11)
# NATIONAL.md gives names and flags; where it gives no type, the type here is the one the
# name implies (a count or a price is N, a date D) and the row is marked unconfirmed.

_SOLD_ITEM = (
    field("med_list_codg", "C 50", "Y"),
    field("fixmedins_hilist_id", "C 30", "Y", unconfirmed=True),
    field("fixmedins_hilist_name", "C 200", "Y", unconfirmed=True),
    field("fixmedins_bchno", "C 30", "Y", unconfirmed=True),
    field("setl_id", "C 30", "C", when=_insured_sale),
    field("psn_no", "C 30"),
    field("rx_flag", "C 3", "Y", unconfirmed=True),
    field("trdn_flag", "C 3", "Y", unconfirmed=True),
    field("rxno", "C 30"),
    field("rx_circ_flag", "C 3"),
    field("drug_trac_codg", "C 30"),  # one code in the older version
    _TRACEABILITY,  # a list of codes per line in newer versions
    field("sel_retn_cnt", "N 16,4", "Y", unconfirmed=True),
    field("sel_retn_time", "DT", "Y"),
    field("sel_retn_opter_name", "C 50", "Y", unconfirmed=True),
    field("memo", "C 500", unconfirmed=True),
)

# The node name selinfo is one HIS's; the 2025 node names are unconfirmed: get the
# region's current spec.
SALE_UPLOAD = one_node(
    "3505",
    "selinfo",
    (
        *_SOLD_ITEM,
        field("prsc_dr_cert_type", "C 6", unconfirmed=True),
        field("prsc_dr_certno", "C 50", unconfirmed=True),
        field("prsc_dr_name", "C 50", "Y", unconfirmed=True),
        field("phar_cert_type", "C 6", unconfirmed=True),
        field("phar_certno", "C 50", unconfirmed=True),
        field("phar_name", "C 50", "Y", unconfirmed=True),
        field("phar_prac_cert_no", "C 50", "Y", unconfirmed=True),
        field("hi_feesetl_type", "C 6", "Y", unconfirmed=True),
        field("mdtrt_sn", "C 30", "Y", unconfirmed=True),
        field("psn_cert_type", "C 6"),
        field("certno", "C 50"),
        field("psn_name", "C 50"),
        field("manu_lotnum", "C 30", "Y", unconfirmed=True),
        field("manu_date", "D", "Y", unconfirmed=True),
        field("expy_end", "D", unconfirmed=True),
        field("finl_trns_pric", "N 16,6", unconfirmed=True),
        field("rtal_docno", "C 40", "Y", unconfirmed=True),
        field("stoout_no", "C 40", unconfirmed=True),
        field("bchno", "C 30", unconfirmed=True),
        field("drug_prod_barc", "C 30", unconfirmed=True),
        field("shelf_posi", "C 20", unconfirmed=True),
    ),
    unconfirmed=True,
)

RETURN_UPLOAD = one_node(
    "3506",
    "selinfo",
    (*_SOLD_ITEM, field("medins_prod_sel_no", "C 50", "Y", unconfirmed=True)),
    unconfirmed=True,
)


# ---------------------------------------------------------------- 1312, 3301 (§10)
# 1312 from S1 (ML1312.cs): every query field optional but updt_time and the paging.

CATALOGUE_QUERY = one_node(
    "1312",
    "data",
    (
        field("query_date", "D"),
        field("hilist_code", "C 30"),
        field("insu_admdvs", "C 6"),
        field("begndate", "D"),
        field("hilist_name", "C 200"),
        field("wubi", "C 30"),
        field("pinyin", "C 30"),
        field("med_chrgitm_type", "C 6"),
        field("chrgitm_lv", "C 3"),
        field("lmt_used_flag", "C 3"),
        field("list_type", "C 30"),
        field("med_use_flag", "C 3"),
        field("matn_used_flag", "C 3"),
        field("hilist_use_type", "C 3"),
        field("lmt_cpnd_type", "C 3"),
        field("vali_flag", "C 3"),
        # S1 types it 日期型 (a date); public clients send a time: unconfirmed.
        field("updt_time", "DT", "Y", unconfirmed=True),
        field("page_num", "N 4", "Y"),
        field("page_size", "N 4", "Y"),
    ),
)

# NATIONAL.md's summary names the node data; both public clients that send 3301 (S10's
# Input3301Catalogcompin, a Guangzhou client's RequestGzsiModel3301) send a catalogcompin
# list: the node is unconfirmed. The lengths of the optional fields are unconfirmed too.
CATALOGUE_MAPPING = Request(
    "3301",
    (
        field(
            "catalogcompin",
            "list",
            "Y",
            fields=(
                field("fixmedins_hilist_id", "C 30", "Y"),
                field("fixmedins_hilist_name", "C 200", "Y"),
                field("list_type", "C 30", "Y"),
                field("med_list_codg", "C 50", "Y"),
                field("begndate", "D", "Y"),
                field("enddate", "D", "Y"),
                field("aprvno", "C 100", unconfirmed=True),
                field("dosform", "C 50", unconfirmed=True),
                field("exct_cont", "C 500", unconfirmed=True),
                field("item_cont", "C 500", unconfirmed=True),
                field("prcunt", "C 50", unconfirmed=True),
                field("spec", "C 500", unconfirmed=True),
                field("pacspec", "C 100", unconfirmed=True),
                field("memo", "C 500", unconfirmed=True),
            ),
        ),
    ),
    unconfirmed=True,
)


# ---------------------------------------------------------------- 3201, 3202, 9101, 9102 (§10)
# Reconciliation: totals per (insutype, clr_type, setl_optins), then details by file.

STATEMENT_TOTALS = one_node(
    "3201",
    "data",
    (
        field("insutype", "C 6", "Y"),
        field("clr_type", "C 6", "Y"),
        field("setl_optins", "C 6", "Y"),
        field("stmt_begndate", "D", "Y"),
        field("stmt_enddate", "D", "Y"),
        field("medfee_sumamt", "N 16,2", "Y"),
        field("fund_pay_sumamt", "N 16,2", "Y"),
        field("acct_pay", "N 16,2", "Y"),
        field("fixmedins_setl_cnt", "N 10", "Y"),
        field("refd_setl_flag", "C 3", unconfirmed=True),  # 0/1 in S6, S2, S3
    ),
)

STATEMENT_DETAILS = one_node(
    "3202",
    "data",
    (
        field("setl_optins", "C 6", "Y"),
        field("file_qury_no", "C 30", "Y"),
        field("stmt_begndate", "D", "Y"),
        field("stmt_enddate", "D", "Y"),
        field("medfee_sumamt", "N 16,2", "Y"),
        field("fund_pay_sumamt", "N 16,2", "Y"),
        field("cash_payamt", "N 16,2", "Y"),
        field("fixmedins_setl_cnt", "N 10", "Y"),
        # Some regions add these (S3).
        field("clr_type", "C 6", unconfirmed=True),
        field("refd_setl_flag", "C 3", unconfirmed=True),
    ),
)

FILE_UPLOAD = one_node(
    "9101",
    "fsUploadIn",
    (
        # 字节数组: how a JSON body carries it (base64 or an array) is unconfirmed.
        field("in", "bytes", "Y", unconfirmed=True),
        field("filename", "C 200", "Y"),
        field("fixmedins_code", "C 30", "Y"),
    ),
)

FILE_DOWNLOAD = one_node(
    "9102",
    "fsDownloadIn",
    (
        field("file_qury_no", "C 30", "Y"),
        field("filename", "C 200", "Y"),
        field("fixmedins_code", "C 30", "Y"),
    ),
)


# ---------------------------------------------------------------- 5301 (§12)
# A person's chronic or special disease registrations. A med_type 14 settlement then sends
# dise_codg (the registration's opsp_dise_code) and dise_name: the C rows of 2101/2102
# above (``_chronic``), and of 2206/2207.

CHRONIC_DISEASES = one_node("5301", "data", (field("psn_no", "C 30", "Y"),))


# ---------------------------------------------------------------- 3101, 3102 (§12)
# The centre's rule checks. NATIONAL.md §12 names the nodes and their key fields; the rest
# is S1's model (SQMX3101.cs: types, lengths, required flags). The nesting (the patient
# holds the visits, a visit its diagnoses and orders) is public HIS code's, not a table's:
# the node layout is unconfirmed. S1 marks many fields Y that a pharmacy sale cannot know
# before settlement (a discharge, a doctor, a ward, the self-paid amounts): those are
# optional here and unconfirmed.


def _without_rule_ids(record: Mapping[str, Any], request: Mapping[str, Any]) -> bool:
    """trig_scen: "give this or rule_ids, this one first" (S1)."""
    return not _present(record.get("rule_ids"))


_DIAGNOSIS = (  # S1 repeats the visit's fields here; public HIS code sends these
    field("dise_id", "C 50", unconfirmed=True),
    field("inout_dise_type", "C 3", unconfirmed=True),
    field("maindise_flag", "C 3", unconfirmed=True),
    field("dias_srt_no", "N 3", unconfirmed=True),
    field("dise_codg", "C 20", "Y", unconfirmed=True),
    field("dise_name", "C 100", "Y", unconfirmed=True),
    field("dise_date", "DT", unconfirmed=True),
)

_ORDER = (
    field("rx_id", "C 50", "Y"),
    # For prescription drugs (S1 Y): the table cannot tell which. S1 says C 20, §7 C 30.
    field("rxno", "C 30", "C", unconfirmed=True),
    field("grpno", "C 20"),
    field("long_drord_flag", "C 3", "Y"),
    field("hilist_type", "C 3", unconfirmed=True),  # S1 Y; the dictionary's codes
    field("chrg_type", "C 3", unconfirmed=True),
    field("drord_bhvr", "C 3", unconfirmed=True),
    # S1 says C 20; a national drug code has 23 characters (§7: med_list_codg C 50).
    field("hilist_code", "C 50", "Y", unconfirmed=True),
    field("hilist_name", "C 50", "Y"),
    field("hilist_dosform", "C 50"),
    field("hilist_lv", "C 3", unconfirmed=True),  # S1 Y: the catalogue's class, an output
    field("hilist_pric", "N 16,2", unconfirmed=True),  # S1 Y
    field("lv1_hosp_item_pric", "N 16,2"),
    field("lv2_hosp_item_pric", "N 16,2"),
    field("lv3_hosp_item_pric", "N 16,2"),
    field("hilist_memo", "C 200"),
    # S1 says C 20; the institution's own code is C 150 in 2101/2102 (§7).
    field("hosplist_code", "C 150", "Y", unconfirmed=True),
    field("hosplist_name", "C 50", "Y"),
    field("hosplist_dosform", "C 20"),
    # S1 says N 6,2; a split pack's quantity has 4 decimals in 2101/2102 (§7).
    field("cnt", "N 16,4", "Y", unconfirmed=True),
    field("pric", "N 16,2", "Y"),
    field("sumamt", "N 16,2", "Y"),
    field("ownpay_amt", "N 16,2", unconfirmed=True),  # S1 Y: known after settlement
    field("selfpay_amt", "N 16,2", unconfirmed=True),
    field("spec", "C 100", unconfirmed=True),  # S1 Y
    field("spec_unt", "C 20", unconfirmed=True),  # S1 Y
    field("drord_begn_date", "DT", "Y"),
    field("drord_stop_date", "DT"),
    field("drord_dept_codg", "C 30", unconfirmed=True),  # S1 Y: none at a pharmacy counter
    field("drord_dept_name", "C 50", unconfirmed=True),
    field("drord_dr_codg", "C 30", unconfirmed=True),
    field("drord_dr_name", "C 30", unconfirmed=True),
    field("drord_dr_profttl", "C 3", unconfirmed=True),
    field("curr_drord_flag", "C 3", "Y"),
)

_OPERATION = (
    field("setl_list_oprn_id", "C 30", "Y"),
    field("oprn_code", "C 30"),
    field("oprn_name", "C 500"),
    field("main_oprn_flag", "C 3", "Y"),
    field("oprn_date", "DT"),
    field("anst_way", "C 30"),
    field("oper_dr_name", "C 50"),
    field("oper_dr_code", "C 30"),
    field("anst_dr_name", "C 50"),
    field("anst_dr_code", "C 30"),
)

_ENCOUNTER = (
    field("mdtrt_id", "C 50", "Y"),
    field("medins_id", "C 50", "Y"),
    field("medins_name", "C 200", "Y"),
    field("medins_admdvs", "C 6", "Y"),
    field("medins_type", "C 3", unconfirmed=True),  # S1 Y: a pharmacy's code is unknown
    field("medins_lv", "C 3", unconfirmed=True),  # S1 Y
    field("wardarea_codg", "C 20"),
    field("wardno", "C 20"),
    field("bedno", "C 20"),
    field("adm_date", "DT", "Y"),
    field("dscg_date", "DT", unconfirmed=True),  # S1 Y: no discharge in a sale
    field("dscg_main_dise_codg", "C 20", unconfirmed=True),  # S1 Y
    field("dscg_main_dise_name", "C 50", unconfirmed=True),  # S1 Y
    field("fsi_diagnose_dtos", "list", "Y", fields=_DIAGNOSIS),
    field("dr_codg", "C 20", unconfirmed=True),  # S1 Y
    field("adm_dept_codg", "C 20", unconfirmed=True),  # S1 Y
    field("adm_dept_name", "C 50", unconfirmed=True),  # S1 Y
    field("dscg_dept_codg", "C 20", unconfirmed=True),  # S1 Y
    field("dscg_dept_name", "C 50", unconfirmed=True),  # S1 Y
    field("med_mdtrt_type", "C 3", unconfirmed=True),  # S1 Y
    field("med_type", "C 6", "Y"),
    field("fsi_order_dtos", "list", "Y", fields=_ORDER),
    field("matn_stas", "C 3", unconfirmed=True),  # S1 Y
    field("medfee_sumamt", "N 16,2", "Y"),
    field("ownpay_amt", "N 16,2", unconfirmed=True),  # S1 Y: known after settlement
    field("selfpay_amt", "N 16,2", unconfirmed=True),  # S1 Y
    field("acct_payamt", "N 16,2"),
    field("ma_amt", "N 16,2"),
    field("hifp_payamt", "N 16,2"),
    field("setl_totlnum", "N 4", unconfirmed=True),  # S1 Y
    field("insutype", "C 6", "Y"),
    field("reim_flag", "C 3", unconfirmed=True),  # S1 Y
    field("out_setl_flag", "C 3", "Y"),
    field("fsi_operation_dtos", "list", fields=_OPERATION),
)

_PATIENT = (
    field("patn_id", "C 50", "Y"),
    field("patn_name", "C 50", "Y"),
    field("gend", "C 3", "Y"),
    field("brdy", "D", "Y"),
    field("poolarea", "C 10", "Y"),
    field("curr_mdtrt_id", "C 50", "Y"),
    field("fsi_encounter_dtos", "list", "Y", fields=_ENCOUNTER),
    field("fsi_his_data_dto", "object", unconfirmed=True),
)


def rule_check(infno: str) -> Request:
    """3101 (pre-event) or 3102 (in-event analysis): the same input."""
    return one_node(
        infno,
        "data",
        (
            field("syscode", "C 10", "Y"),
            field("rule_ids", "C", unconfirmed=True),  # a list in some Java models
            field("trig_scen", "C 3", "C", when=_without_rule_ids),
            field("task_id", "C 50"),
            field("patient_dtos", "list", "Y", fields=_PATIENT),
        ),
        unconfirmed=True,
    )


def requests(nodes: PharmacyNodes = PharmacyNodes()) -> dict[str, Request]:
    """Every table (the pharmacy path, the clinic visit, the catalogue, reconciliation,
    chronic diseases, rule checks), by transaction code."""
    return dict(_tables(nodes))


@functools.cache
def _tables(nodes: PharmacyNodes) -> Mapping[str, Request]:
    # Built once per region's nodes: the endpoint checks every message against them, and
    # building ~150 fields a message was a fifth of the mock's time (bench/bench_mock.py).
    return {
        table.infno: table
        for table in (
            SIGN_IN,
            SIGN_OUT,
            PERSON,
            pharmacy_settlement("2101", nodes),
            pharmacy_settlement("2102", nodes),
            CANCEL,
            REGISTRATION,
            REGISTRATION_CANCEL,
            DIAGNOSIS,
            FEE_UPLOAD,
            FEE_WITHDRAWAL,
            visit_settlement("2206"),
            visit_settlement("2207"),
            VISIT_CANCEL,
            REVERSAL,
            SALE_UPLOAD,
            RETURN_UPLOAD,
            CATALOGUE_QUERY,
            CATALOGUE_MAPPING,
            STATEMENT_TOTALS,
            STATEMENT_DETAILS,
            FILE_UPLOAD,
            FILE_DOWNLOAD,
            CHRONIC_DISEASES,
            rule_check("3101"),
            rule_check("3102"),
        )
    }


# ---------------------------------------------------------------- the checker

_EXTENSION_PREFIX = "gongji_"
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
_DATE_TIME = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}", re.ASCII)
_NUMBER_TEXT = re.compile(r"-?\d+(\.\d+)?", re.ASCII)
_TYPE_WORDS = {
    "C": "text",
    "D": "a date yyyy-MM-dd",
    "DT": "a time yyyy-MM-dd HH:mm:ss",
    "object": "an object",
    "list": "a list of objects",
    "bytes": "a file's bytes, as base64 text or an array of byte values",
}


def check_request(
    infno: str, body: bytes | str | Mapping[str, Any], *, nodes: PharmacyNodes = PharmacyNodes()
) -> list[str]:
    """Each problem of the request ``body`` (the whole envelope) as a sentence; [] when it
    is what a centre following NATIONAL.md accepts. ``nodes``: the region's 2101/2102
    node names."""
    if infno.upper().startswith("X"):
        return [
            f"{infno} is not a transaction of the national interface (X codes are gongji's own)."
        ]
    try:
        request = _parse(body)
    except ValueError:
        return [f"{infno}: the request is not a JSON object."]
    table = requests(nodes).get(infno)
    if table is None:
        return [f"{infno}: the mock has no table for this transaction."]
    problems = list(_extensions(infno, request))
    if request.get("infno") != infno:
        problems.append(f"{infno}: the envelope's infno is not {infno}.")
    problems += _check_record(infno, "envelope", ENVELOPE, request, request)
    given = request.get("input")
    if isinstance(given, Mapping):
        problems += _check_record(infno, "input", table.nodes, given, request)
    return problems


def check_envelope(infno: str, body: bytes | str | Mapping[str, Any]) -> list[str]:
    """What ``check_request`` says of a transaction the mock has no input table for: the
    envelope's fields, and no ``gongji_*`` field or ``X`` code anywhere."""
    if infno.upper().startswith("X"):
        return [
            f"{infno} is not a transaction of the national interface (X codes are gongji's own)."
        ]
    try:
        request = _parse(body)
    except ValueError:
        return [f"{infno}: the request is not a JSON object."]
    problems = list(_extensions(infno, request))
    return problems + _check_record(infno, "envelope", ENVELOPE, request, request)


def check_input(
    infno: str, given: Mapping[str, Any], *, nodes: PharmacyNodes = PharmacyNodes()
) -> list[str]:
    """Each problem of a transaction's ``input`` alone, as ``check_request`` finds it
    (the envelope is checked elsewhere)."""
    table = requests(nodes).get(infno)
    if table is None:
        return [f"{infno}: the mock has no table for this transaction."]
    request = {"infno": infno, "input": given}
    return [
        *_extensions(infno, given),
        *_check_record(infno, "input", table.nodes, given, request),
    ]


def _parse(body: bytes | str | Mapping[str, Any]) -> Mapping[str, Any]:
    if isinstance(body, Mapping):
        return body
    # Numbers as Decimal from the text: a float would change what the till sent.
    parsed = json.loads(body, parse_float=decimal.Decimal)
    if not isinstance(parsed, Mapping):
        raise ValueError("not an object")
    return parsed


def _extensions(infno: str, request: Mapping[str, Any]) -> Iterator[str]:
    """Every ``gongji_*`` key, wherever it is (the per-record check then skips them)."""
    for key, _ in _walk(request):
        if key.startswith(_EXTENSION_PREFIX):
            yield f"{infno}: {key} is gongji's own extension, not a field of the interface."


def _check_record(
    infno: str,
    where: str,
    fields: Sequence[Field],
    record: Mapping[str, Any],
    request: Mapping[str, Any],
) -> list[str]:
    problems = []
    known = {f.name: f for f in fields}
    for key in record:
        if key not in known and not key.startswith(_EXTENSION_PREFIX):
            problems.append(f"{infno} {where}: {key} is not a field of {infno} here.")
    for spec in fields:
        value = record.get(spec.name)
        if not _present(value):
            if spec.is_required(record, request):
                problems.append(
                    f"{infno} {where}: {spec.name} ({spec.type}) is required and missing."
                )
            continue
        problems += _check_value(infno, f"{where}", spec, value, request)
    return problems


def _check_value(
    infno: str, where: str, spec: Field, value: Any, request: Mapping[str, Any]
) -> list[str]:
    kind = spec.type.kind
    if kind == "object":
        if not isinstance(value, Mapping):
            return [_wrong(infno, where, spec)]
        if not spec.fields:  # the envelope's input: its nodes are the transaction's table
            return []
        return _check_record(infno, f"{where}.{spec.name}", spec.fields, value, request)
    if kind == "list":
        if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
            return [_wrong(infno, where, spec)]
        problems = []
        for number, entry in enumerate(value, 1):
            at = f"{where}.{spec.name}[{number}]"
            problems += _check_record(infno, at, spec.fields, entry, request)
        return problems
    return [] if _fits(spec.type, value) else [_wrong(infno, where, spec)]


def _wrong(infno: str, where: str, spec: Field) -> str:
    words = _TYPE_WORDS.get(spec.type.kind)
    if spec.type.kind == "N":
        words = f"a number with at most {spec.type.decimals} decimals"
    elif spec.type.kind == "C" and spec.type.length:
        words = f"text of at most {spec.type.length} characters"
    return f"{infno} {where}: {spec.name} must be {spec.type} ({words})."


def _fits(kind: FieldType, value: Any) -> bool:
    if kind.kind == "C":
        return isinstance(value, str) and (kind.length is None or len(value) <= kind.length)
    if kind.kind == "N":
        return _number_fits(kind, value)
    if kind.kind == "D":
        return (
            isinstance(value, str)
            and _DATE.fullmatch(value) is not None
            and _parses(value, "%Y-%m-%d")
        )
    if kind.kind == "DT":
        return (
            isinstance(value, str)
            and _DATE_TIME.fullmatch(value) is not None
            and _parses(value, "%Y-%m-%d %H:%M:%S")
        )
    if kind.kind == "bytes":
        return file_bytes(value) is not None
    return False


def file_bytes(value: Any) -> bytes | None:
    """A file's content as a JSON body carries it (字节数组): base64 text, or an array of
    byte values (Java's signed bytes too); None when it is neither."""
    if isinstance(value, str):
        try:
            return base64.b64decode(value, validate=True)
        except ValueError:  # binascii.Error is a ValueError
            return None
    if isinstance(value, list) and all(type(b) is int and -128 <= b <= 255 for b in value):
        return bytes(b % 256 for b in value)
    return None


def _number_fits(kind: FieldType, value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, str):
        if not _NUMBER_TEXT.fullmatch(value):
            return False
        number = decimal.Decimal(value)
    elif isinstance(value, int | decimal.Decimal):
        number = decimal.Decimal(value)
    elif isinstance(value, float):  # a dict built in Python: its shortest repr is what JSON carries
        number = decimal.Decimal(repr(value))
    else:
        return False
    if not number.is_finite():
        return False
    if number.is_zero():
        return True
    if not -40 <= number.adjusted() <= 40:  # no field holds it; and 1E+999999999 stays cheap
        return False
    # Trailing zeros are the same number ("12.500000" is 12.50).
    exponent = number.normalize().as_tuple().exponent
    decimals = -exponent if isinstance(exponent, int) and exponent < 0 else 0
    # adjusted(): the exponent of the leading digit, so 1E+999999999 is not built as an int.
    whole_digits = number.adjusted() + 1 if abs(number) >= 1 else 0
    return decimals <= kind.decimals and whole_digits <= (kind.length or 0) - kind.decimals


def _parses(text: str, pattern: str) -> bool:
    try:
        datetime.datetime.strptime(text, pattern)
    except ValueError:
        return False
    return True


def _present(value: Any) -> bool:
    """``""`` and ``null`` are absent (NATIONAL.md: as centres read them)."""
    return value is not None and value != ""


def _walk(value: Any) -> Iterator[tuple[str, Any]]:
    """Every (key, value) in nested objects and lists."""
    if isinstance(value, Mapping):
        for key, inner in value.items():
            yield str(key), inner
            yield from _walk(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _walk(inner)
