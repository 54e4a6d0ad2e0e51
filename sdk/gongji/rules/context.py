"""What the rules look at: ``CheckContext``, one purchase and what the gateways said of it.

Built by a flow, read by every ``gongji_check`` and ``gongji_order_payers``
implementation. It holds data and derived amounts only, so the hooks' contract
(``gongji.hookspecs``) can name it without reaching the code that runs the hooks.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from functools import cached_property

from attrs import field, frozen

from gongji.identity import IdNumber
from gongji.model import Binding, LineItem, Person, Purchase
from gongji.money import ZERO, Fen
from gongji.policy.pack import PolicyPack

__all__ = ["CheckContext"]


@frozen
class CheckContext:
    """Everything the rules may look at for one purchase. Built by a flow, read by plugins."""

    purchase: Purchase
    #: The person the credential resolves to (the centre's 1101 answer). R1 requires it to be the patient.
    holder: Person
    policy: PolicyPack
    today: datetime.date
    #: The pooled fund's share: the centre's pre-settlement, or a local estimate before it.
    fund: Fen = ZERO
    #: Mutual-aid bindings with the holder as beneficiary, as the gateway reported them.
    bindings: tuple[Binding, ...] = ()
    #: The owners of those bindings, with their insurance and accounts.
    owners: Mapping[IdNumber, Person] = field(factory=dict)

    @property
    def patient(self) -> Person:
        """The person treated. Once R1 holds, that is the credential's holder."""
        return self.holder

    @cached_property
    def cash_only(self) -> tuple[LineItem, ...]:
        """Lines no insurance account may pay (R6): cosmetics, supplements and the like."""
        banned = self.policy.use.cash_only_categories
        return tuple(item for item in self.purchase.items if item.category in banned)

    @cached_property
    def account_payable(self) -> Fen:
        """The self-pay share that personal accounts may cover: total - fund - cash-only lines."""
        cash_only = sum((item.amount for item in self.cash_only), Fen(0))
        return max(Fen(0), self.purchase.total - self.fund - cash_only)
