"""The ``Journal`` protocol, the same for every store: what is put comes back whole, the
queries find what they should, and one key is held by one flow at a time."""

from __future__ import annotations

import datetime
import threading
import time
from pathlib import Path

import pytest

import gongji.journal.durable
from gongji import SettlementClient
from gongji.errors import SettlementTaken
from gongji.flows.steps import holding
from gongji.gateways.exchange import Blocking, Flow, Pause
from gongji.identity import IdNumber
from gongji.journal import EntryState
from gongji.journal.codec import masked
from gongji.journal.lease import host_id
from gongji.journal.sqlite import SqliteJournal
from gongji.money import Fen
from gongji_mock import MockGateway
from tests.journal.conftest import AT, IDS, Backend, bare_entry, full_entry


@pytest.mark.parametrize("state", list(EntryState))
def test_every_state_and_field_comes_back_whole(backend: Backend, state: EntryState) -> None:
    written = full_entry(state=state)
    backend.open().put(written)
    read = backend.open().get(written.key)  # another journal object: from the store itself
    assert read == written
    assert read is not None and read.settlement is not None and read.receipt is not None
    # Equal is not enough: the types must be the domain's, not their stored forms.
    assert type(read.receipt.total) is Fen and type(read.settlement.mutual_aid[0].amount) is Fen
    assert type(read.receipt.legs[1].payer_id) is IdNumber
    assert read.receipt.legs[1].payer_id.number == IDS["mutual_aid"]
    assert read.receipt.agent_id is not None and read.receipt.agent_id.number == IDS["agent"]
    assert read.settlement.refusals[0].owner_id == IDS["settlement_refusal_owner"]
    assert read.receipt.refusals[0].owner_id == IDS["refused_owner"]
    assert read.state is state and isinstance(read.state, EntryState)
    assert read.updated_at is not None and read.updated_at.utcoffset() == AT.utcoffset()
    assert read.settlement.settled_at == AT - datetime.timedelta(seconds=3)


def test_an_entry_without_settlement_or_receipt_comes_back_whole(backend: Backend) -> None:
    written = bare_entry("BARE-1", EntryState.CENTRE_PENDING)
    backend.open().put(written)
    assert backend.open().get("BARE-1") == written
    assert backend.open().get("NO-SUCH-KEY") is None


def test_put_replaces_the_entry_whole(backend: Backend) -> None:
    journal = backend.open()
    journal.put(full_entry("K-1", EntryState.CASH_PENDING))
    journal.put(bare_entry("K-1", EntryState.FAILED))
    assert backend.open().get("K-1") == bare_entry("K-1", EntryState.FAILED)
    assert len(backend.open().entries()) == 1


def test_in_doubt_lists_exactly_the_entries_a_step_left_open(backend: Backend) -> None:
    journal = backend.open()
    for number, state in enumerate(EntryState):
        journal.put(bare_entry(f"K-{number}", state))
    found = {entry.state for entry in backend.open().in_doubt()}
    assert found == {state for state in EntryState if state.in_doubt}
    assert found == {
        EntryState.CENTRE_PENDING,
        EntryState.CENTRE_SETTLED,
        EntryState.CASH_PENDING,
        EntryState.UNDOING,
    }


def test_by_settlement_finds_the_entry_of_a_settlement_id(backend: Backend) -> None:
    journal = backend.open()
    journal.put(full_entry("K-1", settlement_id="S-1"))
    journal.put(full_entry("K-2", settlement_id="S-2"))
    journal.put(bare_entry("K-3", EntryState.CENTRE_PENDING))
    found = backend.open().by_settlement("S-2")
    assert found is not None and found.key == "K-2"
    assert backend.open().by_settlement("S-9") is None


def test_entries_lists_every_entry_and_filters_by_the_settlement_day(backend: Backend) -> None:
    journal = backend.open()
    next_day = AT + datetime.timedelta(days=1)
    journal.put(full_entry("K-1", settlement_id="S-1"))  # settled on AT's day
    journal.put(full_entry("K-2", settlement_id="S-2", updated_at=next_day))  # settled AT's day too
    journal.put(bare_entry("K-3", EntryState.FAILED, updated_at=next_day))  # no settlement
    reader = backend.open()
    assert {entry.key for entry in reader.entries()} == {"K-1", "K-2", "K-3"}
    assert {entry.key for entry in reader.entries(day=AT.date())} == {"K-1", "K-2"}
    assert {entry.key for entry in reader.entries(day=next_day.date())} == {"K-3"}


def test_rows_list_an_entry_with_every_id_number_masked(backend: Backend) -> None:
    backend.open().put(full_entry("K-1"))
    backend.open().put(bare_entry("K-2", EntryState.CENTRE_PENDING))
    rows = backend.open().rows()  # type: ignore[attr-defined]
    assert sorted(row.key for row in rows) == ["K-1", "K-2"]
    shown = masked(next(row for row in rows if row.key == "K-1"))
    assert shown["receipt"]["legs"][1]["payer_id"] == IdNumber(IDS["mutual_aid"]).masked
    assert shown["receipt"]["agent_id"] == IdNumber(IDS["agent"]).masked
    assert shown["receipt"]["total"] == 50_000
    text = repr(shown)
    for number in IDS.values():
        assert number not in text
    assert "sealed" not in text
    pending = backend.open().rows(state=EntryState.CENTRE_PENDING)  # type: ignore[attr-defined]
    assert [row.key for row in pending] == ["K-2"]


