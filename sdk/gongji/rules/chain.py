"""R9, the payer chain's integrity: only well-formed bindings of this patient enter the chain.

The chain itself (own account, then priority order, each up to min(balance, limit),
then cash) is ``gongji.rules.planner``. Here the bindings a gateway returned are checked
before they can be drawn: each must name this patient as beneficiary, and one owner
appears once. Inconsistent data pays nothing rather than something wrong.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from gongji.hookspecs import hookimpl
from gongji.model import Refusal
from gongji.rules import refuse
from gongji.rules.context import CheckContext
from gongji.rules.explain import owner_label


class ChainRule:
    @hookimpl
    def gongji_check(self, context: CheckContext) -> Sequence[Refusal] | None:
        patient = context.patient.id
        per_owner = Counter(binding.owner for binding in context.bindings)
        refusals = []
        for binding in context.bindings:
            if binding.beneficiary == patient and per_owner[binding.owner] == 1:
                continue
            label = owner_label(binding.owner, binding.relation)
            label_zh = owner_label(binding.owner, binding.relation, "zh")
            if binding.beneficiary != patient:
                refusals.append(
                    refuse(
                        "R9",
                        f"the gateway returned a binding of {label} that is not for this patient; it is ignored.",
                        f"网关返回的{label_zh}的共济绑定不属于本患者，已忽略。",
                        binding.owner,
                    )
                )
            else:
                refusals.append(
                    refuse(
                        "R9",
                        f"the account of {label} appears in {per_owner[binding.owner]} bindings; "
                        "inconsistent data pays nothing until the centre corrects it.",
                        f"{label_zh}的账户出现在多条绑定中，数据不一致，暂不支付。",
                        binding.owner,
                    )
                )
        return refusals or None


PLUGINS = {"gongji.rules.R9": ChainRule()}
