"""Golden national messages, written from NATIONAL.md (not from gongji's own wire).

``requests/``: one request per transaction of the pharmacy path, of the catalogue
(1312, 3301), of reconciliation and of the rule checks (3101, 3102) as a centre following
NATIONAL.md accepts it (2102 also with the ``druginfo`` / ``drugdetail`` node names).
``answers/``: answers in the shapes real centres send and gongji's decoders must read:

| file | what it shows |
|---|---|
| ``1101-several-insuinfo`` | three ``insuinfo`` entries: a 330 supplement first, a suspended 390, the active 310 last; ``infcode`` ``"0"``; ``balc`` ``""`` |
| ``1101-suspended-only`` | one suspended entry: not insured for this sale |
| ``2102-mutual-aid-separate`` | ``acct_mulaid_pay`` with no owner list; ``acct_pay`` without it; ``""`` and ``null`` fund fields |
| ``2102-mutual-aid-included`` | the same sale where ``acct_pay`` includes the mutual aid |
| ``2102-empty-mutual-aid`` | ``acct_mulaid_pay`` ``""`` (S3), amounts as strings |
| ``2102-institution-part`` | ``hosp_part_amt`` in the total |
| ``2103-cancelled`` | ``psn_pay`` and ``cash_payamt``, no ``psn_cash_pay``; negative amounts |
| ``2208-cancelled`` | the cash field spelt ``pdn_cash_pay`` |
| ``2601-reversed-*`` | success with an empty, a null and no ``output`` |
| ``1312-page-as-text`` | a middle page, paging numbers as strings, ``""`` and ``null`` fields, a withdrawn record (``vali_flag`` 0) with times in its dates, an ``updt_time`` that is only a date |
| ``1312-last-page-numbers`` | paging numbers as numbers, an empty ``data`` past the last page |
| ``3301-accepted-empty-output`` | acceptance: ``output`` ``{}`` |
| ``refused-string-infcode`` | ``infcode`` ``"-1"``, ``inf_refmsgid`` empty |
| ``3201-balanced`` / ``-not-balanced`` | ``stmtinfo`` only (no totals); ``infcode`` ``"0"`` and ``0`` |
| ``9101-uploaded`` | a ``file_qury_no`` in the ``fsi/plc/...`` shape public samples show |
| ``3202-fileinfo`` | ``fileinfo`` naming the result file |
| ``9102-refused`` | a download refused: an envelope, where a file was expected |
| ``3101-empty-result`` | nothing found: ``result`` ``[]`` |
| ``3101-null-output`` | nothing found: ``output`` ``null`` |
| ``3101-two-findings`` | two violations: ``sev_deg`` as a string and as a number, ``vola_amt`` ``null`` and ``""``, a ``rule_id`` that is a number, an ID number in ``vola_cont`` |
| ``3102-single-object`` | ``result`` as one object (S1's model), ``sev_deg`` in words, ``vola_amt`` a number |

``files/``: centres' result files (9102): zipped, with CRLF line ends, an empty last
line, ``""`` amounts (no standing settlement) and negative ones (a refund); the same
text in GBK.
"""

from __future__ import annotations

import decimal
import json
from pathlib import Path
from typing import Any

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
