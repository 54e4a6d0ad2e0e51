"""The real-shaped answers the decoders' tests are fed are themselves as NATIONAL.md
describes them: an answer envelope (§3), and amounts that add up under the reading each
one shows (§7: mutual aid beside or inside ``acct_pay``; the institution's part)."""

from __future__ import annotations

import decimal
import re
from typing import Any

import pytest

from tests.national.messages import ANSWERS, answer, names

ZERO = decimal.Decimal(0)
_CENTRE_TIME = re.compile(r"\d{17}")  # yyyyMMddHHmmssSSS


def amount(record: dict[str, Any], name: str) -> decimal.Decimal:
    """An amount as a centre's answer has it: ``""`` and ``null`` (or absent) are 0."""
    value = record.get(name)
    if value is None or value == "":
        return ZERO
    return decimal.Decimal(str(value))


@pytest.mark.parametrize("name", names(ANSWERS))
def test_every_answer_is_an_answer_envelope(name: str) -> None:
    envelope = answer(name)
    assert envelope["infcode"] in (0, "0", -1, "-1")
    assert isinstance(envelope["inf_refmsgid"], str)
    assert _CENTRE_TIME.fullmatch(envelope["refmsg_time"])
    assert _CENTRE_TIME.fullmatch(envelope["respond_time"])
    if str(envelope["infcode"]) != "0":
        assert envelope["err_msg"]


def test_the_answers_show_every_shape_the_decoders_must_read() -> None:
    infcodes = {type(answer(name)["infcode"]) for name in names(ANSWERS)}
    assert infcodes == {int, str}
    outputs = [answer(name).get("output", "missing") for name in names(ANSWERS) if "2601" in name]
    assert sorted(map(repr, outputs)) == sorted(map(repr, [{}, None, "missing"]))
    people = answer("1101-several-insuinfo")["output"]["insuinfo"]
    assert people[0]["insutype"] != "310" and people[-1]["insutype"] == "310"


@pytest.mark.parametrize(
    ("name", "mutual_aid_in_account"),
    [
        ("2102-mutual-aid-separate", False),
        ("2102-mutual-aid-included", True),
        ("2102-empty-mutual-aid", False),
        ("2102-institution-part", False),
        ("2101-preview", False),
    ],
)
def test_a_settlement_answer_adds_up_under_its_reading(
    name: str, mutual_aid_in_account: bool
) -> None:
    info = answer(name)["output"]["setlinfo"]
    assert "gongji_mulaid_detail" not in answer(name)["output"]  # no owner list, ever
    person = amount(info, "acct_pay") + amount(info, "psn_cash_pay")
    if not mutual_aid_in_account:
        person += amount(info, "acct_mulaid_pay")
    assert person == amount(info, "psn_part_amt")
    parts = amount(info, "fund_pay_sumamt") + person + amount(info, "hosp_part_amt")
    assert parts == amount(info, "medfee_sumamt")


def test_a_cancellation_answer_has_no_psn_cash_pay_and_adds_up() -> None:
    info = answer("2103-cancelled")["output"]["setlinfo"]
    assert "psn_cash_pay" not in info
    person = amount(info, "acct_pay") + amount(info, "acct_mulaid_pay")
    assert abs(person + amount(info, "cash_payamt")) == abs(amount(info, "psn_pay"))
    assert abs(amount(info, "fund_pay_sumamt")) + abs(amount(info, "psn_pay")) == abs(
        amount(info, "medfee_sumamt")
    )


def test_an_outpatient_cancellation_spells_its_cash_pdn_cash_pay() -> None:
    info = answer("2208-cancelled")["output"]["setlinfo"]
    assert "psn_cash_pay" not in info and "cash_payamt" not in info
    person = (
        amount(info, "acct_pay") + amount(info, "acct_mulaid_pay") + amount(info, "pdn_cash_pay")
    )
    assert person == amount(info, "psn_part_amt")
    assert amount(info, "fund_pay_sumamt") + person == amount(info, "medfee_sumamt")
