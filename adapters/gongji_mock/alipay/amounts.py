"""Alipay amounts as the platform reads them: yuan, written as a string or as a JSON number.

Alipay's own SDK examples send ``"total_amount": 12.5`` (a JSON number), and the
platform accepts it; so does the mock. The number is decoded from the JSON text
straight into ``Decimal`` (``msgspec``), never through a float, and refused unless
it is whole fen: more than two decimals (``12.505``, ``12.500``), ``NaN``, an
infinity or anything above Alipay's ceiling is refused, never rounded.
"""

from __future__ import annotations

import decimal

from gongji.money import Fen

#: The largest amount Alipay accepts: 100,000,000.00 yuan.
MAX_YUAN = decimal.Decimal("100000000.00")


class AmountRefused(ValueError):
    """The amount is not whole fen within Alipay's range; the message says why."""


def fen_of(yuan: decimal.Decimal, name: str) -> Fen:
    """``yuan`` (decoded from a JSON string or number) in fen, or ``AmountRefused``."""
    if not yuan.is_finite():
        raise AmountRefused(f"{name} is not a number.")
    exponent = yuan.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -2:
        raise AmountRefused(
            f"{name} {yuan} has more than two decimals; yuan are sent to the fen "
            '(such as "12.50" or 12.5), never rounded.'
        )
    if not decimal.Decimal(0) < yuan <= MAX_YUAN:
        raise AmountRefused(f"{name} must be more than 0.00 and at most {MAX_YUAN} yuan.")
    return Fen(int(yuan.scaleb(2)))
