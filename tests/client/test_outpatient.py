"""Outpatient billing through both drivers: a visit is registered (2201), its fee lines
uploaded (2204), and the settlement (2206/2207) settles exactly that visit."""

from __future__ import annotations

import attrs
import pytest

from gongji import (
    Cash,
    ConfigError,
    Credential,
    Declined,
    Fen,
    InvalidInput,
    LineItem,
    OwnCardViolation,
    Purchase,
    Visit,
)
from gongji.journal import EntryState
from gongji_mock import MockGateway
from tests.client.conftest import MOTHER, SON, WECHAT_PAID, Till, drug

CONSULTATION = LineItem(code="110200001", name="普通门诊诊查费", unit_price=Fen(1_000), quantity=1)
TABLETS = drug(12_000, quantity=2, coverage="C")  # 240 yuan, self-paid: mutual aid pays it
SYRUP = drug(3_550, coverage="B")


def registered(till: Till, patient: str = MOTHER) -> Visit:
    return till.register_visit(
        Credential.id_card(patient),
        department="内科",
        doctor="王医生",
        department_code="A03",
        doctor_code="D210200000001",
        outpatient_no="OP-0001",
    )


def settlements_at_the_centre(mock: MockGateway) -> int:
    return sum(1 for t in mock.centre.ledger.transactions if t.kind == "settle")


def test_registration_then_fee_upload_then_settle_settles_that_visit(
    till: Till, mock: MockGateway
) -> None:
    visit = registered(till)
    assert visit.visit_id and visit.patient_id == MOTHER and visit.items == ()
    visit = till.upload_fees(visit, [CONSULTATION])
    visit = till.upload_fees(visit, [TABLETS, SYRUP])  # a second prescription, numbered on
    assert visit.items == (CONSULTATION, TABLETS, SYRUP)
    assert visit.total == Fen(1_000 + 24_000 + 3_550)

    purchase = Purchase.for_visit(visit, Credential.id_card(MOTHER), use_mutual_aid=True)
    quote = till.preview(purchase)
    receipt = till.settle(purchase, key="CLINIC-0001", cash=Cash.wechat(WECHAT_PAID))

    assert receipt.total == quote.total == visit.total
    assert receipt.fund + sum(leg.amount for leg in receipt.legs) + receipt.cash == receipt.total
    entry = till.client.journal.by_settlement(receipt.settlement_id)
    assert entry is not None and entry.settlement is not None
    assert entry.settlement.mdtrt_id == visit.visit_id  # the centre settled this visit
    assert mock.balance(SON) < Fen(500_000)  # the son's mutual aid paid the self-paid share
    assert mock.check() == []


def test_a_visit_settles_once_even_under_a_new_key(till: Till, mock: MockGateway) -> None:
    visit = till.upload_fees(registered(till), [CONSULTATION])
    purchase = Purchase.for_visit(visit, Credential.id_card(MOTHER), use_mutual_aid=True)
    till.settle(purchase, key="CLINIC-0002")
    with pytest.raises(Declined, match="already settled"):
        till.settle(purchase, key="CLINIC-0003")
    assert settlements_at_the_centre(mock) == 1


def test_an_outpatient_purchase_without_a_registered_visit_is_refused_before_anything_is_sent(
    till: Till, mock: MockGateway
) -> None:
    unregistered = Purchase(
        credential=Credential.id_card(MOTHER), items=[CONSULTATION], setting="outpatient"
    )
    with pytest.raises(InvalidInput, match=r"register_visit"):
        till.preview(unregistered)
    with pytest.raises(InvalidInput, match=r"register_visit"):
        till.settle(unregistered, key="CLINIC-0004")
    assert till.client.journal.get("CLINIC-0004") is None
    assert settlements_at_the_centre(mock) == 0


def test_a_visit_the_centre_never_registered_is_declined_by_the_centre(
    till: Till, mock: MockGateway
) -> None:
    never = Visit(
        visit_id="MDT-NEVER-REGISTERED",
        psn_no=mock.psn_no(MOTHER),
        patient_id=MOTHER,
        items=[CONSULTATION],
    )
    with pytest.raises(Declined, match="2201") as refused:
        till.settle(Purchase.for_visit(never, Credential.id_card(MOTHER)), key="CLINIC-0005")
    assert refused.value.err_msg and "就诊ID不存在" in refused.value.err_msg
    assert settlements_at_the_centre(mock) == 0 and mock.check() == []


