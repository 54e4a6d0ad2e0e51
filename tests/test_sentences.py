"""Every refusal and warning of every rule is a sentence a cashier can say aloud, in en and zh.

Data-driven and exhaustive: ``SCENES`` makes each reason of each rule happen at least once
(every relation, every purpose, every binding state, each owner problem, each region case),
and every sentence they produce, in both languages, is checked against ``FORBIDDEN``.
A new reason added to a rule without a scene here fails ``test_every_rule_speaks``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import msgspec
import pytest

from gongji import DiseaseNotRegistered, EligibilityError, Fen, OwnCardViolation, Person
from gongji.flows.premium import REVERSED_WHY as PREMIUM_REVERSED_WHY
from gongji.flows.risk import refusal as risk_refusal
from gongji.flows.risk import warning as risk_warning
from gongji.flows.steps import REVERSED_WHY
from gongji.gateways import RiskFinding, RiskStage
from gongji.model import BindingStatus, Purpose, Relation, RuleWarning
from gongji.plugins import get_plugin_manager
from gongji.policy import PolicyPack, get_policy
from gongji.premium import PREMIUM_KINDS
from gongji.rules import premium as premium_rules
from gongji.rules.assess import assess
from gongji.rules.context import CheckContext
from tests.conftest import (
    BROTHER_BEIJING,
    CHILD,
    COUSIN_GANSU,
    FATHER,
    OWNER,
    OWNER_WIFE,
    PATIENT,
    SISTER_BENXI,
    STRANGER,
    binding,
    context,
    make_id,
    person,
    purchase,
)
from tests.test_refusal_sentences import CHRONIC_CASES

SON = person(OWNER, balance=50_000)
MOTHER = person(PATIENT, "resident")
YOUNG_WOMAN = make_id("210202", "20100101", "024")  # 16 in 2026
# A woman 10 years older than the owner: a possible, unusual "parent".
YOUNG_PARENT = make_id("210202", "19750317", "004")

# What a cashier must never read: raw identifiers, negative numbers, a doubled word.
FORBIDDEN: dict[str, re.Pattern[str]] = {
    "an underscore (a raw identifier)": re.compile(r"_"),
    "a leading lower-case identifier": re.compile(r"^[a-z]"),
    "a negative number": re.compile(r"(?<![\w)])-\s?[0-9]"),
    "a doubled word": re.compile(r"\b(\w+)\s+\1\b", re.IGNORECASE),
    "an enum value": re.compile(
        r"\b("
        + "|".join(
            re.escape(member.value)
            for kind in (Relation, Purpose, BindingStatus)
            for member in kind
            if "_" in member.value
        )
        + r")\b"
    ),
}
# Chinese sentences: the same, where the pattern means something in Chinese.
FORBIDDEN_ZH = {
    name: pattern
    for name, pattern in FORBIDDEN.items()
    if name not in ("a leading lower-case identifier", "a doubled word")
}
FORBIDDEN_ZH["a doubled character pair (的的, 的账户的账户)"] = re.compile(r"([\u4e00-\u9fff]+)\1")


def _with(pack: PolicyPack, **mutual_aid: object) -> PolicyPack:
    return msgspec.structs.replace(
        pack, mutual_aid=msgspec.structs.replace(pack.mutual_aid, **mutual_aid)
    )


def _scenes() -> Iterator[tuple[str, Callable[[], CheckContext]]]:
    national = get_policy("national-2025")
    # The national relations with the demo's (made-up) age-gap thresholds, so both warn.
    warns = msgspec.structs.replace(national, plausibility=get_policy("demo-dalian").plausibility)
    # R1: both reasons.
    yield "R1 card resolved to another", lambda: context(holder=SON, buy=purchase(PATIENT))
    yield (
        "R1 impersonation",
        lambda: context(holder=SON, buy=purchase(OWNER, patient_id=PATIENT)),
    )
    # R2: each owner problem.
    yield "R2 no owner data", lambda: context(holder=MOTHER, bindings=[binding()], owners=[])
    for kind in ("resident", "none"):
        yield (
            f"R2 {kind} owner",
            lambda kind=kind: context(  # type: ignore[misc]
                holder=MOTHER, bindings=[binding()], owners=[person(OWNER, kind)]
            ),
        )
    yield (
        "R2 suspended owner refused by the pack",
        lambda: context(
            holder=MOTHER,
            bindings=[binding()],
            owners=[person(OWNER, status="suspended")],
            policy=_with(national, suspended_owner_may_pay=False),
        ),
    )
    yield (
        "R2 owner without an account",
        lambda: context(
            holder=MOTHER,
            bindings=[binding()],
            owners=[Person(SON.id, SON.name, SON.insurance, None)],
        ),
    )
    # R3.
    yield (
        "R3 beneficiary not insured",
        lambda: context(holder=person(PATIENT, "none"), bindings=[binding()], owners=[SON]),
    )
    # R4: every relation outside a narrow set, both owner sexes.
    narrow = _with(national, relations=frozenset({Relation.SPOUSE}))
    for relation in Relation:
        for owner in (SON, person(OWNER_WIFE, balance=50_000)):
            if relation is Relation.SPOUSE:
                continue
            yield (
                f"R4 {relation.value} not allowed, owner {owner.id.sex}",
                lambda relation=relation, owner=owner: context(  # type: ignore[misc]
                    holder=MOTHER,
                    bindings=[binding(owner=owner.id, relation=relation)],
                    owners=[owner],
                    policy=narrow,
                ),
            )
    yield (
        "R4 bound to oneself",
        lambda: context(
            holder=SON, buy=purchase(OWNER), bindings=[binding(beneficiary=OWNER)], owners=[SON]
        ),
    )
    for relation, beneficiary in (
        (Relation.PARENT, CHILD),
        (Relation.PATERNAL_GRANDPARENT, CHILD),
        (Relation.CHILD, PATIENT),
        (Relation.MATERNAL_GRANDCHILD, PATIENT),
    ):
        yield (
            f"R4 impossible {relation.value}",
            lambda relation=relation, beneficiary=beneficiary: context(  # type: ignore[misc]
                holder=person(beneficiary, "resident"),
                bindings=[binding(beneficiary=beneficiary, relation=relation)],
                owners=[SON],
            ),
        )
    for relation in (Relation.PARENT, Relation.PATERNAL_GRANDPARENT):
        yield (
            f"R4 unusual age gap {relation.value}",
            lambda relation=relation: context(  # type: ignore[misc]
                holder=person(YOUNG_PARENT, "resident"),
                bindings=[binding(beneficiary=YOUNG_PARENT, relation=relation)],
                owners=[SON],
                policy=warns,
            ),
        )
    yield (
        "R4 spouse under age",
        lambda: context(
            holder=person(YOUNG_WOMAN, "resident"),
            bindings=[binding(beneficiary=YOUNG_WOMAN, relation="spouse")],
            owners=[SON],
        ),
    )
    # R5: every state but approved.
    for status in BindingStatus:
        if status is not BindingStatus.ACTIVE:
            yield (
                f"R5 {status.value}",
                lambda status=status: context(  # type: ignore[misc]
                    holder=MOTHER, bindings=[binding(status=status)], owners=[SON]
                ),
            )
    # R6: every purpose refused, and both premiums for the wrong insurance.
    nothing = _with(national, purposes=frozenset())
    for purpose in Purpose:
        yield (
            f"R6 {purpose.value} not allowed",
            lambda purpose=purpose: context(  # type: ignore[misc]
                holder=MOTHER if purpose is not Purpose.FLEXIBLE_EMPLOYMENT_PREMIUM else SON,
                buy=purchase(
                    PATIENT if purpose is not Purpose.FLEXIBLE_EMPLOYMENT_PREMIUM else OWNER,
                    purpose=purpose,
                ),
                bindings=[
                    binding(
                        owner=FATHER,
                        beneficiary=PATIENT
                        if purpose is not Purpose.FLEXIBLE_EMPLOYMENT_PREMIUM
                        else OWNER,
                        relation="spouse"
                        if purpose is not Purpose.FLEXIBLE_EMPLOYMENT_PREMIUM
                        else "child",
                    )
                ],
                owners=[person(FATHER)],
                policy=nothing,
            ),
        )
    yield (
        "R6 resident premium for an employee",
        lambda: context(holder=person(FATHER), buy=purchase(FATHER, purpose="resident_premium")),
    )
    yield (
        "R6 flexible-employment premium for a resident",
        lambda: context(
            holder=MOTHER, buy=purchase(PATIENT, purpose="flexible_employment_premium")
        ),
    )
    # R7: unknown region, same province refused, another province.
    yield (
        "R7 unknown region",
        lambda: context(
            holder=person(PATIENT, "resident", region=""), bindings=[binding()], owners=[SON]
        ),
    )
    yield (
        "R7 same province, pack keeps one region",
        lambda: context(
            holder=MOTHER,
            bindings=[binding(owner=SISTER_BENXI, relation="parent")],
            owners=[person(SISTER_BENXI, region="210502")],
            policy=_with(national, same_province=False),
        ),
    )
    for elsewhere in (COUSIN_GANSU, BROTHER_BEIJING):
        yield (
            f"R7 another province {elsewhere[:2]}",
            lambda elsewhere=elsewhere: context(  # type: ignore[misc]
                holder=MOTHER,
                bindings=[binding(owner=elsewhere, relation="parent")],
                owners=[person(elsewhere, region=elsewhere[:6])],
            ),
        )
    # R8.
    yield (
        "R8 no balance",
        lambda: context(holder=MOTHER, bindings=[binding()], owners=[person(OWNER, balance=0)]),
    )
    yield (
        "R8 zero limit",
        lambda: context(
            holder=MOTHER, bindings=[binding(per_transaction_limit=Fen(0))], owners=[SON]
        ),
    )
    # R9.
    yield (
        "R9 another patient's binding",
        lambda: context(holder=MOTHER, bindings=[binding(beneficiary=STRANGER)], owners=[SON]),
    )
    yield (
        "R9 one owner twice",
        lambda: context(
            holder=MOTHER, bindings=[binding(priority=1), binding(priority=2)], owners=[SON]
        ),
    )


SCENES = dict(_scenes())


def _spoken(make: Callable[[], CheckContext]) -> list[tuple[str, str, str]]:
    """(rule, en, zh) of every refusal and warning the scene produces, R1's included
    (asked of the rules directly: ``assess`` raises R1 as an error)."""
    results = get_plugin_manager().hook.gongji_check(context=make())
    return [
        (said.rule, said.reason, said.reason_zh) for found in results if found for said in found
    ]


@pytest.mark.parametrize("scene", sorted(SCENES))
def test_every_refusal_and_warning_reads_as_a_sentence(scene: str) -> None:
    spoken = _spoken(SCENES[scene])
    assert spoken, f"{scene} produced no sentence"
    for rule, en, zh in spoken:
        assert en.endswith(".") and en[:1].isupper(), en
        for what, pattern in FORBIDDEN.items():
            assert not pattern.search(en), f"{rule} ({scene}) en has {what}: {en}"
        for what, pattern in FORBIDDEN_ZH.items():
            assert not pattern.search(zh), f"{rule} ({scene}) zh has {what}: {zh}"
        if "rejected" in scene or "revoked" in scene:
            assert "yet" not in en and "暂" not in zh, (en, zh)


def test_r1_refusal_stops_the_sale_with_its_sentence() -> None:
    with pytest.raises(OwnCardViolation) as caught:
        assess(SCENES["R1 impersonation"]())
    ((_, en, zh),) = _spoken(SCENES["R1 impersonation"])
    assert en in str(caught.value) and "冒名就医" in zh


def test_every_rule_speaks() -> None:
    spoken_rules = {rule for make in SCENES.values() for rule, _, _ in _spoken(make)}
    assert spoken_rules == {f"R{n}" for n in range(1, 10)}
    warned = {
        scene
        for scene, make in SCENES.items()
        if any(isinstance(w, RuleWarning) for w in _warnings(make))
    }
    assert {"R4 spouse under age", "R4 unusual age gap parent"} <= warned


def _warnings(make: Callable[[], CheckContext]) -> tuple[RuleWarning, ...]:
    try:
        return assess(make()).warnings
    except EligibilityError:
        return ()


@pytest.mark.parametrize("state", sorted(REVERSED_WHY))
def test_why_a_reversed_sale_failed_is_a_sentence(state: str) -> None:
    why = REVERSED_WHY[state]  # type: ignore[index]
    assert why[:1].isupper() and why.endswith(".")
    for what, pattern in FORBIDDEN.items():
        assert not pattern.search(why), f"{state}: {what}: {why}"


# A premium on behalf (gongji.rules.premium) adds two refusals of its own.
PREMIUM_SENTENCES = {
    f"{name} {kind.value}": make(kind)
    for kind in PREMIUM_KINDS
    for name, make in {
        "no binding": lambda kind: premium_rules.no_binding(SON, MOTHER, kind),
        "short of the premium": lambda kind: premium_rules.short_of_premium(
            SON, Fen(38_000), Fen(30_000), kind
        ),
    }.items()
}


@pytest.mark.parametrize("name", sorted(PREMIUM_SENTENCES))
def test_the_premium_refusals_read_as_sentences(name: str) -> None:
    said = PREMIUM_SENTENCES[name]
    assert said.reason[:1].isupper() and said.reason.endswith(".")
    for what, pattern in FORBIDDEN.items():
        assert not pattern.search(said.reason), f"{name} en has {what}: {said.reason}"
    for what, pattern in FORBIDDEN_ZH.items():
        assert not pattern.search(said.reason_zh), f"{name} zh has {what}: {said.reason_zh}"


@pytest.mark.parametrize("state", sorted(PREMIUM_REVERSED_WHY))
def test_why_a_reversed_premium_failed_is_a_sentence(state: str) -> None:
    why = PREMIUM_REVERSED_WHY[state]  # type: ignore[index]
    assert why[:1].isupper() and why.endswith(".")
    for what, pattern in FORBIDDEN.items():
        assert not pattern.search(why), f"{state}: {what}: {why}"


# A sale under a chronic or special disease the patient is not registered for (gongji.chronic).
@pytest.mark.parametrize("case", sorted(CHRONIC_CASES))
def test_the_chronic_disease_refusals_read_as_sentences(case: str) -> None:
    build, _, _ = CHRONIC_CASES[case]
    with pytest.raises(DiseaseNotRegistered) as refused:
        build()
    en, zh = refused.value.message, refused.value.reason_zh
    assert en[:1].isupper() and en.endswith(".") and zh.endswith("。")
    for what, pattern in FORBIDDEN.items():
        assert not pattern.search(en), f"{case} en has {what}: {en}"
    for what, pattern in FORBIDDEN_ZH.items():
        assert not pattern.search(zh), f"{case} zh has {what}: {zh}"


# The centre's rule checks (3101/3102, gongji.flows.risk): a finding is a warning, a blocking
# one the refusal of the sale; the centre's own words sit inside the till's sentence.
RISK_FINDINGS = {
    "named, with an amount": RiskFinding(
        stage=RiskStage.PRE_EVENT,
        rule_id="R01",
        rule_name="配伍禁忌",
        content="患者处方中存在配伍禁忌的药品【A药】、【B药】",
        amount=Fen(2_500),
        severity="2",
    ),
    "unnamed, no words, no amount": RiskFinding(
        stage=RiskStage.IN_EVENT, rule_id="", rule_name="", content="", blocking=True
    ),
}


@pytest.mark.parametrize("name", sorted(RISK_FINDINGS))
def test_a_centre_check_speaks_in_sentences(name: str) -> None:
    finding = RISK_FINDINGS[name]
    said = risk_warning(finding)
    refused = risk_refusal([finding, finding], "cityins")
    for en in (said.reason, refused.message, refused.next_step):
        assert en[:1].isupper() and en.endswith("."), en
        for what, pattern in FORBIDDEN.items():
            assert not pattern.search(en), f"{name} en has {what}: {en}"
    for zh in (said.reason_zh, refused.err_msg or ""):
        assert zh.endswith("。"), zh
        for what, pattern in FORBIDDEN_ZH.items():
            assert not pattern.search(zh), f"{name} zh has {what}: {zh}"
