"""The payer chain (R9): own account first, then relatives' accounts in priority order, then cash.

A pure function over integer fen. Each account pays up to
``min(balance, per-transaction limit)``; whatever no account covers is cash.
"""

from __future__ import annotations

from collections.abc import Sequence

from attrs import frozen

from gongji.identity import IdNumber
from gongji.model import Binding, Leg, Person, PersonalAccount
from gongji.money import Fen


@frozen
class PayerCandidate:
    """A mutual-aid account that the rules did not refuse: the binding and its owner."""

    binding: Binding
    owner: Person

    @property
    def available(self) -> Fen:
        """What this account can pay in one transaction: min(balance, per-transaction limit)."""
        balance = self.owner.account.balance if self.owner.account is not None else Fen(0)
        limit = self.binding.per_transaction_limit
        return balance if limit is None else min(balance, limit)


def plan_payer_chain(
    payable: Fen,
    patient_id: IdNumber,
    own_account: PersonalAccount | None,
    candidates: Sequence[PayerCandidate],
) -> tuple[Leg, ...]:
    """Split ``payable`` over the patient's own account and then ``candidates`` in order.

    Returns the legs; cash is ``payable - sum(legs)``. No leg is zero or negative,
    none exceeds its account's balance or limit.
    """
    remaining = payable
    legs: list[Leg] = []
    if own_account is not None and remaining > 0 and own_account.balance > 0:
        take = min(own_account.balance, remaining)
        legs.append(Leg(source="own_account", payer_id=patient_id, amount=take))
        remaining -= take
    for candidate in candidates:
        # Once nothing remains, every take is 0 and draws no leg.
        take = min(candidate.available, remaining)
        if take > 0:
            legs.append(
                Leg(
                    source="mutual_aid",
                    payer_id=candidate.binding.owner,
                    amount=take,
                    relation=candidate.binding.relation,
                )
            )
            remaining -= take
    return tuple(legs)
