"""Every refusal a cashier can read, word for word, in English and Chinese (issue 19).

Each case builds the purchase that makes one rule refuse, runs every rule through the
``gongji_check`` hook and reads that rule's sentences. A rule whose words change must
change them here too, on purpose: this file is the list of what a till can say.
R4's relation and age sentences are left to the region-pack work (issue 17), which
rewrites them.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from gongji import Fen
from gongji.assess import CheckContext
from gongji.identity import IdNumber
from gongji.model import Insurance, Person
from gongji.plugins import make_plugin_manager
from tests.conftest import FATHER, OWNER, PATIENT, binding, context, person, purchase

SON = person(OWNER, balance=50_000)
MOTHER = person(PATIENT, "resident")
S = IdNumber(OWNER).masked  # the son, as every sentence names him
M = IdNumber(PATIENT).masked  # the mother, the patient
SONS = f"the patient's son ({S})"
SONS_ZH = f"患者的儿子({S})"

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
    "R3 patient not insured": (
        lambda: context(holder=person(PATIENT, "none"), bindings=[binding()], owners=[SON]),
        "R3",
        f"The patient is not actively insured, so the account of {SONS} cannot pay for them.",
        f"患者未正常参加基本医疗保险，{SONS_ZH}的账户不能为其支付。",
    ),
    "R5 binding under review": (
        lambda: context(holder=MOTHER, bindings=[binding(status="pending")], owners=[SON]),
        "R5",
        f"The mutual-aid binding with {SONS} is still under review (1-3 working days), "
        "so that account cannot pay yet.",
        f"与{SONS_ZH}的家庭共济绑定仍在审核中(1-3个工作日)，该账户暂不能支付。",
    ),
    "R6 resident premium for an employee": (
        lambda: context(holder=SON, buy=purchase(OWNER, purpose="resident_premium"), owners=[SON]),
        "R6",
        "The patient is on employee insurance, so there is no resident premium to pay.",
        "患者参加的是职工医保，无需缴纳居民医保费。",
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
        f"Dalian 2025 (大连) does not allow mutual aid for vaccine, so the account of {SONS} cannot pay.",
        f"Dalian 2025 (大连) 不允许家庭共济资金用于自费疫苗，{SONS_ZH}的账户不能支付。",
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
        "provinces (62 and 21) and cross-province mutual aid is not switched on for both.",
        f"{SONS_ZH}的账户不能在此支付：双方参保地属于不同省份，且未同时开通跨省共济。",
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


# The region-pack work (issue 17) rewrites these sentences around their words ("yet" goes
# from a revoked binding, a suspended owner is handled as the pack says); the words that
# say why stay, each read between its neighbours.
WORDS_THAT_STAY = {
    "rejected": (
        lambda: context(holder=MOTHER, bindings=[binding(status="rejected")], owners=[SON]),
        "R5",
        f"{SONS} was rejected",
        "家庭共济绑定审核未通过",
    ),
    "revoked": (
        lambda: context(holder=MOTHER, bindings=[binding(status="revoked")], owners=[SON]),
        "R5",
        f"{SONS} was revoked",
        "家庭共济绑定已解除",
    ),
    "suspended owner": (
        lambda: context(
            holder=MOTHER, bindings=[binding()], owners=[person(OWNER, status="suspended")]
        ),
        "R2",
        ": the owner's insurance is not active.",
        "：共济人参保状态不正常。",
    ),
}


@pytest.mark.parametrize("case", list(WORDS_THAT_STAY))
def test_each_refusal_says_why_in_its_own_words_in_both_languages(case: str) -> None:
    build, rule, english, chinese = WORDS_THAT_STAY[case]
    results = make_plugin_manager().hook.gongji_check(context=build())
    said = [r for result in results if result for r in result if r.rule == rule]
    assert len(said) == 1
    assert english in said[0].reason
    assert chinese in said[0].reason_zh
