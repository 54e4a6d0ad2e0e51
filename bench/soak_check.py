"""The soak's checker: DESIGN.md's invariants 1-4 over what the run left behind.

A sale is a journal entry, named by its journal and its key: the same key on two tills
(or a POS and ``gongji journal recover`` sharing a journal) is two sales or one exactly
as the journals say, never merged by key. A clinic's visit settlement is a sale like
the others (its entry's setting is outpatient). A channel trade belongs to the sale
whose entry names its ``out_trade_no``, however that number was made.

The centre's own books are read as plain values (``CentreBooks``), so that each check
is a function of what the run left behind, and can be tested on made-up books.
"""

from __future__ import annotations

import collections
import datetime
import re
from pathlib import Path
from typing import Any

from attrs import frozen

from gongji.gateways import StatementLine
from gongji.journal import Entry, EntryState, SqliteJournal
from gongji.model import Setting
from gongji.money import Fen
from gongji.reconciliation import statement_lines
from gongji_mock import MockGateway

CHANNELS = ("wechatpay", "alipay")


@frozen
class Sale:
    journal: str  # "journal-00"
    entry: Entry

    @property
    def name(self) -> str:
        return f"{self.journal}/{self.entry.key}"


@frozen
class Trade:
    channel: str
    out_trade_no: str
    total: int
    refunded: int
    paid: bool

    @property
    def kept(self) -> int:
        """What the channel still holds of the customer's money on this trade."""
        return self.total - self.refunded if self.paid else 0


def read_sales(workdir: Path) -> tuple[list[Sale], list[str]]:
    """Every journal's entries, and invariant 3: nothing in doubt after the last recover()."""
    sales: list[Sale] = []
    found: list[str] = []
    for path in sorted(workdir.glob("journal-*.sqlite3")):
        journal = SqliteJournal(path)
        try:
            name = path.name.removesuffix(".sqlite3")
            for entry in journal.in_doubt():
                found.append(f"{name}: {entry.key} still {entry.state.value} after recover()")
            sales.extend(Sale(name, entry) for entry in journal.entries())
        finally:
            journal.close()
    for sale in sales:
        if sale.entry.state is EntryState.NEEDS_ATTENTION:
            # The soak's mock refuses nothing for good: a sale that asks for a person is a defect.
            found.append(f"{sale.name} needs a person: {sale.entry.reason[:160]}")
    return sales, found


def channel_trades(mock: MockGateway) -> list[Trade]:
    """Every payment-code trade the mock's channels hold, as their own records say."""
    trades = [
        Trade("wechatpay", w.out_trade_no, int(w.total), int(w.refunded), w.paid)
        for w in mock.wechatpay.trades.table.values()
    ]
    trades += [
        Trade("alipay", a.out_trade_no, int(a.total), int(a.refunded), a.paid)
        for a in mock.alipay.trades.table.values()
    ]
    return sorted(trades, key=lambda t: (t.channel, t.out_trade_no))


def check_receipts(sales: list[Sale]) -> list[str]:
    """Invariant 1 on every receipt: its parts sum to its total."""
    found = []
    for sale in sales:
        receipt = sale.entry.receipt
        if receipt is None:
            continue
        parts = receipt.fund + sum((leg.amount for leg in receipt.legs), Fen(0)) + receipt.cash
        if parts != receipt.total:
            found.append(f"{sale.name}: receipt parts {parts} != total {receipt.total}")
    return found


def check_centre(sales: list[Sale], ledger: list[dict[str, Any]]) -> list[str]:
    """Invariants 2 and 3 at the centre: the settlements standing on the ledger are exactly
    those of the settled sales, one sale each, each posted as its receipt says."""
    found: list[str] = []
    transactions: dict[str, list[dict[str, Any]]] = collections.defaultdict(list)
    for transaction in ledger:
        transactions[transaction["settlement_id"]].append(transaction)
    up = standing(ledger)
    settled: dict[str, list[Sale]] = collections.defaultdict(list)
    undone: dict[str, list[Sale]] = collections.defaultdict(list)
    for sale in sales:
        receipt = sale.entry.receipt
        if receipt is None:
            continue
        if sale.entry.state is EntryState.SETTLED:
            settled[receipt.settlement_id].append(sale)
        elif sale.entry.state in (EntryState.REFUNDED, EntryState.CANCELLED):
            undone[receipt.settlement_id].append(sale)
    for sid in sorted(up - set(settled)):
        found.append(f"centre: settlement {sid} stands but no sale in any journal is settled by it")
    for sid, claimants in sorted(settled.items()):
        names = ", ".join(s.name for s in claimants)
        if len(claimants) > 1:
            found.append(f"centre: settlement {sid} is claimed by {len(claimants)} sales: {names}")
        if sid not in up:
            found.append(f"centre: {names} is settled as {sid}, which does not stand")
        else:
            found.extend(_posted_as_receipt(claimants[0], transactions[sid][0]))
    for sid in sorted(set(undone) & up):
        found.append(
            f"centre: settlement {sid} of {undone[sid][0].name} was refunded or cancelled "
            "but still stands"
        )
    return found


