"""Golden national messages, written from NATIONAL.md (not from gongji's own wire).

``requests/``: one request per transaction of the pharmacy path (with the sign-in 9001
and the sign-out 9002), of the clinic visit (2201-2208), of the catalogue (1312, 3301), of
reconciliation, of chronic diseases (5301) and of the rule checks (3101, 3102) as a centre
following NATIONAL.md accepts it (2102 also with the ``druginfo`` / ``drugdetail`` node
names).
``answers/``: answers in the shapes real centres send and gongji's decoders must read:

| file | what it shows |
|---|---|
| ``1101-several-insuinfo`` | three ``insuinfo`` entries: a 330 supplement first, a suspended 390, the active 310 last; ``infcode`` ``"0"``; ``balc`` ``""`` |
| ``1101-suspended-only`` | one suspended entry: not insured for this sale |
| ``9001-signed-in`` | sign-in with ``infcode`` ``"0"`` and an ``err_msg`` of ``""`` |
| ``2101-preview`` | a pre-settlement: no ``setl_id``, ``mdtrt_id`` ``""``, ``null`` fund fields, ``hosp_part_amt`` and ``acct_mulaid_pay`` ``null``, amounts as numbers |
| ``2102-mutual-aid-separate`` | ``acct_mulaid_pay`` with no owner list; ``acct_pay`` without it; ``""`` and ``null`` fund fields |
| ``2102-mutual-aid-included`` | the same sale where ``acct_pay`` includes the mutual aid |
| ``2102-empty-mutual-aid`` | ``acct_mulaid_pay`` ``""`` (S3), amounts as strings |
| ``2102-institution-part`` | ``hosp_part_amt`` in the total |
| ``2103-cancelled`` | ``psn_pay`` and ``cash_payamt``, no ``psn_cash_pay``; negative amounts |
| ``2208-cancelled`` | the cash field spelt ``pdn_cash_pay`` |
| ``2208-cancelled-cash-payamt`` | the cash as ``cash_payamt``, ``setldetail`` null |
| ``2201-registered`` | ``data`` with ``mdtrt_id``, ``infcode`` ``"0"`` |
| ``2204-result-any-order`` | lines answered in another order than sent, amounts as numbers and strings, ``""`` and ``null`` |
| ``2202-cancelled-no-output`` / ``2205-withdrawn-null-output`` | success with no and a null ``output`` |
| ``2206-pre-settled`` / ``2207-settled`` | a visit's split: ``""`` and ``null`` amounts; numbers and strings |
| ``2601-reversed-*`` | success with an empty, a null and no ``output`` |
| ``1312-page-as-text`` | a middle page, paging numbers as strings, ``""`` and ``null`` fields, a withdrawn record (``vali_flag`` 0) with times in its dates, an ``updt_time`` that is only a date |
| ``1312-last-page-numbers`` | paging numbers as numbers, an empty ``data`` past the last page |
| ``3301-accepted-empty-output`` | acceptance: ``output`` ``{}`` |
| ``refused-string-infcode`` | ``infcode`` ``"-1"``, ``inf_refmsgid`` empty |
| ``9001-signed-in`` | ``signinoutb`` with ``sign_time`` and ``sign_no``; ``infcode`` ``"0"`` |
| ``9001-no-sign-time`` / ``-null-sign-time`` | ``sign_time`` missing or ``null``, an extra ``opter_no``; ``infcode`` ``0`` and ``"0"`` |
| ``9002-signed-out`` / ``-no-output`` | ``signoutoutb`` with its ``sign_time``; success with no ``output`` |
| ``3201-balanced`` / ``-not-balanced`` | ``stmtinfo`` only (no totals); ``infcode`` ``"0"`` and ``0`` |
| ``9101-uploaded`` | a ``file_qury_no`` in the ``fsi/plc/...`` shape public samples show |
| ``3202-fileinfo`` | ``fileinfo`` naming the result file |
| ``9102-refused`` | a download refused: an envelope, where a file was expected |
| ``5301-registered`` | three registrations (one ended, one whose ``begndate`` has a time and whose ``enddate`` is ``null``, one whose ``begndate`` is ``""``), a field no table lists; ``infcode`` ``"0"`` |
| ``5301-none-registered`` / ``-null-list`` / ``-empty-output`` | no registration: an empty ``feedetail``, a ``null`` one, an ``output`` of ``{}`` |
| ``3101-empty-result`` | nothing found: ``result`` ``[]`` |
| ``3101-null-output`` | nothing found: ``output`` ``null`` |
| ``3101-two-findings`` | two violations: ``sev_deg`` as a string and as a number, ``vola_amt`` ``null`` and ``""``, a ``rule_id`` that is a number, an ID number in ``vola_cont`` |
| ``3102-single-object`` | ``result`` as one object (S1's model), ``sev_deg`` in words, ``vola_amt`` a number |

``files/``: centres' result files (9102): zipped, with CRLF line ends, an empty last
line, ``""`` amounts (no standing settlement) and negative ones (a refund); the same
text in GBK.
"""

from __future__ import annotations

import datetime
import decimal
import json
from pathlib import Path
from typing import Any

import attrs

from gongji import Fen, LineItem
from gongji.model import Packs

#: The two lines of ``requests/2102.json`` as a till rings them up: two whole packs with
#: their codes, and part of a pack (拆零) with the code of the pack it is taken from.
PACKS = Packs(
    codes=("81234567890123456789", "81234567890123456790"),
    batch="B20261101-17",
    lot="L2026041",
    made_on=datetime.date(2026, 4, 1),
    expires_on=datetime.date(2028, 3, 31),
)
WHOLE_PACKS = LineItem(
    code="SKU-00017",
    national_code="XJ01CAA040A001010100445",
    name="药品",
    unit_price=Fen(1_250),
    quantity=2,
    packs=PACKS,
)
PART_OF_A_PACK = LineItem(
    code="SKU-00233",
    national_code="ZA01AAX0195010100887",
    name="拆零药品",
    unit_price=Fen(3_693),
    quantity=decimal.Decimal("0.3333"),
    packs=attrs.evolve(PACKS, codes=("83456789012345678901",)),
)

HERE = Path(__file__).parent
REQUESTS = HERE / "requests"
ANSWERS = HERE / "answers"
FILES = HERE / "files"


def request_bytes(name: str) -> bytes:
    return (REQUESTS / f"{name}.json").read_bytes()


def request(name: str) -> dict[str, Any]:
    """A golden request, numbers as ``Decimal`` (as the text has them)."""
    parsed: dict[str, Any] = json.loads(request_bytes(name), parse_float=decimal.Decimal)
    return parsed


def answer_bytes(name: str) -> bytes:
    """A real-shaped answer envelope, as the centre's bytes."""
    return (ANSWERS / f"{name}.json").read_bytes()


def answer(name: str) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(answer_bytes(name), parse_float=decimal.Decimal)
    return parsed


def names(folder: Path) -> list[str]:
    return sorted(path.stem for path in folder.glob("*.json"))
