"""Every rule R1-R9 and the three cases of DOMAIN.md, end to end: the client's flows, the
real adapters and signatures, the mock centre's own ledger. Each test also proves money
is conserved on the receipt and on the ledger."""

from __future__ import annotations

import pytest

from gongji import (
    Cash,
    Credential,
    Declined,
    Fen,
    InvalidInput,
    OwnCardViolation,
    Purchase,
)
from gongji.model import Receipt
from gongji_mock import MockGateway
from gongji_mock.centre.dataset import parse_dataset
from tests.client.conftest import (
    DAUGHTER,
    FATHER,
    GRANDMOTHER,
    MOTHER,
    SISTER,
    SON,
    WIFE,
    Till,
    balances,
    drug,
    make_till,
    purchase,
    scanned_purchase,
)


def paid_by(receipt: Receipt) -> dict[str, Fen]:
    return {leg.payer_id.number: leg.amount for leg in receipt.legs}


def conserved(receipt: Receipt, mock: MockGateway) -> None:
    assert (
        receipt.total
        == receipt.fund + sum((leg.amount for leg in receipt.legs), Fen(0)) + receipt.cash
    )
    assert mock.check() == []


def test_r1_a_relatives_card_for_the_patient_is_refused_and_nothing_is_charged(
    till: Till, mock: MockGateway
) -> None:
    before = balances(mock)
    with pytest.raises(OwnCardViolation) as raised:
        till.settle(purchase(SON, patient_id=MOTHER), key="R1-0001")
    assert "冒名" in str(raised.value) and SON not in str(raised.value)
    assert balances(mock) == before
    assert mock.check() == []


def test_case1_own_credential_presented_by_an_agent_is_allowed_and_the_agent_recorded(
    till: Till, mock: MockGateway
) -> None:
    receipt = till.settle(purchase(MOTHER, agent_id=SON), key="CASE1-0001")
    assert receipt.agent_id == SON
    conserved(receipt, mock)


def test_case2_and_r9_mutual_aid_pays_by_priority_up_to_limits_then_cash(
    till: Till, mock: MockGateway
) -> None:
    """The mother's 500-yuan class-C basket: her son (limit 400), then her daughter in
    Benxi (30 yuan, same province), then cash."""
    receipt = till.settle(purchase(MOTHER), key="R9-0001")
    assert paid_by(receipt) == {SON: Fen(40_000), SISTER: Fen(3_000)}
    assert [leg.payer_id for leg in receipt.legs] == [SON, SISTER]
    assert receipt.cash == Fen(7_000)
    assert receipt.divergence == ()
    assert mock.balance(SON) == Fen(460_000) and mock.balance(SISTER) == Fen(0)
    conserved(receipt, mock)


def test_r8_per_transaction_limit_caps_the_owners_leg(till: Till, mock: MockGateway) -> None:
    quote = till.preview(purchase(MOTHER, drug(100_000, coverage="C")))
    son_leg = next(leg for leg in quote.legs if leg.payer_id == SON)
    assert son_leg.amount == Fen(40_000)


def test_r5_pending_and_revoked_bindings_do_not_pay(till: Till, mock: MockGateway) -> None:
    before = balances(mock)
    receipt = till.settle(purchase(DAUGHTER, drug(600_000, coverage="C")), key="R5-0001")
    refused = {(r.rule, r.owner_id) for r in receipt.refusals}
    assert ("R5", WIFE) in refused
    assert mock.balance(WIFE) == before[WIFE]
    father = till.settle(purchase(FATHER, drug(50_000, coverage="C")), key="R5-0002")
    assert set(paid_by(father)) <= {FATHER}  # the revoked binding to the son never pays
    assert mock.balance(SON) == before[SON] - paid_by(receipt)[SON]
    conserved(father, mock)


def test_r4_and_r7_a_grandparent_in_another_province_is_refused_by_the_dalian_pack(
    till: Till, mock: MockGateway
) -> None:
    receipt = till.settle(purchase(GRANDMOTHER), key="R4-0001")
    rules = {r.rule for r in receipt.refusals if r.owner_id == SON}
    assert rules & {"R4", "R7"}
    assert receipt.legs == () and receipt.cash == receipt.total - receipt.fund
    assert mock.balance(SON) == Fen(500_000)
    conserved(receipt, mock)


def test_r6_cash_only_goods_alone_are_no_insurance_sale_and_nothing_is_sent(
    till: Till, mock: MockGateway
) -> None:
    cosmetic = drug(20_000, category="cosmetic")
    sent = mock.recent.total
    with pytest.raises(InvalidInput, match="cash-only goods"):
        till.settle(purchase(MOTHER, cosmetic), key="R6-0001")
    assert mock.recent.total == sent and till.client.journal.get("R6-0001") is None


