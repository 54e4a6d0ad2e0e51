"""The soak's checker: DESIGN.md's invariants 1-4 over what the run left behind.

A sale is a journal entry, named by its journal and its key: the same key on two tills
(or a POS and ``gongji journal recover`` sharing a journal) is two sales or one exactly
as the journals say, never merged by key. A channel trade belongs to the sale whose
entry names its ``out_trade_no``, however that number was made.
"""

from __future__ import annotations

import collections
import re
from pathlib import Path
from typing import Any

from attrs import frozen

from gongji.journal import Entry, EntryState, SqliteJournal
from gongji.money import Fen
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
    standing = {sid for sid, ts in transactions.items() if [t["kind"] for t in ts] == ["settle"]}
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
    for sid in sorted(standing - set(settled)):
        found.append(f"centre: settlement {sid} stands but no sale in any journal is settled by it")
    for sid, claimants in sorted(settled.items()):
        names = ", ".join(s.name for s in claimants)
        if len(claimants) > 1:
            found.append(f"centre: settlement {sid} is claimed by {len(claimants)} sales: {names}")
        if sid not in standing:
            found.append(f"centre: {names} is settled as {sid}, which does not stand")
        else:
            found.extend(_posted_as_receipt(claimants[0], transactions[sid][0]))
    for sid in sorted(set(undone) & standing):
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
