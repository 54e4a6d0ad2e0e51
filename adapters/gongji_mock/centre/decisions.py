"""The mock insurance centre's state and its own decisions, below any wire format.

The centre is the authority: it resolves credentials, applies the region pack's
fund rules and rules R1-R9 to its own data (whatever a client claims), and posts
settlements to its ledger. The national-envelope endpoint is a thin layer over
these methods. Refusals are ``CentreRefusal`` with the ``infcode``/``err_msg``
pair a real centre would send, in Chinese and English.
"""

from __future__ import annotations

import datetime
import secrets
import threading
from collections.abc import Callable
from typing import Any

import pluggy
from attrs import define, evolve, field, frozen

from gongji import clock as beijing
from gongji.errors import EligibilityError, GongjiError
from gongji.identity import Credential, CredentialKind, IdNumber
from gongji.model import (
    Person,
    PersonalAccount,
    Purchase,
    Purpose,
    Setting,
)
from gongji.money import ZERO, Fen
from gongji.plugins import make_plugin_manager
from gongji.policy import PolicyPack, policy_on
from gongji.premium import PREMIUM_KINDS
from gongji.rules.assess import assess
from gongji.rules.context import CheckContext
from gongji.rules.explain import purpose_words
from gongji.rules.fund import YearToDate, eligible_amount, fund_share
from gongji.rules.quote import Quote
from gongji_mock.centre.cards import card_of
from gongji_mock.centre.dataset import Dataset
from gongji_mock.centre.ledger import Ledger
from gongji_mock.records import Table

Clock = Callable[[], datetime.datetime]

TOKEN_TTL_SECONDS = 300  # an e-voucher QR code is valid for five minutes


class CentreRefusal(GongjiError):
    """What the centre answers with ``infcode = -1``: ``err_msg`` in Chinese, then English."""

    code = "centre_refusal"
    next_step = ""

    def __init__(self, zh: str, en: str, *, rule: str | None = None) -> None:
        self.zh, self.en, self.rule = zh, en, rule
        super().__init__(f"{zh} / {en}")

    @property
    def err_msg(self) -> str:
        return str(self)


@frozen
class Token:
    holder: IdNumber
    expires: datetime.datetime | None  # None: a fixed test token from the dataset
    used: bool = False  # by a settlement (fixed test tokens never are)


@frozen
class Settlement:
    """One settlement as the centre recorded it."""

    setl_id: str
    msgid: str
    day: datetime.date
    patient: IdNumber
    quote: Quote
    setting: Setting
    purpose: Purpose
    eligible: Fen  # what counted towards the year's deductible, undone on cancel


@frozen
class Year:
    """A person's year so far: what counted towards the deductible, what the fund paid."""

    eligible: Fen = ZERO
    fund_paid: Fen = ZERO


@frozen
class _PreSettlement:
    """A pre-settlement's decision, kept for the settlement of the same purchase.

    ``assess`` is a pure function of the context and the rules registered, so a
    settlement whose freshly built context (balances, year counters, bindings,
    day: everything the rules read) equals this one, under the same rules, gets
    the same quote without running the rules again.
    """

    context: CheckContext
    rules: tuple[object, ...]
    quote: Quote


#: Pre-settlements waiting for their settlement; the oldest go first beyond this many.
_PRE_SETTLEMENTS_KEPT = 1024


