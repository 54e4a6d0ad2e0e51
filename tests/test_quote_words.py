"""The words a cashier reads: who an owner is, and the quote as sentences, in en and zh.

Every word here is read aloud at a till or printed on a receipt, so each is pinned
exactly (issue 19: a changed word must fail a test). The refusals' own sentences are
in ``test_refusal_sentences.py``.
"""

from __future__ import annotations

import attrs
import pytest

from gongji import ChronicDisease, Fen, InvalidInput
from gongji.identity import IdNumber
from gongji.model import Leg, LineItem, Refusal, Relation, RuleWarning
from gongji.rules.explain import mutual_aid_sentence, owner_label, relation_words
from gongji.rules.quote import Quote
from tests.conftest import OWNER, OWNER_WIFE, PATIENT

SON = IdNumber(OWNER)  # male
WIFE = IdNumber(OWNER_WIFE)  # female

# The patient's relation to the owner -> the owner's role, (male, female), en then zh.
ROLES = {
    Relation.SPOUSE: (("husband", "wife"), ("丈夫", "妻子")),
    Relation.SIBLING: (("brother", "sister"), ("兄弟", "姐妹")),
    Relation.PARENT: (("son", "daughter"), ("儿子", "女儿")),
    Relation.CHILD: (("father", "mother"), ("父亲", "母亲")),
    Relation.PATERNAL_GRANDPARENT: (("grandson", "granddaughter"), ("孙子", "孙女")),
    Relation.MATERNAL_GRANDPARENT: (
        ("grandson (daughter's son)", "granddaughter (daughter's daughter)"),
        ("外孙", "外孙女"),
    ),
    Relation.PATERNAL_GRANDCHILD: (
        ("paternal grandfather", "paternal grandmother"),
        ("祖父", "祖母"),
    ),
    Relation.MATERNAL_GRANDCHILD: (
        ("maternal grandfather", "maternal grandmother"),
        ("外祖父", "外祖母"),
    ),
}


def test_every_relation_has_its_words() -> None:
    assert set(ROLES) == set(Relation)


@pytest.mark.parametrize("relation", list(ROLES))
def test_the_owner_is_named_by_role_and_sex_then_masked_id_in_both_languages(
    relation: Relation,
) -> None:
    (male_en, female_en), (male_zh, female_zh) = ROLES[relation]
    assert owner_label(SON, relation) == f"the patient's {male_en} ({SON.masked})"
    assert owner_label(WIFE, relation) == f"the patient's {female_en} ({WIFE.masked})"
    assert owner_label(SON, relation, "zh") == f"患者的{male_zh}({SON.masked})"
    assert owner_label(WIFE, relation, "zh") == f"患者的{female_zh}({WIFE.masked})"


def test_an_owner_of_unknown_relation_is_the_account_holder() -> None:
    assert owner_label(SON, None) == f"the account holder ({SON.masked})"
    assert owner_label(SON, None, "zh") == f"账户持有人({SON.masked})"
    assert OWNER not in owner_label(SON, None) + owner_label(SON, None, "zh")


def _quote() -> Quote:
    lipstick = LineItem(
        code="C01",
        name="口红",
        unit_price=Fen(8_800),
        quantity=1,
        category="cosmetic",
        coverage="C",
    )
    return Quote(
        total=Fen(28_800),
        fund=Fen(4_000),
        legs=(
            Leg(source="own_account", payer_id=IdNumber(PATIENT), amount=Fen(1_000)),
            Leg(source="mutual_aid", payer_id=SON, amount=Fen(12_000), relation=Relation.PARENT),
        ),
        cash=Fen(11_800),
        refusals=(
            Refusal(rule="R5", reason="Pending.", reason_zh="审核中。", owner_id=WIFE),
            Refusal(rule="X9", reason="Only English.", owner_id=WIFE),
        ),
        cash_only=(lipstick,),
        warnings=(
            RuleWarning(rule="R4", reason="Unusual.", reason_zh="少见。", owner_id=SON),
            RuleWarning(rule="X8", reason="Warned in English.", owner_id=SON),
        ),
    )


def test_the_quote_reads_in_english_in_the_order_money_moves_then_refusals_then_warnings() -> None:
    assert _quote().explain() == [
        "Total ¥288.00.",
        "The pooled fund pays ¥40.00.",
        "The patient's own personal account pays ¥10.00.",
        f"Family mutual aid: the account of the patient's son ({SON.masked}) pays ¥120.00.",
        "'口红' (cosmetic, ¥88.00) cannot be paid from any insurance account; it is part of the cash share.",
        "Pending.",
        "Only English.",
        "Unusual.",
        "Warned in English.",
        "Collect ¥118.00 in cash (WeChat Pay, Alipay or at the till).",
    ]


