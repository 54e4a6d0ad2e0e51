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


# Issue 19: the behaviour of Fen that no test noticed when a mutant changed it.


def test_fen_defaults_to_zero() -> None:
    assert Fen() == 0
    assert Fen().to_yuan() == "0.00"


def test_zero_never_prints_as_minus_zero() -> None:
    assert Fen(0).to_yuan() == "0.00"
    assert (-Fen(0)).to_yuan() == "0.00"
    assert Fen(-1).to_yuan() == "-0.01"
    assert Fen(-1250).to_yuan() == "-12.50"
    assert Fen(1).to_yuan() == "0.01"


def test_only_zero_is_false() -> None:
    assert not Fen(0)
    assert Fen(1)
    assert Fen(-1)


def test_negation_subtraction_from_an_int_and_abs_keep_exact_fen() -> None:
    assert -Fen(5) == Fen(-5)
    assert -Fen(-5) == 5
    assert 100 - Fen(30) == 70
    assert Fen(30) - 100 == -70
    assert abs(Fen(-7)) == 7
    assert abs(Fen(7)) == 7


def test_comparisons_are_exact_at_the_boundary() -> None:
    assert Fen(5) >= 5
    assert Fen(5) >= Fen(5)
    assert not Fen(4) >= 5
    assert Fen(5) <= 5
    assert not Fen(6) <= 5
    assert Fen(6) > 5
    assert not Fen(5) > 5
    assert Fen(4) < 5
    assert not Fen(5) < 5


class _Quantity(int):
    """An int subclass (an IntEnum, numpy's int, a quantity type) is still a whole number."""


def test_int_subclasses_are_accepted_as_plain_ints() -> None:
    assert Fen(_Quantity(5)) + 1 == 6
    assert type(Fen(_Quantity(5))._fen) is int
    assert Fen(10) + _Quantity(2) == 12
    assert type((Fen(10) + _Quantity(2))._fen) is int


@pytest.mark.parametrize(
    "operation",
    [
        lambda p: p + True,
        lambda p: True + p,
        lambda p: p - False,
        lambda p: True - p,
        lambda p: p * True,
        lambda p: p < True,
        lambda p: p >= False,
        lambda p: p + 0.0,
        lambda p: p - 1.0,
        lambda p: 1.0 - p,
        lambda p: p <= 1.5,
        lambda p: p > 0.5,
    ],
    ids=[
        *("+True", "True+", "-False", "True-", "*True", "<True", ">=False"),
        *("+0.0", "-1.0", "1.0-", "<=1.5", ">0.5"),
    ],
)
def test_fen_refuses_bool_and_float_operands(operation) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(TypeError, match="not allowed"):
        operation(Fen(1000))


def test_a_float_never_equals_money_even_of_the_same_value() -> None:
    assert (Fen(100) == 100.0) is False
    assert (Fen(1) == True) is False  # noqa: E712 - the point is that bool is not money
    assert Fen(100) != 100.0


