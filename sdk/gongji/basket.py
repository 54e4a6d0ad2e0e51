"""A pharmacy basket in two parts: what the insurance centre settles, and the cash part.

Cosmetics, supplements, fitness and daily goods (the pack's ``use.cash_only_categories``)
are not in the insurance catalogue, and a centre must never see them among a
settlement's lines (NATIONAL.md §15). They are rung up as the cash part of the same sale:
one receipt, two parts, one idempotency key, and one payment of the cash share and the
cash part together.
"""

from __future__ import annotations

from attrs import frozen

from gongji.errors import InvalidInput
from gongji.model import LineItem, Purchase, Setting
from gongji.money import ZERO, Fen
from gongji.policy import PolicyPack

__all__ = ["Basket", "split"]


@frozen
class Basket:
    """The purchase's lines: ``insured`` go to the centre, ``cash_part`` never do."""

    insured: tuple[LineItem, ...]
    cash_part: tuple[LineItem, ...] = ()

    @property
    def cash_part_total(self) -> Fen:
        return sum((item.amount for item in self.cash_part), ZERO)

    @property
    def insured_total(self) -> Fen:
        return sum((item.amount for item in self.insured), ZERO)


def split(purchase: Purchase, policy: PolicyPack) -> Basket:
    """The two parts of a pharmacy sale. An outpatient visit is settled as uploaded: its
    lines are at the centre already (2204), so it has no cash part here."""
    if purchase.setting is not Setting.PHARMACY:
        return Basket(insured=purchase.items)
    cash_only = policy.use.cash_only_categories
    insured = tuple(item for item in purchase.items if item.category not in cash_only)
    cash_part = tuple(item for item in purchase.items if item.category in cash_only)
    if not insured:
        raise InvalidInput(
            "Every line of this sale is cash-only goods (cosmetics, supplements, fitness or "
            "daily goods): there is nothing for the insurance centre to settle.",
            next_step="Ring the basket up as an ordinary cash sale; nothing was sent.",
        )
    return Basket(insured=insured, cash_part=cash_part)
