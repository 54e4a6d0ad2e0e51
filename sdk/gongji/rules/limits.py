"""R8, limits: an account with no balance, or a per-transaction limit of zero, does not pay.

The amounts themselves are capped by the payer chain (``PayerCandidate.available``);
this rule names the accounts that cannot contribute at all, so the cashier can say why.
"""

from __future__ import annotations

from collections.abc import Sequence

from gongji.hookspecs import hookimpl
from gongji.model import Binding, Refusal
from gongji.rules import refuse
from gongji.rules.context import CheckContext
from gongji.rules.explain import owner_label


class LimitsRule:
    @hookimpl
    def gongji_check(self, context: CheckContext) -> Sequence[Refusal] | None:
        refusals = []
        for binding in context.bindings:
            owner = context.owners.get(binding.owner)
            if owner is None or owner.account is None:
                continue  # R2 refuses an owner without an account
            if owner.account.balance <= 0:
                label, label_zh = _labels(binding)
                refusals.append(
                    refuse(
                        "R8",
                        f"the account of {label} has no balance.",
                        f"{label_zh}的账户余额为零。",
                        binding.owner,
                    )
                )
            elif binding.per_transaction_limit is not None and binding.per_transaction_limit <= 0:
                label, label_zh = _labels(binding)
                refusals.append(
                    refuse(
                        "R8",
                        f"the owner set a per-transaction limit of zero for the account of {label}.",
                        f"{label_zh}为该账户设置的单笔消费限额为零。",
                        binding.owner,
                    )
                )
        return refusals or None


def _labels(binding: Binding) -> tuple[str, str]:
    return owner_label(binding.owner, binding.relation), owner_label(
        binding.owner, binding.relation, "zh"
    )


PLUGINS = {"gongji.rules.R8": LimitsRule()}
