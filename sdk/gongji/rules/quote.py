"""The quote: what a settlement will charge to whom, and the cashier's sentences for it.

``assess`` makes it; ``Quote.explain`` reads it aloud. It lives with the rules, not
with the domain objects of ``gongji.model``, because its sentences use the rules'
words (``gongji.rules.explain``) and the model must not reach up to them.
"""

from __future__ import annotations

from attrs import frozen

from gongji.errors import InvalidInput
from gongji.model import ChronicDisease, Leg, LineItem, Refusal, RuleWarning
from gongji.money import Fen
from gongji.rules.explain import Language, mutual_aid_sentence

__all__ = ["Quote"]


@frozen
class Quote:
    """What a settlement will charge to whom. ``total == fund + sum(legs) + cash``, always."""

    total: Fen
    fund: Fen
    legs: tuple[Leg, ...]
    cash: Fen
    refusals: tuple[Refusal, ...] = ()
    cash_only: tuple[LineItem, ...] = ()  # lines no insurance account may pay (R6)
    warnings: tuple[RuleWarning, ...] = ()  # unusual but allowed: shown, kept on the receipt
    #: A preview that reached the centre: its amounts are the centre's pre-settlement, and
    #: this is the local plan that explains them (None: the quote is itself the plan).
    plan: Quote | None = None
    #: The registered chronic or special disease the sale is settled under (med_type 14).
    disease: ChronicDisease | None = None

    def __attrs_post_init__(self) -> None:
        # Conservation of money is checked where the object is made, not hoped for later.
        if self.total != self.fund + sum(leg.amount for leg in self.legs) + self.cash:
            raise InvalidInput(
                f"A quote of {self.total} does not add up: fund + legs + cash differ from the total.",
                next_step="This is a bug in the planner or a plugin; report it with the basket.",
            )

    @property
    def accounts(self) -> Fen:
        return sum((leg.amount for leg in self.legs), Fen(0))

    def explain(self, language: Language = "en") -> list[str]:
        """The cashier's sentences: the fund, each leg, cash-only lines, refusals,
        warnings, then the cash to collect."""
        zh = language == "zh"
        lines = [f"合计 {self.total}。" if zh else f"Total {self.total}."]
        if self.disease is not None:
            lines.append(
                f"按门诊慢特病 {self.disease.label} 结算。"
                if zh
                else f"The sale is settled under the chronic or special disease {self.disease.label}."
            )
        if self.fund:
            lines.append(
                f"统筹基金支付 {self.fund}。" if zh else f"The pooled fund pays {self.fund}."
            )
        for leg in self.legs:
            if leg.source == "own_account":
                lines.append(
                    f"患者本人个人账户支付 {leg.amount}。"
                    if zh
                    else f"The patient's own personal account pays {leg.amount}."
                )
            else:
                lines.append(mutual_aid_sentence(leg, language))
        for item in self.cash_only:
            lines.append(
                f"「{item.name}」{item.amount} 不属于医保个人账户支付范围,只能现金支付。"
                if zh
                else f"{item.name!r} ({item.category.value}, {item.amount}) cannot be paid from any insurance account; it is part of the cash share."
            )
        lines.extend(
            refusal.reason_zh or refusal.reason if zh else refusal.reason
            for refusal in self.refusals
        )
        lines.extend(
            warning.reason_zh or warning.reason if zh else warning.reason
            for warning in self.warnings
        )
        lines.append(
            f"需收取现金(微信/支付宝/现金) {self.cash}。"
            if zh
            else f"Collect {self.cash} in cash (WeChat Pay, Alipay or at the till)."
        )
        return lines
