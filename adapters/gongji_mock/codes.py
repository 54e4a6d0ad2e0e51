"""Deterministic payment codes, shared by the WeChat Pay and Alipay mocks.

Like ActiveMerchant's bogus gateway: a code's shape picks the channel and its last
digit picks the outcome (docs/reference/mock-channels.md).
"""

from __future__ import annotations

import enum
import re

from gongji.errors import InvalidInput


class Outcome(enum.Enum):
    """What a payment code does (the last digit decides; docs/reference/mock-channels.md)."""

    PAID = "paid"
    USERPAYING_THEN_PAID = "password, then paid at the first query"
    USERPAYING_FOREVER = "password, never entered"
    INSUFFICIENT_FUNDS = "insufficient funds"
    CODE_EXPIRED = "code expired"


_BY_LAST_DIGIT = {
    "2": Outcome.USERPAYING_THEN_PAID,
    "3": Outcome.USERPAYING_FOREVER,
    "4": Outcome.INSUFFICIENT_FUNDS,
    "5": Outcome.CODE_EXPIRED,
}


def outcome_by_pattern(auth_code: str, pattern: re.Pattern[str]) -> Outcome | None:
    """The outcome of a payment code of the channel whose shape is ``pattern``; None if not one."""
    if not pattern.fullmatch(auth_code):
        return None
    return _BY_LAST_DIGIT.get(auth_code[-1], Outcome.PAID)


_LAST_DIGIT = {outcome: digit for digit, outcome in _BY_LAST_DIGIT.items()} | {Outcome.PAID: "1"}
#: The leading digits of a code of each channel: WeChat Pay 10-15, Alipay 25-30.
_PREFIX = {"wechatpay": "13", "alipay": "28"}
_LENGTH = {"wechatpay": 18, "alipay": 16}


def payment_code(channel: str, outcome: Outcome | str = Outcome.PAID, *, serial: int = 0) -> str:
    """A payment code the mock answers with ``outcome`` (``"paid"``, ``"insufficient_funds"``,
    ``"code_expired"``, ``"userpaying_then_paid"``, ``"userpaying_forever"``), for
    ``channel`` ``"wechatpay"`` (18 digits) or ``"alipay"`` (16 digits).

    ``serial`` (0 or more) tells codes of one outcome apart, as two customers' codes differ.
    """
    if isinstance(outcome, str):
        named = Outcome.__members__.get(outcome.upper())
        if named is None:
            accepted = ", ".join(o.name.lower() for o in Outcome)
            raise InvalidInput(
                f"Unknown payment outcome {outcome[:40]!r}.", next_step=f"Use one of: {accepted}."
            )
        outcome = named
    if channel not in _PREFIX or serial < 0:
        raise InvalidInput(
            f"No payment code for channel {channel[:20]!r} with serial {serial}.",
            next_step="Use channel 'wechatpay' or 'alipay' and a serial of 0 or more.",
        )
    middle = _LENGTH[channel] - len(_PREFIX[channel]) - 1
    if serial >= 10**middle:
        raise InvalidInput(
            f"A {channel} code has room for serials below {10**middle}.",
            next_step="Use a smaller serial.",
        )
    return f"{_PREFIX[channel]}{serial:0{middle}d}{_LAST_DIGIT[outcome]}"