@pytest.mark.parametrize(
    ("operation", "words"),
    [
        (lambda p: p + 0.5, "Fen + float is not allowed: money stays integer fen."),
        (lambda p: p - 0.5, "Fen - float is not allowed: money stays integer fen."),
        (lambda p: 0.5 - p, "Fen - float is not allowed: money stays integer fen."),
        (lambda p: p < 0.5, "Fen < float is not allowed: money stays integer fen."),
        (lambda p: p <= 0.5, "Fen <= float is not allowed: money stays integer fen."),
        (lambda p: p > 0.5, "Fen > float is not allowed: money stays integer fen."),
        (lambda p: p >= 0.5, "Fen >= float is not allowed: money stays integer fen."),
        (
            lambda p: p * 0.5,
            "Fen * float is not allowed: multiply by an integer quantity, "
            "or use times_ratio() with a named rounding.",
        ),
        (
            lambda p: p / 2,
            "Fen cannot be divided into a float; use times_ratio() with a named rounding.",
        ),
        (
            lambda p: 2 / p,
            "Fen cannot be divided into a float; use times_ratio() with a named rounding.",
        ),
        (lambda p: float(p), "Fen cannot become a float; use to_yuan() for display."),
    ],
)
def test_a_refused_operation_names_itself_and_the_way_out(operation, words: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(TypeError) as raised:
        operation(Fen(1000))
    assert str(raised.value) == words


def test_fen_is_immutable_says_so() -> None:
    with pytest.raises(AttributeError, match=r"^Fen is immutable$"):
        Fen(5).anything = 6  # type: ignore[attr-defined]


def test_fen_reads_as_money_and_as_code() -> None:
    assert str(Fen(1250)) == "¥12.50"
    assert str(Fen(-5)) == "¥-0.05"
    assert repr(Fen(1250)) == "Fen(1250)"


def test_fen_survives_pickling_as_fen() -> None:
    import pickle

    copy = pickle.loads(pickle.dumps(Fen(1250)))  # noqa: S301 - our own bytes
    assert type(copy) is Fen
    assert copy == 1250


def test_fen_is_an_exact_index() -> None:
    import operator

    assert operator.index(Fen(3)) == 3
    assert int(Fen(-3)) == -3


def test_rounding_is_named_in_packs_as_down_or_half_up() -> None:
    assert Rounding("down") is Rounding.DOWN
    assert Rounding("half_up") is Rounding.HALF_UP


@pytest.mark.parametrize("fen", [0, 1, -1, 1001])
def test_ratio_with_denominator_one_is_the_identity(fen: int) -> None:
    assert Fen(fen).times_ratio(1, 1, Rounding.DOWN) == fen
    assert Fen(fen).times_ratio(7, 7, Rounding.HALF_UP) == fen


@pytest.mark.parametrize("denominator", [0, -1])
def test_ratio_without_a_positive_denominator_is_refused(denominator: int) -> None:
    with pytest.raises(InvalidInput) as raised:
        Fen(100).times_ratio(1, denominator, Rounding.DOWN)
    assert raised.value.message == "A ratio needs a positive denominator."
    assert raised.value.next_step == "Fix the ratio."


def test_ratio_of_a_negative_amount_rounds_away_from_zero_like_a_positive_one() -> None:
    assert Fen(-999).times_ratio(60, 100, Rounding.DOWN) == -599
    assert Fen(-1).times_ratio(1, 2, Rounding.HALF_UP) == -1
    assert Fen(-1).times_ratio(1, 3, Rounding.HALF_UP) == 0
    assert Fen(-1).times_ratio(1, 3, Rounding.HALF_UP).to_yuan() == "0.00"


def test_refused_money_says_what_to_pass_instead() -> None:
    with pytest.raises(InvalidInput) as raised:
        Fen(12.5)  # type: ignore[arg-type]
    assert raised.value.message == "Money must be integer fen, got float 12.5."
    assert raised.value.next_step == (
        "Pass Fen(1250) for 12.50 yuan, or Fen.from_yuan('12.50') for a yuan string."
    )


@pytest.mark.parametrize(
    ("text", "message", "next_step"),
    [
        (
            12.5,
            "A yuan amount must be a string such as '12.50', got float.",
            "Send yuan as a decimal string, never a float.",
        ),
        (
            "12.505",
            "The yuan amount '12.505' has more than two decimals; it is refused, not rounded.",
            "Send the amount with at most two decimals (whole fen).",
        ),
        (
            "abc",
            "'abc' is not a yuan amount.",
            "Write yuan as digits with at most two decimals, e.g. '12.50'.",
        ),
    ],
)
def test_refused_yuan_says_what_to_send_instead(text: object, message: str, next_step: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        Fen.from_yuan(text)  # type: ignore[arg-type]
    assert raised.value.message == message
    assert raised.value.next_step == next_step
