"""Outpatient billing through both drivers: a visit is registered (2201), diagnosed
(2203), its fee lines uploaded (2204) or withdrawn (2205), the settlement (2206/2207)
settles exactly that visit's charge batch, and a registration can be cancelled (2202)."""

from __future__ import annotations

import json

import attrs
import httpx
import pytest

from gongji import (
    Cash,
    ConfigError,
    Credential,
    Declined,
    Diagnosis,
    Fen,
    InvalidInput,
    LineItem,
    OwnCardViolation,
    Purchase,
    SettlementClient,
    Visit,
)
from gongji.journal import EntryState
from gongji_mock import MockGateway
from tests.client.conftest import CLINIC, MOTHER, SISTER, SON, WECHAT_PAID, Till, drug, make_till

CONSULTATION = LineItem(code="110200001", name="普通门诊诊查费", unit_price=Fen(1_000), quantity=1)
TABLETS = drug(12_000, quantity=2, coverage="C")  # 240 yuan, self-paid: mutual aid pays it
SYRUP = drug(3_550, coverage="B")


HYPERTENSION = Diagnosis(code="I10.x00", name="高血压")


def registered(till: Till, patient: str = MOTHER) -> Visit:
    """A visit registered and diagnosed: ready for its fee lines."""
    visit = till.register_visit(
        Credential.id_card(patient),
        **CLINIC,
        outpatient_no="OP-0001",
    )
    return till.diagnose(visit, [HYPERTENSION])


def settlements_at_the_centre(mock: MockGateway) -> int:
    return sum(1 for t in mock.centre.ledger.transactions if t.kind == "settle")


def test_registration_then_fee_upload_then_settle_settles_that_visit(
    till: Till, mock: MockGateway
) -> None:
    visit = registered(till)
    assert visit.visit_id and visit.patient_id == MOTHER and visit.items == ()
    assert visit.diagnoses == (HYPERTENSION,) and visit.department_category == "A03"
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
        batch="B1",
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
    claimed = attrs.evolve(visit, items=(CONSULTATION, TABLETS), uploaded=2)
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


@pytest.mark.parametrize("code", ["2203", "2205", "2202"])
def test_a_lost_answer_to_a_visit_write_is_asked_again_under_its_msgid(
    till: Till, mock: MockGateway, code: str
) -> None:
    visit = till.upload_fees(registered(till), [CONSULTATION])

    def messages() -> int:
        return sum(1 for seen in mock.national.records.seen.values() if seen.infno == code)

    before = messages()
    mock.faults.add("drop_after_commit", target="national", code=code, times=1)
    # Had the repeat been a new message, the centre would have refused it: a batch
    # withdrawn already, a registration cancelled already.
    if code == "2203":
        till.diagnose(visit, [HYPERTENSION])
    elif code == "2205":
        till.withdraw_fees(visit)
    else:
        till.cancel_registration(visit)
    assert messages() == before + 1  # one message, answered twice