def test_the_quote_reads_in_chinese_and_a_sentence_without_chinese_falls_back_to_english() -> None:
    assert _quote().explain("zh") == [
        "合计 ¥288.00。",
        "统筹基金支付 ¥40.00。",
        "患者本人个人账户支付 ¥10.00。",
        f"家庭共济:患者的儿子({SON.masked})的个人账户支付 ¥120.00。",
        "「口红」¥88.00 不属于医保个人账户支付范围,只能现金支付。",
        "审核中。",
        "Only English.",
        "少见。",
        "Warned in English.",
        "需收取现金(微信/支付宝/现金) ¥118.00。",
    ]


def test_a_quote_without_fund_share_does_not_mention_the_fund() -> None:
    quote = Quote(total=Fen(500), fund=Fen(0), legs=(), cash=Fen(500))
    assert quote.explain() == [
        "Total ¥5.00.",
        "Collect ¥5.00 in cash (WeChat Pay, Alipay or at the till).",
    ]
    assert quote.explain("zh") == ["合计 ¥5.00。", "需收取现金(微信/支付宝/现金) ¥5.00。"]


def test_a_quote_under_a_chronic_disease_names_it_after_the_total() -> None:
    disease = ChronicDisease("M03900", "高血压")
    quote = Quote(total=Fen(500), fund=Fen(0), legs=(), cash=Fen(500), disease=disease)
    assert quote.explain() == [
        "Total ¥5.00.",
        "The sale is settled under the chronic or special disease M03900 高血压.",
        "Collect ¥5.00 in cash (WeChat Pay, Alipay or at the till).",
    ]
    assert quote.explain("zh") == [
        "合计 ¥5.00。",
        "按门诊慢特病 M03900 高血压 结算。",
        "需收取现金(微信/支付宝/现金) ¥5.00。",
    ]


# A relation as a cashier says it, whatever the sexes (R4's refusals and warnings), en then zh.
RELATION_WORDS = {
    Relation.SPOUSE: ("spouse", "配偶"),
    Relation.PARENT: ("parent", "父母"),
    Relation.CHILD: ("child", "子女"),
    Relation.SIBLING: ("brother or sister", "兄弟姐妹"),
    Relation.PATERNAL_GRANDPARENT: ("paternal grandparent", "祖父母"),
    Relation.MATERNAL_GRANDPARENT: ("maternal grandparent", "外祖父母"),
    Relation.PATERNAL_GRANDCHILD: ("son's child", "孙子女"),
    Relation.MATERNAL_GRANDCHILD: ("daughter's child", "外孙子女"),
}


@pytest.mark.parametrize("relation", list(Relation))
def test_every_relation_is_named_in_both_languages_whatever_the_sexes(relation: Relation) -> None:
    english, chinese = RELATION_WORDS[relation]
    assert relation_words(relation) == english
    assert relation_words(relation, "zh") == chinese


def test_a_quote_that_does_not_add_up_is_refused_as_a_bug_to_report() -> None:
    with pytest.raises(InvalidInput) as raised:
        Quote(total=Fen(1_000), fund=Fen(0), legs=(), cash=Fen(999))
    assert raised.value.message == (
        "A quote of ¥10.00 does not add up: fund + legs + cash differ from the total."
    )
    assert raised.value.next_step == (
        "This is a bug in the planner or a plugin; report it with the basket."
    )


# ---------------------------------------------------------------- mutual aid a centre reports


def test_mutual_aid_whose_owner_the_centre_did_not_report_is_read_as_not_reported() -> None:
    leg = Leg(source="mutual_aid", payer_id=None, amount=Fen(1_800))
    assert mutual_aid_sentence(leg) == (
        "Family mutual aid pays ¥18.00 (owner not reported by the centre)."
    )
    assert mutual_aid_sentence(leg, "zh") == "家庭共济支付 ¥18.00(共济账户持有人未由医保中心告知)。"


def test_mutual_aid_the_local_plan_attributes_says_it_is_the_plans_and_the_centres_amount() -> None:
    owner = IdNumber(OWNER)
    leg = Leg(
        source="mutual_aid",
        payer_id=owner,
        amount=Fen(1_800),
        relation=Relation.PARENT,
        named_by="plan",
    )
    who_en = owner_label(owner, Relation.PARENT, "en")
    who_zh = owner_label(owner, Relation.PARENT, "zh")
    assert mutual_aid_sentence(leg) == (
        f"Family mutual aid pays ¥18.00: by the local plan, the account of {who_en} "
        "(the centre reported the amount only)."
    )
    assert mutual_aid_sentence(leg, "zh") == (
        f"家庭共济支付 ¥18.00;按本地计划为{who_zh}的个人账户(医保中心只告知金额)。"
    )
    named = attrs.evolve(leg, named_by="centre")
    assert mutual_aid_sentence(named) == f"Family mutual aid: the account of {who_en} pays ¥18.00."
