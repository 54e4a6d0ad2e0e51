"""The mock centre's ledger: double entry, in integer fen.

Every settlement is one transaction whose postings sum to zero: the institution
is owed the total, and the fund, the personal accounts and the cash channel pay
it. A reversal is a transaction of its own with the opposite postings, never an
edit. ``check()`` recomputes everything from the postings, so a bug (or a test
that tampers) shows up as a named violation instead of a wrong balance.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

from attrs import frozen

from gongji.errors import InvalidInput, LimitExceeded
from gongji.identity import IdNumber
from gongji.money import ZERO, Fen
from gongji_mock.records import Table

INSTITUTION = "institution"  # what the designated pharmacy or clinic is owed
FUND = "fund"  # the pooled fund
CASH = "cash"  # collected through WeChat Pay, Alipay or at the till
#: Who a premium paid on behalf is owed to: the insurer's or the tax office's collection.
COLLECTOR = "premium_collector"

_NAMED = frozenset({INSTITUTION, FUND, CASH, COLLECTOR})

TransactionKind = Literal["settle", "reverse"]


def is_personal(account: str) -> bool:
    """Personal accounts are named by their owner's ``IdNumber``, which masks itself in any repr."""
    return isinstance(account, IdNumber)


@frozen
class Posting:
    account: str  # INSTITUTION, FUND, CASH, or the owner's IdNumber for a personal account
    amount: Fen  # positive: the account receives; negative: the account pays

    def __attrs_post_init__(self) -> None:
        # Read back from a state file, a personal account's name is its owner's number as text.
        if self.account not in _NAMED and not isinstance(self.account, IdNumber):
            object.__setattr__(self, "account", IdNumber(self.account))


@frozen
class Transaction:
    number: int
    kind: TransactionKind
    settlement_id: str
    postings: tuple[Posting, ...]
    total: Fen

    def paid_by(self, account: str) -> Fen:
        return -sum((p.amount for p in self.postings if p.account == account), ZERO)