def _posted_as_receipt(sale: Sale, posted: dict[str, Any]) -> list[str]:
    receipt = sale.entry.receipt
    assert receipt is not None
    paid = collections.Counter[str]()
    for posting in posted["postings"]:
        account = posting["account"]
        kind = account if account in ("fund", "cash", "institution") else "personal"
        paid[kind] -= int(Fen.from_yuan(posting["amount"]))
    legs = int(sum((leg.amount for leg in receipt.legs), Fen(0)))
    # The cash part (cash-only goods) never reaches the centre: its ledger has the rest.
    expected = (int(receipt.fund), legs, int(receipt.cash - receipt.cash_part))
    if (paid["fund"], paid["personal"], paid["cash"]) != expected or int(
        Fen.from_yuan(posted["total"])
    ) != int(receipt.insured_total):
        return [
            f"centre: {sale.name} ({receipt.settlement_id}) is posted otherwise than its receipt says"
        ]
    return []


def check_channels(sales: list[Sale], trades: list[Trade]) -> list[str]:
    """Invariant 2 at the channels: every trade that keeps money is the cash share of
    exactly one settled sale, to the fen; a sale that failed or was undone keeps nothing;
    no refund is above its charge."""
    found: list[str] = []
    named: dict[tuple[str, str], list[Sale]] = collections.defaultdict(list)
    claims: dict[tuple[str, str], list[Sale]] = collections.defaultdict(list)
    for sale in sales:
        entry = sale.entry
        if entry.cash_kind in CHANNELS and entry.out_trade_no:
            named[(entry.cash_kind, entry.out_trade_no)].append(sale)
            owed = entry.receipt is not None and entry.receipt.cash > 0
            if entry.state is EntryState.SETTLED and owed:
                claims[(entry.cash_kind, entry.out_trade_no)].append(sale)
    by_number = {(t.channel, t.out_trade_no): t for t in trades}
    for trade in trades:
        where = f"{trade.channel} {trade.out_trade_no}"
        if trade.refunded > trade.total or (trade.refunded and not trade.paid):
            found.append(f"{where}: refunded {trade.refunded} of a charge of {trade.total}")
        if trade.kept <= 0:
            continue
        claimants = claims.get((trade.channel, trade.out_trade_no), [])
        if len(claimants) > 1:
            names = ", ".join(s.name for s in claimants)
            found.append(
                f"{where}: one payment of {trade.kept} fen serves {len(claimants)} sales: {names}"
            )
        elif not claimants:
            states = ", ".join(
                f"{s.name} {s.entry.state.value}"
                for s in named.get((trade.channel, trade.out_trade_no), [])
            )
            found.append(
                f"{where} keeps {trade.kept} fen, and no settled sale paid with it ({states or 'no sale names it'})"
            )
    for (channel, number), claimants in sorted(claims.items()):
        collected = by_number.get((channel, number))
        for sale in claimants:
            receipt = sale.entry.receipt
            assert receipt is not None
            kept = 0 if collected is None else collected.kept
            if kept != int(receipt.cash):
                found.append(
                    f"{sale.name}: settled with {int(receipt.cash)} fen on {channel} {number}, "
                    f"which keeps {kept}"
                )
    return found


_GIVE_BACK = re.compile(r"give the cash back|hand (the cash )?back", re.IGNORECASE)


