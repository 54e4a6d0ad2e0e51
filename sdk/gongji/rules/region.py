"""R7, region: same pooling region always; same province where the pack allows (nationwide since
2025, seed 002 l.7); another province only where the pack pairs the two: both listed as partner
provinces, or the pair declared."""

from __future__ import annotations

from collections.abc import Sequence

from gongji.hookspecs import hookimpl
from gongji.model import Refusal
from gongji.policy import PolicyPack
from gongji.rules import refuse
from gongji.rules.context import CheckContext
from gongji.rules.explain import owner_label


def region_allows(
    owner_region: str, beneficiary_region: str, policy: PolicyPack
) -> tuple[str, str] | None:
    """None when the two insurance regions may share; else why not (en, zh)."""
    if not owner_region or not beneficiary_region:
        return ("the insurance region of one side is unknown", "一方参保地未知")
    # A pooling region (统筹区) is a prefecture-level city: the first 4 digits of the code.
    if owner_region[:4] == beneficiary_region[:4]:
        return None
    aid = policy.mutual_aid
    if owner_region[:2] == beneficiary_region[:2]:
        if aid.same_province:
            return None
        return (
            "this region's policy allows mutual aid only within one pooling region",
            "本地政策仅允许统筹区内共济",
        )
    if aid.provinces_paired(owner_region[:2], beneficiary_region[:2]):
        return None
    return (
        f"the accounts are insured in different provinces ({owner_region[:2]} and {beneficiary_region[:2]}) "
        f"and {policy.name} does not pair them for cross-province mutual aid",
        f"双方参保地属于不同省份，{policy.name}未开通这两省之间的跨省共济",
    )


class RegionRule:
    @hookimpl
    def gongji_check(self, context: CheckContext) -> Sequence[Refusal] | None:
        beneficiary_region = context.patient.insurance.region
        refusals = []
        for binding in context.bindings:
            owner = context.owners.get(binding.owner)
            if owner is None:
                continue  # R2 refuses an owner the centre did not describe
            problem = region_allows(owner.insurance.region, beneficiary_region, context.policy)
            if problem is not None:
                refusals.append(
                    refuse(
                        "R7",
                        f"the account of {owner_label(binding.owner, binding.relation)} cannot pay here: {problem[0]}.",
                        f"{owner_label(binding.owner, binding.relation, 'zh')}的账户不能在此支付：{problem[1]}。",
                        binding.owner,
                    )
                )
        return refusals or None


PLUGINS = {"gongji.rules.R7": RegionRule()}
