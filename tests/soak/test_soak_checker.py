"""The soak's checker (bench/soak_check.py) names a sale by its journal and key, and a
channel trade by the entry that names it: the defects issue 15 found by hand (D2, D4)
are violations it reports, and a clean end is none."""

from __future__ import annotations

import datetime

from gongji.clock import BEIJING
from gongji.journal import Entry, EntryState
from gongji.model import Purpose, Receipt, Setting
from gongji.money import Fen
from soak_check import Sale, Trade, check_cashier_sentences, check_centre, check_channels

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