def check_cashier_sentences(
    records: list[dict[str, Any]], sales: list[Sale], trades: list[Trade]
) -> list[str]:
    """No sentence tells a cashier to hand back cash that the channel already gave back
    (issue 15, D4): an undo told so names a sale whose trade keeps nothing."""
    found = []
    by_sale = {(s.journal, s.entry.key): s for s in sales}
    by_number = {(t.channel, t.out_trade_no): t for t in trades}
    for line in records:
        if line.get("do") not in ("refund", "cancel") or not _GIVE_BACK.search(
            line.get("message", "")
        ):
            continue
        sale = by_sale.get((f"journal-{line['till']:02d}", line.get("key", "")))
        if sale is None:
            continue
        trade = by_number.get((sale.entry.cash_kind, sale.entry.out_trade_no))
        if trade is not None and trade.kept == 0:
            found.append(
                f"{sale.name}: the cashier was told to give the cash back at the till "
                f"(operation {line['end']}), but {trade.channel} had already given it back"
            )
    return found


_DIGITS = re.compile(rb"[0-9]{15,24}X?")


def check_secrets(
    workdir: Path, ids: set[bytes], codes: set[bytes], secrets_: list[str]
) -> tuple[list[str], int]:
    """Invariant 4 on what the run wrote: no full ID number, payment code or key in a
    journal file or a captured log. Returns the findings and the bytes searched."""
    found: list[str] = []
    searched = 0
    files = sorted(workdir.glob("journal-*.sqlite3*")) + sorted(workdir.glob("till-*"))
    files += [workdir / name for name in ("mock.log", "outcomes.jsonl", "network.jsonl")]
    for path in files:
        if path.suffix == ".key" or not path.exists():
            continue  # the journal key file is the one place the key belongs
        data = path.read_bytes()
        searched += len(data)
        for match in _DIGITS.finditer(data):
            number = match.group()
            if number in ids or number[:18] in ids:
                found.append(f"{path.name}: a full ID number ({number[:6].decode()}...)")
            elif number in codes:
                found.append(f"{path.name}: a payment code ({number[:4].decode()}...)")
        for secret in secrets_:
            if secret and secret.encode() in data:
                found.append(f"{path.name}: a key or secret of the mock")
    for path in workdir.glob("journal-*.sqlite3"):
        key_text = path.with_name(path.name + ".key").read_bytes().strip()
        for other in workdir.glob(path.name + "*"):
            if other.suffix != ".key" and key_text and key_text in other.read_bytes():
                found.append(f"{other.name}: the journal key itself")
    return sorted(set(found)), searched


# ---------------------------------------------------------------- the clinic's visits


@frozen
class Settled:
    """A settlement as the centre answered it: the visit it settled and whose it was."""

    mdtrt_id: str
    psn_no: str
    setting: str  # "pharmacy" or "outpatient", as the centre recorded it


@frozen
class CentreBooks:
    """What the centre holds beyond its ledger: every settlement it answered, by
    ``setl_id``, and every visit registered (``mdtrt_id`` -> the settlement the centre
    last recorded for it, or "")."""

    settled: dict[str, Settled]
    visits: dict[str, str]

    @classmethod
    def of(cls, mock: MockGateway) -> CentreBooks:
        records = mock.national.records
        settled = {}
        for setl_id, answer in records.settled.items():
            recorded = mock.centre.settlement(setl_id)
            setting = recorded.setting.value if recorded is not None else "?"
            settled[setl_id] = Settled(answer.mdtrt_id, answer.psn_no, setting)
        visits = {mdtrt_id: visit.setl_id or "" for mdtrt_id, visit in records.visits.items()}
        return cls(settled=settled, visits=visits)


def standing(ledger: list[dict[str, Any]]) -> set[str]:
    """The settlements that stand on the centre's ledger: settled, never reversed or cancelled."""
    kinds: dict[str, list[str]] = collections.defaultdict(list)
    for transaction in ledger:
        kinds[transaction["settlement_id"]].append(transaction["kind"])
    return {sid for sid, done in kinds.items() if done == ["settle"]}


