"""The soak's checker (bench/soak_check.py) names a sale by its journal and key, and a
channel trade by the entry that names it: the defects issue 15 found by hand (D2, D4)
are violations it reports, and a clean end is none. So are a visit settled twice or
settled as another sale, and a day's reconciliation that differs from the journals and
the centre in any way the tills' sharing one institution does not explain."""

from __future__ import annotations

import datetime
from typing import Any

import attrs

from gongji.clock import BEIJING
from gongji.gateways import CentreSettlement, Clearing, StatementLine
from gongji.journal import Entry, EntryState
from gongji.model import Purpose, Receipt, Setting
from gongji.money import Fen
from soak_check import (
    CentreBooks,
    Sale,
    Settled,
    Trade,
    check_cashier_sentences,
    check_centre,
    check_channels,
    check_reconciliation,
    check_visits,
)

AT = datetime.datetime(2026, 11, 23, 9, 0, tzinfo=BEIJING)


def sale(journal: str, key: str, state: EntryState, sid: str, out_trade_no: str, cash: int) -> Sale:
    receipt = Receipt(
        settlement_id=sid,
        key=key,
        total=Fen(cash + 100),
        fund=Fen(100),
        legs=(),
        cash=Fen(cash),
        cash_channel="wechatpay",
    )
    entry = Entry(
        key=key,
        fingerprint="ab" * 32,
        state=state,
        attempt=1,
        setting=Setting.PHARMACY,
        purpose=Purpose.MEDICAL,
        psn_no="PSN-0001",
        msgid=f"M-{key}",
        cash_kind="wechatpay",
        out_trade_no=out_trade_no,
        receipt=receipt,
        updated_at=AT,
    )
    return Sale(journal, entry)


def settle_row(sid: str, cash: int) -> dict[str, object]:
    return {
        "settlement_id": sid,
        "kind": "settle",
        "total": str(Fen(cash + 100).to_yuan()),
        "postings": [
            {"account": "fund", "amount": str(Fen(-100).to_yuan())},
            {"account": "cash", "amount": str(Fen(-cash).to_yuan())},
            {"account": "institution", "amount": str(Fen(cash + 100).to_yuan())},
        ],
    }


def test_d2_one_payment_serving_two_sales_of_one_key_on_two_tills_is_a_violation() -> None:
    a = sale("journal-00", "K-1", EntryState.SETTLED, "S1", "K-1-1", 500)
    b = sale("journal-01", "K-1", EntryState.SETTLED, "S2", "K-1-1", 500)
    trades = [Trade("wechatpay", "K-1-1", 500, 0, True)]
    found = check_channels([a, b], trades)
    assert found == [
        "wechatpay K-1-1: one payment of 500 fen serves 2 sales: journal-00/K-1, journal-01/K-1"
    ]
    # Each sale on its own trade, each kept to the fen: nothing to report.
    b_own = sale("journal-01", "K-1", EntryState.SETTLED, "S2", "X-9-1", 500)
    assert check_channels([a, b_own], [*trades, Trade("wechatpay", "X-9-1", 500, 0, True)]) == []


def test_d2_refunding_one_sale_on_anothers_trade_leaves_the_other_uncollected() -> None:
    a = sale("journal-00", "K-1", EntryState.SETTLED, "S1", "K-1-1", 500)
    b = sale("journal-01", "K-1", EntryState.REFUNDED, "S2", "K-1-1", 500)
    found = check_channels([a, b], [Trade("wechatpay", "K-1-1", 500, 500, True)])
    assert found == ["journal-00/K-1: settled with 500 fen on wechatpay K-1-1, which keeps 0"]


def test_the_centre_check_keeps_sales_of_one_key_on_two_journals_apart() -> None:
    a = sale("journal-00", "K-1", EntryState.SETTLED, "S1", "K-1-1", 500)
    b = sale("journal-01", "K-1", EntryState.SETTLED, "S2", "K-2-1", 300)
    ledger = [settle_row("S1", 500), settle_row("S2", 300)]
    assert check_centre([a, b], ledger) == []
    # D1: a key settled twice at the centre, its journal overwritten to failed.
    c = sale("journal-00", "K-3", EntryState.FAILED, "S3", "K-3-1", 200)
    found = check_centre([a, b, c], [*ledger, settle_row("S3", 200)])
    assert found == ["centre: settlement S3 stands but no sale in any journal is settled by it"]


