"""R6, use: what a relative's account may pay for.

Cash-only categories (cosmetics, supplements, fitness, daily goods) do not refuse
the purchase: those lines go to the cash share for everyone (``CheckContext.cash_only``).
Here: the purpose must be one the region allows for mutual aid, and a resident
premium is for someone on resident insurance.
"""

from __future__ import annotations

from collections.abc import Sequence

from gongji.hookspecs import hookimpl
from gongji.model import InsuranceKind, Purpose, Refusal
from gongji.rules import refuse
from gongji.rules.context import CheckContext
from gongji.rules.explain import owner_label

_PURPOSE_ZH = {
    Purpose.MEDICAL: "医疗费用",
    Purpose.RESIDENT_PREMIUM: "居民医保缴费",
    Purpose.VACCINE: "自费疫苗",
    Purpose.PHYSICAL_EXAM: "体检",
    Purpose.SUPPLEMENTARY_INSURANCE: "惠民保等补充保险",
}


class UseRule:
    @hookimpl
    def gongji_check(self, context: CheckContext) -> Sequence[Refusal] | None:
        purpose = context.purchase.purpose
        if (
            purpose is Purpose.RESIDENT_PREMIUM
            and context.patient.insurance.kind is InsuranceKind.EMPLOYEE
        ):
            return [
                refuse(
                    "R6",
                    "the patient is on employee insurance, so there is no resident premium to pay.",
                    "患者参加的是职工医保，无需缴纳居民医保费。",
                    None,
                )
            ]
        if purpose in context.policy.mutual_aid.purposes:
            return None
        return [
            refuse(
                "R6",
                f"{context.policy.name} does not allow mutual aid for {purpose.value.replace('_', ' ')}, "
                f"so the account of {owner_label(binding.owner, binding.relation)} cannot pay.",
                f"{context.policy.name} 不允许家庭共济资金用于{_PURPOSE_ZH[purpose]}，"
                f"{owner_label(binding.owner, binding.relation, 'zh')}的账户不能支付。",
                binding.owner,
            )
            for binding in context.bindings
        ] or None


PLUGINS = {"gongji.rules.R6": UseRule()}
