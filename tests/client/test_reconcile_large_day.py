"""A day of 10,000 sales reconciled with the centre, through both drivers and through the
``gongji reconcile`` command, which shows its progress on a terminal.

The day is built directly, not through 10,000 settles: the mock centre settles each sale
itself (``Centre.settle``: its rules, its ledger; a quarter of a millisecond each), the
national endpoint's record of it is the answer of one real sale with the settlement's
ids, and the journal gets one settled entry per sale with the centre's split. Then four
sales are made to differ, one of each kind, and the reconciliation must name exactly those.
"""

from __future__ import annotations

import asyncio
import datetime
import sys
from pathlib import Path

import attrs
import msgspec
import pytest

from gongji import AsyncSettlementClient, Credential, Fen, LineItem, Purchase, SettlementClient
from gongji.cli import main
from gongji.gateways import CentreSettlement, Clearing
from gongji.journal import Entry, EntryState, MemoryJournal
from gongji.model import Purpose, Setting
from gongji.reconciliation import ReconciliationReport
from gongji_mock import MockGateway
from gongji_mock.gateway import DEFAULT_TIF_SECRET
from gongji_mock.national.records import Settled
from gongji_mock.national.transform import legs
from tests.client.conftest import FAST_POLLING, MOTHER, WIFE
from tests.test_cli_journal import SECRET_ENV, config

SALES = 10_000
INSTITUTION = "H21020200001"


@attrs.define
class Day:
    mock: MockGateway
    journal: MemoryJournal
    day: datetime.date
    differing: dict[str, str]  # kind -> setl_id


def a_sale() -> Purchase:
    item = LineItem(code="X1", name="药品", unit_price=Fen(1_250), quantity=2, coverage="A")
    return Purchase(credential=Credential.id_card(MOTHER), items=[item])


def book(day: Day, template: Settled, number: int, purchase: Purchase) -> CentreSettlement:
    """One sale settled by the centre itself, recorded by its endpoint as answered."""
    centre, records = day.mock.centre, day.mock.national.records
    msgid = f"{INSTITUTION}{day.day:%Y%m%d}{number:010d}"
    settlement = centre.settle(purchase, msgid=msgid)
    mdtrt_id = f"MDT{settlement.setl_id[4:]}"
    info = msgspec.structs.replace(
        template.output.setlinfo, setl_id=settlement.setl_id, mdtrt_id=mdtrt_id
    )
    output = msgspec.structs.replace(template.output, setlinfo=info)
    records.add_settled(
        settlement.setl_id, attrs.evolve(template, msgid=msgid, mdtrt_id=mdtrt_id, output=output)
    )
    quote = settlement.quote
    return CentreSettlement(
        setl_id=settlement.setl_id,
        mdtrt_id=mdtrt_id,
        msgid=msgid,
        total=quote.total,
        fund=quote.fund,
        own_account=legs(quote, "own_account"),
        mutual_aid=(),
        cash=quote.cash,
        settled_at=centre.clock(),
        clearing=Clearing(info.insutype, info.clr_type, info.clr_optins),
    )


@attrs.frozen
class SettledEntry:
    entry: Entry
    settlement: CentreSettlement


def settled(journal: MemoryJournal, key: str) -> SettledEntry:
    entry = journal.get(key)
    assert entry is not None and entry.settlement is not None
    return SettledEntry(entry, entry.settlement)


