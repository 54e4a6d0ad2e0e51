"""The mock insurance centre's state and its own decisions, below any wire format.

The centre is the authority: it resolves credentials, applies the region pack's
fund rules and rules R1-R9 to its own data (whatever a client claims), and posts
settlements to its ledger. The national-envelope endpoint is a thin layer over
these methods. Refusals are ``CentreRefusal`` with the ``infcode``/``err_msg``
pair a real centre would send, in Chinese and English.
"""

from __future__ import annotations

import datetime
import itertools
import secrets
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import msgspec
from attrs import define, field, frozen

from gongji.assess import CheckContext, assess
from gongji.errors import EligibilityError, GongjiError
from gongji.fund import YearToDate, eligible_amount, fund_share
from gongji.identity import Credential, CredentialKind, IdNumber
from gongji.model import (
    Category,
    Coverage,
    Leg,
    LegSource,
    LineItem,
    Person,
    PersonalAccount,
    Purchase,
    Purpose,
    Quote,
    Refusal,
    Relation,
    Setting,
)
from gongji.money import ZERO, Fen
from gongji.plugins import get_plugin_manager
from gongji.policy import PolicyPack, policy_on
from gongji_mock.dataset import Dataset
from gongji_mock.ledger import Ledger, LedgerState, TransactionRow

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