def test_lines_other_than_those_uploaded_are_refused_before_anything_is_sent(till: Till) -> None:
    visit = till.upload_fees(registered(till), [CONSULTATION, TABLETS])
    with pytest.raises(InvalidInput, match="differ from the 2 fee lines uploaded"):
        Purchase(
            credential=Credential.id_card(MOTHER),
            items=[CONSULTATION],
            setting="outpatient",
            visit=visit,
        )
    with pytest.raises(InvalidInput, match="outpatient"):
        Purchase(credential=Credential.id_card(MOTHER), items=visit.items, visit=visit)
    with pytest.raises(InvalidInput, match="No fee lines were uploaded"):
        Purchase.for_visit(registered(till), Credential.id_card(MOTHER))


def test_fees_the_centre_does_not_hold_are_declined_and_nothing_is_charged(
    till: Till, mock: MockGateway
) -> None:
    visit = till.upload_fees(registered(till), [CONSULTATION])
    # A visit whose lines were never all uploaded (a stale copy, another till's basket).
    claimed = attrs.evolve(visit, items=(CONSULTATION, TABLETS))
    with pytest.raises(Declined, match="medfee_sumamt") as refused:
        till.settle(Purchase.for_visit(claimed, Credential.id_card(MOTHER)), key="CLINIC-0006")
    assert refused.value.infcode == "-1"
    assert settlements_at_the_centre(mock) == 0 and mock.balance(SON) == Fen(500_000)


def test_r1_a_relatives_credential_cannot_settle_the_patients_visit(
    till: Till, mock: MockGateway
) -> None:
    visit = till.upload_fees(registered(till, MOTHER), [CONSULTATION])
    with pytest.raises(OwnCardViolation):
        till.settle(Purchase.for_visit(visit, Credential.id_card(SON)), key="CLINIC-0007")
    assert settlements_at_the_centre(mock) == 0


def test_a_settled_visit_takes_no_more_fee_lines(till: Till) -> None:
    visit = till.upload_fees(registered(till), [CONSULTATION])
    till.settle(Purchase.for_visit(visit, Credential.id_card(MOTHER)), key="CLINIC-0008")
    with pytest.raises(Declined, match="already settled"):
        till.upload_fees(visit, [SYRUP])


def test_refunding_a_visit_cancels_it_at_the_centre_with_2208(
    till: Till, mock: MockGateway
) -> None:
    visit = till.upload_fees(registered(till), [CONSULTATION, TABLETS])
    receipt = till.settle(
        Purchase.for_visit(visit, Credential.id_card(MOTHER)),
        key="CLINIC-0009",
        cash=Cash.wechat(WECHAT_PAID),
    )
    till.refund(receipt.settlement_id)
    assert mock.centre.is_cancelled(receipt.settlement_id)
    assert mock.balance(SON) == Fen(500_000) and mock.wechatpay.collected() == Fen(0)
    entry = till.client.journal.get("CLINIC-0009")
    assert entry is not None and entry.state is EntryState.REFUNDED
    assert mock.check() == []


def test_a_lost_answer_to_a_fee_upload_is_asked_again_and_takes_the_lines_once(
    till: Till, mock: MockGateway
) -> None:
    visit = registered(till)
    mock.faults.add("drop_after_commit", target="national", code="2204", times=1)
    visit = till.upload_fees(visit, [CONSULTATION, SYRUP])
    # Had the repeat been taken as new lines, the centre would hold twice the total
    # and refuse the settlement of this one.
    receipt = till.settle(Purchase.for_visit(visit, Credential.id_card(MOTHER)), key="CLINIC-0010")
    assert receipt.total == visit.total == Fen(4_550)


def test_a_lost_answer_to_a_registration_registers_one_visit(till: Till, mock: MockGateway) -> None:
    mock.faults.add("drop_after_commit", target="national", code="2201", times=1)
    visit = registered(till)
    assert list(mock.national.records.visits) == [visit.visit_id]


def test_registration_is_refused_before_the_network_when_the_gateway_does_not_offer_it(
    till: Till, mock: MockGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    gateway = till.client.setup.gateway
    monkeypatch.setattr(gateway, "capabilities", gateway.capabilities - {"register"})
    mock.faults.add("error_5xx", target="national")  # any request sent would fail otherwise
    with pytest.raises(ConfigError, match="'register'"):
        registered(till)


def test_a_visit_and_its_purchase_show_no_full_id_number() -> None:
    visit = Visit(visit_id="MDT1", psn_no="P1", patient_id=MOTHER, items=[CONSULTATION])
    purchase = Purchase.for_visit(visit, Credential.id_card(MOTHER), use_mutual_aid=True)
    assert MOTHER not in repr(visit) and MOTHER not in repr(purchase)
    assert "210202********0046" in repr(visit)
