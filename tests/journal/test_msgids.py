"""Message ids from the journal (DESIGN.md, reliability invariant 5): the national format,
one id for one message whatever the processes, tills, restarts or clocks, and a record
of what each id was given to."""

from __future__ import annotations

import datetime
import multiprocessing
import sqlite3

import psycopg
import pytest

from gongji import ConfigError, JournalUnavailable
from gongji.journal import EntryState, MemoryJournal, MsgidOwner
from gongji.journal.msgids import (
    FIRST_BLOCK,
    IDS_A_SALE,
    MAX_SECONDS_AHEAD,
    Block,
    Blocks,
    MsgidRequest,
)
from tests.journal.conftest import Backend, bare_entry
from tests.journal.holder import INSTITUTION, allocate_msgids

UTC = datetime.UTC
#: 10:15:30 in Beijing.
AT = datetime.datetime(2026, 11, 23, 2, 15, 30, 987_654, tzinfo=UTC)
SECOND = "20261123101530"


def later(seconds: int) -> str:
    return f"{datetime.datetime(2026, 11, 23, 10, 15, 30) + datetime.timedelta(seconds=seconds):%Y%m%d%H%M%S}"


def test_a_msgid_is_the_institution_the_beijing_second_and_4_digits(backend: Backend) -> None:
    journal = backend.open()
    first = journal.allocate_msgid(INSTITUTION, AT)
    assert len(first) == 30 and first == f"{INSTITUTION}{SECOND}0000"
    # The same instant on a clock with another offset is the same Beijing second.
    new_york = AT.astimezone(datetime.timezone(datetime.timedelta(hours=-5)))
    assert journal.allocate_msgid(INSTITUTION, new_york) == f"{INSTITUTION}{SECOND}0001"


def test_a_tills_own_journal_numbers_in_the_tills_hundred(backend: Backend) -> None:
    journal = backend.open()
    ids = [journal.allocate_msgid(INSTITUTION, AT, 7) for _ in range(3)]
    if backend.name == "postgres":  # one journal for every till: the 10,000 are shared
        assert [i[-4:] for i in ids] == ["0000", "0001", "0002"]
    else:
        assert [i[-4:] for i in ids] == ["0700", "0701", "0702"]
    assert ids == [f"{INSTITUTION}{SECOND}{i[-4:]}" for i in ids]


def test_a_used_up_second_goes_on_in_the_next_and_no_successor_reuses_it(
    backend: Backend,
) -> None:
    journal = backend.open()
    if backend.name == "postgres":  # 10,000 a second: the first second is filled directly
        backend.execute(
            "INSERT INTO {s}.msgids SELECT %s || lpad(n::text, 4, '0'), '', 'read' "
            "FROM generate_series(0, 9998) AS n",
            f"{INSTITUTION}{SECOND}",
        )
        ids = [journal.allocate_msgid(INSTITUTION, AT, 3)]
        first, size = 0, 10_000
    else:
        ids = [journal.allocate_msgid(INSTITUTION, AT, 3) for _ in range(100)]
        first, size = 300, 100
    assert ids[-1] == f"{INSTITUTION}{SECOND}{first + size - 1:04d}"
    ahead = journal.allocate_msgid(INSTITUTION, AT, 3)
    assert ahead == f"{INSTITUTION}{later(1)}{first:04d}"
    # After a crash (the journal never closed), at the second the id was taken from, the
    # successor numbers after it and after the rest of the block it came from.
    successor = backend.open()
    after = successor.allocate_msgid(INSTITUTION, AT + datetime.timedelta(seconds=1), 3)
    assert after > ahead and after.startswith(f"{INSTITUTION}{later(1)}")


def test_ids_more_than_a_minute_ahead_are_refused_not_invented() -> None:
    journal = MemoryJournal()
    for _ in range((MAX_SECONDS_AHEAD + 1) * 100):
        journal.allocate_msgid(INSTITUTION, AT, 9)
    with pytest.raises(JournalUnavailable, match="used up for the 60 s after") as refused:
        journal.allocate_msgid(INSTITUTION, AT, 9)
    assert "sending messages in a loop" in str(refused.value)
    assert journal.allocate_msgid(INSTITUTION, AT, 8).endswith(f"{SECOND}0800")


def test_a_restart_continues_after_the_last_allocation(durable: Backend) -> None:
    before = durable.open()
    given = [before.allocate_msgid(INSTITUTION, AT) for _ in range(5)]
    before.close()
    after = durable.open()
    assert after.allocate_msgid(INSTITUTION, AT) == f"{INSTITUTION}{SECOND}0005"
    assert given[-1] == f"{INSTITUTION}{SECOND}0004"


