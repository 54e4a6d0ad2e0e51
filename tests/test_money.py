from __future__ import annotations

import decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gongji import Fen, InvalidInput
from gongji.money import Rounding


def test_fen_refuses_float_construction() -> None:
    with pytest.raises(InvalidInput, match="integer fen"):
        Fen(12.5)  # type: ignore[arg-type]


@pytest.mark.parametrize("value", [True, "1250", decimal.Decimal("12.50"), None])
def test_fen_refuses_anything_but_int(value: object) -> None:
    with pytest.raises(InvalidInput):
        Fen(value)  # type: ignore[arg-type]


@pytest.mark.parametrize("text", ["12.505", "0.001", "-1.999", "3.14159"])
def test_yuan_with_more_than_two_decimals_is_refused_not_rounded(text: str) -> None:
    with pytest.raises(InvalidInput, match="more than two decimals"):
        Fen.from_yuan(text)


@pytest.mark.parametrize("text", ["", "abc", "1e3", "１２.５", "12.", ".5", "nan", "1_000"])
def test_malformed_yuan_is_refused(text: str) -> None:
    with pytest.raises(InvalidInput):
        Fen.from_yuan(text)


@pytest.mark.parametrize(
    ("text", "fen"), [("12.50", 1250), ("12.5", 1250), ("12", 1200), ("0.01", 1), ("-3.07", -307)]
)
def test_yuan_string_becomes_exact_fen(text: str, fen: int) -> None:
    assert Fen.from_yuan(text) == fen


def test_yuan_is_refused_as_float() -> None:
    with pytest.raises(InvalidInput, match="never a float"):
        Fen.from_yuan(12.5)  # type: ignore[arg-type]


@given(st.integers(min_value=-(10**15), max_value=10**15))
def test_fen_to_yuan_round_trips(fen: int) -> None:
    text = Fen(fen).to_yuan()
    assert text.split(".")[-1].isdigit() and len(text.split(".")[-1]) == 2
    assert Fen.from_yuan(text) == fen


def test_arithmetic_keeps_the_fen_type() -> None:
    price = Fen(1250)
    for result in (
        price + 1,
        1 + price,
        price - Fen(50),
        100 - price,
        price * 3,
        3 * price,
        -price,
        abs(-price),
    ):
        assert type(result) is Fen
    assert type(sum([Fen(1), Fen(2)])) is Fen
    assert sum([Fen(1), Fen(2)]) == 3


@pytest.mark.parametrize(
    "operation",
    [
        lambda p: p * 0.9,
        lambda p: 0.9 * p,
        lambda p: p + 0.5,
        lambda p: 0.5 + p,
        lambda p: p / 2,
        lambda p: p * decimal.Decimal("0.9"),
        lambda p: float(p),
    ],
    ids=[
        "fen*float",
        "float*fen",
        "fen+float",
        "float+fen",
        "fen/int",
        "fen*decimal",
        "float(fen)",
    ],
)
def test_no_operation_turns_fen_into_a_float(operation) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(TypeError):
        operation(Fen(1000))


@pytest.mark.parametrize(
    ("fen", "num", "den", "rounding", "expected"),
    [
        (Fen(1001), 1, 2, Rounding.DOWN, 500),
        (Fen(1001), 1, 2, Rounding.HALF_UP, 501),
        (Fen(-1001), 1, 2, Rounding.HALF_UP, -501),
        (Fen(999), 60, 100, Rounding.DOWN, 599),
        (Fen(999), 60, 100, Rounding.HALF_UP, 599),
    ],
)
def test_ratio_rounds_only_as_named(
    fen: Fen, num: int, den: int, rounding: Rounding, expected: int
) -> None:
    assert fen.times_ratio(num, den, rounding) == expected


def test_fen_is_immutable_and_hashes_like_its_int() -> None:
    price = Fen(5)
    with pytest.raises(AttributeError):
        price._fen = 6  # type: ignore[misc]
    assert {price: "x"}[5] == "x"