def check_visits(
    sales: list[Sale],
    ledger: list[dict[str, Any]],
    books: CentreBooks,
    visit_of: dict[tuple[str, str], str],
) -> list[str]:
    """A visit is settled at most once at the centre, and by the sale that settled it:

    - at most one settlement of a visit stands, and it is the one the centre recorded
      for the visit;
    - a settled outpatient sale's settlement is of the visit the clinic settled under
      that key (``visit_of``: (journal, key) -> mdtrt_id, from the run's commands), for
      its patient, an outpatient settlement at the centre;
    - no money moved between sales and visits: a pharmacy sale's settlement is a
      pharmacy settlement at the centre, of no registered visit.
    """
    found: list[str] = []
    up = standing(ledger)
    by_visit: dict[str, list[str]] = collections.defaultdict(list)
    for setl_id in sorted(up):
        known = books.settled.get(setl_id)
        if known is not None and known.mdtrt_id in books.visits:
            by_visit[known.mdtrt_id].append(setl_id)
    for mdtrt_id, settlements in sorted(by_visit.items()):
        if len(settlements) > 1:
            found.append(
                f"centre: visit {mdtrt_id} has {len(settlements)} standing settlements: "
                + ", ".join(settlements)
            )
        elif books.visits[mdtrt_id] != settlements[0]:
            found.append(
                f"centre: visit {mdtrt_id} is settled by {settlements[0]}, but the centre "
                f"records {books.visits[mdtrt_id] or 'none'} for it"
            )
    for sale in sales:
        entry = sale.entry
        if entry.state is not EntryState.SETTLED or entry.settlement is None:
            continue
        setl_id = entry.settlement.setl_id
        known = books.settled.get(setl_id)
        if known is None:
            continue  # check_centre reports a settled sale the centre does not know
        if entry.setting is Setting.OUTPATIENT:
            asked = visit_of.get((sale.journal, entry.key), "")
            if entry.settlement.mdtrt_id != asked or known.mdtrt_id != asked:
                found.append(
                    f"{sale.name}: settled visit {known.mdtrt_id} (journal: "
                    f"{entry.settlement.mdtrt_id}), the clinic settled {asked or 'no visit'} "
                    "under this key"
                )
            if known.psn_no != entry.psn_no or known.setting != Setting.OUTPATIENT.value:
                found.append(
                    f"{sale.name}: {setl_id} is the centre's {known.setting} settlement of "
                    "another patient or kind than the visit's"
                )
        elif known.mdtrt_id in books.visits or known.setting != entry.setting.value:
            found.append(
                f"{sale.name}: the {entry.setting.value} sale's settlement {setl_id} is the "
                f"centre's {known.setting} settlement of visit {known.mdtrt_id}"
            )
    return found


# ---------------------------------------------------------------- reconciliation by file


def day_books(
    workdir: Path, day: datetime.date
) -> tuple[dict[int, list[StatementLine]], list[str]]:
    """Each till's standing settlements of ``day``, as its journal holds them now (till ->
    the lines its details file lists), and invariant 3 at this moment: nothing in doubt."""
    books: dict[int, list[StatementLine]] = {}
    found: list[str] = []
    for path in sorted(workdir.glob("journal-*.sqlite3")):
        journal = SqliteJournal(path)
        try:
            till = int(path.name.removesuffix(".sqlite3").removeprefix("journal-"))
            books[till] = statement_lines(journal.entries(), day)
            found += [
                f"{path.stem}: {entry.key} still {entry.state.value} after the day's recover()"
                for entry in journal.in_doubt()
            ]
        finally:
            journal.close()
    return books, found


def centre_day(
    mock: MockGateway, day: datetime.date, institution: str
) -> dict[str, tuple[int, int]]:
    """The institution's settlements of ``day`` that stand at the centre: setl_id ->
    (total, fund) in fen."""
    records = mock.national.records.settled
    found = {}
    for settlement in mock.centre.settlements_on(day):
        answered = records.get(settlement.setl_id)
        if answered is not None and answered.fixmedins_code == institution:
            found[settlement.setl_id] = (int(settlement.quote.total), int(settlement.quote.fund))
    return found


