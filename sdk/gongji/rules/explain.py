"""The cashier's words for an account's owner, in English and Chinese.

Rules speak of the owner of an account through ``owner_label``: "the patient's
son (210202********0036)" reads better at a till than a bare ID, and the masked
ID keeps two sons apart without showing the full number.
"""

from __future__ import annotations

from typing import Literal

from gongji.identity import IdNumber
from gongji.model import Relation

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
