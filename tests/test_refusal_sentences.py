"""Every refusal and warning a cashier can read, word for word, in English and Chinese (issue 19).

Each case builds the purchase that makes one rule refuse or warn, runs every rule through
the ``gongji_check`` hook and reads that rule's sentences. A rule whose words change must
change them here too, on purpose: this file is the list of what a till can say.
``test_sentences.py`` checks the same sentences against what a cashier must never read.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable

import attrs
import msgspec
import pytest

from gongji import ChronicDisease, DiseaseNotRegistered, Fen
from gongji.chronic import choose
from gongji.flows.risk import refusal as risk_refusal
from gongji.flows.risk import warning as risk_warning
from gongji.gateways import RiskFinding, RiskStage
from gongji.identity import IdNumber
from gongji.model import Insurance, Person
from gongji.plugins import make_plugin_manager
from gongji.policy import get_policy
from gongji.rules.context import CheckContext
from tests.conftest import (
    CHILD,
    FATHER,
    OWNER,
    PATIENT,
    binding,
    context,
    make_id,
    person,
    purchase,
)

SON = person(OWNER, balance=50_000)
MOTHER = person(PATIENT, "resident")
S = IdNumber(OWNER).masked  # the son, as every sentence names him
M = IdNumber(PATIENT).masked  # the mother, the patient
SONS = f"the patient's son ({S})"
SONS_ZH = f"患者的儿子({S})"
# The same son, seen from a patient bound to him as his brother, father or husband.
BROTHERS, BROTHERS_ZH = f"the patient's brother ({S})", f"患者的兄弟({S})"
FATHERS, FATHERS_ZH = f"the patient's father ({S})", f"患者的父亲({S})"
HUSBANDS, HUSBANDS_ZH = f"the patient's husband ({S})", f"患者的丈夫({S})"
# A woman 10 years older than the son: a possible, unusual parent.
YOUNG_PARENT = make_id("210202", "19750317", "004")
# A girl of 16 on the day of the sale, below the marriageable age of 20.
YOUNG_WOMAN = make_id("210202", "20100101", "024")
W = IdNumber(YOUNG_WOMAN).masked
# Dalian's pack with the one thing R2 asks of it set: a suspended owner may not pay.
_DALIAN = get_policy("liaoning-dalian-2025")
ONLY_ACTIVE_OWNERS = msgspec.structs.replace(
    _DALIAN,
    mutual_aid=msgspec.structs.replace(_DALIAN.mutual_aid, suspended_owner_may_pay=False),
)

CASES: dict[str, tuple[Callable[[], CheckContext], str, str, str]] = {
    "R1 card resolved to someone else": (
        lambda: context(holder=SON, buy=purchase(PATIENT), owners=[SON]),
        "R1",
        f"The card names {M} but the insurance centre resolved it to {S}; it cannot be used.",
        f"证件号 {M} 与医保中心识别的参保人 {S} 不一致，不能使用。",
    ),
    "R1 another person's credential": (
        lambda: context(holder=SON, buy=purchase(OWNER, patient_id=PATIENT), owners=[SON]),
        "R1",
        f"The credential presented belongs to {S}, not to the patient {M}. "
        "Settling with another person's credential is impersonation (冒名就医).",
        f"所出示的凭证属于 {S}，不是患者 {M} 本人的。使用他人医保凭证结算属于冒名就医。"
        "请出示患者本人的医保电子凭证或医保卡；家人的个人账户可通过家庭共济支付。",
    ),
    "R2 owner unknown to the centre": (
        lambda: context(holder=MOTHER, bindings=[binding()], owners=[]),
        "R2",
        f"The account of {SONS} cannot fund others: "
        "the insurance centre returned no data for the owner.",
        f"{SONS_ZH}的账户不能用于共济：医保中心未返回共济人信息。",
    ),
    "R2 owner on resident insurance": (
        lambda: context(holder=MOTHER, bindings=[binding()], owners=[person(OWNER, "resident")]),
        "R2",
        f"The account of {SONS} cannot fund others: "
        "only employee insurance has a personal account to share.",
        f"{SONS_ZH}的账户不能用于共济：只有职工医保参保人的个人账户可以共济。",
    ),
    "R2 owner without an account": (
        lambda: context(
            holder=MOTHER,
            bindings=[binding()],
            owners=[Person(OWNER, "测试", Insurance("employee", "active", "210202"), None)],
        ),
        "R2",
        f"The account of {SONS} cannot fund others: the owner has no personal account.",
        f"{SONS_ZH}的账户不能用于共济：共济人没有个人账户。",
    ),
    "R2 suspended owner where the pack lets only active insurance pay": (
        lambda: context(
            holder=MOTHER,
            bindings=[binding()],
            owners=[person(OWNER, status="suspended")],
            policy=ONLY_ACTIVE_OWNERS,
        ),
        "R2",
        f"The account of {SONS} cannot fund others: the owner's insurance is suspended, "
        "and Dalian 2025 (大连) lets only active insurance fund relatives.",
        f"{SONS_ZH}的账户不能用于共济：共济人参保暂停，Dalian 2025 (大连)仅允许正常参保的账户共济。",
    ),
    "R3 patient not insured": (
        lambda: context(holder=person(PATIENT, "none"), bindings=[binding()], owners=[SON]),
        "R3",
        f"The patient is not actively insured, so the account of {SONS} cannot pay for them.",
        f"患者未正常参加基本医疗保险，{SONS_ZH}的账户不能为其支付。",
    ),
    "R4 relation outside the pack's set": (
        lambda: context(
            holder=MOTHER,
            bindings=[binding(relation="sibling")],
            owners=[SON],
            policy="legacy-2021",
        ),
        "R4",
        "National 2021-2024: spouse, parents, children does not include the owner's brother or "
        f"sister in mutual aid, so the account of {BROTHERS} cannot pay.",
        "National 2021-2024: spouse, parents, children的家庭共济范围不包括共济人的兄弟姐妹，"
        f"{BROTHERS_ZH}的账户不能支付。",
    ),
    "R4 bound to oneself": (
        lambda: context(
            holder=SON, buy=purchase(OWNER), bindings=[binding(beneficiary=OWNER)], owners=[SON]
        ),
        "R4",
        "The binding names the patient as their own relative, "
        f"so the account of {SONS} cannot pay.",
        f"绑定中共济人与被共济人为同一人，{SONS_ZH}的账户不能支付。",
    ),
    "R4 a parent born after the owner": (
        lambda: context(
            holder=person(CHILD, "resident"),
            bindings=[binding(beneficiary=CHILD, relation="parent")],
            owners=[SON],
        ),
        "R4",
        "The binding records the patient as the owner's parent, but the patient was born after "
        f"the owner, so the account of {SONS} cannot pay until the centre corrects it.",
        f"绑定记录患者为共济人的父母，但患者出生晚于共济人，{SONS_ZH}的账户不能支付，请联系医保中心更正。",
    ),
    "R4 a child born before the owner": (
        lambda: context(holder=MOTHER, bindings=[binding(relation="child")], owners=[SON]),
        "R4",
        "The binding records the patient as the owner's child, but the patient was born before "
        f"the owner, so the account of {FATHERS} cannot pay until the centre corrects it.",
        f"绑定记录患者为共济人的子女，但患者出生早于共济人，{FATHERS_ZH}的账户不能支付，请联系医保中心更正。",
    ),
    "R4 warns of a parent 10 years older": (
        lambda: context(
            holder=person(YOUNG_PARENT, "resident"),
            bindings=[binding(beneficiary=YOUNG_PARENT, relation="parent")],
            owners=[SON],
            policy="demo-dalian",
        ),
        "R4",
        "The binding records the patient as the owner's parent, and their births are 10 years "
        "apart, which is unusual; a step- or adoptive family is possible, so this does not stop "
        f"the account of {SONS} from paying.",
        "绑定记录患者为共济人的父母，两人出生相差10年，较为少见；继父母、养父母等情形也有可能，"
        f"{SONS_ZH}的账户仍可支付。",
    ),
    "R4 warns of a spouse under the marriageable age": (
        lambda: context(
            holder=person(YOUNG_WOMAN, "resident"),
            bindings=[binding(beneficiary=YOUNG_WOMAN, relation="spouse")],
            owners=[SON],
        ),
        "R4",
        f"The spouse {W} is 16, under the marriageable age of 20; this is unusual, and it does "
        f"not stop the account of {HUSBANDS} from paying.",
        f"配偶 {W} 现年 16 岁，未达法定婚龄 20 岁，较为少见；{HUSBANDS_ZH}的账户仍可支付。",
    ),
    "R5 binding under review": (
        lambda: context(holder=MOTHER, bindings=[binding(status="pending")], owners=[SON]),
        "R5",
        f"The mutual-aid binding with {SONS} is still under review (1-3 working days), "
        "so that account cannot pay yet.",
        f"与{SONS_ZH}的家庭共济绑定仍在审核中(1-3个工作日)，该账户暂不能支付。",
    ),
    "R5 binding rejected": (
        lambda: context(holder=MOTHER, bindings=[binding(status="rejected")], owners=[SON]),
        "R5",
        f"The mutual-aid binding with {SONS} was rejected, so that account cannot pay.",
        f"与{SONS_ZH}的家庭共济绑定审核未通过，该账户不能支付。",
    ),
    "R5 binding revoked": (
        lambda: context(holder=MOTHER, bindings=[binding(status="revoked")], owners=[SON]),
        "R5",
        f"The mutual-aid binding with {SONS} was revoked, so that account cannot pay.",
        f"与{SONS_ZH}的家庭共济绑定已解除，该账户不能支付。",
    ),
    "R6 resident premium for an employee": (
        lambda: context(holder=SON, buy=purchase(OWNER, purpose="resident_premium"), owners=[SON]),
        "R6",
        "The patient is on employee insurance, so there is no resident premium to pay.",
        "患者参加的是职工医保，无需缴纳居民医保费。",
    ),
    "R6 flexible-employment premium for a resident": (
        lambda: context(
            holder=MOTHER, buy=purchase(PATIENT, purpose="flexible_employment_premium")
        ),
        "R6",
        "The patient is on resident insurance; a flexibly employed worker's premium is for "
        "employee insurance, so there is nothing to pay here.",
        "患者参加的是居民医保，灵活就业人员缴纳的是职工医保费，此项无需支付。",
    ),
    "R6 purpose the region does not allow": (
        lambda: context(
            holder=MOTHER,
            buy=purchase(PATIENT, purpose="vaccine"),
            bindings=[binding()],
            owners=[SON],
            policy="liaoning-dalian-2025",
        ),
        "R6",
        "Dalian 2025 (大连) does not allow mutual aid for a self-paid vaccine, "
        f"so the account of {SONS} cannot pay.",
        f"Dalian 2025 (大连)不允许家庭共济资金用于自费疫苗，{SONS_ZH}的账户不能支付。",
    ),
    "R7 only within one pooling region": (
        lambda: context(
            holder=MOTHER,
            bindings=[binding()],
            owners=[person(OWNER, region="210502")],
            policy="legacy-2021",
        ),
        "R7",
        f"The account of {SONS} cannot pay here: "
        "this region's policy allows mutual aid only within one pooling region.",
        f"{SONS_ZH}的账户不能在此支付：本地政策仅允许统筹区内共济。",
    ),
    "R7 another province": (
        lambda: context(
            holder=MOTHER, bindings=[binding()], owners=[person(OWNER, region="620102")]
        ),
        "R7",
        f"The account of {SONS} cannot pay here: the accounts are insured in different "
        "provinces (62 and 21) and National baseline 2025: close relatives (近亲属) does not "
        "pair them for cross-province mutual aid.",
        f"{SONS_ZH}的账户不能在此支付：双方参保地属于不同省份，"
        "National baseline 2025: close relatives (近亲属)未开通这两省之间的跨省共济。",
    ),
    "R7 region unknown": (
        lambda: context(holder=MOTHER, bindings=[binding()], owners=[person(OWNER, region="")]),
        "R7",
        f"The account of {SONS} cannot pay here: the insurance region of one side is unknown.",
        f"{SONS_ZH}的账户不能在此支付：一方参保地未知。",
    ),
    "R8 empty account": (
        lambda: context(holder=MOTHER, bindings=[binding()], owners=[person(OWNER, balance=0)]),
        "R8",
        f"The account of {SONS} has no balance.",
        f"{SONS_ZH}的账户余额为零。",
    ),
    "R8 limit of zero": (
        lambda: context(
            holder=MOTHER, bindings=[binding(per_transaction_limit=Fen(0))], owners=[SON]
        ),
        "R8",
        f"The owner set a per-transaction limit of zero for the account of {SONS}.",
        f"{SONS_ZH}为该账户设置的单笔消费限额为零。",
    ),
    "R9 binding for someone else": (
        lambda: context(holder=MOTHER, bindings=[binding(beneficiary=FATHER)], owners=[SON]),
        "R9",
        f"The gateway returned a binding of {SONS} that is not for this patient; it is ignored.",
        f"网关返回的{SONS_ZH}的共济绑定不属于本患者，已忽略。",
    ),
    "R9 owner in two bindings": (
        lambda: context(
            holder=MOTHER, bindings=[binding(), binding(owner=OWNER, priority=2)], owners=[SON]
        ),
        "R9",
        f"The account of {SONS} appears in 2 bindings; "
        "inconsistent data pays nothing until the centre corrects it.",
        f"{SONS_ZH}的账户出现在多条绑定中，数据不一致，暂不支付。",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_each_refusal_reads_as_written_in_english_and_chinese(case: str) -> None:
    build, rule, english, chinese = CASES[case]
    results = make_plugin_manager().hook.gongji_check(context=build())
    said = {
        (r.reason, r.reason_zh) for result in results if result for r in result if r.rule == rule
    }
    assert said == {(english, chinese)}


# A sale under a chronic or special disease (gongji.chronic) is refused, before anything is
# charged, when the patient is not registered for it on the day of the sale.
_HYPERTENSION = ChronicDisease("M03900", "高血压", datetime.date(2023, 3, 1))
_DIABETES = ChronicDisease(
    "M01600", "糖尿病", datetime.date(2020, 1, 1), datetime.date(2025, 6, 30)
)
_DAY = datetime.date(2026, 11, 24)
CHRONIC_CASES: dict[str, tuple[Callable[[], ChronicDisease], str, str]] = {
    "no registration at all": (
        lambda: choose((), "M03900", _DAY),
        "The patient has no chronic or special disease registered at the insurance centre, "
        "so the sale cannot be settled under M03900.",
        "患者在医保中心没有登记门诊慢特病，不能按病种 M03900 结算。",
    ),
    "another disease registered": (
        lambda: choose((_HYPERTENSION, _DIABETES), "M07800", _DAY),
        "The patient is not registered for the chronic or special disease M07800; the "
        "registered ones are M03900 高血压, M01600 糖尿病.",
        "患者未登记门诊慢特病 M07800，已登记的病种为 M03900 高血压、M01600 糖尿病。",
    ),
    "a registration that ended": (
        lambda: choose((_HYPERTENSION, _DIABETES), "M01600", _DAY),
        "The patient's registration for the chronic or special disease M01600 糖尿病 runs "
        "from 2020-01-01 to 2025-06-30, so it does not cover today (2026-11-24).",
        "患者门诊慢特病 M01600 糖尿病 的登记有效期为 2020-01-01 至 2025-06-30，"
        "今天(2026-11-24)不在有效期内。",
    ),
    "a registration without a first day that ended": (
        lambda: choose((ChronicDisease("M01600", "糖尿病", None, _DAY),), "M01600", _DAY + ONE),
        "The patient's registration for the chronic or special disease M01600 糖尿病 ended "
        "on 2026-11-24, so it does not cover today (2026-11-25).",
        "患者门诊慢特病 M01600 糖尿病 的登记已于 2026-11-24 到期，今天(2026-11-25)不在有效期内。",
    ),
    "a registration that begins tomorrow": (
        lambda: choose((ChronicDisease("M03900", "高血压", _DAY + ONE),), "M03900", _DAY),
        "The patient's registration for the chronic or special disease M03900 高血压 begins "
        "on 2026-11-25, so it does not cover today (2026-11-24).",
        "患者门诊慢特病 M03900 高血压 的登记自 2026-11-25 起生效，今天(2026-11-24)不在有效期内。",
    ),
}
ONE = datetime.timedelta(days=1)


@pytest.mark.parametrize("case", list(CHRONIC_CASES))
def test_each_chronic_disease_refusal_reads_as_written_in_english_and_chinese(case: str) -> None:
    build, english, chinese = CHRONIC_CASES[case]
    with pytest.raises(DiseaseNotRegistered) as refused:
        build()
    assert (refused.value.message, refused.value.reason_zh) == (english, chinese)
    assert "nothing was charged" in refused.value.next_step.lower()


# The centre's rule checks (3101/3102): what a till says of a finding, and of a sale one refuses.
_FINDING = RiskFinding(
    stage=RiskStage.PRE_EVENT,
    rule_id="R01",
    rule_name="配伍禁忌",
    content="患者处方中存在配伍禁忌的药品【A药】、【B药】。",
    amount=Fen(2_500),
    severity="2",
)
_CHECK = "The insurance centre's check before settlement (3101)"
_SAID = "配伍禁忌 (rule R01, severity 2): 患者处方中存在配伍禁忌的药品【A药】、【B药】。"
_SAID_ZH = "配伍禁忌(规则 R01，严重程度 2)：患者处方中存在配伍禁忌的药品【A药】、【B药】。"


def test_a_centre_checks_warning_reads_as_written_in_english_and_chinese() -> None:
    said = risk_warning(_FINDING)
    assert said.rule == "3101"
    assert said.reason == f"{_CHECK} flags {_SAID} Amount concerned: ¥25.00."
    assert said.reason_zh == f"医保中心事前审核(3101)提示{_SAID_ZH}涉及金额 ¥25.00。"


def test_a_centre_checks_refusal_reads_as_written_in_english_and_chinese() -> None:
    refused = risk_refusal([attrs.evolve(_FINDING, stage=RiskStage.IN_EVENT)], "cityins")
    check = _CHECK.replace("before", "during").replace("3101", "3102")
    assert refused.message == f"{check} refuses this sale under {_SAID} Nothing was charged."
    assert refused.err_msg == (
        "医保中心事中审核(3102)依据配伍禁忌(规则 R01，严重程度 2)拒绝本次结算："
        "患者处方中存在配伍禁忌的药品【A药】、【B药】。未收取任何费用。"
    )
    assert refused.next_step == (
        "Change the purchase as the finding says (a quantity, a drug) and settle it under a "
        "new key, or ask the insurance centre to review the finding."
    )
    assert refused.code == "risk_refused"