def check_reconciliation(
    day: datetime.date,
    reports: dict[int, dict[str, Any]],
    books: dict[int, list[StatementLine]],
    centre: dict[str, tuple[int, int]],
    region: str,
) -> list[str]:
    """Each till's reconciliation of ``day`` (``ReconciliationReport.as_dict()``) against
    its journal (``books``) and the centre's standing settlements (``centre``).

    The tills are one institution with a journal each, and the centre reconciles the
    institution: so another till's settlement, in a settling agency this till sent a
    details file for, is ``centre_only`` in this till's report, and only those are. No
    allowance otherwise: no ``journal_only``, ``amount_differs`` or ``state_differs``,
    nothing unresolved (every till recovered first, the faults off), each group's 3201
    verdict agreed exactly when no other till settled in that group that day, and the
    report's totals are the journal's, and the centre's the journal's plus the others'
    it was told of.
    """
    found: list[str] = []
    where = f"reconciliation of {day}"
    owner: dict[str, int] = {}
    for till, lines in sorted(books.items()):
        for line in lines:
            if line.setl_id in owner:
                found.append(
                    f"{where}: {line.setl_id} stands in the journals of tills "
                    f"{owner[line.setl_id]} and {till}"
                )
            owner[line.setl_id] = till
    every = {line.setl_id: line for lines in books.values() for line in lines}
    for setl_id in sorted(set(centre) - set(every)):
        found.append(f"{where}: the centre counts {setl_id}, which no journal has standing")
    for setl_id in sorted(set(every) - set(centre)):
        found.append(f"{where}: {setl_id} stands in a journal, not at the centre")
    for setl_id in sorted(set(every) & set(centre)):
        if centre[setl_id] != (int(every[setl_id].total), int(every[setl_id].fund)):
            found.append(f"{where}: {setl_id} has other amounts at the centre")
    for till in sorted(books):
        report = reports.get(till)
        if report is None:
            found.append(f"{where}: till {till} has no report (see outcomes.jsonl)")
            continue
        found += [
            f"{where}, till {till}: {p}" for p in _report_problems(till, report, books, region)
        ]
    return found


def _agency(line: StatementLine, region: str) -> str:
    return line.clearing.setl_optins or region


def _report_problems(
    till: int, report: dict[str, Any], books: dict[int, list[StatementLine]], region: str
) -> list[str]:
    found: list[str] = []
    own = books[till]
    others = [line for other, lines in sorted(books.items()) if other != till for line in lines]
    agencies = {region} | {_agency(line, region) for line in own}
    told = {line.setl_id: line for line in others if _agency(line, region) in agencies}
    for difference in report["discrepancies"]:
        if difference["kind"] != "centre_only":
            found.append(
                f"{difference['kind']} {difference['setl_id']} (key {difference['key'] or '-'}, "
                f"journal {difference['journal_state']}, memo {difference['memo'][:60]!r})"
            )
            continue
        line = told.pop(difference["setl_id"], None)
        if line is None:
            found.append(f"centre_only {difference['setl_id']}: no other till has it standing")
        elif difference["centre"] is None or (
            difference["centre"]["total"],
            difference["centre"]["fund"],
            difference["centre"]["own_account"],
        ) != (int(line.total), int(line.fund), int(line.own_account)):
            found.append(f"centre_only {difference['setl_id']}: the centre's amounts differ")
    for setl_id in sorted(told):
        found.append(f"another till's {setl_id} is missing from the centre's answer")
    if report["unresolved"]:
        found.append(f"unresolved: {', '.join(report['unresolved'][:5])}")
    sums = _sums(own)
    if {k: report["journal"][k] for k in sums} != sums:
        found.append(
            f"the report's journal totals {report['journal']} are not the journal's {sums}"
        )
    theirs = _sums([*own, *(line for line in others if _agency(line, region) in agencies)])
    if {
        k: report["centre"][k] for k in theirs if k in ("count", "total", "fund", "own_account")
    } != {k: theirs[k] for k in ("count", "total", "fund", "own_account")}:
        found.append(f"the report's centre totals {report['centre']} are not {theirs}")
    for verdict in report["statements"]:
        group = (verdict["insutype"], verdict["clr_type"], verdict["setl_optins"])
        alone = not any(_group(line) == group for line in others)
        if verdict["agreed"] is not alone:
            found.append(
                f"3201 of group {group}: agreed {verdict['agreed']}, expected {alone} "
                f"({verdict['description'][:60]!r})"
            )
    if len(report["statements"]) != len({_group(line) for line in own}):
        found.append(
            f"{len(report['statements'])} verdicts (3201) for {len({_group(line) for line in own})} groups"
        )
    return found


def _group(line: StatementLine) -> tuple[str, str, str]:
    return (line.clearing.insutype, line.clearing.clr_type, line.clearing.setl_optins)


def _sums(lines: list[StatementLine]) -> dict[str, int]:
    return {
        "count": len(lines),
        "total": sum(int(line.total) for line in lines),
        "fund": sum(int(line.fund) for line in lines),
        "own_account": sum(int(line.own_account) for line in lines),
        "mutual_aid": sum(int(line.mutual_aid) for line in lines),
        "cash": sum(int(line.cash) for line in lines),
    }