def test_a_clock_set_back_goes_on_where_that_second_stopped(backend: Backend) -> None:
    journal = backend.open()
    assert journal.allocate_msgid(INSTITUTION, AT).endswith(f"{SECOND}0000")
    assert journal.allocate_msgid(INSTITUTION, AT + datetime.timedelta(seconds=9)).endswith(
        f"{later(9)}0000"
    )
    assert journal.allocate_msgid(INSTITUTION, AT).endswith(f"{SECOND}0001")


def test_institutions_number_apart(backend: Backend) -> None:
    journal = backend.open()
    other = "H21020200002"
    assert journal.allocate_msgid(INSTITUTION, AT).endswith("0000")
    assert journal.allocate_msgid(other, AT) == f"{other}{SECOND}0000"


def test_processes_sharing_a_journal_never_share_a_msgid(durable: Backend) -> None:
    durable.open()  # creates the store (and its key) before the racers open it
    context = multiprocessing.get_context("spawn")
    racers, count = 2, 150
    barrier = context.Barrier(racers)
    results = context.Queue()
    processes = [
        context.Process(target=allocate_msgids, args=(durable.spec(), AT, count, barrier, results))
        for _ in range(racers)
    ]
    for process in processes:
        process.start()
    given = [results.get(timeout=120) for _ in processes]
    for process in processes:
        process.join(timeout=60)
    assert all(process.exitcode == 0 for process in processes)
    every = [msgid for ids in given for msgid in ids]
    assert len(set(every)) == len(every) == racers * count
    # Each process numbers from blocks it reserved (PostgreSQL: of the institution's 10,000
    # of the second; SQLite: of till 5's 100, the next seconds taken in turn).
    low, high = (0, 9_999) if durable.name == "postgres" else (500, 599)
    assert all(low <= int(msgid[-4:]) <= high for msgid in every)
    assert all(SECOND <= msgid[12:26] <= later(4) for msgid in every)
    for ids in given:  # each process saw its ids rise: none was taken back
        assert ids == sorted(ids)


def test_the_owner_of_a_msgid_is_recorded_with_it(backend: Backend) -> None:
    journal = backend.open()
    sale = journal.allocate_msgid(INSTITUTION, AT, key="POS01-0001", purpose="2102")
    read = journal.allocate_msgid(INSTITUTION, AT)
    undo = journal.allocate_msgid(INSTITUTION, AT, key="POS01-0001", purpose="2103", durable=False)
    journal.put(bare_entry("POS01-0001", EntryState.CENTRE_PENDING))  # a put makes it durable
    reader = backend.open()
    assert reader.msgid_owner(sale) == MsgidOwner(key="POS01-0001", purpose="2102")
    assert reader.msgid_owner(undo) == MsgidOwner(key="POS01-0001", purpose="2103")
    assert reader.msgid_owner(read) == MsgidOwner(key="", purpose="read")
    assert reader.msgid_owner(f"{INSTITUTION}{SECOND}9999") is None  # never given out
    assert reader.msgid_owner("H2102-0001") is None


@pytest.mark.parametrize(
    ("arguments", "complaint"),
    [
        ({"institution": "H2102020000"}, "12-character institution code"),
        ({"institution": "H210202000012"}, "12-character institution code"),
        ({"institution": "H2102020000'"}, "12-character institution code"),
        ({"at": AT.replace(tzinfo=None)}, "must be an aware datetime"),
        ({"till": 100}, "whole number from 0 to 99"),
        ({"till": True}, "whole number from 0 to 99"),
        ({"purpose": "Refund 2103"}, "allocated for an infno"),
        ({"key": "K" * 65}, "idempotency key"),
    ],
)
def test_a_msgid_asked_for_wrongly_is_refused_and_none_is_taken(
    backend: Backend, arguments: dict[str, object], complaint: str
) -> None:
    journal = backend.open()
    asked: dict[str, object] = {"institution": INSTITUTION, "at": AT, "till": None}
    asked.update(arguments)
    with pytest.raises(ConfigError, match=complaint):
        journal.allocate_msgid(
            asked["institution"],  # type: ignore[arg-type]
            asked["at"],  # type: ignore[arg-type]
            asked["till"],  # type: ignore[arg-type]
            key=str(asked.get("key", "")),
            purpose=str(asked.get("purpose", "read")),
        )
    assert journal.allocate_msgid(INSTITUTION, AT) == f"{INSTITUTION}{SECOND}0000"


