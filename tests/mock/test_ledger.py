"""The mock's double-entry ledger: conservation, no overdraft, reversals, and a check that notices tampering."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gongji import Fen, InvalidInput, LimitExceeded
from gongji.identity import IdNumber
from gongji_mock.centre.ledger import CASH, FUND, INSTITUTION, Ledger, Posting, Transaction
from tests.conftest import OWNER, PATIENT, SISTER_BENXI

SON, MOTHER, SISTER = IdNumber(OWNER), IdNumber(PATIENT), IdNumber(SISTER_BENXI)


def ledger() -> Ledger:
    return Ledger({SON: Fen(50_000), SISTER: Fen(3_000), MOTHER: Fen(0)})


def test_settlement_moves_money_and_conserves_it() -> None:
    book = ledger()
    t = book.settle(
        "S1", Fen(10_000), Fen(6_000), [(SON, Fen(3_000)), (SISTER, Fen(500))], Fen(500)
    )
    assert book.balance(SON) == 47_000
    assert book.balance(SISTER) == 2_500
    assert t.paid_by(FUND) + t.paid_by(CASH) + t.paid_by(SON) + t.paid_by(SISTER) == t.total
    assert book.check() == []


def test_split_that_does_not_add_up_posts_nothing() -> None:
    book = ledger()
    with pytest.raises(InvalidInput, match="does not add up"):
        book.settle("S1", Fen(10_000), Fen(6_000), [(SON, Fen(3_000))], Fen(999))
    assert book.transactions == ()
    assert book.balance(SON) == 50_000


def test_overdraft_posts_nothing() -> None:
    book = ledger()
    with pytest.raises(LimitExceeded):
        book.settle("S1", Fen(10_000), Fen(0), [(SON, Fen(5_000)), (SISTER, Fen(5_000))], Fen(0))
    assert book.balance(SON) == 50_000
    assert book.transactions == ()


def test_same_settlement_is_posted_once() -> None:
    book = ledger()
    book.settle("S1", Fen(100), Fen(0), [(SON, Fen(100))], Fen(0))
    with pytest.raises(InvalidInput, match="already posted"):
        book.settle("S1", Fen(100), Fen(0), [(SON, Fen(100))], Fen(0))
    assert book.balance(SON) == 49_900


def test_reversal_restores_balances_and_is_idempotent() -> None:
    book = ledger()
    book.settle("S1", Fen(4_000), Fen(1_000), [(SON, Fen(3_000))], Fen(0))
    first = book.reverse("S1")
    again = book.reverse("S1")
    assert first is again
    assert book.balance(SON) == 50_000
    assert book.is_reversed("S1")
    assert book.check() == []


def test_reversing_an_unknown_settlement_is_refused() -> None:
    with pytest.raises(InvalidInput, match="no settlement"):
        ledger().reverse("nope")


def test_check_notices_a_tampered_balance_and_an_unbalanced_transaction() -> None:
    book = ledger()
    book.settle("S1", Fen(1_000), Fen(0), [(SON, Fen(1_000))], Fen(0))
    book._balances.put(SON, Fen(99_999))  # tampering, as a bug would
    forged = Transaction(
        2, "settle", "S2", (Posting(INSTITUTION, Fen(500)), Posting(SON, Fen(-400))), Fen(500)
    )
    book._transactions.put(forged.number, forged)
    violations = book.check()
    assert any("does not match" in v for v in violations)
    assert any("do not sum to zero" in v for v in violations)
    assert any("parts sum to" in v for v in violations)


def test_ledger_reprs_and_violations_never_show_a_full_id_number() -> None:
    book = ledger()
    t = book.settle("S1", Fen(1_000), Fen(0), [(SON, Fen(1_000))], Fen(0))
    book._balances.put(SON, Fen(1))
    assert OWNER not in repr(t)
    assert OWNER not in " ".join(book.check())


operations = st.lists(
    st.tuples(
        st.sampled_from(["settle", "reverse"]),
        st.integers(0, 30),
        st.integers(0, 20_000),
        st.integers(0, 100),
        st.integers(0, 100),
    ),
    max_size=60,
)


@settings(max_examples=100)
@given(operations)
def test_any_sequence_of_settlements_and_reversals_keeps_the_ledger_sound(
    ops: list[tuple[str, int, int, int, int]],
) -> None:
    book = ledger()
    for kind, n, total, fund_pct, son_pct in ops:
        settlement_id = f"S{n}"
        try:
            if kind == "reverse":
                book.reverse(settlement_id)
                continue
            fund = total * fund_pct // 100
            son = (total - fund) * son_pct // 100
            book.settle(
                settlement_id, Fen(total), Fen(fund), [(SON, Fen(son))], Fen(total - fund - son)
            )
        except (InvalidInput, LimitExceeded):
            pass  # refused operations post nothing
    assert book.check() == []
    assert book.balance(SON) >= 0
