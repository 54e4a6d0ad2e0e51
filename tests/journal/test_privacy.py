"""DESIGN invariant 4 for the journal: no row holds a full ID number, a payment code or an
e-voucher token; the ID numbers are sealed with a key kept outside the database, and
without it the journal can be listed masked but not loaded."""

from __future__ import annotations

import os
import pickle
import stat
from pathlib import Path

import pytest

from gongji import Cash, ConfigError, Credential, Declined, Purchase, SettlementClient
from gongji.journal import EntryState, JournalKey
from gongji.journal.codec import masked
from gongji.journal.sqlite import SqliteJournal
from gongji_mock import MockGateway
from tests.client.conftest import (
    ALIPAY_PAID,
    DAUGHTER,
    FAST_POLLING,
    FATHER,
    GRANDMOTHER,
    MOTHER,
    SISTER,
    SON,
    WECHAT_PAID,
    WECHAT_POOR,
    WIFE,
    drug,
    purchase,
)
from tests.journal.conftest import Backend, bare_entry, full_entry

EVERY_ID = [SON, MOTHER, FATHER, DAUGHTER, SISTER, GRANDMOTHER, WIFE]


def test_no_row_holds_an_id_number_a_payment_code_or_a_token(durable: Backend) -> None:
    mock = MockGateway.demo()
    journal = durable.open()
    client = SettlementClient.from_profile("mock", mock=mock, journal=journal, polling=FAST_POLLING)
    # A proxy purchase paid by the son's account (mutual aid) and WeChat Pay, then refunded.
    sold = client.settle(
        purchase(MOTHER, agent_id=WIFE), key="PRIV-1", cash=Cash.wechat(WECHAT_PAID)
    )
    assert sold.legs and sold.agent_id == WIFE
    client.refund(sold.settlement_id)
    # A cash share the payer cannot pay: cancelled, nothing charged.
    with pytest.raises(Declined):
        client.settle(
            purchase(MOTHER, drug(80_000, coverage="C")),
            key="PRIV-2",
            cash=Cash.wechat(WECHAT_POOR),
        )
    # An e-voucher sale paid with Alipay.
    token = mock.issue_e_voucher(WIFE)
    voucher = Purchase(credential=Credential.e_voucher(token), items=[drug(9_000, coverage="C")])
    client.settle(voucher, key="PRIV-3", cash=Cash.alipay(ALIPAY_PAID))
    states = {entry.key: entry.state for entry in journal.entries()}
    assert states == {
        "PRIV-1": EntryState.REFUNDED,
        "PRIV-2": EntryState.FAILED,
        "PRIV-3": EntryState.SETTLED,
    }
    forbidden = [*EVERY_ID, WECHAT_PAID, WECHAT_POOR, ALIPAY_PAID, token]
    rows = durable.dump()
    assert {table for table, _ in rows} >= {"meta", "entries"}
    for table, row in rows:
        for column in row:
            text = column.decode("latin-1") if isinstance(column, bytes) else str(column)
            for secret in forbidden:
                assert secret not in text, f"a {table} row holds a full ID number or a code"
    if durable.name == "sqlite":  # the file and its write-ahead log, byte for byte
        for path in durable.tmp_path.glob("journal.sqlite3*"):
            data = path.read_bytes()
            for secret in forbidden:
                assert secret.encode() not in data, f"{path.name} holds a full ID number or a code"
    # What was sealed is what was settled: the receipt reprints with the full numbers.
    assert durable.open().get("PRIV-1").receipt == client.journal.get("PRIV-1").receipt


