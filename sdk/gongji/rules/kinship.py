"""R2-R5: who may fund whom. Owner (R2), beneficiary insured (R3), relation (R4), binding state (R5)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from gongji.hookspecs import hookimpl
from gongji.model import (
    Binding,
    BindingStatus,
    InsuranceKind,
    InsuranceStatus,
    Person,
    Refusal,
    Relation,
    RuleWarning,
)
from gongji.rules import refuse, warn
from gongji.rules.context import CheckContext
from gongji.rules.explain import owner_label, relation_words


def _label(binding: Binding, language: str = "en") -> str:
    return owner_label(binding.owner, binding.relation, "zh" if language == "zh" else "en")


class OwnerRule:
    """R2: the funding account belongs to an employee-insurance holder with an account.

    A suspended status (contributions paused, as after leaving a job) funds others only
    where the pack says so (``mutual_aid.suspended_owner_may_pay``, seed 000 l.98).
    """

    @hookimpl
    def gongji_check(self, context: CheckContext) -> Sequence[Refusal] | None:
        refusals = []
        for binding in context.bindings:
            owner = context.owners.get(binding.owner)
            problem = _owner_problem(owner, context)
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


def _owner_problem(owner: Person | None, context: CheckContext) -> tuple[str, str] | None:
    if owner is None:
        return ("the insurance centre returned no data for the owner", "医保中心未返回共济人信息")
    if owner.insurance.kind is not InsuranceKind.EMPLOYEE:
        return (
            "only employee insurance has a personal account to share",
            "只有职工医保参保人的个人账户可以共济",
        )
    suspended = owner.insurance.status is InsuranceStatus.SUSPENDED
    if suspended and not context.policy.mutual_aid.suspended_owner_may_pay:
        return (
            f"the owner's insurance is suspended, and {context.policy.name} lets only active "
            "insurance fund relatives",
            f"共济人参保暂停，{context.policy.name}仅允许正常参保的账户共济",
        )
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
    """R4: the relation is in the region's set on the day of the sale, and the ID numbers
    do not make it impossible. What is possible but unusual is a warning, never a refusal:
    step- and adoptive parents are parents in law, and the centre approved the binding."""

    @hookimpl
    def gongji_check(self, context: CheckContext) -> Sequence[Refusal | RuleWarning] | None:
        allowed = context.policy.mutual_aid.relations_on(context.today)
        findings: list[Refusal | RuleWarning] = []
        for binding in context.bindings:
            if binding.relation not in allowed:
                name = context.policy.name
                findings.append(
                    refuse(
                        "R4",
                        f"{name} does not include the owner's {relation_words(binding.relation)} "
                        f"in mutual aid, so the account of {_label(binding)} cannot pay.",
                        f"{name}的家庭共济范围不包括共济人的{relation_words(binding.relation, 'zh')}，"
                        f"{_label(binding, 'zh')}的账户不能支付。",
                        binding.owner,
                    )
                )
                continue
            found = _impossible(binding) or _unusual(binding, context)
            if found is not None:
                findings.append(found)
        return findings or None


def _impossible(binding: Binding) -> Refusal | None:
    """Birth dates from GB 11643 numbers that no family can have: refused."""
    owner, patient = binding.owner, binding.beneficiary
    label, label_zh = _label(binding), _label(binding, "zh")
    if owner == patient:
        return refuse(
            "R4",
            f"the binding names the patient as their own relative, so the account of {label} cannot pay.",
            f"绑定中共济人与被共济人为同一人，{label_zh}的账户不能支付。",
            binding.owner,
        )
    generations = binding.relation.generations
    if not generations:
        return None
    # The patient is the elder when the relation goes up from the owner (a parent, a grandparent).
    patient_is_elder = generations > 0
    elder, younger = (patient, owner) if patient_is_elder else (owner, patient)
    if elder.birth_date <= younger.birth_date:
        return None
    relation, relation_zh = relation_words(binding.relation), relation_words(binding.relation, "zh")
    when, when_zh = ("after", "晚于") if patient_is_elder else ("before", "早于")
    return refuse(
        "R4",
        f"the binding records the patient as the owner's {relation}, but the patient was born "
        f"{when} the owner, so the account of {label} cannot pay until the centre corrects it.",
        f"绑定记录患者为共济人的{relation_zh}，但患者出生{when_zh}共济人，"
        f"{label_zh}的账户不能支付，请联系医保中心更正。",
        binding.owner,
    )


def _unusual(binding: Binding, context: CheckContext) -> RuleWarning | None:
    """Ages that are possible but rare, against the pack's thresholds: a warning."""
    rules = context.policy.plausibility
    owner, patient = binding.owner, binding.beneficiary
    label, label_zh = _label(binding), _label(binding, "zh")
    generations = binding.relation.generations
    if generations:
        elder, younger = (patient, owner) if generations > 0 else (owner, patient)
        need = rules.parent_min_years if abs(generations) == 1 else rules.grandparent_min_years
        gap = elder.age_on(younger.birth_date)  # completed years between the births, >= 0 here
        if need is None or gap >= need:
            return None
        relation, relation_zh = (
            relation_words(binding.relation),
            relation_words(binding.relation, "zh"),
        )
        return warn(
            "R4",
            f"the binding records the patient as the owner's {relation}, and their births are "
            f"{gap} years apart, which is unusual; a step- or adoptive family is possible, so "
            f"this does not stop the account of {label} from paying.",
            f"绑定记录患者为共济人的{relation_zh}，两人出生相差{gap}年，较为少见；"
            f"继父母、养父母等情形也有可能，{label_zh}的账户仍可支付。",
            binding.owner,
        )
    if binding.relation is not Relation.SPOUSE:
        return None
    for person in (owner, patient):
        minimum = rules.marriage_age_male if person.sex == "male" else rules.marriage_age_female
        age = person.age_on(context.today)
        if minimum is not None and 0 <= age < minimum:
            return warn(
                "R4",
                f"the spouse {person.masked} is {age}, under the marriageable age of {minimum}; "
                f"this is unusual, and it does not stop the account of {label} from paying.",
                f"配偶 {person.masked} 现年 {age} 岁，未达法定婚龄 {minimum} 岁，较为少见；"
                f"{label_zh}的账户仍可支付。",
                binding.owner,
            )
    return None


class BindingStateRule:
    """R5: only an approved binding pays; pending, rejected and revoked ones do not."""

    _WHY: ClassVar[dict[BindingStatus, tuple[str, str]]] = {
        BindingStatus.PENDING: (
            "is still under review (1-3 working days), so that account cannot pay yet",
            "仍在审核中(1-3个工作日)，该账户暂不能支付",
        ),
        # Neither will pay later: no "yet" (暂) for them.
        BindingStatus.REJECTED: (
            "was rejected, so that account cannot pay",
            "审核未通过，该账户不能支付",
        ),
        BindingStatus.REVOKED: (
            "was revoked, so that account cannot pay",
            "已解除，该账户不能支付",
        ),
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
                    f"the mutual-aid binding with {_label(binding)} {en}.",
                    f"与{_label(binding, 'zh')}的家庭共济绑定{zh}。",
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
