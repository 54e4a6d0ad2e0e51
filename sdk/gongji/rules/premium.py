"""The rules R1-R9 for a premium paid on behalf: the same plugins decide as for a sale.

A premium on behalf is mutual aid from one named account: the payer (the binding's
owner) pays the insured relative's (the beneficiary's) premium. So the rules look at
it as they look at a purchase (``gongji_check`` plugins see a ``CheckContext``): the
insured is the patient, the premium is one line of category ``premium`` with the
premium as its purpose, and the only binding is the payer's. The patient's own account
is left out (the premium is paid *on behalf*), and so is any other relative's.

What the rules say then decides: R6 that the region allows the premium and that it is
for the insurance the relative is on; R2-R5 and R7 who may pay for whom; R8 and the
payer chain whether the payer's account (balance, per-transaction limit) covers it.
A premium is paid whole from the payer's account or not at all: any refusal of that
account, or a share left for cash, refuses the payment.

The till (a pre-check, before anything is charged) and the mock's collector (the
authority) both decide with ``assess_premium``.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable

import attrs
import pluggy

from gongji.errors import LimitExceeded
from gongji.identity import Credential
from gongji.model import (
    Binding,
    Category,
    Coverage,
    LineItem,
    Person,
    Purchase,
    Purpose,
    Refusal,
)
from gongji.money import Fen
from gongji.policy.pack import PolicyPack
from gongji.rules import refuse
from gongji.rules.assess import assess, raise_refusal
from gongji.rules.context import CheckContext
from gongji.rules.explain import purpose_words
from gongji.rules.quote import Quote

__all__ = ["assess_premium", "no_binding", "premium_context", "short_of_premium"]

#: The premium's one line: never in a catalogue, never covered by the fund.
PREMIUM_CODE = "PREMIUM"


def premium_context(
    *,
    payer: Person,
    insured: Person,
    kind: Purpose,
    amount: Fen,
    bindings: Iterable[Binding],
    policy: PolicyPack,
    today: datetime.date,
) -> CheckContext:
    """What the rules look at for ``payer`` paying ``insured``'s premium of ``amount`` fen.

    ``bindings`` are the insured's (as beneficiary); only the payer's is kept.
    """
    line = LineItem(
        code=PREMIUM_CODE,
        name=purpose_words(kind, "zh"),
        unit_price=amount,
        quantity=1,
        category=Category.PREMIUM,
        coverage=Coverage.C,
    )
    purchase = Purchase(
        credential=Credential.id_card(insured.id.number),
        items=[line],
        patient_id=insured.id,
        agent_id=payer.id,  # the payer acts for the insured, and is recorded as such
        purpose=kind,
        use_mutual_aid=True,
    )
    return CheckContext(
        purchase=purchase,
        # On behalf: the insured's own account (a flexibly employed relative may have one)
        # is not drawn; only the payer's is.
        holder=attrs.evolve(insured, account=None),
        policy=policy,
        today=today,
        bindings=tuple(b for b in bindings if b.owner == payer.id),
        owners={payer.id: payer},
    )


def assess_premium(context: CheckContext, plugins: pluggy.PluginManager | None = None) -> Quote:
    """The rules' verdict on a premium: the quote (one leg, the payer's, the whole premium),
    or the ``EligibilityError`` of the first refusal, with nothing charged."""
    payer = next(iter(context.owners.values()))
    kind = context.purchase.purpose
    quote = assess(context, plugins)  # raises for a premium refused as a whole (R1, R6)
    if not context.bindings:
        # No binding: no rule speaks of it, and the chain would leave it all to cash.
        raise_refusal(no_binding(payer, context.patient, kind))
    for refusal in quote.refusals:
        if refusal.owner_id == payer.id:
            raise_refusal(refusal)
    if quote.cash:
        refusal = short_of_premium(payer, quote.total, quote.accounts, kind)
        raise LimitExceeded(
            refusal.reason,
            reason_zh=refusal.reason_zh,
            next_step="Pay it from another relative's account, or to the collector directly "
            "(the tax app or counter); nothing was charged.",
        )
    return quote


def no_binding(payer: Person, insured: Person, kind: Purpose) -> Refusal:
    """R5 for a payer with no binding at all to the insured."""
    return refuse(
        "R5",
        f"there is no mutual-aid binding between the payer {payer.id.masked} and "
        f"{insured.id.masked}, so the payer's account cannot pay {purpose_words(kind)}.",
        f"付款人 {payer.id.masked} 与 {insured.id.masked} 之间没有家庭共济绑定，"
        f"不能用付款人的账户支付{purpose_words(kind, 'zh')}。",
        payer.id,
    )


def short_of_premium(payer: Person, total: Fen, covered: Fen, kind: Purpose) -> Refusal:
    """R8 for an account (balance or per-transaction limit) that covers part of a premium."""
    return refuse(
        "R8",
        f"the account of {payer.id.masked} can pay {covered} of the {total} for "
        f"{purpose_words(kind)}, and a premium is paid whole.",
        f"{payer.id.masked} 的账户只能支付 {total} 中的 {covered}，"
        f"{purpose_words(kind, 'zh')}须一次足额缴纳。",
        payer.id,
    )
