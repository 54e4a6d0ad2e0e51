"""The patient's region of insurance (``insuplc_admdvs``) goes with the sale in the journal:
a refund or a reversal sent after a restart names the region the sale named, not the
till's own (a centre refuses that: found by the soak, where refunds of patients insured
in Benxi and Gansu stayed undoing for good)."""

from __future__ import annotations

from pathlib import Path

from gongji import Cash, Credential, Diagnosis, Fen, LineItem, Purchase, SettlementClient
from gongji.journal import SqliteJournal
from gongji_mock import MockGateway
from tests.client.conftest import CLINIC, FAST_POLLING, SISTER, purchase


def test_a_refund_after_a_restart_names_the_region_the_sale_named(tmp_path: Path) -> None:
    mock = MockGateway.demo()
    path = tmp_path / "journal.sqlite3"
    before = mock.balance(SISTER)
    with (
        SqliteJournal(path) as journal,
        SettlementClient.from_profile(
            "mock", mock=mock, journal=journal, polling=FAST_POLLING
        ) as till,
    ):
        receipt = till.settle(purchase(SISTER), key="REGION-0001", cash=Cash.counter())
        assert journal.get("REGION-0001").insured_in == "210500"  # type: ignore[union-attr]
    assert mock.balance(SISTER) < before
    # Another process: its gateway never resolved the patient (1101) itself.
    with (
        SqliteJournal(path) as journal,
        SettlementClient.from_profile(
            "mock", mock=mock, journal=journal, polling=FAST_POLLING
        ) as till,
    ):
        till.refund(receipt.settlement_id)
    assert mock.balance(SISTER) == before
    assert mock.check() == []


def test_a_visit_of_a_patient_insured_elsewhere_names_her_region_and_settles() -> None:
    """2201 and 2204 name the patient's region of insurance, as a settlement does: the
    centre refused both for a patient insured in Benxi (found by the soak's visits)."""
    mock = MockGateway.demo()
    before = mock.balance(SISTER)
    with SettlementClient.from_profile("mock", mock=mock, polling=FAST_POLLING) as till:
        visit = till.register_visit(
            Credential.id_card(SISTER),
            **CLINIC,
        )
        visit = till.diagnose(visit, [Diagnosis(code="I10.x00", name="高血压")])
        consultation = LineItem(
            code="110200001", name="普通门诊诊查费", unit_price=Fen(1_000), quantity=1
        )
        visit = till.upload_fees(visit, [consultation])
        receipt = till.settle(
            Purchase.for_visit(visit, Credential.id_card(SISTER)), key="REGION-0002"
        )
    assert receipt.total == Fen(1_000)
    assert mock.balance(SISTER) < before  # her own account in Benxi paid
    assert mock.check() == []
