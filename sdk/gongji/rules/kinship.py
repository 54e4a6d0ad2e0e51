"""R2-R5: who may fund whom. Owner (R2), beneficiary insured (R3), relation (R4), binding state (R5)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from gongji.hookspecs import hookimpl
from gongji.model import Binding, BindingStatus, InsuranceKind, Person, Refusal, Relation
from gongji.rules import refuse
from gongji.rules.context import CheckContext
from gongji.rules.explain import owner_label


def _label(binding: Binding, language: str = "en") -> str:
    return owner_label(binding.owner, binding.relation, "zh" if language == "zh" else "en")


class OwnerRule:
    """R2: the funding account belongs to an active employee-insurance holder with an account."""

    @hookimpl
    def gongji_check(self, context: CheckContext) -> Sequence[Refusal] | None:
        refusals = []
        for binding in context.bindings:
            owner = context.owners.get(binding.owner)
            problem = _owner_problem(owner)
            if problem is not None:
                en, zh = problem
                refusals.append(
                    refuse(
                        "R2",
                        f"the account of {_label(binding)} cannot fund others: {en}.",
                        f"{_label(binding, 'zh')}的账户不能用于共济：{zh}。",
                        binding.owner,
                    )
                )
        return refusals or None


def _owner_problem(owner: Person | None) -> tuple[str, str] | None:
    if owner is None:
        return ("the insurance centre returned no data for the owner", "医保中心未返回共济人信息")
    if owner.insurance.kind is not InsuranceKind.EMPLOYEE:
        return (
            "only employee insurance has a personal account to share",
            "只有职工医保参保人的个人账户可以共济",
        )
    if not owner.insurance.is_active:
        return ("the owner's insurance is not active", "共济人参保状态不正常")
    if owner.account is None:
        return ("the owner has no personal account", "共济人没有个人账户")
    return None


class BeneficiaryInsuredRule:
    """R3: the beneficiary is enrolled in basic insurance (employee or resident), status active."""

    @hookimpl
    def gongji_check(self, context: CheckContext) -> Sequence[Refusal] | None:
        if context.patient.insurance.is_active or not context.bindings:
            return None
        return [
            refuse(
                "R3",
                f"the patient is not actively insured, so the account of {_label(binding)} cannot pay for them.",
                f"患者未正常参加基本医疗保险，{_label(binding, 'zh')}的账户不能为其支付。",
                binding.owner,
            )
            for binding in context.bindings
        ]


class RelationRule:
    """R4: the relation is in the region's set, and the ID numbers make it believable."""

    @hookimpl
    def gongji_check(self, context: CheckContext) -> Sequence[Refusal] | None:
        allowed = context.policy.mutual_aid.relations
        refusals = []
        for binding in context.bindings:
            if binding.relation not in allowed:
                refusals.append(
                    refuse(
                        "R4",
                        f"{binding.relation.value} is not among the relations that {context.policy.name} allows "
                        f"for mutual aid, so the account of {_label(binding)} cannot pay.",
                        f"{context.policy.name} 的家庭共济范围不包括此亲属关系，{_label(binding, 'zh')}的账户不能支付。",
                        binding.owner,
                    )
                )
                continue
            problem = _implausible(binding, context)
            if problem is not None:
                refusals.append(
                    refuse(
                        "R4",
                        f"the binding to {_label(binding)} is implausible: {problem[0]}.",
                        f"与{_label(binding, 'zh')}的共济关系不合常理：{problem[1]}。",
                        binding.owner,
                    )
                )
        return refusals or None


def _implausible(binding: Binding, context: CheckContext) -> tuple[str, str] | None:
    """Birth dates and sexes from GB 11643 numbers against the claimed relation."""
    rules = context.policy.plausibility
    owner, beneficiary = binding.owner, binding.beneficiary
    if owner == beneficiary:
        return ("an account cannot be bound to its own owner", "共济人与被共济人为同一人")
    generations = binding.relation.generations
    if generations:
        elder, younger = (beneficiary, owner) if generations > 0 else (owner, beneficiary)
        need = rules.parent_min_years if abs(generations) == 1 else rules.grandparent_min_years
        gap = elder.age_on(younger.birth_date)  # completed years between the two births
        if gap < need:
            return (
                f"the elder is only {gap} years older; this relation needs at least {need}",
                f"长辈仅比晚辈年长 {gap} 岁，该关系至少需要 {need} 岁",
            )
    elif binding.relation is Relation.SPOUSE:
        for person in (owner, beneficiary):
            minimum = rules.marriage_age_male if person.sex == "male" else rules.marriage_age_female
            if person.age_on(context.today) < minimum:
                return (
                    f"{person.masked} is under the marriageable age of {minimum}",
                    f"{person.masked} 未达法定婚龄 {minimum} 岁",
                )
    return None


class BindingStateRule:
    """R5: only an approved binding pays; pending, rejected and revoked ones do not."""

    _WHY: ClassVar[dict[BindingStatus, tuple[str, str]]] = {
        BindingStatus.PENDING: (
            "is still under review (1-3 working days)",
            "仍在审核中(1-3个工作日)",
        ),
        BindingStatus.REJECTED: ("was rejected", "审核未通过"),
        BindingStatus.REVOKED: ("was revoked", "已解除"),
    }

    @hookimpl
    def gongji_check(self, context: CheckContext) -> Sequence[Refusal] | None:
        refusals = []
        for binding in context.bindings:
            if binding.status is BindingStatus.ACTIVE:
                continue
            en, zh = self._WHY[binding.status]
            refusals.append(
                refuse(
                    "R5",
                    f"the mutual-aid binding with {_label(binding)} {en}, so that account cannot pay yet.",
                    f"与{_label(binding, 'zh')}的家庭共济绑定{zh}，该账户暂不能支付。",
                    binding.owner,
                )
            )
        return refusals or None


PLUGINS = {
    "gongji.rules.R2": OwnerRule(),
    "gongji.rules.R3": BeneficiaryInsuredRule(),
    "gongji.rules.R4": RelationRule(),
    "gongji.rules.R5": BindingStateRule(),
}