@define
class Centre:
    """The mock centre: people, bindings, tokens, the ledger, the settlements of each day.

    ``rules`` is the centre's own plugin manager: the built-in rules only, whatever the
    till's environment (``GONGJI_DISABLE_PLUGINS``) or installed plugins say, so that a
    till's switched-off or extra plugin cannot change what the centre decides. The
    region pack is the dataset's. A test may register a rule on ``centre.rules``.
    """

    dataset: Dataset
    clock: Clock = field(factory=lambda: beijing.now)  # any zone: days are taken in Beijing
    token_ttl: int = TOKEN_TTL_SECONDS
    rules: pluggy.PluginManager = field(factory=lambda: centre_rules())
    ledger: Ledger = field(init=False)
    _tokens: Table[str, Token] = field(
        init=False, factory=lambda: Table("centre.tokens", str, Token)
    )
    _settlements: Table[str, Settlement] = field(
        init=False, factory=lambda: Table("centre.settlements", str, Settlement)
    )
    # setl_id -> True: cancelled by 2103/2208 or reversed by 2601 (the record stays as it was)
    _cancelled: Table[str, bool] = field(
        init=False, factory=lambda: Table("centre.cancelled", str, bool)
    )
    _years: Table[tuple[IdNumber, int], Year] = field(
        init=False, factory=lambda: Table("centre.years", tuple[IdNumber, int], Year)
    )
    _pre_settlements: dict[Purchase, _PreSettlement] = field(init=False, factory=dict)
    _lock: threading.RLock = field(init=False, factory=threading.RLock)

    def __attrs_post_init__(self) -> None:
        self.ledger = Ledger(
            {p.id: p.account.balance for p in self.dataset.people.values() if p.account is not None}
        )
        for token, holder in self.dataset.e_vouchers.items():
            self._tokens.put(token, Token(holder, None))

    # ------------------------------------------------------------ who is who

    def issue_e_voucher(self, holder: str) -> str:
        """A fresh e-voucher token for ``holder``, valid for ``token_ttl`` seconds and one settlement."""
        person = self.person(IdNumber(holder))
        token = f"ev-{secrets.token_urlsafe(18)}"
        with self._lock:
            self._tokens.put(
                token, Token(person.id, self.clock() + datetime.timedelta(seconds=self.token_ttl))
            )
        return token

    def person(self, number: IdNumber) -> Person:
        """A person with the ledger's current balance."""
        person = self.dataset.people.get(number)
        if person is None:
            raise CentreRefusal("未查询到参保人员信息", "No insured person with this ID number.")
        if person.account is None:
            return person
        return Person(
            person.id,
            person.name,
            person.insurance,
            PersonalAccount(self.ledger.balance(person.id)),
        )

    def resolve(self, credential: Credential) -> Person:
        """Whose credential this is (1101). Expired, unknown or used tokens are refused;
        a social-security card by its number and identification code."""
        if credential.kind is CredentialKind.E_VOUCHER:
            return self.token_holder(credential.value)
        if credential.kind is CredentialKind.SOCIAL_CARD:
            return self.person(self._card_holder(credential.value, credential.card_sn))
        assert credential.id_number is not None
        return self.person(credential.id_number)

    def token_holder(self, value: str, *, valid_only: bool = True) -> Person:
        """Whose e-voucher token ``value`` is, while it is valid (``valid_only=False``: the
        decode's question, answered for a used or expired token too; 1101 refuses those)."""
        with self._lock:
            token = self._tokens.get(value)
        if token is None:
            raise CentreRefusal("医保电子凭证无效", "The e-voucher token is not valid.")
        if not valid_only:
            return self.person(token.holder)
        if token.used:
            raise CentreRefusal(
                "医保电子凭证已使用，请刷新后重试",
                "The e-voucher was already used for a settlement; refresh the QR code.",
            )
        if token.expires is not None and self.clock() >= token.expires:
            raise CentreRefusal(
                "医保电子凭证已过期，请刷新后重试",
                "The e-voucher has expired; refresh the QR code.",
            )
        return self.person(token.holder)

    def _card_holder(self, card_no: str, card_sn: str | None) -> IdNumber:
        """The holder of a card: its number and its identification code must both match."""
        for number, person in self.dataset.people.items():
            card = card_of(person)
            if card.value == card_no:
                if card.card_sn != (card_sn or "").upper():
                    raise CentreRefusal(
                        "社保卡识别码与卡号不符", "The card_sn does not match the card number."
                    )
                return number
        raise CentreRefusal(
            "社保卡卡号不存在",
            "No social-security card has this number; send the card number the reader "
            "gives (not the holder's ID number).",
        )

    # ------------------------------------------------------------ the decision

    def decide(self, purchase: Purchase, *, today: datetime.date | None = None) -> Quote:
        """Pre-settlement (2101/2206): the centre's own split, from its own data."""
        day = today or beijing.day(self.clock())
        with self._lock:
            context = self.context(purchase, day)
            quote = self._assess(context)
            # Kept for the settlement of the same purchase (``settle``), which checks it still holds.
            pending = self._pre_settlements
            pending.pop(purchase, None)
            if len(pending) >= _PRE_SETTLEMENTS_KEPT:
                del pending[next(iter(pending))]
            pending[purchase] = _PreSettlement(context, self._rules_in_force(), quote)
            return quote

    def context(self, purchase: Purchase, day: datetime.date) -> CheckContext:
        """What the rules look at for this purchase, from the centre's own data."""
        if purchase.purpose in PREMIUM_KINDS:
            # A premium goes to the collector (gongji_mock.premium), never into a sale.
            raise CentreRefusal(
                "保费不能作为药店销售结算，请通过代缴渠道缴纳",
                f"{purpose_words(purchase.purpose).capitalize()} is not a pharmacy sale; pay it "
                "through the premium channel. Nothing was settled.",
                rule="R6",
            )
        holder = self.resolve(purchase.credential)
        bindings = tuple(b for b in self.dataset.bindings if b.beneficiary == holder.id)
        owners = {b.owner: self.person(b.owner) for b in bindings if b.owner in self.dataset.people}
        year = self._year(holder.id, day.year)
        policy = self.policy_on(day)
        fund = fund_share(
            purchase.items,
            holder.insurance,
            purchase.setting,
            purchase.purpose,
            policy,
            YearToDate(year.eligible, year.fund_paid),
        )
        return CheckContext(
            purchase=purchase,
            holder=holder,
            policy=policy,
            today=day,
            fund=fund,
            bindings=bindings,
            owners=owners,
        )

    def policy_on(self, day: datetime.date) -> PolicyPack:
        """The pack of the dataset's line in force on ``day`` (the sale's Beijing date)."""
        return policy_on(self.dataset.policy, day)

    def _assess(self, context: CheckContext) -> Quote:
        try:
            return assess(context, self.rules)
        except EligibilityError as exc:
            raise CentreRefusal(
                _ZH_BY_RULE.get(exc.rule, "不符合结算条件"), exc.message, rule=exc.rule
            ) from None

    def _decide_again(self, purchase: Purchase, day: datetime.date) -> tuple[Person, Quote]:
        """The decision on current data: the context is always built afresh (token validity
        and expiry, balances, year counters); only an unchanged context skips the rules."""
        context = self.context(purchase, day)
        pre = self._pre_settlements.pop(purchase, None)
        if pre is not None and pre.context == context and pre.rules == self._rules_in_force():
            return context.holder, pre.quote
        return context.holder, self._assess(context)

    def settle(
        self, purchase: Purchase, *, msgid: str, today: datetime.date | None = None
    ) -> Settlement:
        """Settlement (2102/2207): decide again on current data, post to the ledger, consume the token."""
        day = today or beijing.day(self.clock())
        with self._lock:
            person, quote = self._decide_again(purchase, day)
            holder = person.id
            setl_id = f"SETL{day:%Y%m%d}{len(self._settlements) + 1:06d}"
            self.ledger.settle(
                setl_id,
                quote.total,
                quote.fund,
                [(leg.payer_id, leg.amount) for leg in quote.legs if leg.payer_id is not None],
                quote.cash,
            )
            if purchase.credential.kind is CredentialKind.E_VOUCHER:
                token = self._tokens[purchase.credential.value]
                if token.expires:
                    self._tokens.put(purchase.credential.value, evolve(token, used=True))
            counts = purchase.purpose == Purpose.MEDICAL and person.insurance.is_active
            eligible = eligible_amount(purchase.items, self.policy_on(day)) if counts else ZERO
            self._add_to_year(holder, day.year, eligible, quote.fund)
            settlement = Settlement(
                setl_id, msgid, day, holder, quote, purchase.setting, purchase.purpose, eligible
            )
            return self._settlements.put(setl_id, settlement)

    def cancel(self, setl_id: str) -> Settlement:
        """Cancel (2103/2208): reverse the ledger and the year's counters. Idempotent."""
        with self._lock:
            settlement = self._settlements.get(setl_id)
            if settlement is None:
                raise CentreRefusal("未找到该结算记录", f"There is no settlement {setl_id[:40]}.")
            if setl_id not in self._cancelled:
                self.ledger.reverse(setl_id)
                self._add_to_year(
                    settlement.patient,
                    settlement.day.year,
                    -settlement.eligible,
                    -settlement.quote.fund,
                )
                self._cancelled.put(setl_id, True)
            return settlement

    def settlement(self, setl_id: str) -> Settlement | None:
        """The settlement recorded under ``setl_id``, cancelled or not (2103/2208, 2601 look it up)."""
        with self._lock:
            return self._settlements.get(setl_id)

    def is_cancelled(self, setl_id: str) -> bool:
        with self._lock:
            return setl_id in self._cancelled

    def settlements_on(self, day: datetime.date) -> list[Settlement]:
        """The day's settlements that stand (for 3201 totals and 3202 details)."""
        with self._lock:
            return [
                s
                for s in self._settlements.values()
                if s.day == day and s.setl_id not in self._cancelled
            ]

    def _rules_in_force(self) -> tuple[object, ...]:
        """The rule implementations registered on ``rules``: registering or unregistering changes it."""
        hook = self.rules.hook
        return (*hook.gongji_check.get_hookimpls(), None, *hook.gongji_order_payers.get_hookimpls())

    def _year(self, person: IdNumber, year: int) -> Year:
        with self._lock:
            return self._years.get((person, year)) or Year()

    def _add_to_year(self, person: IdNumber, year: int, eligible: Fen, fund_paid: Fen) -> None:
        so_far = self._year(person, year)
        self._years.put(
            (person, year),
            Year(so_far.eligible + eligible, so_far.fund_paid + fund_paid),
        )

    # ------------------------------------------------------------ a state file (--state)

    def tables(self) -> list[Table[Any, Any]]:
        """What the centre remembers (``gongji_mock.records``), its ledger's too."""
        return [
            self._tokens,
            self._settlements,
            self._cancelled,
            self._years,
            *self.ledger.tables(),
        ]


def centre_rules() -> pluggy.PluginManager:
    """A plugin manager holding the built-in rules only: no entry points, nothing blocked."""
    return make_plugin_manager(load_entry_points=False, disabled=())


_ZH_BY_RULE = {
    "R1": "冒名就医：所出示凭证不属于患者本人，请使用患者本人医保凭证",
    "R6": "该费用不属于医保个人账户支付范围",
}