def test_d4_telling_a_cashier_to_hand_back_cash_the_channel_returned_is_a_violation() -> None:
    undone = sale("journal-02", "K-4", EntryState.UNDOING, "S4", "K-4-1", 700)
    told = {
        "till": 2,
        "end": 17,
        "do": "refund",
        "key": "K-4",
        "outcome": "declined",
        "message": "wechatpay refused ... Give the cash back at the till, or ask again later.",
    }
    revoked = [Trade("wechatpay", "K-4-1", 700, 0, False)]
    assert check_cashier_sentences([told], [undone], revoked) == [
        "journal-02/K-4: the cashier was told to give the cash back at the till "
        "(operation 17), but wechatpay had already given it back"
    ]
    still_held = [Trade("wechatpay", "K-4-1", 700, 0, True)]
    assert check_cashier_sentences([told], [undone], still_held) == []


# ---------------------------------------------------------------- visits


def visit_sale(journal: str, key: str, sid: str, mdtrt_id: str, psn_no: str = "PSN-0001") -> Sale:
    settled = sale(journal, key, EntryState.SETTLED, sid, f"{key}-1", 0)
    settlement = CentreSettlement(
        setl_id=sid,
        mdtrt_id=mdtrt_id,
        msgid=f"M-{key}",
        total=Fen(100),
        fund=Fen(100),
        own_account=Fen(0),
        mutual_aid=(),
        cash=Fen(0),
    )
    entry = attrs.evolve(
        settled.entry, setting=Setting.OUTPATIENT, psn_no=psn_no, settlement=settlement
    )
    return Sale(journal, entry)


def test_a_visit_with_two_standing_settlements_is_a_violation() -> None:
    a = visit_sale("journal-00", "VK-1", "S1", "MDT1")
    b = visit_sale("journal-01", "VK-2", "S2", "MDT1")
    books = CentreBooks(
        settled={
            "S1": Settled("MDT1", "PSN-0001", "outpatient"),
            "S2": Settled("MDT1", "PSN-0001", "outpatient"),
        },
        visits={"MDT1": "S2"},
    )
    asked = {("journal-00", "VK-1"): "MDT1", ("journal-01", "VK-2"): "MDT1"}
    ledger = [settle_row("S1", 0), settle_row("S2", 0)]
    assert check_visits([a, b], ledger, books, asked) == [
        "centre: visit MDT1 has 2 standing settlements: S1, S2"
    ]
    # The first cancelled (2208): one stands, the one the centre records for the visit.
    cancelled: list[dict[str, Any]] = [
        *ledger,
        {"settlement_id": "S1", "kind": "cancel", "postings": []},
    ]
    b_only = check_visits([b], cancelled, books, {("journal-01", "VK-2"): "MDT1"})
    assert b_only == []


def test_a_visit_sale_settled_on_another_visit_or_a_sale_on_a_visit_is_a_violation() -> None:
    books = CentreBooks(
        settled={
            "S1": Settled("MDT1", "PSN-0001", "outpatient"),
            "S2": Settled("MDT2", "PSN-0001", "outpatient"),
        },
        visits={"MDT1": "S1", "MDT2": "S2"},
    )
    ledger = [settle_row("S1", 0), settle_row("S2", 0)]
    # The clinic settled visit MDT1 under VK-1; the journal and the centre name MDT2.
    wrong = visit_sale("journal-00", "VK-1", "S2", "MDT2")
    found = check_visits([wrong], ledger, books, {("journal-00", "VK-1"): "MDT1"})
    assert found == [
        "journal-00/VK-1: settled visit MDT2 (journal: MDT2), the clinic settled MDT1 under this key"
    ]
    # A pharmacy sale whose settlement is a visit's: money moved between them.
    pharmacy = sale("journal-01", "SK-1", EntryState.SETTLED, "S1", "SK-1-1", 0)
    pharmacy = Sale("journal-01", attrs.evolve(pharmacy.entry, settlement=wrong.entry.settlement))
    assert check_visits([pharmacy], ledger, books, {}) == [
        "journal-01/SK-1: the pharmacy sale's settlement S2 is the centre's outpatient "
        "settlement of visit MDT2"
    ]


# ---------------------------------------------------------------- reconciliation by file

DAY = AT.date()
REGION = "210200"
DALIAN = Clearing(insutype="310", clr_type="41", setl_optins=REGION)
BENXI = Clearing(insutype="310", clr_type="41", setl_optins="210500")


