"""Money: integer fen (分) inside the SDK; yuan strings only at the wire.

``Fen`` is an ``int`` so that sums, comparisons and ``sum()`` stay exact and
fast; every operation that could bring a float in (true division, a float
operand) raises instead. Conversions from yuan refuse more than two decimals
rather than round: a third decimal on the wire is a bug upstream, and rounding
it away would hide a fen that someone is owed.
"""

from __future__ import annotations

import enum
import re

from gongji.errors import InvalidInput

# A yuan amount as gateways write it: optional sign, digits, at most two decimals.
_YUAN = re.compile(r"(-?)([0-9]{1,15})(?:\.([0-9]{1,2}))?")
_YUAN_ANY_DECIMALS = re.compile(r"-?[0-9]+\.[0-9]{3,}")


class Rounding(enum.StrEnum):
    """How a fractional fen is settled; a rule that rounds names one of these."""

    DOWN = "down"  # toward zero: the payer never pays a fraction more
    HALF_UP = "half_up"  # 0.5 fen and above away from zero


class Fen:
    """An amount of money in integer fen (1 yuan = 100 fen).

    Not an ``int`` subclass on purpose: ``float.__mul__`` accepts any int, so
    ``0.9 * price`` would quietly become a float. Here it raises. ``Fen``
    compares equal to the plain ``int`` of the same value and hashes like it.
    """

    __slots__ = ("_fen",)
    _fen: int

    def __init__(self, value: int | Fen = 0) -> None:
        if isinstance(value, Fen):
            value = value._fen
        elif type(value) is not int:
            if isinstance(value, bool) or not isinstance(value, int):
                raise InvalidInput(
                    f"Money must be integer fen, got {type(value).__name__} {value!r}.",
                    next_step=(
                        "Pass Fen(1250) for 12.50 yuan, or Fen.from_yuan('12.50') for a yuan string."
                    ),
                )
            value = int(value)
        object.__setattr__(self, "_fen", value)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Fen is immutable")

    @classmethod
    def from_yuan(cls, text: str) -> Fen:
        """Parse a yuan string with at most two decimals (``"12.5"``, ``"12.50"``, ``"-3"``)."""
        if not isinstance(text, str):
            raise InvalidInput(
                f"A yuan amount must be a string such as '12.50', got {type(text).__name__}.",
                next_step="Send yuan as a decimal string, never a float.",
            )
        match = _YUAN.fullmatch(text.strip())
        if match is None:
            if _YUAN_ANY_DECIMALS.fullmatch(text.strip()):
                raise InvalidInput(
                    f"The yuan amount {text!r} has more than two decimals; it is refused, not rounded.",
                    next_step="Send the amount with at most two decimals (whole fen).",
                )
            raise InvalidInput(
                f"{text[:40]!r} is not a yuan amount.",
                next_step="Write yuan as digits with at most two decimals, e.g. '12.50'.",
            )
        sign, whole, frac = match.groups()
        fen = int(whole) * 100 + int((frac or "0").ljust(2, "0"))
        return cls(-fen if sign else fen)

    def to_yuan(self) -> str:
        """The wire form: yuan with exactly two decimals (``Fen(1250).to_yuan() == "12.50"``)."""
        sign = "-" if self._fen < 0 else ""
        whole, frac = divmod(abs(self._fen), 100)
        return f"{sign}{whole}.{frac:02d}"

    def times_ratio(self, numerator: int, denominator: int, rounding: Rounding) -> Fen:
        """``self * numerator / denominator`` in integer arithmetic, rounded as named."""
        if denominator <= 0:
            raise InvalidInput("A ratio needs a positive denominator.", next_step="Fix the ratio.")
        product = self._fen * numerator
        magnitude, remainder = divmod(abs(product), denominator)
        if rounding is Rounding.HALF_UP and remainder * 2 >= denominator:
            magnitude += 1
        return Fen(-magnitude if product < 0 else magnitude)

    # Arithmetic keeps the type; a float, Decimal or str operand raises TypeError.
    def __add__(self, other: Fen | int) -> Fen:
        return _fen(self._fen + _operand(other, "+"))

    __radd__ = __add__  # sum() starts from the int 0

    def __sub__(self, other: Fen | int) -> Fen:
        return _fen(self._fen - _operand(other, "-"))

    def __rsub__(self, other: Fen | int) -> Fen:
        return _fen(_operand(other, "-") - self._fen)

    def __mul__(self, other: int) -> Fen:
        if type(other) is not int:
            raise TypeError(
                f"Fen * {type(other).__name__} is not allowed: multiply by an integer "
                "quantity, or use times_ratio() with a named rounding."
            )
        return _fen(self._fen * other)

    __rmul__ = __mul__

    def __truediv__(self, other: object) -> Fen:
        raise TypeError(
            "Fen cannot be divided into a float; use times_ratio() with a named rounding."
        )

    __rtruediv__ = __truediv__

    def __neg__(self) -> Fen:
        return _fen(-self._fen)

    def __abs__(self) -> Fen:
        return _fen(abs(self._fen))

    def __int__(self) -> int:
        return self._fen

    __index__ = __int__

    def __bool__(self) -> bool:
        return self._fen != 0

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Fen):
            return self._fen == other._fen
        if type(other) is int:
            return self._fen == other
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._fen)

    def __lt__(self, other: Fen | int) -> bool:
        return self._fen < _operand(other, "<")

    def __le__(self, other: Fen | int) -> bool:
        return self._fen <= _operand(other, "<=")

    def __gt__(self, other: Fen | int) -> bool:
        return self._fen > _operand(other, ">")

    def __ge__(self, other: Fen | int) -> bool:
        return self._fen >= _operand(other, ">=")

    def __float__(self) -> float:  # float-ok: refusing is the point
        raise TypeError("Fen cannot become a float; use to_yuan() for display.")

    def __repr__(self) -> str:
        return f"Fen({self._fen})"

    def __str__(self) -> str:
        return f"¥{self.to_yuan()}"

    def __reduce__(self) -> tuple[type[Fen], tuple[int]]:
        return (Fen, (self._fen,))


def _fen(value: int) -> Fen:
    """A Fen from an int already known to be exact: arithmetic's results skip re-validation."""
    fen = object.__new__(Fen)
    object.__setattr__(fen, "_fen", value)
    return fen


def _operand(other: object, op: str) -> int:
    if type(other) is Fen:
        return other._fen
    if type(other) is int:
        return other
    if isinstance(other, int) and not isinstance(other, bool):
        return int(other)
    raise TypeError(f"Fen {op} {type(other).__name__} is not allowed: money stays integer fen.")


ZERO = Fen(0)
