"""The till's rule for the codes of a split-pack line (拆零), before anything is sent: the
code of each pack its part is taken from, ceil(quantity) packs, or one more when the part
begins in a pack an earlier sale opened; a whole-pack line, one code a pack."""

from __future__ import annotations

import datetime
import decimal

import pytest

from gongji import Fen, InvalidInput, LineItem
from gongji.model import Packs, Setting
from gongji.policy import get_policy
from gongji.traceability import check_codes

DALIAN = get_policy("liaoning-dalian-2025")  # codes required from 2025-07-01
DAY = datetime.date(2026, 11, 24)


def line(quantity: str, codes: int) -> LineItem:
    packs = Packs(
        codes=[f"8100000000{n:010d}" for n in range(codes)],
        batch="B1",
        lot="L1",
        made_on=datetime.date(2026, 4, 1),
    )
    return LineItem(
        code="SKU-1",
        name="拆零药品",
        unit_price=Fen(3_693),
        quantity=decimal.Decimal(quantity),
        packs=packs,
    )


@pytest.mark.parametrize(
    ("quantity", "codes"), [("0.25", 1), ("0.25", 2), ("1.5", 2), ("1.5", 3), ("2", 2)]
)
def test_a_line_with_the_codes_of_the_packs_it_is_taken_from_is_taken(
    quantity: str, codes: int
) -> None:
    check_codes((line(quantity, codes),), Setting.PHARMACY, DALIAN, DAY)


@pytest.mark.parametrize(
    ("quantity", "codes"), [("0.25", 0), ("0.25", 3), ("1.5", 1), ("1.5", 4), ("2", 3)]
)
def test_a_line_short_or_long_of_codes_is_refused_with_a_cashier_sentence(
    quantity: str, codes: int
) -> None:
    with pytest.raises(InvalidInput) as refused:
        check_codes((line(quantity, codes),), Setting.PHARMACY, DALIAN, DAY)
    assert "scanned" in refused.value.message and f"{codes} " in refused.value.message
    assert "nothing was sent" in (refused.value.next_step or "")


def test_before_the_packs_date_a_split_line_needs_no_code() -> None:
    check_codes((line("0.25", 0),), Setting.PHARMACY, DALIAN, datetime.date(2025, 6, 30))
