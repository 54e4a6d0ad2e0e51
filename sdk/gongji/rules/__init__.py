"""Rules R1-R9 of docs/explanation/rules.md as built-in plugins.

Each rule is a small class implementing ``gongji_check``, registered under the
name ``gongji.rules.R<n>`` like any third-party plugin, so an operator can see
it in the plugin list and a region can replace it.
"""

from __future__ import annotations

from gongji.identity import IdNumber
from gongji.model import Refusal, RuleWarning


def refuse(rule: str, reason: str, reason_zh: str, owner_id: IdNumber | None) -> Refusal:
    """A refusal of one account (``owner_id``), or of the whole purchase (``None``)."""
    # The rule travels in ``Refusal.rule``; the reason is the sentence alone, read aloud as is.
    return Refusal(
        rule=rule, reason=reason[:1].upper() + reason[1:], reason_zh=reason_zh, owner_id=owner_id
    )


def warn(rule: str, reason: str, reason_zh: str, owner_id: IdNumber | None) -> RuleWarning:
    """A warning about one account: shown to the cashier, kept on the receipt, refuses nothing."""
    return RuleWarning(
        rule=rule, reason=reason[:1].upper() + reason[1:], reason_zh=reason_zh, owner_id=owner_id
    )
