"""The patient's region of insurance (``insuplc_admdvs``) goes with the sale in the journal:
a refund or a reversal sent after a restart names the region the sale named, not the
till's own (a centre refuses that: found by the soak, where refunds of patients insured
in Benxi and Gansu stayed undoing for good)."""

from __future__ import annotations

from pathlib import Path

from gongji import Cash, SettlementClient
from gongji.journal import SqliteJournal
from gongji_mock import MockGateway
from tests.client.conftest import FAST_POLLING, SISTER, purchase


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