def test_a_key_held_by_one_flow_cannot_be_acquired_by_another(backend: Backend) -> None:
    first, second = backend.open(), backend.open()
    assert first.acquire("SALE-1")
    assert not first.acquire("SALE-1")  # a second flow of the same till
    assert not second.acquire("SALE-1")  # another till (another journal object)
    assert second.acquire("SALE-2")  # other keys are free
    first.release("SALE-1")
    assert second.acquire("SALE-1")
    assert not first.acquire("SALE-1")


def test_the_entry_read_with_the_lease_is_the_one_stored_then_and_served_once(
    durable: Backend,
) -> None:
    journal, other = durable.open(), durable.open()
    other.put(bare_entry("SALE-1", EntryState.CASH_PENDING))  # another till wrote it first
    assert journal.acquire("SALE-1") and journal.acquire("SALE-2")
    assert journal.held_entry("SALE-1") == bare_entry("SALE-1", EntryState.CASH_PENDING)
    assert journal.held_entry("SALE-2") is None  # read: there is no entry
    with pytest.raises(KeyError):  # once: a second read goes to the store
        journal.held_entry("SALE-1")
    assert journal.acquire("SALE-3")
    journal.put(bare_entry("SALE-3", EntryState.CENTRE_PENDING), held=True)
    with pytest.raises(KeyError):  # written since the lease was taken: no longer current
        journal.held_entry("SALE-3")
    assert not other.acquire("SALE-1")
    with pytest.raises(KeyError):  # the lease not taken: nothing read
        other.held_entry("SALE-1")


def test_release_frees_only_the_callers_own_lease(durable: Backend) -> None:
    first, second, third = durable.open(), durable.open(), durable.open()
    assert first.acquire("SALE-1")
    second.release("SALE-1")  # not second's: nothing happens
    assert not third.acquire("SALE-1")
    first.release("SALE-1")
    assert third.acquire("SALE-1")


def test_a_lease_held_on_another_machine_waits_for_its_expiry(durable: Backend) -> None:
    journal = durable.open()
    durable.plant_lease("LIVE", host="another-till", pid=1, expires_in=300)
    durable.plant_lease("EXPIRED", host="another-till", pid=1, expires_in=-1)
    assert not journal.acquire("LIVE")
    assert journal.acquire("EXPIRED")


def test_a_lease_of_a_process_gone_from_this_machine_is_taken_at_once(durable: Backend) -> None:
    journal = durable.open()
    # No process has this pid: pid_max on Linux is at most 2**22.
    durable.plant_lease("GONE", host=host_id(), pid=2**22 + 7, expires_in=300)
    assert journal.acquire("GONE")


def test_a_closed_journal_objects_leases_are_free(durable: Backend) -> None:
    first = durable.open()
    assert first.acquire("SALE-1")
    first.close()
    assert durable.open().acquire("SALE-1")


def test_journal_objects_on_one_store_share_the_fingerprint_salt(durable: Backend) -> None:
    assert durable.open().salt == durable.open().salt
    assert len(durable.open().salt) == 32


def test_a_write_renews_the_writers_lease(
    durable: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    journal = durable.open(lease_seconds=60)
    assert journal.acquire("SALE-1")
    # As if the flow had run for an hour: its lease has expired.
    durable.age_leases(3600)
    ran = time.monotonic() + 3600
    monkeypatch.setattr(gongji.journal.durable, "_monotonic", lambda: ran)
    journal.put(bare_entry("SALE-1", EntryState.CENTRE_PENDING))
    # Renewed by the write: another till must wait (it would take an expired lease).
    assert not durable.open().acquire("SALE-1")
    durable.age_leases(3600)
    assert durable.open().acquire("SALE-1")


def test_a_settlement_is_one_sales_a_write_giving_it_to_another_key_writes_nothing(
    backend: Backend,
) -> None:
    """A replayed answer names another sale's settlement: the write that would give it
    to a second sale is refused in its own transaction (no read before it to race), and
    the sale that holds it keeps it; the same sale may write it again."""
    journal = backend.open()
    journal.put(full_entry("FIRST-1", settlement_id="S-SHARED"))
    journal.put(full_entry("FIRST-1", EntryState.REFUNDED, settlement_id="S-SHARED"))  # its own
    second = bare_entry("SECOND-1", EntryState.CENTRE_PENDING)
    journal.put(second)
    with pytest.raises(SettlementTaken) as taken:
        journal.put(full_entry("SECOND-1", settlement_id="S-SHARED"))
    assert taken.value.key == "FIRST-1"
    assert journal.get("SECOND-1") == second  # nothing written
    found = journal.by_settlement("S-SHARED")
    assert found is not None and found.key == "FIRST-1"


def test_an_abandoned_flow_collected_inside_a_commit_releases_its_lease_without_waiting(
    tmp_path: Path,
) -> None:
    """A flow dropped by its driver releases its key when it is closed, which the
    collector may do anywhere, inside a commit this very thread leads among others: a
    release that waited for the next commit would wait on itself for good."""
    journal = SqliteJournal(tmp_path / "journal.sqlite3")
    client = SettlementClient.from_profile("mock", mock=MockGateway.demo(), journal=journal)

    def body() -> Flow[str]:
        yield Pause(0)
        return "never"

    flow = holding(client.setup, "ABANDONED-1", body)
    acquire = next(flow)
    assert isinstance(acquire, Blocking) and flow.send(acquire.call()) == Pause(0)  # held
    closing = threading.Thread(
        target=lambda: journal._submit(lambda db: flow.close(), durable=False), daemon=True
    )
    closing.start()
    closing.join(timeout=30)
    assert not closing.is_alive(), "the release waited on the commit that closed its flow"
    client.close()
    assert SqliteJournal(tmp_path / "journal.sqlite3").acquire("ABANDONED-1")  # released