def test_registration_is_refused_before_the_network_when_the_gateway_does_not_offer_it(
    till: Till, mock: MockGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    gateway = till.client.setup.gateway
    monkeypatch.setattr(gateway, "capabilities", gateway.capabilities - {"register"})
    mock.faults.add("error_5xx", target="national")  # any request sent would fail otherwise
    with pytest.raises(ConfigError, match="'register'"):
        registered(till)


# ---------------------------------------------------------------- 2203 before 2204


def test_fee_lines_wait_for_the_diagnosis_and_nothing_is_sent_before_it(
    till: Till, mock: MockGateway
) -> None:
    visit = till.register_visit(
        Credential.id_card(MOTHER),
        **CLINIC,
    )
    with pytest.raises(InvalidInput, match=r"client\.diagnose"):
        till.upload_fees(visit, [CONSULTATION])
    assert mock.national.records.visits.get(visit.visit_id).lines == ()
    assert visit.outpatient_no  # made for the clinic: 2201 requires one


@pytest.mark.parametrize(
    "missing", ["department", "department_code", "department_category", "doctor", "doctor_code"]
)
def test_a_registration_without_a_required_2201_field_is_refused_before_anything_is_sent(
    till: Till, mock: MockGateway, missing: str
) -> None:
    mock.faults.add("error_5xx", target="national")  # any request sent would fail otherwise
    with pytest.raises(InvalidInput, match=missing):
        till.register_visit(Credential.id_card(MOTHER), **(CLINIC | {missing: ""}))


# ---------------------------------------------------------------- 2205 withdraws fee lines


def test_a_withdrawn_line_is_not_settled_and_the_lines_kept_settle_in_a_new_batch(
    till: Till, mock: MockGateway
) -> None:
    visit = till.upload_fees(registered(till), [CONSULTATION, TABLETS, SYRUP])
    first_batch = visit.batch
    # The patient declines the tablets: withdraw the visit's lines, upload those kept.
    emptied = till.withdraw_fees(visit)
    assert emptied.items == () and emptied.batch == "" and emptied.uploaded == 3
    kept = till.upload_fees(emptied, [CONSULTATION, SYRUP])
    assert kept.batch != first_batch and kept.uploaded == 5  # feedetl_sn 4 and 5, never 1 again
    receipt = till.settle(Purchase.for_visit(kept, Credential.id_card(MOTHER)), key="CLINIC-W1")
    assert receipt.total == Fen(1_000 + 3_550)
    assert mock.check() == []


def test_the_withdrawn_lines_cannot_be_settled(till: Till, mock: MockGateway) -> None:
    visit = till.upload_fees(registered(till), [CONSULTATION, SYRUP])
    till.withdraw_fees(visit)
    stale = Purchase.for_visit(visit, Credential.id_card(MOTHER))  # the visit before 2205
    with pytest.raises(Declined) as refused:
        till.settle(stale, key="CLINIC-W2")
    assert refused.value.err_msg and "收费批次号" in refused.value.err_msg
    assert settlements_at_the_centre(mock) == 0 and mock.balance(SON) == Fen(500_000)


def test_withdrawing_from_a_visit_without_lines_is_refused_before_anything_is_sent(
    till: Till, mock: MockGateway
) -> None:
    visit = registered(till)
    mock.faults.add("error_5xx", target="national")
    with pytest.raises(InvalidInput, match="no fee lines uploaded to withdraw"):
        till.withdraw_fees(visit)


def test_settled_lines_are_not_withdrawn_until_the_settlement_is_refunded(
    till: Till, mock: MockGateway
) -> None:
    visit = till.upload_fees(registered(till), [CONSULTATION])
    receipt = till.settle(Purchase.for_visit(visit, Credential.id_card(MOTHER)), key="CLINIC-W3")
    with pytest.raises(Declined, match=r"client\.refund") as refused:
        till.withdraw_fees(visit)
    assert refused.value.err_msg and "已结算" in refused.value.err_msg
    till.refund(receipt.settlement_id)
    assert till.withdraw_fees(visit).items == ()


# ---------------------------------------------------------------- 2202 cancels a registration


def test_a_cancelled_registration_takes_no_lines_and_settles_nothing(
    till: Till, mock: MockGateway
) -> None:
    visit = till.upload_fees(registered(till), [CONSULTATION])
    till.cancel_registration(visit)
    with pytest.raises(Declined) as refused:
        till.upload_fees(visit, [SYRUP])
    assert refused.value.err_msg and "撤销挂号" in refused.value.err_msg
    with pytest.raises(Declined, match="2202"):
        till.settle(Purchase.for_visit(visit, Credential.id_card(MOTHER)), key="CLINIC-C1")
    assert settlements_at_the_centre(mock) == 0


def test_a_settled_visit_is_cancelled_only_after_its_refund(till: Till, mock: MockGateway) -> None:
    visit = till.upload_fees(registered(till), [CONSULTATION])
    receipt = till.settle(Purchase.for_visit(visit, Credential.id_card(MOTHER)), key="CLINIC-C2")
    with pytest.raises(Declined, match=r"refund its settlement") as refused:
        till.cancel_registration(visit)
    assert refused.value.err_msg and "已结算" in refused.value.err_msg
    till.refund(receipt.settlement_id)
    till.cancel_registration(visit)
    assert mock.national.records.visits.get(visit.visit_id).cancelled
    assert mock.check() == []


def test_a_visit_and_its_purchase_show_no_full_id_number() -> None:
    visit = Visit(visit_id="MDT1", psn_no="P1", patient_id=MOTHER, items=[CONSULTATION])
    purchase = Purchase.for_visit(visit, Credential.id_card(MOTHER), use_mutual_aid=True)
    assert MOTHER not in repr(visit) and MOTHER not in repr(purchase)
    assert "210202********0046" in repr(visit)


@pytest.mark.parametrize(
    ("code", "name"), [("", "高血压"), ("I10.x00", " "), ("X" * 21, "高血压"), ("I10", "名" * 101)]
)
def test_a_diagnosis_without_a_code_or_name_of_the_national_lengths_is_refused(
    code: str, name: str
) -> None:
    with pytest.raises(InvalidInput, match="nothing was sent"):
        Diagnosis(code=code, name=name)


def test_a_diagnosis_kind_is_one_of_the_national_diag_types() -> None:
    assert Diagnosis(code="I10", name="高血压", kind="3").kind.value == "3"
    with pytest.raises(InvalidInput, match="Use one of: 1, 2, 3"):
        Diagnosis(code="I10", name="高血压", kind="9")


def test_a_visit_never_counts_fewer_lines_uploaded_than_it_holds() -> None:
    visit = Visit(visit_id="MDT1", psn_no="P1", patient_id=MOTHER, items=[CONSULTATION, SYRUP])
    assert visit.uploaded == 2  # made again from its lines alone: numbered on after them
    with pytest.raises(InvalidInput, match="uploaded count"):
        attrs.evolve(visit, uploaded=1)


def test_diagnosing_without_a_diagnosis_is_refused_before_anything_is_sent(
    till: Till, mock: MockGateway
) -> None:
    visit = registered(till)
    mock.faults.add("error_5xx", target="national")
    with pytest.raises(InvalidInput, match=r"at least one gongji\.Diagnosis"):
        till.diagnose(visit, [])


def test_a_visit_made_again_at_another_till_names_the_patients_region(
    till: Till, mock: MockGateway, driver: str
) -> None:
    # The sister is insured in Benxi (210500): every message for her visit names it, and
    # the strict mock refuses one that names Dalian's instead.
    visit = till.upload_fees(registered(till, SISTER), [CONSULTATION])
    assert visit.insured_in == "210500"
    stored = attrs.asdict(visit, recurse=False)  # what a billing system keeps
    other = make_till(mock, driver, till=1)  # a till that never asked 1101 for her
    another_till = next(other)
    try:
        again = Visit(**stored)
        again = another_till.upload_fees(another_till.withdraw_fees(again), [SYRUP])
        another_till.cancel_registration(again)
    finally:
        other.close()
    assert mock.national.records.visits.get(visit.visit_id).cancelled


TAKEN = "报文ID重复且内容不同，不予处理 / msgid already used for a different message"


@pytest.mark.parametrize("code", ["2201", "2203", "2204", "2205", "2202"])
def test_a_visit_write_refused_for_its_msgid_alone_goes_again_under_a_new_one(code: str) -> None:
    mock = MockGateway.demo()
    refused: list[str] = []

    def centre(request: httpx.Request) -> httpx.Response:
        message = json.loads(request.content) if request.url.path.startswith("/fsi/") else {}
        if message.get("infno") == code and not refused:
            refused.append(message["msgid"])  # another till's message had it: not processed
            return httpx.Response(200, json={"infcode": -1, "err_msg": TAKEN})
        return mock.handle(request)

    transport = httpx.MockTransport(centre)
    with SettlementClient.from_profile("mock", mock=mock, transport=transport) as client:
        till = Till(client, None)
        visit = till.upload_fees(registered(till), [CONSULTATION])
        if code == "2205":
            visit = till.withdraw_fees(visit)
        if code == "2202":
            till.cancel_registration(visit)
    assert refused  # and it went through under another msgid
    sent = [s for s in mock.national.records.seen.values() if s.infno == code]
    assert len(sent) == 1
    if code == "2204":
        assert visit.batch != refused[0]  # the batch is numbered by the message taken