def line(sid: str, total: int, clearing: Clearing = DALIAN) -> StatementLine:
    return StatementLine(
        setl_id=sid,
        mdtrt_id=f"MDT-{sid}",
        psn_no="PSN-0001",
        total=Fen(total),
        fund=Fen(0),
        own_account=Fen(total),
        mutual_aid=Fen(0),
        cash=Fen(0),
        clearing=clearing,
    )


def totals(lines: list[StatementLine]) -> dict[str, Any]:
    return {
        "count": len(lines),
        "total": sum(int(x.total) for x in lines),
        "fund": 0,
        "own_account": sum(int(x.own_account) for x in lines),
    }


def report(own: list[StatementLine], others: list[StatementLine]) -> dict[str, Any]:
    """The report a till gets when the centre is right: the others' lines centre_only,
    each group agreed when it is the till's alone."""
    groups = {(x.clearing.insutype, x.clearing.clr_type, x.clearing.setl_optins) for x in own}
    shared = {(x.clearing.insutype, x.clearing.clr_type, x.clearing.setl_optins) for x in others}
    return {
        "clean": not others,
        "agreed": not (groups & shared),
        "matched": len(own),
        "journal": totals(own) | {"mutual_aid": 0, "cash": 0},
        "centre": totals([*own, *others]) | {"mutual_aid": None, "cash": None},
        "statements": [
            {
                "insutype": g[0],
                "clr_type": g[1],
                "setl_optins": g[2],
                "agreed": g not in shared,
                "description": "",
            }
            for g in sorted(groups)
        ],
        "discrepancies": [
            {
                "kind": "centre_only",
                "setl_id": x.setl_id,
                "key": "",
                "journal_state": None,
                "memo": "",
                "centre": {"total": int(x.total), "fund": 0, "own_account": int(x.own_account)},
            }
            for x in others
        ],
        "unresolved": [],
    }


def test_each_tills_reconciliation_has_exactly_the_other_tills_settlements_as_centre_only() -> None:
    books = {0: [line("S1", 100)], 1: [line("S2", 200), line("S3", 300, BENXI)]}
    centre = {"S1": (100, 0), "S2": (200, 0), "S3": (300, 0)}
    # Till 0 sends no Benxi file: S3 is not its to be told of.
    reports = {0: report(books[0], [books[1][0]]), 1: report(books[1], books[0])}
    assert check_reconciliation(DAY, reports, books, centre, REGION) == []


def test_a_reconciliation_that_differs_from_the_journals_or_the_centre_is_a_violation() -> None:
    books = {0: [line("S1", 100)], 1: [line("S2", 200)]}
    centre = {"S1": (100, 0), "S2": (200, 0)}
    right = {0: report(books[0], books[1]), 1: report(books[1], books[0])}
    where = f"reconciliation of {DAY}"
    # The centre leaves another till's settlement out of its answer.
    told_less = right | {0: report(books[0], [])}
    assert check_reconciliation(DAY, told_less, books, centre, REGION) == [
        f"{where}, till 0: another till's S2 is missing from the centre's answer",
        f"{where}, till 0: the report's centre totals {told_less[0]['centre']} are not "
        "{'count': 2, 'total': 300, 'fund': 0, 'own_account': 300, 'mutual_aid': 0, 'cash': 0}",
        f"{where}, till 0: 3201 of group ('310', '41', '210200'): agreed True, expected False ('')",
    ]
    # A settlement the journal has standing and the centre does not.
    journal_only = dict(right[1])
    journal_only["discrepancies"] = [
        *right[1]["discrepancies"],
        {
            "kind": "journal_only",
            "setl_id": "S2",
            "key": "SK-2",
            "journal_state": "settled",
            "memo": "中心无此有效结算",
            "centre": None,
        },
    ]
    found = check_reconciliation(DAY, right | {1: journal_only}, books, {"S1": (100, 0)}, REGION)
    assert found == [
        f"{where}: S2 stands in a journal, not at the centre",
        f"{where}, till 1: journal_only S2 (key SK-2, journal settled, memo '中心无此有效结算')",
    ]
    # A till that did not reconcile at all.
    assert check_reconciliation(DAY, {1: right[1]}, books, centre, REGION) == [
        f"{where}: till 0 has no report (see outcomes.jsonl)"
    ]