def test_cash_only_goods_are_the_sales_cash_part_and_never_reach_the_centre(
    till: Till, mock: MockGateway
) -> None:
    medicine, cream = drug(12_000, coverage="A"), drug(20_000, category="cosmetic")
    receipt = till.settle(purchase(MOTHER, medicine, cream), key="R6-0002")
    assert receipt.cash_part == Fen(20_000) and receipt.insured_total == Fen(12_000)
    assert receipt.total == Fen(32_000) and receipt.cash >= Fen(20_000)
    standing = mock.centre.settlement(receipt.settlement_id)
    assert standing is not None and standing.quote.total == Fen(
        12_000
    )  # the centre settled the medicine alone
    assert receipt.legs == () or all(leg.amount <= Fen(12_000) for leg in receipt.legs)
    conserved(receipt, mock)


def test_mixed_basket_fund_accounts_and_cash_add_up(till: Till, mock: MockGateway) -> None:
    basket = purchase(
        MOTHER,
        drug(12_000, quantity=3, coverage="A"),
        drug(8_000, coverage="B"),
        drug(30_000, coverage="C"),
        drug(5_000, category="supplement"),
    )
    quote = till.preview(basket)
    receipt = till.settle(basket, key="MIX-0001")
    assert (receipt.fund, receipt.cash) == (quote.fund, quote.cash)
    assert receipt.cash >= Fen(5_000)  # the supplement is cash only
    conserved(receipt, mock)


R2_R3_DATASET = """
policy = "liaoning-dalian-2025"
[[person]]
id_number = "210202195809120046"
name = "王秀兰"
insurance = "resident"
region = "210202"
[[person]]
id_number = "210202198503170036"
name = "张伟"
insurance = "resident"          # not an employee: no account to lend (R2)
region = "210202"
[[person]]
id_number = "210202198605050289"
name = "刘芳"
insurance = "employee"
region = "210202"
account_balance = "800.00"
[[person]]
id_number = "210202201506010227"
name = "张小雨"
insurance = "resident"
status = "suspended"             # not insured now (R3)
region = "210202"
[[binding]]
owner = "210202198503170036"
beneficiary = "210202195809120046"
relation = "parent"
status = "active"
priority = 1
[[binding]]
owner = "210202198605050289"
beneficiary = "210202201506010227"
relation = "child"
status = "active"
priority = 1
"""


@pytest.mark.parametrize(
    ("patient", "owner", "rule"), [(MOTHER, SON, "R2"), (DAUGHTER, WIFE, "R3")]
)
def test_r2_owner_and_r3_beneficiary_must_be_insured(
    driver: str, patient: str, owner: str, rule: str
) -> None:
    mock = MockGateway(parse_dataset(R2_R3_DATASET), extensions=True)
    for till in make_till(mock, driver):
        before = mock.balance(owner)
        receipt = till.settle(scanned_purchase(patient), key=f"{rule}-0001", cash=Cash.counter())
        assert (rule, owner) in {(r.rule, r.owner_id) for r in receipt.refusals}
        assert receipt.legs == ()
        assert mock.balance(owner) == before
        conserved(receipt, mock)


def test_e_voucher_pays_once_and_cannot_be_replayed_for_another_sale(
    till: Till, mock: MockGateway
) -> None:
    token = mock.issue_e_voucher(MOTHER)
    sale = Purchase(
        credential=Credential.e_voucher(token),
        items=[drug(50_000, coverage="C")],
        use_mutual_aid=True,
    )
    receipt = till.settle(sale, key="EV-0001")
    # The patient's app shows a new token on every scan: the same sale, the same receipt.
    rescanned = Purchase(
        use_mutual_aid=True,
        credential=Credential.e_voucher(mock.issue_e_voucher(MOTHER)),
        items=sale.items,
    )
    assert till.settle(rescanned, key="EV-0001") == receipt
    with pytest.raises(Declined):
        till.settle(sale, key="EV-0002")  # the first token was used by the first sale
    assert mock.balance(SON) == Fen(460_000) and mock.check() == []


def test_a_retry_with_the_sales_own_spent_e_voucher_returns_the_first_receipt(
    till: Till, mock: MockGateway
) -> None:
    # After a crash the POS retries with what it had: the token the centre already spent.
    # The journal's digest of that token stands for the patient: no look-up is refused.
    sale = Purchase(
        use_mutual_aid=True,
        credential=Credential.e_voucher(mock.issue_e_voucher(MOTHER)),
        items=[drug(50_000, coverage="C")],
    )
    receipt = till.settle(sale, key="EV-RETRY-1")
    assert till.settle(sale, key="EV-RETRY-1") == receipt
    assert mock.balance(SON) == Fen(460_000) and mock.check() == []


def test_social_security_card_resolves_to_its_holder(till: Till, mock: MockGateway) -> None:
    card = Purchase(
        use_mutual_aid=True,
        credential=mock.social_card(MOTHER),
        items=[drug(50_000, coverage="C")],
    )
    assert till.preview(card).cash == Fen(7_000)


@pytest.fixture
def mock() -> MockGateway:
    """The rules at the till need the bindings: a mock with gongji's extensions (X101,
    owners named), where the mock profile's gateway uses them too."""
    return MockGateway.demo(extensions=True)