def test_without_its_key_a_journal_lists_masked_and_refuses_to_load(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite3"
    with SqliteJournal(path) as journal:
        journal.put(full_entry("K-1"))
    (tmp_path / "journal.sqlite3.key").rename(tmp_path / "elsewhere.key")
    with SqliteJournal(path) as keyless:
        assert not keyless.has_key
        [row] = keyless.rows()
        shown = masked(row)
        assert shown["receipt"]["legs"][0]["payer_id"] == "210202********0046"
        assert shown["state"] == "settled" and shown["receipt"]["cash"] == 10_000
        for load in (lambda: keyless.get("K-1"), keyless.in_doubt, keyless.entries):
            with pytest.raises(ConfigError, match=r"key file .*journal\.sqlite3\.key is missing"):
                load()
        with pytest.raises(ConfigError, match="cannot record a sale"):
            keyless.put(bare_entry("K-2", EntryState.CENTRE_PENDING))
    # No new key was made for a journal that has one: the old key still opens it.
    assert not (tmp_path / "journal.sqlite3.key").exists()
    with SqliteJournal(path, key_file=tmp_path / "elsewhere.key") as restored:
        assert restored.get("K-1") == full_entry("K-1")


def test_a_till_does_not_start_on_a_journal_whose_key_is_missing(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite3"
    SqliteJournal(path).close()
    (tmp_path / "journal.sqlite3.key").unlink()
    with SqliteJournal(path) as keyless, pytest.raises(ConfigError, match=r"key file .*is missing"):
        SettlementClient.from_profile("mock", journal=keyless)


def test_another_journals_key_is_refused(durable: Backend) -> None:
    durable.open().put(bare_entry("K-1", EntryState.SETTLED))
    with pytest.raises(ConfigError, match="is not the key of"):
        durable.open(key=JournalKey.generate())


def test_a_sealed_id_number_moved_to_another_entry_does_not_open(durable: Backend) -> None:
    journal = durable.open()
    journal.put(full_entry("K-1"))
    journal.put(full_entry("K-2"))
    # Copy K-1's document over K-2's: the sealed numbers are bound to K-1.
    if durable.name == "sqlite":
        durable.execute(
            "UPDATE {s}.entries SET document = replace((SELECT document FROM entries "
            "WHERE key = 'K-1'), '\"key\":\"K-1\"', '\"key\":\"K-2\"') WHERE key = 'K-2'"
        )
    else:
        durable.execute(
            "UPDATE {s}.entries SET document = jsonb_set((SELECT document FROM {s}.entries "
            "WHERE key = 'K-1'), '{key}', '\"K-2\"') WHERE key = 'K-2'"
        )
    with pytest.raises(ConfigError, match="does not open with this key"):
        durable.open().get("K-2")


def test_the_key_file_is_created_for_its_owner_only(tmp_path: Path) -> None:
    journal = SqliteJournal(tmp_path / "till" / "journal.sqlite3")
    journal.close()
    for path in (journal.key_file, journal.path):
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(journal.path.parent).st_mode) == 0o700


def test_a_key_file_others_can_read_is_refused(tmp_path: Path) -> None:
    key = JournalKey.create(tmp_path / "shared.key")
    (tmp_path / "shared.key").chmod(0o644)
    with pytest.raises(ConfigError, match="can be read by other users"):
        JournalKey.load(tmp_path / "shared.key")
    assert key.text() not in repr(key)


def test_no_repr_or_error_shows_the_key(tmp_path: Path) -> None:
    journal = SqliteJournal(tmp_path / "journal.sqlite3")
    secret = JournalKey.load(journal.key_file).text()
    shown = [repr(journal), repr(JournalKey.load(journal.key_file))]
    with pytest.raises(ConfigError) as wrong:
        SqliteJournal(tmp_path / "journal.sqlite3", key=JournalKey.generate())
    shown.append(str(wrong.value))
    for text in shown:
        assert secret not in text
    key = JournalKey.load(journal.key_file)
    with pytest.raises(TypeError, match="not pickled"):
        pickle.dumps(key)
    journal.close()


def test_one_person_in_two_sales_is_sealed_apart_though_a_sale_seals_once(
    durable: Backend,
) -> None:
    journal = durable.open()
    assert journal.acquire("K-1") and journal.acquire("K-2")
    journal.put(full_entry("K-1", EntryState.CASH_PENDING))
    journal.put(full_entry("K-2", EntryState.CASH_PENDING))
    first = journal.rows(state=EntryState.CASH_PENDING)  # type: ignore[attr-defined]
    journal.put(full_entry("K-1", EntryState.SETTLED))  # the sale's next write
    again = journal.rows(state=EntryState.SETTLED)  # type: ignore[attr-defined]
    patient = {row.key: row.settlement.patient_id.sealed for row in first}
    # The same patient in two sales: two sealed texts, so rows cannot be linked by them.
    assert patient["K-1"] != patient["K-2"]
    # One sale's writes carry its sealed forms unchanged (sealed once, not per write)...
    assert again[0].settlement.patient_id.sealed == patient["K-1"]
    journal.release("K-1")
    # ...and after its release, a write seals anew; every form opens to the number.
    journal.put(full_entry("K-1", EntryState.REFUNDED))
    (refunded,) = journal.rows(state=EntryState.REFUNDED)  # type: ignore[attr-defined]
    assert refunded.settlement.patient_id.sealed != patient["K-1"]
    reader = durable.open()
    for key in ("K-1", "K-2"):
        found = reader.get(key)
        assert found is not None and found.settlement is not None
        assert found.settlement.patient_id == full_entry(key).settlement.patient_id  # type: ignore[union-attr]
