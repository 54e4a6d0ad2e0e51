"""Deterministic payment codes, shared by the WeChat Pay and Alipay mocks.

Like ActiveMerchant's bogus gateway: a code's shape picks the channel and its last
digit picks the outcome (docs/reference/mock-channels.md).
"""

from __future__ import annotations

import enum
import re


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
