"""The mock's premium collector: premiums paid on behalf, below any wire format.

The mock's own, not the national interface (which has no premium payment): it plays
the insurer's or tax office's collection that seed 002 l.22 describes, so that a till
can rehearse ``client.pay_premium``. It decides with the centre's data and plugin
manager (``gongji.rules.premium``: the same rules as the till's pre-check, the centre's
authority), and posts to the centre's ledger, owed to the collector, never to the
institution. Its own rules, which no seed states and a real collector would have in
some form, are the mock's: a resident premium must be the pack's price for the
insured's age where the pack sets one, and one premium of each kind is paid per
insured person per calendar year (Beijing).

Each payment is idempotent by its ``msgid``: the same message gets the same answer,
another message under that msgid is refused, and a msgid named by a reversal is
refused from then on, so a late original can never pay.
"""

from __future__ import annotations

import datetime
from typing import Any, Literal

from attrs import frozen

from gongji import clock as beijing
from gongji.errors import EligibilityError
from gongji.identity import Credential, IdNumber
from gongji.model import Purpose
from gongji.money import Fen
from gongji.rules.fund import resident_premium
from gongji.rules.premium import assess_premium, premium_context
from gongji_mock.centre.decisions import Centre, CentreRefusal
from gongji_mock.centre.ledger import COLLECTOR
from gongji_mock.records import Table

ReversalState = Literal["reversed", "original_refused", "original_not_received"]


@frozen
class PremiumPaid:
    """One premium as the collector recorded it."""

    pay_id: str
    msgid: str
    fixmedins_code: str
    day: datetime.date
    paid_at: datetime.datetime
    payer: IdNumber
    insured: IdNumber
    kind: Purpose
    amount: Fen


@frozen
class Message:
    """A payment message that reached the collector: what it asked and how it ended."""

    fingerprint: str
    pay_id: str = ""  # empty: refused
    refusal_zh: str = ""
    refusal_en: str = ""


class Collector:
    """Premiums paid on behalf at the mock, over one ``Centre``. Not thread-safe by itself:
    its endpoint holds the centre's lock."""

    def __init__(self, centre: Centre) -> None:
        self.centre = centre
        self.payments: Table[str, PremiumPaid] = Table("premium.payments", str, PremiumPaid)
        self.messages: Table[str, Message] = Table("premium.messages", str, Message)
        self.reversals: Table[str, str] = Table("premium.reversals", str, str)  # omsgid -> state

    def tables(self) -> list[Table[Any, Any]]:
        return [self.payments, self.messages, self.reversals]

    def pay(
        self,
        *,
        msgid: str,
        fingerprint: str,
        fixmedins_code: str,
        credential: Credential,
        insured_id: IdNumber,
        kind: Purpose,
        amount: Fen,
    ) -> PremiumPaid:
        """Pay, or replay the first answer to ``msgid``; ``CentreRefusal`` when refused."""
        if msgid in self.reversals:
            raise CentreRefusal(
                "该报文已被冲正，不予处理",
                "This msgid was reversed; nothing was paid. Send a new payment with a new msgid.",
            )
        seen = self.messages.get(msgid)
        if seen is not None:
            if seen.fingerprint != fingerprint:
                raise CentreRefusal(
                    "报文ID重复且内容不同，不予处理",
                    "This msgid was already used for a different message; nothing was paid.",
                )
            if not seen.pay_id:
                raise CentreRefusal(seen.refusal_zh, seen.refusal_en)
            return self.payments[seen.pay_id]
        try:
            paid = self._decide(msgid, fixmedins_code, credential, insured_id, kind, amount)
        except CentreRefusal as refused:
            self.messages.put(
                msgid, Message(fingerprint, refusal_zh=refused.zh, refusal_en=refused.en)
            )
            raise
        self.messages.put(msgid, Message(fingerprint, pay_id=paid.pay_id))
        return paid

    def _decide(
        self,
        msgid: str,
        fixmedins_code: str,
        credential: Credential,
        insured_id: IdNumber,
        kind: Purpose,
        amount: Fen,
    ) -> PremiumPaid:
        centre = self.centre
        now = centre.clock()
        day = beijing.day(now)
        payer = centre.resolve(credential)
        insured = centre.person(insured_id)
        policy = centre.policy_on(day)
        if kind is Purpose.RESIDENT_PREMIUM:
            price = resident_premium(insured.id.age_on(day), policy)
            if price is not None and price != amount:
                raise CentreRefusal(
                    "缴费金额与缴费标准不符",
                    f"The resident premium for this person is {price.to_yuan()} yuan under "
                    f"{policy.name}, not {amount.to_yuan()}; nothing was paid.",
                )
        if any(
            p.insured == insured.id and p.kind is kind and p.day.year == day.year
            for pay_id, p in self.payments.items()
            if not centre.ledger.is_reversed(pay_id)
        ):
            raise CentreRefusal(
                "该参保人本年度已缴费，请勿重复缴费",
                f"This person's premium was already paid in {day.year}; nothing was paid again.",
            )
        bindings = [b for b in centre.dataset.bindings if b.beneficiary == insured.id]
        context = premium_context(
            payer=payer,
            insured=insured,
            kind=kind,
            amount=amount,
            bindings=bindings,
            policy=policy,
            today=day,
        )
        try:
            assess_premium(context, centre.rules)
        except EligibilityError as refused:
            raise CentreRefusal("不符合代缴条件", refused.message, rule=refused.rule) from None
        pay_id = f"PREM{day:%Y%m%d}{len(self.payments) + 1:06d}"
        centre.ledger.settle(pay_id, amount, Fen(0), [(payer.id, amount)], Fen(0), payee=COLLECTOR)
        return self.payments.put(
            pay_id,
            PremiumPaid(
                pay_id=pay_id,
                msgid=msgid,
                fixmedins_code=fixmedins_code,
                day=day,
                paid_at=now,
                payer=payer.id,
                insured=insured.id,
                kind=kind,
                amount=amount,
            ),
        )

    def reverse(self, omsgid: str, payer_id: IdNumber | None) -> tuple[ReversalState, str]:
        """Undo the payment ``omsgid`` carried, whose answer was lost; idempotent.
        Returns the state and the payment reversed ("" when there was none)."""
        seen = self.messages.get(omsgid)
        pay_id = seen.pay_id if seen is not None else ""
        if pay_id and payer_id is not None and self.payments[pay_id].payer != payer_id:
            raise CentreRefusal(
                "人员编号与原交易不符",
                "The payer differs from the original payment's; nothing was reversed.",
            )
        done = self.reversals.get(omsgid)
        if done is not None:
            return _state(done), pay_id
        if pay_id:
            self.centre.ledger.reverse(pay_id)
            state: ReversalState = "reversed"
        else:
            state = "original_refused" if seen is not None else "original_not_received"
        self.reversals.put(omsgid, state)
        return state, pay_id


def _state(text: str) -> ReversalState:
    if text == "reversed":
        return "reversed"
    return "original_refused" if text == "original_refused" else "original_not_received"
