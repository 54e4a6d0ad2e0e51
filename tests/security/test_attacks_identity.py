"""Attacks on who pays: a patient presenting a relative's credential (R1), tricks with
patient_id / agent_id, and e-voucher tokens replayed, expired or forged. Each proves the
refusal and that no account, fund or channel moved on the mock's ledger."""

from __future__ import annotations

import datetime

import pytest

from gongji import (
    Cash,
    Credential,
    Declined,
    InvalidInput,
    OwnCardViolation,
    Purchase,
)
from gongji_mock import MockGateway
from tests.client.conftest import (
    FATHER,
    MOTHER,
    SON,
    WECHAT_PAID,
    WIFE,
    Till,
    drug,
)
from tests.security.conftest import ManInTheMiddle, ledger, nothing_moved


def test_impersonation_with_son_e_voucher_is_refused_r1(till: Till, mock: MockGateway) -> None:
    before = ledger(mock)
    token = mock.issue_e_voucher(SON)
    stolen = Purchase(
        credential=Credential.e_voucher(token), patient_id=MOTHER, items=[drug(9_000)]
    )
    with pytest.raises(OwnCardViolation):
        till.settle(stolen, key="ATK-R1-EV", cash=Cash.wechat(WECHAT_PAID))
    nothing_moved(mock, before)


def test_impersonation_with_son_id_card_is_refused_r1(till: Till, mock: MockGateway) -> None:
    before = ledger(mock)
    stolen = Purchase(credential=Credential.id_card(SON), patient_id=MOTHER, items=[drug(9_000)])
    with pytest.raises(OwnCardViolation):
        till.preview(stolen)
    with pytest.raises(OwnCardViolation):
        till.settle(stolen, key="ATK-R1-ID", cash=Cash.counter())
    nothing_moved(mock, before)


def test_impersonation_with_son_social_card_and_its_card_sn_is_refused_r1(
    till: Till, mock: MockGateway
) -> None:
    before = ledger(mock)
    card = mock.social_card(SON)
    stolen = Purchase(credential=card, patient_id=WIFE, items=[drug(9_000)])
    with pytest.raises(OwnCardViolation):
        till.settle(stolen, key="ATK-R1-SC", cash=Cash.counter())
    nothing_moved(mock, before)


def test_impersonation_dressed_as_a_proxy_purchase_is_refused_r1(
    till: Till, mock: MockGateway
) -> None:
    """The agent is who presents the card; naming the card's owner as agent does not make
    his card pay for someone else."""
    before = ledger(mock)
    stolen = Purchase(
        credential=Credential.id_card(SON), patient_id=FATHER, agent_id=SON, items=[drug(9_000)]
    )
    with pytest.raises(OwnCardViolation):
        till.settle(stolen, key="ATK-R1-AG", cash=Cash.counter())
    nothing_moved(mock, before)


@pytest.mark.parametrize(
    "patient_id",
    [
        "210202195809120047",  # the mother's number with a wrong check digit
        "210202195809120046\x00",  # a NUL after it
        "210202195809120046\u202e",  # an RTL override after it
    ],
    ids=["bad-checksum", "nul", "rtl"],
)
def test_a_malformed_patient_id_is_refused_before_anything_is_sent(
    mitm: ManInTheMiddle, mock: MockGateway, patient_id: str
) -> None:
    before = ledger(mock)
    with pytest.raises(InvalidInput):
        Purchase(credential=Credential.id_card(SON), patient_id=patient_id, items=[drug(9_000)])
    assert mitm.sent == []
    nothing_moved(mock, before)


def test_spelling_tricks_on_patient_id_do_not_slip_past_r1(till: Till, mock: MockGateway) -> None:
    """Normalisation cannot be used to slip past R1: the same person in another spelling
    (full-width digits, a lower-case x) is the same person, refused on another's card."""
    before = ledger(mock)
    fullwidth_mother = "２１０２０２１９５８０９１２００４６"
    lower_x = "21020219700101109x"  # a valid number ending in X, not the card's holder
    for n, patient in enumerate((fullwidth_mother, lower_x)):
        stolen = Purchase(credential=Credential.id_card(SON), patient_id=patient, items=[drug(900)])
        assert stolen.patient_id is not None and stolen.patient_id.isascii()
        with pytest.raises(OwnCardViolation):
            till.settle(stolen, key=f"ATK-R1-SPELL-{n}", cash=Cash.counter())
    nothing_moved(mock, before)
    own = Purchase(credential=Credential.id_card(SON), patient_id=SON, items=[drug(9_000)])
    assert till.preview(own).total == 9_000


def test_e_voucher_replay_is_refused_token_is_single_use(till: Till, mock: MockGateway) -> None:
    token = mock.issue_e_voucher(WIFE)
    sale = Purchase(credential=Credential.e_voucher(token), items=[drug(9_000)])
    first = till.settle(sale, key="ATK-EV-1", cash=Cash.counter())
    assert first.total == 9_000
    after_first = ledger(mock)
    replayed = Purchase(credential=Credential.e_voucher(token), items=[drug(12_000)])
    with pytest.raises(Declined, match="refused 1101"):
        till.settle(replayed, key="ATK-EV-2", cash=Cash.counter())
    nothing_moved(mock, after_first)


def test_an_expired_e_voucher_is_refused(till: Till, mock: MockGateway) -> None:
    before = ledger(mock)
    now = mock.centre.clock
    mock.centre.clock = lambda: now() - datetime.timedelta(minutes=10)  # issued 10 minutes ago
    token = mock.issue_e_voucher(WIFE)
    mock.centre.clock = now
    sale = Purchase(credential=Credential.e_voucher(token), items=[drug(9_000)])
    with pytest.raises(Declined, match="refused 1101"):
        till.settle(sale, key="ATK-EV-OLD", cash=Cash.counter())
    nothing_moved(mock, before)


def test_a_forged_e_voucher_token_is_refused(till: Till, mock: MockGateway) -> None:
    before = ledger(mock)
    forged = Purchase(credential=Credential.e_voucher("ev-forged-by-hand-0001"), items=[drug(900)])
    with pytest.raises(Declined):
        till.settle(forged, key="ATK-EV-FORGED", cash=Cash.counter())
    nothing_moved(mock, before)


def test_an_e_voucher_reused_under_the_same_key_for_another_patient_is_refused(
    till: Till, mock: MockGateway
) -> None:
    """The fingerprint leaves the token out; the patient behind a retried key must match."""
    wife = Purchase(
        credential=Credential.e_voucher(mock.issue_e_voucher(WIFE)), items=[drug(9_000)]
    )
    till.settle(wife, key="ATK-EV-KEY", cash=Cash.counter())
    after = ledger(mock)
    son = Purchase(credential=Credential.e_voucher(mock.issue_e_voucher(SON)), items=[drug(9_000)])
    with pytest.raises(InvalidInput, match="another patient"):
        till.settle(son, key="ATK-EV-KEY", cash=Cash.counter())
    nothing_moved(mock, after)
