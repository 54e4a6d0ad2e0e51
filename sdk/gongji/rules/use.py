"""R6, use: what a relative's account may pay for.

Cash-only categories (cosmetics, supplements, fitness, daily goods) do not refuse
the purchase: those lines go to the cash share for everyone (``CheckContext.cash_only``).
Here: the purpose must be one the region allows for mutual aid, a resident premium is
for someone on resident insurance, and a flexibly employed worker's premium for someone
on employee insurance (seed 000 l.52).
"""

from __future__ import annotations

from collections.abc import Sequence

from gongji.hookspecs import hookimpl
from gongji.model import InsuranceKind, Purpose, Refusal
from gongji.rules import refuse
from gongji.rules.context import CheckContext
from gongji.rules.explain import owner_label, purpose_words

# Premiums paid for a kind of insurance the patient must be on, and why not otherwise.
_PREMIUM_FOR: dict[Purpose, tuple[frozenset[InsuranceKind], str, str]] = {
    Purpose.RESIDENT_PREMIUM: (
        frozenset({InsuranceKind.RESIDENT, InsuranceKind.NONE}),
        "the patient is on employee insurance, so there is no resident premium to pay.",
        "患者参加的是职工医保，无需缴纳居民医保费。",
    ),
    Purpose.FLEXIBLE_EMPLOYMENT_PREMIUM: (
        frozenset({InsuranceKind.EMPLOYEE, InsuranceKind.NONE}),
        "the patient is on resident insurance; a flexibly employed worker's premium is for "
        "employee insurance, so there is nothing to pay here.",
        "患者参加的是居民医保，灵活就业人员缴纳的是职工医保费，此项无需支付。",
    ),
}


class UseRule:
    @hookimpl
    def gongji_check(self, context: CheckContext) -> Sequence[Refusal] | None:
        purpose = context.purchase.purpose
        premium = _PREMIUM_FOR.get(purpose)
        if premium is not None and context.patient.insurance.kind not in premium[0]:
            return [refuse("R6", premium[1], premium[2], None)]
        if purpose in context.policy.mutual_aid.purposes:
            return None
        name = context.policy.name
        return [
            refuse(
                "R6",
                f"{name} does not allow mutual aid for {purpose_words(purpose)}, "
                f"so the account of {owner_label(binding.owner, binding.relation)} cannot pay.",
                f"{name}不允许家庭共济资金用于{purpose_words(purpose, 'zh')}，"
                f"{owner_label(binding.owner, binding.relation, 'zh')}的账户不能支付。",
                binding.owner,
            )
            for binding in context.bindings
        ] or None


PLUGINS = {"gongji.rules.R6": UseRule()}
