"""Bad input gets a clear InvalidInput that says what to do next, and nothing else."""

from __future__ import annotations

import pytest

from gongji import Credential, Fen, InvalidInput
from gongji.model import Binding, LineItem, Purchase
from gongji.rules.quote import Quote
from tests.conftest import OWNER, PATIENT, drug


def _assert_actionable(error: InvalidInput) -> None:
    assert error.next_step and str(error).endswith(error.next_step)


@pytest.mark.parametrize("quantity", [0, -1, 1.5, True])
def test_zero_negative_or_fractional_quantity_is_invalid_input(quantity: object) -> None:
    with pytest.raises(InvalidInput, match="quantity") as caught:
        LineItem(code="D1", name="x", unit_price=Fen(100), quantity=quantity)  # type: ignore[arg-type]
    _assert_actionable(caught.value)


def test_negative_price_is_invalid_input() -> None:
    with pytest.raises(InvalidInput, match="negative unit price") as caught:
        drug(price=-1)
    _assert_actionable(caught.value)


def test_float_money_is_invalid_input() -> None:
    with pytest.raises(InvalidInput, match="integer fen"):
        LineItem(code="D1", name="x", unit_price=12.5, quantity=1)  # type: ignore[arg-type]


def test_empty_basket_is_invalid_input() -> None:
    with pytest.raises(InvalidInput, match="empty") as caught:
        Purchase(credential=Credential.id_card(PATIENT), items=[])
    _assert_actionable(caught.value)


def test_unknown_category_lists_the_accepted_ones() -> None:
    with pytest.raises(InvalidInput, match="Unknown category 'jewellery'") as caught:
        drug(category="jewellery")
    assert "cosmetic" in caught.value.next_step


def test_unknown_relation_is_invalid_input() -> None:
    with pytest.raises(InvalidInput, match="Unknown relation 'cousin'"):
        Binding(OWNER, PATIENT, "cousin", "active")  # type: ignore[arg-type]


def test_bad_id_checksum_in_a_purchase_is_invalid_input() -> None:
    with pytest.raises(InvalidInput, match="check digit"):
        Purchase(
            credential=Credential.id_card(PATIENT), items=[drug()], patient_id=PATIENT[:-1] + "9"
        )


def test_basket_of_something_other_than_line_items_is_invalid_input() -> None:
    with pytest.raises(InvalidInput, match="LineItem"):
        Purchase(credential=Credential.id_card(PATIENT), items=[{"code": "x"}])  # type: ignore[list-item]


def test_a_quote_that_does_not_conserve_money_cannot_exist() -> None:
    with pytest.raises(InvalidInput, match="does not add up"):
        Quote(total=Fen(100), fund=Fen(50), legs=(), cash=Fen(49))


def test_purchase_total_is_the_sum_of_its_lines() -> None:
    buy = Purchase(credential=Credential.id_card(PATIENT), items=[drug(1250, 2), drug(99, 3)])
    assert buy.total == 2 * 1250 + 3 * 99 and type(buy.total) is Fen


def test_a_line_keeps_the_national_code_apart_from_the_sku() -> None:
    item = LineItem(
        code="SKU-0042", name="药品", unit_price=Fen(100), quantity=1, national_code="XA01"
    )
    assert (item.code, item.national_code) == ("SKU-0042", "XA01")
    assert LineItem(code="XA01", name="药品", unit_price=Fen(100), quantity=1).national_code == ""


@pytest.mark.parametrize("code", ["X" * 51, "XA 01", "ＸA01"])
def test_a_national_code_that_cannot_be_one_is_invalid_input(code: str) -> None:
    with pytest.raises(InvalidInput, match="national code"):
        LineItem(code="SKU-1", name="药品", unit_price=Fen(100), quantity=1, national_code=code)