class Ledger:
    """Balances of personal accounts and the transactions that moved them. Thread-safe."""

    def __init__(self, opening: Mapping[IdNumber, Fen]) -> None:
        self._opening: dict[str, Fen] = {
            IdNumber(owner): Fen(balance) for owner, balance in opening.items()
        }
        self._balances: Table[str, Fen] = Table("ledger.balances", IdNumber, Fen)
        self._balances.load(self._opening.items())
        self._transactions: Table[int, Transaction] = Table(
            "ledger.transactions", int, Transaction, on_load=self._index
        )
        self._settlements: dict[str, Transaction] = {}
        self._reversals: dict[str, Transaction] = {}
        self._lock = threading.Lock()

    def balance(self, owner: IdNumber) -> Fen:
        with self._lock:
            return self._balances.get(IdNumber(owner)) or ZERO

    @property
    def transactions(self) -> tuple[Transaction, ...]:
        with self._lock:
            return tuple(self._transactions.values())

    def settlement(self, settlement_id: str) -> Transaction | None:
        with self._lock:
            return self._settlements.get(settlement_id)

    def is_reversed(self, settlement_id: str) -> bool:
        with self._lock:
            return settlement_id in self._reversals

    def settle(
        self,
        settlement_id: str,
        total: Fen,
        fund: Fen,
        legs: Iterable[tuple[IdNumber, Fen]],
        cash: Fen,
        *,
        payee: str = INSTITUTION,
    ) -> Transaction:
        """Post a settlement, owed to ``payee`` (the institution; the collector for a
        premium). All or nothing: an overdraft or a split that does not add up posts nothing."""
        postings = [Posting(payee, total), Posting(FUND, -fund), Posting(CASH, -cash)]
        postings += [Posting(IdNumber(owner), -amount) for owner, amount in legs]
        if any(p.amount > 0 for p in postings[1:]) or total < 0:
            raise InvalidInput(
                "A settlement's parts must not be negative.", next_step="Fix the split."
            )
        if sum((p.amount for p in postings), ZERO) != 0:
            raise InvalidInput(
                f"The split of {total} does not add up: fund + accounts + cash must equal the total.",
                next_step="Fix the split; nothing was posted.",
            )
        with self._lock:
            if settlement_id in self._settlements:
                raise InvalidInput(
                    f"Settlement {settlement_id} is already posted.",
                    next_step="Look the settlement up instead of posting it again.",
                )
            for posting in postings[3:]:
                if (self._balances.get(posting.account) or ZERO) + posting.amount < 0:
                    raise LimitExceeded(
                        "A personal account would go below zero; nothing was posted.",
                        next_step="Draw less from that account; the next account or cash covers the rest.",
                    )
            return self._post("settle", settlement_id, postings, total)

    def reverse(self, settlement_id: str) -> Transaction:
        """Undo a settlement with opposite postings. Reversing twice returns the first reversal."""
        with self._lock:
            done = self._reversals.get(settlement_id)
            if done is not None:
                return done
            original = self._settlements.get(settlement_id)
            if original is None:
                raise InvalidInput(
                    f"There is no settlement {settlement_id} to reverse.",
                    next_step="Check the settlement id; nothing was changed.",
                )
            opposite = [Posting(p.account, -p.amount) for p in original.postings]
            return self._post("reverse", settlement_id, opposite, original.total)

    def _post(
        self, kind: TransactionKind, settlement_id: str, postings: Sequence[Posting], total: Fen
    ) -> Transaction:
        transaction = Transaction(
            len(self._transactions) + 1, kind, settlement_id, tuple(postings), total
        )
        for posting in postings:
            if is_personal(posting.account):
                balance = self._balances.get(posting.account) or ZERO
                self._balances.put(posting.account, balance + posting.amount)
        self._transactions.put(transaction.number, transaction)
        (self._settlements if kind == "settle" else self._reversals)[settlement_id] = transaction
        return transaction

    def check(self) -> list[str]:
        """Invariant violations, recomputed from the postings; empty when the ledger is sound."""
        with self._lock:
            transactions = list(self._transactions.values())
            stored = dict(self._balances.items())
            opening = dict(self._opening)
        violations: list[str] = []
        replayed = dict(opening)
        settled: dict[str, Transaction] = {}
        reversed_ids: set[str] = set()
        for t in transactions:
            if sum((p.amount for p in t.postings), ZERO) != 0:
                violations.append(
                    f"transaction {t.number} ({t.settlement_id}): postings do not sum to zero"
                )
            if t.kind == "settle":
                if t.settlement_id in settled:
                    violations.append(f"settlement {t.settlement_id} posted twice")
                settled[t.settlement_id] = t
                parts = (
                    t.paid_by(FUND)
                    + t.paid_by(CASH)
                    + sum(
                        (t.paid_by(p.account) for p in t.postings if is_personal(p.account)), ZERO
                    )
                )
                if parts != t.total:
                    violations.append(
                        f"settlement {t.settlement_id}: parts sum to {parts}, total is {t.total}"
                    )
            else:
                original = settled.get(t.settlement_id)
                if original is None:
                    violations.append(
                        f"reversal {t.number} reverses no settlement ({t.settlement_id})"
                    )
                elif sorted((p.account, -int(p.amount)) for p in t.postings) != sorted(
                    (p.account, int(p.amount)) for p in original.postings
                ):
                    violations.append(
                        f"reversal of {t.settlement_id} does not mirror the settlement"
                    )
                if t.settlement_id in reversed_ids:
                    violations.append(f"settlement {t.settlement_id} reversed twice")
                reversed_ids.add(t.settlement_id)
            for p in t.postings:
                if is_personal(p.account):
                    replayed[p.account] = replayed.get(p.account, ZERO) + p.amount
                    if replayed[p.account] < 0:
                        violations.append(
                            f"transaction {t.number} takes a personal account below zero"
                        )
        for account in sorted({*replayed, *stored}):
            if replayed.get(account, ZERO) != stored.get(account, ZERO):
                violations.append(
                    f"a personal account's balance does not match its postings (txn count {len(transactions)})"
                )
                break
        return violations

    # ------------------------------------------------------------ a state file (--state)

    def tables(self) -> list[Table[Any, Any]]:
        """What the ledger remembers (``gongji_mock.records``): the balances as they are
        stored, so that ``check()`` still compares them with the postings after a restart."""
        return [self._balances, self._transactions]

    def _index(self) -> None:
        transactions = self._transactions.values()
        self._settlements = {t.settlement_id: t for t in transactions if t.kind == "settle"}
        self._reversals = {t.settlement_id: t for t in transactions if t.kind == "reverse"}
