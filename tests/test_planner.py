"""Hypothesis properties of the payer chain (R9) and of whole assessments."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from gongji import Fen
from gongji.model import Binding, Person, PersonalAccount, Relation
from gongji.rules.assess import assess
from gongji.rules.planner import PayerCandidate, plan_payer_chain
from gongji.rules.priority import gongji_order_payers
from tests.conftest import PATIENT, binding, context, drug, make_id, person, purchase

# Owners: sons and daughters of the 1958-born patient, all in Dalian.
OWNER_IDS = [make_id("210202", f"198{i}0101", f"{10 + i:03d}") for i in range(8)]

amounts = st.integers(min_value=0, max_value=2_000_000)
limits = st.none() | st.integers(min_value=0, max_value=500_000)


@st.composite
def chains(draw: st.DrawFn) -> tuple[Fen, PersonalAccount | None, list[PayerCandidate]]:
    payable = Fen(draw(amounts))
    own = draw(st.none() | amounts.map(lambda b: PersonalAccount(Fen(b))))
    count = draw(st.integers(min_value=0, max_value=8))
    priorities = draw(st.permutations(range(1, 9)))
    candidates = []
    for i in range(count):
        owner = person(OWNER_IDS[i], balance=draw(amounts))
        limit = draw(limits)
        candidates.append(
            PayerCandidate(
                binding=binding(
                    owner=OWNER_IDS[i],
                    priority=priorities[i],
                    per_transaction_limit=None if limit is None else Fen(limit),
                ),
                owner=owner,
            )
        )
    return payable, own, candidates


def _cap(candidate: PayerCandidate) -> int:
    assert candidate.owner.account is not None
    balance = int(candidate.owner.account.balance)
    limit = candidate.binding.per_transaction_limit
    return balance if limit is None else min(balance, int(limit))


@given(chains())
def test_r9_legs_plus_cash_equal_the_payable_share_exactly(
    chain: tuple[Fen, PersonalAccount | None, list[PayerCandidate]],
) -> None:
    payable, own, candidates = chain
    legs = plan_payer_chain(
        payable, Person(PATIENT, "x", person(PATIENT).insurance).id, own, candidates
    )
    paid = sum(int(leg.amount) for leg in legs)
    cash = int(payable) - paid
    assert 0 <= paid <= int(payable) and cash >= 0
    assert all(type(leg.amount) is Fen for leg in legs)


@given(chains())
def test_r9_no_leg_is_zero_negative_or_above_its_balance_and_limit(
    chain: tuple[Fen, PersonalAccount | None, list[PayerCandidate]],
) -> None:
    payable, own, candidates = chain
    legs = plan_payer_chain(payable, person(PATIENT).id, own, candidates)
    caps = {c.binding.owner: _cap(c) for c in candidates}
    for leg in legs:
        assert leg.amount > 0
        if leg.source == "own_account":
            assert own is not None and leg.amount <= own.balance
        else:
            assert leg.amount <= caps[leg.payer_id]


@given(chains())
def test_r9_own_account_first_then_priority_order_and_each_earlier_account_exhausted(
    chain: tuple[Fen, PersonalAccount | None, list[PayerCandidate]],
) -> None:
    payable, own, candidates = chain
    ordered = gongji_order_payers(candidates)
    legs = plan_payer_chain(payable, person(PATIENT).id, own, ordered)
    sources = [leg.source for leg in legs]
    assert sources == sorted(sources, key=lambda s: s != "own_account")
    aid = [leg for leg in legs if leg.source == "mutual_aid"]
    rank = {c.binding.owner: i for i, c in enumerate(ordered)}
    assert [rank[leg.payer_id] for leg in aid] == sorted(rank[leg.payer_id] for leg in aid)
    # An account is passed over only when it could give nothing; each leg but the last is exhausted.
    for leg in aid[:-1]:
        assert leg.amount == _cap(ordered[rank[leg.payer_id]])
    if own is not None and aid:
        assert legs[0].source == "own_account" or own.balance == 0


@given(chains())
def test_r9_same_input_same_output(
    chain: tuple[Fen, PersonalAccount | None, list[PayerCandidate]],
) -> None:
    payable, own, candidates = chain
    first = plan_payer_chain(payable, person(PATIENT).id, own, gongji_order_payers(candidates))
    again = plan_payer_chain(
        payable, person(PATIENT).id, own, gongji_order_payers(list(reversed(candidates)))
    )
    assert first == again


statuses = st.sampled_from(["active", "active", "pending", "rejected", "revoked"])


@settings(
    max_examples=200, deadline=None
)  # the first call loads the plugins: timing is not the point
@given(
    st.lists(st.tuples(statuses, amounts, limits), min_size=0, max_size=8),
    st.integers(min_value=1, max_value=200_000),
    st.integers(min_value=0, max_value=100),
)
def test_assessment_conserves_money_and_refused_bindings_never_pay(
    specs: list[tuple[str, int, int | None]], price: int, fund_percent: int
) -> None:
    mother = person(PATIENT, "resident")
    bindings: list[Binding] = []
    owners = []
    for i, (status, balance, limit) in enumerate(specs):
        bindings.append(
            binding(
                owner=OWNER_IDS[i],
                status=status,
                priority=i + 1,
                per_transaction_limit=None if limit is None else Fen(limit),
            )
        )
        owners.append(person(OWNER_IDS[i], balance=balance))
    buy = purchase(PATIENT, items=[drug(price)])
    fund = price * fund_percent // 100
    quote = assess(context(holder=mother, buy=buy, bindings=bindings, owners=owners, fund=fund))
    assert quote.total == quote.fund + quote.accounts + quote.cash
    refused = {r.owner_id for r in quote.refusals}
    assert not refused & {leg.payer_id for leg in quote.legs}
    for b in bindings:
        if b.status != "active":
            assert b.owner in refused


# ---------------------------------------------------------------- edges (issue 19)

SON_ID, DAUGHTER_ID = OWNER_IDS[0], OWNER_IDS[1]


def _candidate(
    owner: str, balance: int | None, *, priority: int = 1, limit: int | None = None
) -> PayerCandidate:
    return PayerCandidate(
        binding=binding(
            owner=owner,
            priority=priority,
            per_transaction_limit=None if limit is None else Fen(limit),
        ),
        owner=person(owner, balance=balance) if balance is not None else person(owner, "resident"),
    )


def _legs(payable: int, own: int | None, *candidates: PayerCandidate) -> list[tuple[str, int]]:
    account = None if own is None else PersonalAccount(Fen(own))
    legs = plan_payer_chain(Fen(payable), _patient_id(), account, candidates)  # type: ignore[arg-type]
    return [
        (leg.source if leg.source == "own_account" else leg.payer_id.number, int(leg.amount))
        for leg in legs
    ]


def _patient_id() -> object:
    return person(PATIENT, "resident").id


def test_r9_an_own_account_holding_exactly_one_fen_pays_that_fen() -> None:
    assert _legs(500, 1, _candidate(SON_ID, 10_000)) == [("own_account", 1), (SON_ID, 499)]


def test_r9_a_last_fen_is_drawn_from_an_account_not_left_to_cash() -> None:
    # Own account covers all but 1 fen; the son's account pays that fen.
    assert _legs(500, 499, _candidate(SON_ID, 10_000)) == [("own_account", 499), (SON_ID, 1)]
    # A payable share of exactly 1 fen is paid by the own account.
    assert _legs(1, 10_000) == [("own_account", 1)]


def test_r9_a_relatives_account_holding_exactly_one_fen_pays_that_fen() -> None:
    assert _legs(500, None, _candidate(SON_ID, 1), _candidate(DAUGHTER_ID, 10_000, priority=2)) == [
        (SON_ID, 1),
        (DAUGHTER_ID, 499),
    ]


def test_r9_an_empty_own_account_or_nothing_payable_draws_no_leg() -> None:
    assert _legs(500, 0, _candidate(SON_ID, 10_000)) == [(SON_ID, 500)]
    assert _legs(0, 10_000, _candidate(SON_ID, 10_000)) == []


def test_r9_each_account_pays_the_smaller_of_its_balance_and_what_is_left() -> None:
    assert _legs(500, 10_000) == [("own_account", 500)]
    assert _legs(500, 200, _candidate(SON_ID, 10_000)) == [("own_account", 200), (SON_ID, 300)]


def test_r9_a_limit_exactly_equal_to_the_balance_caps_at_that_amount() -> None:
    assert _candidate(SON_ID, 300, limit=300).available == 300
    assert _candidate(SON_ID, 300, limit=299).available == 299
    assert _candidate(SON_ID, 300, limit=301).available == 300
    assert _candidate(SON_ID, 300).available == 300


def test_r9_an_owner_without_an_account_can_pay_nothing() -> None:
    assert _candidate(SON_ID, None).available == 0


def test_r9_a_relatives_leg_names_the_relation_for_the_cashier() -> None:
    relatives = plan_payer_chain(
        Fen(500),
        _patient_id(),
        None,
        [_candidate(SON_ID, 10_000)],  # type: ignore[arg-type]
    )
    assert [(leg.source, leg.relation) for leg in relatives] == [("mutual_aid", Relation.PARENT)]
    own = plan_payer_chain(Fen(500), _patient_id(), PersonalAccount(Fen(900)), [])  # type: ignore[arg-type]
    assert [(leg.source, leg.relation) for leg in own] == [("own_account", None)]


def test_r9_the_builtin_order_is_priority_then_owner_and_yields_to_any_plugin() -> None:
    late, early_b, early_a = (
        _candidate(OWNER_IDS[2], 100, priority=3),
        _candidate(OWNER_IDS[5], 100, priority=1),
        _candidate(OWNER_IDS[4], 100, priority=1),
    )
    ordered = gongji_order_payers([late, early_b, early_a])
    assert ordered == [early_a, early_b, late]
    # trylast: a region's ordering plugin is asked before the built-in one.
    assert gongji_order_payers.gongji_impl["trylast"] is True  # type: ignore[attr-defined]