@define
class _Year:
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
    """The mock centre: people, bindings, tokens, the ledger, the settlements of each day."""

    dataset: Dataset
    clock: Clock = field(factory=lambda: _utc_now)
    token_ttl: int = TOKEN_TTL_SECONDS
    ledger: Ledger = field(init=False)
    _tokens: dict[str, Token] = field(init=False, factory=dict)
    _used_tokens: set[str] = field(init=False, factory=set)
    _settlements: dict[str, Settlement] = field(init=False, factory=dict)
    _cancelled: set[str] = field(init=False, factory=set)
    _years: dict[tuple[IdNumber, int], _Year] = field(init=False, factory=dict)
    _pre_settlements: dict[Purchase, _PreSettlement] = field(init=False, factory=dict)
    _lock: threading.RLock = field(init=False, factory=threading.RLock)

    def __attrs_post_init__(self) -> None:
        self.ledger = Ledger(
            {p.id: p.account.balance for p in self.dataset.people.values() if p.account is not None}
        )
        for token, holder in self.dataset.e_vouchers.items():
            self._tokens[token] = Token(holder, None)

    # ------------------------------------------------------------ who is who

    def issue_e_voucher(self, holder: str) -> str:
        """A fresh e-voucher token for ``holder``, valid for ``token_ttl`` seconds and one settlement."""
        person = self.person(IdNumber(holder))
        token = f"ev-{secrets.token_urlsafe(18)}"
        with self._lock:
            self._tokens[token] = Token(
                person.id, self.clock() + datetime.timedelta(seconds=self.token_ttl)
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
        """Whose credential this is (1101). Expired, unknown or used tokens are refused."""
        if credential.kind is CredentialKind.E_VOUCHER:
            with self._lock:
                token = self._tokens.get(credential.value)
                used = credential.value in self._used_tokens
            if token is None:
                raise CentreRefusal("医保电子凭证无效", "The e-voucher token is not valid.")
            if used:
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
        assert credential.id_number is not None
        return self.person(credential.id_number)

    # ------------------------------------------------------------ the decision

    def decide(self, purchase: Purchase, *, today: datetime.date | None = None) -> Quote:
        """Pre-settlement (2101/2206): the centre's own split, from its own data."""
        day = today or self.clock().date()
        with self._lock:
            context = self.context(purchase, day)
            quote = self._assess(context)
            # Kept for the settlement of the same purchase (``settle``), which checks it still holds.
            pending = self._pre_settlements
            pending.pop(purchase, None)
            if len(pending) >= _PRE_SETTLEMENTS_KEPT:
                del pending[next(iter(pending))]
            pending[purchase] = _PreSettlement(context, _rules(), quote)
            return quote

    def context(self, purchase: Purchase, day: datetime.date) -> CheckContext:
        """What the rules look at for this purchase, from the centre's own data."""
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
            return assess(context)
        except EligibilityError as exc:
            raise CentreRefusal(
                _ZH_BY_RULE.get(exc.rule, "不符合结算条件"), exc.message, rule=exc.rule
            ) from None

    def _decide_again(self, purchase: Purchase, day: datetime.date) -> tuple[Person, Quote]:
        """The decision on current data: the context is always built afresh (token validity
        and expiry, balances, year counters); only an unchanged context skips the rules."""
        context = self.context(purchase, day)
        pre = self._pre_settlements.pop(purchase, None)
        if pre is not None and pre.context == context and pre.rules == _rules():
            return context.holder, pre.quote
        return context.holder, self._assess(context)

    def settle(
        self, purchase: Purchase, *, msgid: str, today: datetime.date | None = None
    ) -> Settlement:
        """Settlement (2102/2207): decide again on current data, post to the ledger, consume the token."""
        day = today or self.clock().date()
        with self._lock:
            person, quote = self._decide_again(purchase, day)
            holder = person.id
            setl_id = f"SETL{day:%Y%m%d}{len(self._settlements) + 1:06d}"
            self.ledger.settle(
                setl_id,
                quote.total,
                quote.fund,
                [(leg.payer_id, leg.amount) for leg in quote.legs],
                quote.cash,
            )
            if (
                purchase.credential.kind is CredentialKind.E_VOUCHER
                and self._tokens[purchase.credential.value].expires
            ):
                self._used_tokens.add(purchase.credential.value)
            counts = purchase.purpose == Purpose.MEDICAL and person.insurance.is_active
            eligible = eligible_amount(purchase.items, self.policy_on(day)) if counts else ZERO
            year = self._year(holder, day.year)
            year.eligible += eligible
            year.fund_paid += quote.fund
            settlement = Settlement(
                setl_id, msgid, day, holder, quote, purchase.setting, purchase.purpose, eligible
            )
            self._settlements[setl_id] = settlement
            return settlement

    def cancel(self, setl_id: str) -> Settlement:
        """Cancel (2103/2208): reverse the ledger and the year's counters. Idempotent."""
        with self._lock:
            settlement = self._settlements.get(setl_id)
            if settlement is None:
                raise CentreRefusal("未找到该结算记录", f"There is no settlement {setl_id[:40]}.")
            if setl_id not in self._cancelled:
                self.ledger.reverse(setl_id)
                year = self._year(settlement.patient, settlement.day.year)
                year.fund_paid -= settlement.quote.fund
                year.eligible -= settlement.eligible
                self._cancelled.add(setl_id)
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

    def _year(self, person: IdNumber, year: int) -> _Year:
        with self._lock:
            return self._years.setdefault((person, year), _Year())

    # ------------------------------------------------------------ a state file (--state)

    def snapshot(self, written: Mapping[str, int]) -> tuple[CentreState, dict[str, list[Any]]]:
        """The centre's small records whole, and its growing ones after the first ``written[name]``.

        E-voucher tokens, settlements and the ledger's transactions are only ever added,
        never changed or removed: a state file that holds the first N of them needs only
        the rest. Full ID numbers: the centre's own.
        """
        with self._lock:
            ledger, transactions = self.ledger.snapshot(written.get("transactions", 0))
            state = CentreState(
                used_tokens=sorted(self._used_tokens),
                cancelled=sorted(self._cancelled),
                years=[
                    YearRow(
                        person=person.number,
                        year=year,
                        eligible=int(y.eligible),
                        fund_paid=int(y.fund_paid),
                    )
                    for (person, year), y in self._years.items()
                ],
                ledger=ledger,
            )
            tokens = itertools.islice(self._tokens.items(), written.get("tokens", 0), None)
            settlements = itertools.islice(
                self._settlements.values(), written.get("settlements", 0), None
            )
            return state, {
                "tokens": [
                    TokenRow(token=token, holder=t.holder.number, expires=t.expires)
                    for token, t in tokens
                ],
                "settlements": [_settlement_row(s) for s in settlements],
                "transactions": transactions,
            }

    def restore(
        self,
        state: CentreState,
        *,
        tokens: Sequence[TokenRow],
        settlements: Sequence[SettlementRow],
        transactions: Sequence[TransactionRow],
    ) -> None:
        """Put back what ``snapshot()`` took (every record, from the first)."""
        restored_tokens = {row.token: Token(IdNumber(row.holder), row.expires) for row in tokens}
        restored_settlements = {row.setl_id: _settlement(row) for row in settlements}
        years = {
            (IdNumber(row.person), row.year): _Year(Fen(row.eligible), Fen(row.fund_paid))
            for row in state.years
        }
        with self._lock:
            self._tokens = restored_tokens
            self._used_tokens = set(state.used_tokens)
            self._settlements = restored_settlements
            self._cancelled = set(state.cancelled)
            self._years = years
            self.ledger.restore(state.ledger, transactions)


def _utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _rules() -> tuple[object, ...]:
    """The rule implementations in force: registering, unregistering or blocking a plugin changes it."""
    hook = get_plugin_manager().hook
    return (*hook.gongji_check.get_hookimpls(), None, *hook.gongji_order_payers.get_hookimpls())


_ZH_BY_RULE = {
    "R1": "冒名就医：所出示凭证不属于患者本人，请使用患者本人医保凭证",
    "R6": "该费用不属于医保个人账户支付范围",
}


# ---------------------------------------------------------------- a state file (--state)


class LineItemRow(msgspec.Struct, frozen=True, kw_only=True):
    code: str
    name: str
    unit_price: int  # fen
    quantity: int
    category: Category
    coverage: Coverage


class LegRow(msgspec.Struct, frozen=True, kw_only=True):
    source: LegSource
    payer: str  # full ID number
    amount: int  # fen
    relation: Relation | None = None


class RefusalRow(msgspec.Struct, frozen=True, kw_only=True):
    rule: str
    reason: str
    reason_zh: str = ""
    owner: str | None = None  # full ID number


class QuoteRow(msgspec.Struct, frozen=True, kw_only=True):
    total: int
    fund: int
    legs: list[LegRow]
    cash: int
    refusals: list[RefusalRow]
    cash_only: list[LineItemRow]


class SettlementRow(msgspec.Struct, frozen=True, kw_only=True):
    setl_id: str
    msgid: str
    day: datetime.date
    patient: str  # full ID number
    quote: QuoteRow
    setting: Setting
    purpose: Purpose
    eligible: int


class TokenRow(msgspec.Struct, frozen=True, kw_only=True):
    token: str
    holder: str  # full ID number
    expires: datetime.datetime | None


class YearRow(msgspec.Struct, frozen=True, kw_only=True):
    person: str  # full ID number
    year: int
    eligible: int
    fund_paid: int


class CentreState(msgspec.Struct, frozen=True, kw_only=True):
    """The centre's small records; tokens and settlements are kept apart, as they only grow."""

    used_tokens: list[str]
    cancelled: list[str]
    years: list[YearRow]
    ledger: LedgerState


def line_item_row(item: LineItem) -> LineItemRow:
    return LineItemRow(
        code=item.code,
        name=item.name,
        unit_price=int(item.unit_price),
        quantity=item.quantity,
        category=item.category,
        coverage=item.coverage,
    )


def line_item(row: LineItemRow) -> LineItem:
    return LineItem(
        code=row.code,
        name=row.name,
        unit_price=Fen(row.unit_price),
        quantity=row.quantity,
        category=row.category,
        coverage=row.coverage,
    )


def _settlement_row(settlement: Settlement) -> SettlementRow:
    quote = settlement.quote
    return SettlementRow(
        setl_id=settlement.setl_id,
        msgid=settlement.msgid,
        day=settlement.day,
        patient=settlement.patient.number,
        quote=QuoteRow(
            total=int(quote.total),
            fund=int(quote.fund),
            legs=[
                LegRow(
                    source=leg.source,
                    payer=leg.payer_id.number,
                    amount=int(leg.amount),
                    relation=leg.relation,
                )
                for leg in quote.legs
            ],
            cash=int(quote.cash),
            refusals=[
                RefusalRow(
                    rule=r.rule,
                    reason=r.reason,
                    reason_zh=r.reason_zh,
                    owner=None if r.owner_id is None else r.owner_id.number,
                )
                for r in quote.refusals
            ],
            cash_only=[line_item_row(item) for item in quote.cash_only],
        ),
        setting=settlement.setting,
        purpose=settlement.purpose,
        eligible=int(settlement.eligible),
    )


def _settlement(row: SettlementRow) -> Settlement:
    quote = row.quote
    return Settlement(
        row.setl_id,
        row.msgid,
        row.day,
        IdNumber(row.patient),
        Quote(
            total=Fen(quote.total),
            fund=Fen(quote.fund),
            legs=tuple(
                Leg(leg.source, IdNumber(leg.payer), Fen(leg.amount), leg.relation)
                for leg in quote.legs
            ),
            cash=Fen(quote.cash),
            refusals=tuple(
                Refusal(
                    r.rule, r.reason, r.reason_zh, None if r.owner is None else IdNumber(r.owner)
                )
                for r in quote.refusals
            ),
            cash_only=tuple(line_item(item) for item in quote.cash_only),
        ),
        row.setting,
        row.purpose,
        Fen(row.eligible),
    )
