"""The cashier's words for an account's owner, in English and Chinese.

Rules speak of the owner of an account through ``owner_label``: "the patient's
son (210202********0036)" reads better at a till than a bare ID, and the masked
ID keeps two sons apart without showing the full number.
"""

from __future__ import annotations

from typing import Literal

from gongji.identity import IdNumber
from gongji.model import Leg, Purpose, Relation

Language = Literal["en", "zh"]

# The owner's role seen from the patient, by the patient's relation to the owner.
_OWNER_ROLE = {
    Relation.SPOUSE: Relation.SPOUSE,
    Relation.SIBLING: Relation.SIBLING,
    Relation.PARENT: Relation.CHILD,
    Relation.CHILD: Relation.PARENT,
    Relation.PATERNAL_GRANDPARENT: Relation.PATERNAL_GRANDCHILD,
    Relation.MATERNAL_GRANDPARENT: Relation.MATERNAL_GRANDCHILD,
    Relation.PATERNAL_GRANDCHILD: Relation.PATERNAL_GRANDPARENT,
    Relation.MATERNAL_GRANDCHILD: Relation.MATERNAL_GRANDPARENT,
}

# (male, female) words for a role, per language.
_WORDS: dict[Relation, dict[Language, tuple[str, str]]] = {
    Relation.SPOUSE: {"en": ("husband", "wife"), "zh": ("丈夫", "妻子")},
    Relation.SIBLING: {"en": ("brother", "sister"), "zh": ("兄弟", "姐妹")},
    Relation.PARENT: {"en": ("father", "mother"), "zh": ("父亲", "母亲")},
    Relation.CHILD: {"en": ("son", "daughter"), "zh": ("儿子", "女儿")},
    Relation.PATERNAL_GRANDPARENT: {
        "en": ("paternal grandfather", "paternal grandmother"),
        "zh": ("祖父", "祖母"),
    },
    Relation.MATERNAL_GRANDPARENT: {
        "en": ("maternal grandfather", "maternal grandmother"),
        "zh": ("外祖父", "外祖母"),
    },
    Relation.PATERNAL_GRANDCHILD: {"en": ("grandson", "granddaughter"), "zh": ("孙子", "孙女")},
    Relation.MATERNAL_GRANDCHILD: {
        "en": ("grandson (daughter's son)", "granddaughter (daughter's daughter)"),
        "zh": ("外孙", "外孙女"),
    },
}


# A relation as a cashier says it, whatever the sexes: "not among the relations ... allows".
_RELATION_WORDS: dict[Relation, dict[Language, str]] = {
    Relation.SPOUSE: {"en": "spouse", "zh": "配偶"},
    Relation.PARENT: {"en": "parent", "zh": "父母"},
    Relation.CHILD: {"en": "child", "zh": "子女"},
    Relation.SIBLING: {"en": "brother or sister", "zh": "兄弟姐妹"},
    Relation.PATERNAL_GRANDPARENT: {"en": "paternal grandparent", "zh": "祖父母"},
    Relation.MATERNAL_GRANDPARENT: {"en": "maternal grandparent", "zh": "外祖父母"},
    Relation.PATERNAL_GRANDCHILD: {"en": "son's child", "zh": "孙子女"},
    Relation.MATERNAL_GRANDCHILD: {"en": "daughter's child", "zh": "外孙子女"},
}

_PURPOSE_WORDS: dict[Purpose, dict[Language, str]] = {
    Purpose.MEDICAL: {"en": "medical costs", "zh": "医疗费用"},
    Purpose.RESIDENT_PREMIUM: {"en": "a resident-insurance premium", "zh": "居民医保缴费"},
    Purpose.VACCINE: {"en": "a self-paid vaccine", "zh": "自费疫苗"},
    Purpose.PHYSICAL_EXAM: {"en": "a physical exam", "zh": "体检"},
    Purpose.SUPPLEMENTARY_INSURANCE: {
        "en": "government-guided supplementary insurance",
        "zh": "惠民保等补充保险",
    },
    Purpose.FLEXIBLE_EMPLOYMENT_PREMIUM: {
        "en": "a flexibly employed worker's employee-insurance premium",
        "zh": "灵活就业人员职工医保缴费",
    },
    Purpose.LONG_TERM_CARE: {"en": "long-term-care contributions", "zh": "长期护理保险缴费"},
    Purpose.COMMERCIAL_INSURANCE: {"en": "commercial health insurance", "zh": "商业健康保险"},
}


def relation_words(relation: Relation, language: Language = "en") -> str:
    """The relation as a cashier says it ("paternal grandparent", "祖父母")."""
    return _RELATION_WORDS[relation][language]


def purpose_words(purpose: Purpose, language: Language = "en") -> str:
    """What the money is for, as a cashier says it ("a self-paid vaccine", "自费疫苗")."""
    return _PURPOSE_WORDS[purpose][language]


def owner_label(owner: IdNumber, relation: Relation | None, language: Language = "en") -> str:
    """How to name an account's owner to the cashier: role, then masked ID."""
    if relation is None:
        return (
            f"账户持有人({owner.masked})"
            if language == "zh"
            else f"the account holder ({owner.masked})"
        )
    male, female = _WORDS[_OWNER_ROLE[relation]][language]
    word = male if owner.sex == "male" else female
    if language == "zh":
        return f"患者的{word}({owner.masked})"
    return f"the patient's {word} ({owner.masked})"


#: The owner of a mutual-aid share a centre reported as an amount only (acct_mulaid_pay).
OWNER_NOT_REPORTED: dict[Language, str] = {
    "en": "owner not reported by the centre",
    "zh": "共济账户持有人未由医保中心告知",
}


def mutual_aid_sentence(leg: Leg, language: Language = "en") -> str:
    """A mutual-aid leg as the cashier reads it: the owner the centre named, the local
    plan's attribution labelled as the plan's, or "not reported by the centre"."""
    zh = language == "zh"
    if leg.payer_id is None:
        return (
            f"家庭共济支付 {leg.amount}({OWNER_NOT_REPORTED['zh']})。"
            if zh
            else f"Family mutual aid pays {leg.amount} ({OWNER_NOT_REPORTED['en']})."
        )
    who = owner_label(leg.payer_id, leg.relation, language)
    if leg.named_by == "plan":
        return (
            f"家庭共济支付 {leg.amount};按本地计划为{who}的个人账户(医保中心只告知金额)。"
            if zh
            else f"Family mutual aid pays {leg.amount}: by the local plan, the account of {who} "
            "(the centre reported the amount only)."
        )
    return (
        f"家庭共济:{who}的个人账户支付 {leg.amount}。"
        if zh
        else f"Family mutual aid: the account of {who} pays {leg.amount}."
    )
