"""A chronic or special disease on the purchase: its code is checked when the purchase is
made, its registration covers the days between its dates (both counted, in Beijing), and
the choice of a registered disease is ``gongji.chronic.choose``'s."""

from __future__ import annotations

import datetime

import pytest

from gongji import (
    ChronicDisease,
    Credential,
    DiseaseNotRegistered,
    Fen,
    InvalidInput,
    LineItem,
    Purchase,
)
from gongji.chronic import choose
from tests.conftest import PATIENT

DAY = datetime.date(2026, 11, 24)
ONE = datetime.timedelta(days=1)
TABLETS = LineItem(code="X01", name="降压药", unit_price=Fen(3_000), quantity=1)


@pytest.mark.parametrize(
    ("begins", "ends", "covered"),
    [
        (None, None, True),
        (DAY, DAY, True),  # both dates count
        (DAY + ONE, None, False),
        (None, DAY - ONE, False),
        (DAY - ONE, DAY + ONE, True),
    ],
)
def test_a_registration_covers_the_days_between_its_dates(
    begins: datetime.date | None, ends: datetime.date | None, covered: bool
) -> None:
    assert ChronicDisease("M03900", "高血压", begins, ends).covers(DAY) is covered


def test_the_registration_in_force_is_chosen_among_several_of_one_code() -> None:
    ended = ChronicDisease("M03900", "高血压", DAY - 10 * ONE, DAY - ONE)
    renewed = ChronicDisease("M03900", "高血压", DAY, None)
    assert choose((ended, renewed), "M03900", DAY) is renewed
    with pytest.raises(DiseaseNotRegistered, match="runs from"):
        choose((ended,), "M03900", DAY)


@pytest.mark.parametrize("code", ["高血压", "M 03900", "M" * 31, 3900])
def test_a_disease_code_that_is_not_visible_ascii_is_refused_before_anything_is_sent(
    code: object,
) -> None:
    with pytest.raises(InvalidInput, match="disease code"):
        Purchase(
            credential=Credential.id_card(PATIENT),
            items=[TABLETS],
            chronic_disease=code,  # type: ignore[arg-type]
        )


def test_an_ordinary_purchase_has_no_disease() -> None:
    assert Purchase(credential=Credential.id_card(PATIENT), items=[TABLETS]).chronic_disease == ""


def test_a_registration_needs_a_code() -> None:
    with pytest.raises(InvalidInput, match="needs its code"):
        ChronicDisease("", "高血压")