def test_a_version_1_journal_gains_the_msgids_and_keeps_its_entries(durable: Backend) -> None:
    journal = durable.open()
    journal.put(bare_entry("OLD-1", EntryState.CENTRE_PENDING))
    journal.close()
    durable.execute("DROP TABLE {s}.msgids")
    durable.execute("UPDATE {s}.meta SET value = '1' WHERE name = 'schema_version'")
    reopened = durable.open()
    assert reopened.get("OLD-1") == bare_entry("OLD-1", EntryState.CENTRE_PENDING)
    assert reopened.allocate_msgid(INSTITUTION, AT) == f"{INSTITUTION}{SECOND}0000"
    versions = [
        row for table, row in durable.dump() if table == "meta" and row[0] == "schema_version"
    ]
    assert versions == [("schema_version", "3")]


def test_a_version_2_journal_becomes_version_3_and_numbers_after_its_msgids(
    durable: Backend,
) -> None:
    journal = durable.open()
    given = journal.allocate_msgid(INSTITUTION, AT, key="OLD-1", purpose="2102")
    journal.put(bare_entry("OLD-1", EntryState.CENTRE_PENDING))
    journal.close()
    durable.execute("UPDATE {s}.meta SET value = '2' WHERE name = 'schema_version'")
    reopened = durable.open()
    assert reopened.msgid_owner(given) == MsgidOwner(key="OLD-1", purpose="2102")
    assert reopened.allocate_msgid(INSTITUTION, AT) > given
    versions = [
        row for table, row in durable.dump() if table == "meta" and row[0] == "schema_version"
    ]
    assert versions == [("schema_version", "3")]


def test_a_msgid_is_a_primary_key_the_database_keeps_unique(durable: Backend) -> None:
    given = durable.open().allocate_msgid(INSTITUTION, AT)
    place = "?" if durable.name == "sqlite" else "%s"
    with pytest.raises((sqlite3.IntegrityError, psycopg.errors.UniqueViolation)):
        durable.execute(f"INSERT INTO {{s}}.msgids VALUES ({place}, '', 'read')", given)  # noqa: S608


def test_a_busy_journal_reserves_its_msgids_a_block_at_a_time(durable: Backend) -> None:
    """Item 10: a msgid costs no commit of its own. A block of them is reserved in one
    durable commit, twice as large as the last one used up: 1,000 ids in one second cost
    7 commits (10 + 20 + 40 + ... + 640), and each id is given once."""
    journal = durable.open()
    before = journal.durable_commits
    ids = [journal.allocate_msgid(INSTITUTION, AT, durable=False) for _ in range(1_000)]
    assert len(set(ids)) == 1_000 and ids == sorted(ids)
    assert journal.durable_commits - before == 7


def test_an_idle_till_reserves_small_blocks_and_a_clean_close_gives_back_the_rest(
    durable: Backend,
) -> None:
    journal = durable.open()
    for second in range(5):  # one id a second: blocks of 10, most of each unused
        journal.allocate_msgid(INSTITUTION, AT + datetime.timedelta(seconds=second))
    journal.close()
    # Closed cleanly: the next journal numbers right after what was given, in each second.
    after = durable.open()
    assert after.allocate_msgid(INSTITUTION, AT + datetime.timedelta(seconds=4)) == (
        f"{INSTITUTION}{later(4)}0001"
    )


def test_a_busy_loop_reserves_its_next_block_before_the_last_runs_out() -> None:
    """``reserved_msgid`` asks ``Blocks.ahead`` at every id: once the last block is half
    used, or holds less than the sales in flight will ask for, the next is reserved (its
    flush waited on by no sale); a till's hundred is still reserved a quarter at most."""
    blocks = Blocks()
    request = MsgidRequest.of(INSTITUTION, AT, None, key="", purpose="read", shared=False)
    assert blocks.ahead(request, busy=50) == 0  # none reserved yet: the first is asked for
    blocks.add(request, Block(next=f"{INSTITUTION}{SECOND}0000", high=f"{INSTITUTION}{SECOND}0009"))
    for _ in range(4):
        blocks.take(request)
    assert blocks.ahead(request) == 0  # 6 of 10 left, and no sale in flight
    assert blocks.ahead(request, busy=20) == 2 * IDS_A_SALE * 20  # 20 sales ask for more
    blocks.take(request)
    assert blocks.ahead(request) == 20  # half used: the next, at twice its size
    a_minute_on = MsgidRequest.of(
        INSTITUTION, AT + datetime.timedelta(seconds=60), None, key="", purpose="read", shared=False
    )
    assert blocks.ahead(a_minute_on) == 0  # idle of late: none ahead (an ask reserves one)
    assert blocks.ahead(a_minute_on, busy=1) == FIRST_BLOCK  # small again
    till = MsgidRequest.of(INSTITUTION, AT, 3, key="", purpose="read", shared=False)
    blocks.add(till, Block(next=f"{INSTITUTION}{SECOND}0300", high=f"{INSTITUTION}{SECOND}0309"))
    assert blocks.ahead(till, busy=50) == 25  # a quarter of the till's hundred