@pytest.fixture(scope="module")
def large_day() -> Day:
    mock = MockGateway.demo()
    journal = MemoryJournal()
    # One real sale gives the endpoint's record of a settlement (its answer) to copy.
    with SettlementClient.from_profile("mock", mock=mock, journal=journal) as till:
        first = till.settle(a_sale(), key="SALE-00000")
    template = mock.national.records.settled[first.settlement_id]
    day = Day(mock, journal, mock.centre.clock().date(), {})
    psn_no = template.psn_no
    for number in range(1, SALES):
        settlement = book(day, template, number, a_sale())
        journal.put(
            Entry(
                key=f"SALE-{number:05d}",
                fingerprint="",
                state=EntryState.SETTLED,
                attempt=1,
                setting=Setting.PHARMACY,
                purpose=Purpose.MEDICAL,
                psn_no=psn_no,
                msgid=settlement.msgid,
                cash_kind="counter",
                settlement=settlement,
                updated_at=mock.centre.clock(),
            ),
            durable=False,
        )
    # One of each kind: cancelled at the centre behind the journal's back; an amount the
    # journal has otherwise; a refund the centre never saw; a sale of another till.
    cancelled, changed, refunded = (
        settled(journal, f"SALE-0{n}") for n in ("1111", "2222", "3333")
    )
    mock.centre.cancel(cancelled.settlement.setl_id)
    moved = attrs.evolve(changed.settlement, fund=changed.settlement.fund + 1)
    journal.put(attrs.evolve(changed.entry, settlement=moved))
    journal.put(attrs.evolve(refunded.entry, state=EntryState.REFUNDED))
    with SettlementClient.from_profile("mock", mock=mock) as other:
        elsewhere = other.settle(
            Purchase(credential=Credential.id_card(WIFE), items=a_sale().items), key="OTHER-1"
        )
    day.differing = {
        "journal_only": cancelled.settlement.setl_id,
        "amount_differs": changed.settlement.setl_id,
        "state_differs": refunded.settlement.setl_id,
        "centre_only": elsewhere.settlement_id,
    }
    return day


def assert_exactly_the_four(report: ReconciliationReport, day: Day) -> None:
    assert not report.clean and report.agreed is False
    assert {d.kind: d.setl_id for d in report.discrepancies} == day.differing
    assert report.journal.count == SALES - 1  # the refunded sale does not stand
    assert report.matched == SALES - 3  # less the cancelled and the changed one
    # The centre: one cancelled, one refund it still counts, one sale of another till.
    assert report.centre.count == report.journal.count + 1
    assert [d.fields for d in report.of_kind("amount_differs")] == [("fund",)]


@pytest.mark.parametrize("driver", ["sync", "async"])
def test_a_day_of_10000_sales_names_exactly_the_four_that_differ(
    large_day: Day, driver: str
) -> None:
    told: list[tuple[str, int, int]] = []

    def progress(what: str, done: int, total: int) -> None:
        told.append((what, done, total))

    options = {"mock": large_day.mock, "journal": large_day.journal, "polling": FAST_POLLING}
    if driver == "sync":
        with SettlementClient.from_profile("mock", **options) as client:
            report = client.reconcile(large_day.day, progress=progress)
    else:

        async def reconcile() -> ReconciliationReport:
            client = AsyncSettlementClient.from_profile("mock", **options)
            try:
                return await client.reconcile(large_day.day, progress=progress)
            finally:
                await client.aclose()

        report = asyncio.run(reconcile())
    assert_exactly_the_four(report, large_day)
    # Told before each step: the journal, 3201 once (one clearing group), the file, the end.
    assert [what for what, _, _ in told] == [
        "reading the journal",
        f"totals of {SALES - 1} settlements (3201)",
        f"details of {SALES - 1} settlements (3202)",
        "comparing",
        "done",
    ]
    assert [done for _, done, _ in told] == [0, 1, 2, 3, 3]
    assert {total for _, _, total in told[1:]} == {3}


def test_gongji_reconcile_shows_its_progress_on_a_large_day(
    large_day: Day,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv(SECRET_ENV, DEFAULT_TIF_SECRET)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)  # capsys's stderr, a terminal
    monkeypatch.setenv("FORCE_COLOR", "1")
    options = {
        "journal": large_day.journal,
        "transport": large_day.mock.transport(),
        "polling": FAST_POLLING,
    }
    args = ["reconcile", "--date", large_day.day.isoformat(), "--config", str(config(tmp_path))]
    assert main([*args, "--profile", "till"], client_options=options) == 1
    captured = capsys.readouterr()
    assert f"reconciling {large_day.day}" in captured.err
    assert "4 discrepancies" in captured.out
    assert f"{SALES - 3} settlements match" in captured.out
