"""``--state FILE``: the mock keeps its state in SQLite, and a restart changes nothing.

A rehearsal runs against one mock through the real wire protocols (national
envelopes signed with TIF, WeChat Pay and Alipay signed by the SDK); the mock is
then dropped without being closed, as a killed process would be, and a new one is
built over the same file. Everything a POS saw before must still hold after.
"""

from __future__ import annotations

import contextlib
import json
import signal
import sqlite3
import subprocess
import threading
from collections.abc import Callable, Iterator
from importlib.resources import files
from pathlib import Path
from typing import Any

import attrs
import httpx
import msgspec
import pytest

from gongji import Credential, Fen
from gongji.errors import ConfigError
from gongji.signing.alipay import AlipayAuth
from gongji.signing.keys import load_private_key, load_public_key
from gongji.signing.tif import TifSigner
from gongji.signing.wechatpay import WechatPayAuth, WechatPayMerchant
from gongji.signing.wechatpay_keys import PlatformKeyStore
from gongji_mock import MockGateway, testkeys
from gongji_mock.centre.dataset import demo_dataset, parse_dataset
from gongji_mock.gateway import DEFAULT_PAASID, DEFAULT_TIF_SECRET
from gongji_mock.national.vouchers import token_of
from gongji_mock.records import ENCODER
from gongji_mock.server.asgi import bind, make_server
from gongji_mock.statefile import dataset_digest
from gongji_mock.testkeys import MockKeys
from gongji_mock.wechatpay.endpoint import DEFAULT_MCHID, DEFAULT_MERCHANT_SERIAL, PLATFORM_KEY_ID
from tests.mock import test_mock_alipay as alipay_calls
from tests.mock import test_mock_wechatpay as wechat_calls
from tests.mock import test_mock_wechatpay_medins as medins
from tests.mock import test_national as national
from tests.mock.test_http import GONGJI
from tests.mock.test_national import MOTHER, SON, Pos, line, settle_input

NATIONAL = "http://centre.test"
DAUGHTER = "210202201506010227"
ZHANG_FAMILY = files("gongji_mock.centre") / "datasets" / "zhang-family.toml"


@pytest.fixture
def gateways() -> Iterator[Callable[[Path], MockGateway]]:
    """Opens mocks over a state file; closes them all at the end (not in between: a restart
    in these tests drops the old mock unclosed, as a killed process would leave it)."""
    opened: list[MockGateway] = []

    def open_mock(path: Path) -> MockGateway:
        mock = MockGateway.demo(state=path, extensions=True)  # raw extension dialect
        opened.append(mock)
        return mock

    yield open_mock
    for mock in opened:
        mock.close()


@attrs.define
class Till:
    """One POS at three counters: the insurance centre, WeChat Pay and Alipay."""

    pos: Pos
    wechat: httpx.Client
    alipay: httpx.Client

    @classmethod
    def at(cls, mock: MockGateway, pos: Pos | None = None) -> Till:
        """A till talking to ``mock``; the same POS (its msgid serial and sign_no) when given."""
        national = httpx.Client(transport=mock.transport(), base_url=NATIONAL)
        if pos is None:
            pos = Pos(national, TifSigner(DEFAULT_PAASID, DEFAULT_TIF_SECRET))
        else:
            pos.client = national
        wx, ali = mock.wechatpay, mock.alipay
        return cls(
            pos,
            httpx.Client(
                transport=mock.transport(),
                base_url=wechat_calls.BASE,
                auth=WechatPayAuth(wx.merchant, wx.platform_keys()),
            ),
            httpx.Client(
                transport=mock.transport(),
                base_url=alipay_calls.BASE,
                auth=AlipayAuth(ali.signer(), ali.verifier()),
            ),
        )


@attrs.define
class Rehearsal:
    """What a POS did and saw before the restart."""

    path: Path
    mock: MockGateway
    till: Till
    msgid: str  # a 2102 settlement of the mother, paid from her son's account
    envelope: dict[str, Any]
    answer: bytes
    setl_id: str
    to_reverse: str  # the msgid of another 2102, reversed (2601) after the restart
    to_reverse_son_paid: Fen  # what that one drew from the son's account
    used_token: str
    fresh_token: str
    mdtrt_id: str  # an outpatient visit registered, its fees uploaded, not yet settled
    son_balance: Fen


@pytest.fixture
def rehearsal(tmp_path: Path, gateways: Callable[[Path], MockGateway]) -> Rehearsal:
    path = tmp_path / "mock.db"
    mock = gateways(path)
    till = Till.at(mock)
    pos = till.pos
    pos.sign_in()
    mother = pos.psn_no(MOTHER)

    msgid = pos.msgid()
    envelope = pos.envelope("2102", settle_input(mother, MOTHER, line("120.00")), msgid)
    first = pos.post(envelope)
    setl_id = first.json()["output"]["setlinfo"]["setl_id"]
    assert first.json()["output"]["setlinfo"]["acct_mulaid_pay"] != "0.00"

    to_reverse = pos.msgid()
    before = mock.balance(SON)
    pos.ok("2102", settle_input(mother, MOTHER, line("30.00")), to_reverse)
    to_reverse_son_paid = before - mock.balance(SON)
    assert to_reverse_son_paid > 0

    used = token_of(mock.issue_e_voucher(DAUGHTER)) or ""
    pos.ok("2102", settle_input(pos.psn_no(DAUGHTER), used, line("8.00"), cert_type="01"))
    fresh = token_of(mock.issue_e_voucher(DAUGHTER)) or ""

    cert = {"mdtrt_cert_type": "02", "mdtrt_cert_no": MOTHER}
    mdtrt_id = pos.ok("2201", {"data": {"psn_no": mother, **cert, "ipt_otp_no": "OP1"}})["data"][
        "mdtrt_id"
    ]
    pos.ok("2203", national.diagnosis(mother, mdtrt_id))
    at = {"mdtrt_id": mdtrt_id, "psn_no": mother, "chrg_bchno": "B1"}
    pos.ok("2204", {"feedetail": [line("45.00", 2, **at)]})

    assert wechat_calls.codepay(till.wechat, "WX-PAID", wechat_calls.code("1")).status_code == 200
    refunded = wechat_calls.refund(till.wechat, "WX-PAID", "WX-R1", 250)
    assert refunded.status_code == 200
    waiting = wechat_calls.codepay(till.wechat, "WX-PASSWORD", wechat_calls.code("2"))
    assert waiting.status_code == 202  # the customer is still typing the password
    assert alipay_calls.pay(till.alipay, "ALI-PAID", alipay_calls.code("1"))["code"] == "10000"
    assert alipay_calls.refund(till.alipay, "ALI-PAID", "2.50", "ALI-R1")["fund_change"] == "Y"

    return Rehearsal(
        path=path,
        mock=mock,
        till=till,
        msgid=msgid,
        envelope=envelope,
        answer=first.content,
        setl_id=setl_id,
        to_reverse=to_reverse,
        to_reverse_son_paid=to_reverse_son_paid,
        used_token=used,
        fresh_token=fresh,
        mdtrt_id=mdtrt_id,
        son_balance=mock.balance(SON),
    )


@pytest.fixture
def restarted(
    rehearsal: Rehearsal, gateways: Callable[[Path], MockGateway]
) -> tuple[MockGateway, Till]:
    """A new mock over the rehearsal's state file, and the same POS talking to it."""
    mock = gateways(rehearsal.path)
    return mock, Till.at(mock, rehearsal.till.pos)


def state_of(mock: MockGateway, prefix: str = "") -> dict[str, list[tuple[bytes, bytes]]]:
    """Every record of the mock, as the state file would write it."""
    return {
        table.name: [(ENCODER.encode(key), ENCODER.encode(row)) for key, row in table.items()]
        for table in mock.tables()
        if table.name.startswith(prefix)
    }


def rows(path: Path, table: str) -> list[Any]:
    """One table's rows in a state file, in order, as JSON."""
    return [json.loads(data) for data in records(path, table)]


def row(path: Path, component: str) -> Any:
    """One component of a state file, as JSON (the file is readable with any SQLite client)."""
    db = sqlite3.connect(path)
    try:
        (data,) = db.execute("SELECT data FROM component WHERE name = ?", (component,)).fetchone()
    finally:
        db.close()
    return json.loads(data)


def writes(path: Path) -> int:
    """How many times the state file was written (its own counter)."""
    return int(row(path, "meta")["writes"])


def records(path: Path, table: str) -> list[bytes]:
    db = sqlite3.connect(path)
    try:
        return [
            data
            for (data,) in db.execute(
                "SELECT data FROM record WHERE tbl = ? ORDER BY seq", (table,)
            )
        ]
    finally:
        db.close()


@contextlib.contextmanager
def watched(path: Path) -> Iterator[list[tuple[str, str]]]:
    """The (table, key) of every row the mock writes to the state file meanwhile."""
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE written (tbl TEXT, key TEXT)")
        for trigger in (
            "CREATE TRIGGER watch_insert AFTER INSERT ON record "
            "BEGIN INSERT INTO written VALUES (new.tbl, new.key); END",
            "CREATE TRIGGER watch_update AFTER UPDATE ON record "
            "BEGIN INSERT INTO written VALUES (new.tbl, new.key); END",
        ):
            db.execute(trigger)
    db.close()
    written: list[tuple[str, str]] = []
    yield written
    db = sqlite3.connect(path)
    try:
        written += db.execute("SELECT tbl, key FROM written").fetchall()
    finally:
        db.close()


# ---------------------------------------------------------------- everything, exactly


def test_a_restart_restores_every_record_exactly(
    rehearsal: Rehearsal, restarted: tuple[MockGateway, Till]
) -> None:
    mock, _ = restarted
    assert state_of(mock) == state_of(rehearsal.mock)


def test_a_write_appends_new_records_and_leaves_the_old_ones_as_they_were(
    rehearsal: Rehearsal,
) -> None:
    seen = records(rehearsal.path, "national.seen")
    transactions = records(rehearsal.path, "ledger.transactions")
    pos = rehearsal.till.pos
    pos.ok("2102", settle_input(rehearsal.mock.psn_no(MOTHER), MOTHER, line("5.00")))
    # one message more, the rest untouched
    assert records(rehearsal.path, "national.seen")[:-1] == seen
    assert records(rehearsal.path, "ledger.transactions")[:-1] == transactions


def test_a_payment_writes_its_own_trade_only_not_every_trade_before_it(
    rehearsal: Rehearsal,
) -> None:
    wechat = rehearsal.till.wechat
    for n in range(5):
        assert (
            wechat_calls.codepay(wechat, f"WX-MANY-{n}", wechat_calls.code("1")).status_code == 200
        )
    trades = len(rehearsal.mock.wechatpay.trades.table)
    with watched(rehearsal.path) as written:
        assert (
            wechat_calls.codepay(wechat, "WX-ONE-MORE", wechat_calls.code("1")).status_code == 200
        )
    assert trades > 5
    assert sorted(written) == [
        ("wechatpay.serial", '"next"'),
        ("wechatpay.trades", f'["{DEFAULT_MCHID}","WX-ONE-MORE"]'),
    ]


# ---------------------------------------------------------------- the insurance centre


def test_balances_and_the_ledger_survive_a_restart_and_check_stays_clean(
    rehearsal: Rehearsal, restarted: tuple[MockGateway, Till]
) -> None:
    mock, _ = restarted
    assert rehearsal.son_balance < Fen(500_000)  # the mother's purchases drew on it
    assert mock.balance(SON) == rehearsal.son_balance
    assert mock.centre.ledger.transactions == rehearsal.mock.centre.ledger.transactions
    assert mock.check() == []


def test_a_repeated_msgid_after_a_restart_gets_the_first_answer_and_charges_once(
    rehearsal: Rehearsal, restarted: tuple[MockGateway, Till]
) -> None:
    mock, till = restarted
    again = till.pos.post(rehearsal.envelope)
    assert again.content == rehearsal.answer
    assert mock.balance(SON) == rehearsal.son_balance
    assert len(mock.centre.ledger.transactions) == len(rehearsal.mock.centre.ledger.transactions)


def test_2601_after_a_restart_reverses_a_settlement_made_before_it(
    rehearsal: Rehearsal, restarted: tuple[MockGateway, Till]
) -> None:
    mock, till = restarted
    mother = mock.psn_no(MOTHER)
    reversal = {"data": {"psn_no": mother, "omsgid": rehearsal.to_reverse, "oinfno": "2102"}}
    assert till.pos.ok("2601", reversal)["gongji_reversal"]["state"] == "reversed"
    assert mock.balance(SON) == rehearsal.son_balance + rehearsal.to_reverse_son_paid
    cancelled = till.pos.ok("2103", {"data": {"setl_id": rehearsal.setl_id, "psn_no": mother}})
    assert cancelled["setlinfo"]["medfee_sumamt"] == "-120.00"
    assert mock.check() == []


def test_3202_after_a_restart_counts_settlements_made_before_it(
    rehearsal: Rehearsal, restarted: tuple[MockGateway, Till]
) -> None:
    mock, till = restarted
    day = mock.centre.clock().date()
    till.pos.ok("2102", settle_input(mock.psn_no(MOTHER), MOTHER, line("5.00")))
    # An empty details file: the centre's result lists every settlement it counts.
    file_qury_no = national.upload(till.pos, national.zipped(""))
    data = national.details(till.pos, file_qury_no, [])
    data["data"] |= {"stmt_begndate": f"{day}", "stmt_enddate": f"{day}"}
    rows = national.result_lines(till.pos, till.pos.ok("3202", data)["fileinfo"])
    assert len(rows) == 4  # three before the restart, one after
    assert sum((Fen.from_yuan(row[7]) for row in rows), Fen(0)) == Fen(16_300)
    assert rehearsal.setl_id in {row[2] for row in rows}


def test_e_vouchers_after_a_restart_a_used_one_stays_used_an_issued_one_still_pays(
    rehearsal: Rehearsal, restarted: tuple[MockGateway, Till]
) -> None:
    mock, till = restarted
    daughter = mock.psn_no(DAUGHTER)
    replay = till.pos.call(
        "2102", settle_input(daughter, rehearsal.used_token, line("8.00"), cert_type="01")
    )
    assert replay["infcode"] == -1 and "已使用" in replay["err_msg"]
    till.pos.ok("2102", settle_input(daughter, rehearsal.fresh_token, line("8.00"), cert_type="01"))


def test_sign_no_visits_and_person_numbers_from_before_a_restart_still_work(
    rehearsal: Rehearsal, restarted: tuple[MockGateway, Till]
) -> None:
    mock, till = restarted
    assert mock.psn_no(MOTHER) == rehearsal.mock.psn_no(MOTHER)
    # No new 9001: the sign_no issued before the restart is still valid.
    visit = {
        "data": {
            "psn_no": mock.psn_no(MOTHER),
            "mdtrt_cert_type": "02",
            "mdtrt_cert_no": MOTHER,
            "mdtrt_id": rehearsal.mdtrt_id,
            "chrg_bchno": "B1",
            "medfee_sumamt": "90.00",
        }
    }
    settled = till.pos.ok("2207", visit)["setlinfo"]
    assert settled["mdtrt_id"] == rehearsal.mdtrt_id
    assert till.pos.call("2207", visit)["infcode"] == -1  # a visit settles once, restart or not


def test_new_ids_after_a_restart_continue_instead_of_repeating(
    rehearsal: Rehearsal, restarted: tuple[MockGateway, Till]
) -> None:
    mock, till = restarted
    settled = till.pos.ok("2102", settle_input(mock.psn_no(MOTHER), MOTHER, line("5.00")))
    assert settled["setlinfo"]["setl_id"] not in {
        t.settlement_id for t in rehearsal.mock.centre.ledger.transactions
    }
    before = wechat_calls.query(rehearsal.till.wechat, "WX-PAID").json()["transaction_id"]
    after = wechat_calls.codepay(till.wechat, "WX-AFTER", wechat_calls.code("1"))
    assert after.json()["transaction_id"] != before
    old = alipay_calls.query(till.alipay, "ALI-PAID")["trade_no"]
    assert alipay_calls.pay(till.alipay, "ALI-AFTER", alipay_calls.code("1"))["trade_no"] != old


# ---------------------------------------------------------------- the payment channels


def test_wechat_pay_trades_and_refunds_survive_a_restart(
    rehearsal: Rehearsal, restarted: tuple[MockGateway, Till]
) -> None:
    mock, till = restarted
    before = wechat_calls.query(rehearsal.till.wechat, "WX-PAID").json()  # the old mock's answer
    paid = wechat_calls.query(till.wechat, "WX-PAID").json()
    assert paid == before
    assert paid["trade_state"] == "REFUND"
    again = wechat_calls.codepay(till.wechat, "WX-PAID", wechat_calls.code("1"))
    assert again.json()["transaction_id"] == paid["transaction_id"]  # the same trade, not a new one
    refund = till.wechat.get("/v3/refund/domestic/refunds/WX-R1")
    assert refund.json()["amount"]["refund"] == 250
    # Still waiting for the password after the restart: the first query finds it paid.
    assert wechat_calls.state(till.wechat, "WX-PASSWORD") == "SUCCESS"
    assert mock.wechatpay.collected() == Fen(1250 - 250 + 1250)


def test_alipay_trades_and_refunds_survive_a_restart(
    rehearsal: Rehearsal, restarted: tuple[MockGateway, Till]
) -> None:
    mock, till = restarted
    assert alipay_calls.query(till.alipay, "ALI-PAID")["trade_status"] == "TRADE_SUCCESS"
    repeat = alipay_calls.refund(till.alipay, "ALI-PAID", "2.50", "ALI-R1")
    assert (repeat["fund_change"], repeat["refund_fee"]) == ("N", "2.50")
    assert mock.alipay.collected() == rehearsal.mock.alipay.collected() == Fen(1000)


def test_channel_keys_survive_a_restart_into_a_new_process(
    rehearsal: Rehearsal, gateways: Callable[[Path], MockGateway]
) -> None:
    forget_this_process_keys()
    assert (
        MockGateway.demo().wechatpay.platform_public_key
        != rehearsal.mock.wechatpay.platform_public_key
    )
    mock = gateways(rehearsal.path)
    assert mock.wechatpay.platform_public_key == rehearsal.mock.wechatpay.platform_public_key
    assert mock.wechatpay.apiv3_key == rehearsal.mock.wechatpay.apiv3_key
    assert mock.alipay.alipay_public_key == rehearsal.mock.alipay.alipay_public_key
    # The POS keeps the keys it was configured with before the restart: they still sign
    # requests the mock accepts, and still verify the mock's answers.
    before = rehearsal.till
    with httpx.Client(
        transport=mock.transport(), base_url=wechat_calls.BASE, auth=before.wechat.auth
    ) as wechat:
        assert wechat_calls.state(wechat, "WX-PAID") == "REFUND"
    with httpx.Client(
        transport=mock.transport(), base_url=alipay_calls.BASE, auth=before.alipay.auth
    ) as alipay:
        assert alipay_calls.query(alipay, "ALI-PAID")["trade_status"] == "TRADE_SUCCESS"


def forget_this_process_keys() -> None:
    """Be a new process: it generates new test keys (the state file's must win)."""
    for cached in (testkeys.test_rsa_key, testkeys._generated, testkeys.test_apiv3_key):
        cached.cache_clear()


def test_the_admin_endpoint_hands_out_the_state_files_keys_after_a_restart(
    rehearsal: Rehearsal, gateways: Callable[[Path], MockGateway]
) -> None:
    forget_this_process_keys()
    mock = gateways(rehearsal.path)
    keys = Till.at(mock).pos.client.get("/gongji-admin/keys").json()
    before = rehearsal.mock
    merchant = load_private_key(keys["wechatpay"]["merchant_private_key"])
    assert merchant.fingerprint == before.wechatpay.merchant.private_key.fingerprint
    platform = load_public_key(keys["wechatpay"]["platform_public_key"])
    assert platform == before.wechatpay.platform_public_key
    assert keys["wechatpay"]["apiv3_key"] == before.wechatpay.apiv3_key
    app = load_private_key(keys["alipay"]["app_private_key"])
    assert app.fingerprint == before.alipay.app_private_key.fingerprint
    assert load_public_key(keys["alipay"]["alipay_public_key"]) == before.alipay.alipay_public_key


def test_med_ins_orders_survive_a_restart_and_a_repeated_out_trade_no_gets_the_same_order(
    tmp_path: Path, gateways: Callable[[Path], MockGateway]
) -> None:
    path = tmp_path / "mock.db"
    mock = gateways(path)
    wx = mock.wechatpay
    auth = WechatPayAuth(wx.merchant, wx.platform_keys())  # the POS's keys, kept across
    with httpx.Client(transport=mock.transport(), base_url=medins.BASE, auth=auth) as pos:
        waiting = medins.create(pos, medins.order("MI-WAIT", medins.sealed(wx))).json()
        paid = medins.create(pos, medins.order("MI-PAID", medins.sealed(wx))).json()
        confirmed = medins.by_out(pos, "MI-PAID").json()  # the patient confirmed it
        assert confirmed["mix_pay_status"] == "MIX_PAY_SUCCESS"
    forget_this_process_keys()  # the platform key that decrypts payer and relative comes from the file
    restarted = gateways(path)
    assert state_of(restarted, "wechatpay.") == state_of(mock, "wechatpay.")
    with httpx.Client(transport=restarted.transport(), base_url=medins.BASE, auth=auth) as pos:
        assert medins.by_mix(pos, paid["mix_trade_no"]).json() == confirmed
        # Still waiting for the patient before the restart: the first query after it confirms.
        assert medins.by_out(pos, "MI-WAIT").json()["mix_pay_status"] == "MIX_PAY_SUCCESS"
        # The same order again, encrypted afresh under the platform key the POS was given.
        again = medins.create(pos, medins.order("MI-WAIT", medins.sealed(wx)))
        assert again.status_code == 200, again.text
        assert again.json()["mix_trade_no"] == waiting["mix_trade_no"]
        other = medins.create(pos, medins.order("MI-WAIT", medins.sealed(wx), attach="other"))
        assert other.json()["code"] == "ALREADY_EXISTS"
        new = medins.create(pos, medins.order("MI-NEW", medins.sealed(wx))).json()
        assert new["mix_trade_no"] not in {waiting["mix_trade_no"], paid["mix_trade_no"]}
    assert len(restarted.wechatpay.med_ins) == 3
    assert restarted.wechatpay.collected() == Fen(1500 + 1500)  # the two confirmed orders' cash
    assert [o["request"]["out_trade_no"] for o in rows(path, "wechatpay.med_ins.orders")] == [
        "MI-WAIT",
        "MI-PAID",
        "MI-NEW",
    ]


def test_a_state_file_without_rows_of_a_table_opens_with_that_table_empty(
    rehearsal: Rehearsal, gateways: Callable[[Path], MockGateway]
) -> None:
    with sqlite3.connect(rehearsal.path) as db:  # as a file from before med-ins orders
        db.execute("DELETE FROM record WHERE tbl LIKE 'wechatpay.med_ins.%'")
    db.close()
    mock = gateways(rehearsal.path)
    assert len(mock.wechatpay.med_ins) == 0
    assert wechat_calls.state(Till.at(mock).wechat, "WX-PAID") == "REFUND"


# ---------------------------------------------------------------- what is written, and when


def test_a_request_that_only_reads_does_not_write_the_state_file(
    rehearsal: Rehearsal, restarted: tuple[MockGateway, Till]
) -> None:
    _, till = restarted
    written = writes(rehearsal.path)
    assert wechat_calls.state(till.wechat, "WX-PAID") == "REFUND"
    assert alipay_calls.query(till.alipay, "ALI-PAID")["trade_status"] == "TRADE_SUCCESS"
    assert till.pos.client.get("/gongji-admin/state").status_code == 200
    assert writes(rehearsal.path) == written
    till.pos.ok("2102", settle_input(till.pos.psn_no(MOTHER), MOTHER, line("5.00")))
    assert writes(rehearsal.path) > written


def test_an_answer_dropped_after_commit_was_written_before_it_was_lost(
    rehearsal: Rehearsal, gateways: Callable[[Path], MockGateway]
) -> None:
    pos = rehearsal.till.pos
    rehearsal.mock.faults.add("drop_after_commit", target="national", code="2102", times=1)
    envelope = pos.envelope("2102", settle_input(rehearsal.mock.psn_no(MOTHER), MOTHER))
    with pytest.raises(httpx.ReadTimeout):
        pos.post(envelope)
    charged = rehearsal.mock.balance(SON)
    assert charged < rehearsal.son_balance
    mock = gateways(rehearsal.path)
    assert mock.balance(SON) == charged
    answer = Till.at(mock, pos).pos.post(envelope).json()  # "did it go through?": yes, once
    assert answer["infcode"] == 0
    assert mock.balance(SON) == charged


def test_faults_are_configuration_not_state(
    rehearsal: Rehearsal, gateways: Callable[[Path], MockGateway]
) -> None:
    rehearsal.mock.faults.add("error_5xx", target="*")
    assert wechat_calls.query(rehearsal.till.wechat, "WX-PAID").status_code == 503
    mock = gateways(rehearsal.path)
    assert mock.faults.rules == ()
    assert wechat_calls.state(Till.at(mock, rehearsal.till.pos).wechat, "WX-PAID") == "REFUND"


def test_changes_made_in_python_are_written_by_save(
    tmp_path: Path, gateways: Callable[[Path], MockGateway]
) -> None:
    path = tmp_path / "mock.db"
    mock = gateways(path)
    token = mock.centre.issue_e_voucher(MOTHER)  # straight to the centre, past the gateway
    mock.save()
    restarted = gateways(path)
    assert restarted.centre.resolve(Credential.e_voucher(token)).id == MOTHER


# ---------------------------------------------------------------- files that are not this mock's


def test_a_state_file_started_from_another_dataset_is_refused_and_left_unchanged(
    rehearsal: Rehearsal, tmp_path: Path
) -> None:
    text = ZHANG_FAMILY.read_text(encoding="utf-8")
    other = parse_dataset(
        text.replace('account_balance = "5000.00"', 'account_balance = "5000.01"', 1)
    )
    assert dataset_digest(other) != dataset_digest(demo_dataset())
    unchanged = rehearsal.path.read_bytes()
    with pytest.raises(ConfigError) as refused:
        MockGateway(other, state=rehearsal.path)
    message = str(refused.value)
    assert "mock.db was started from another dataset" in message
    assert "--data" in message and "new --state file" in message
    assert rehearsal.path.read_bytes() == unchanged


def test_the_dataset_digest_ignores_comments_and_layout() -> None:
    text = ZHANG_FAMILY.read_text(encoding="utf-8")
    assert dataset_digest(parse_dataset("# a comment\n" + text)) == dataset_digest(demo_dataset())


def test_a_file_that_is_not_sqlite_is_refused_and_left_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_bytes(b"these are my notes, not a database\n" * 200)
    with pytest.raises(ConfigError, match=r"notes\.db is not a gongji mock state file"):
        MockGateway.demo(state=path)
    assert path.read_bytes() == b"these are my notes, not a database\n" * 200
    assert not (tmp_path / "notes.db-wal").exists()


def test_a_foreign_sqlite_database_is_refused_and_left_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "journal.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE entry (key TEXT PRIMARY KEY, state TEXT)")
        db.execute("INSERT INTO entry VALUES ('POS01-0001', 'done')")
    db.close()
    unchanged = path.read_bytes()
    with pytest.raises(ConfigError, match=r"journal\.db is an SQLite database, but not a gongji"):
        MockGateway.demo(state=path)
    assert path.read_bytes() == unchanged


def test_a_corrupt_state_file_is_refused_and_left_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "mock.db"
    MockGateway.demo(state=path).close()
    data = path.read_bytes()
    path.write_bytes(data[:100] + bytes(range(256)) * ((len(data) - 100) // 256 + 1))
    corrupt = path.read_bytes()
    with pytest.raises(
        ConfigError, match=r"mock\.db is not a gongji mock state file, or it is damaged"
    ):
        MockGateway.demo(state=path)
    assert path.read_bytes() == corrupt


def test_a_damaged_component_is_refused_naming_it(rehearsal: Rehearsal) -> None:
    with sqlite3.connect(rehearsal.path) as db:
        db.execute("UPDATE record SET data = '{\"trades\": 7}' WHERE tbl = 'alipay.trades'")
    db.close()
    unchanged = rehearsal.path.read_bytes()
    with pytest.raises(ConfigError, match=r"damaged: its 'alipay.trades' cannot be read"):
        MockGateway.demo(state=rehearsal.path)
    assert rehearsal.path.read_bytes() == unchanged


def test_a_second_mock_writing_the_same_state_file_is_refused(
    rehearsal: Rehearsal, gateways: Callable[[Path], MockGateway]
) -> None:
    second = Till.at(gateways(rehearsal.path))
    assert (
        wechat_calls.codepay(second.wechat, "WX-SECOND", wechat_calls.code("1")).status_code == 200
    )
    first = rehearsal.till
    with pytest.raises(ConfigError, match="Another mock has written the state file"):
        wechat_calls.codepay(first.wechat, "WX-FIRST", wechat_calls.code("1"))
    trades = {trade["out_trade_no"] for trade in rows(rehearsal.path, "wechatpay.trades")}
    assert "WX-SECOND" in trades and "WX-FIRST" not in trades


def test_no_full_id_number_or_key_material_in_state_errors_or_reprs(
    rehearsal: Rehearsal,
) -> None:
    keys = row(rehearsal.path, "keys")
    db = sqlite3.connect(rehearsal.path)
    with db:  # the son's ID number with a wrong check digit, wherever the centre names him
        db.execute(
            "UPDATE record SET data = replace(data, ?, ?) WHERE tbl = 'centre.settlements'",
            (SON, SON[:-1] + "9"),
        )
    db.close()
    with pytest.raises(ConfigError) as damaged:
        MockGateway.demo(state=rehearsal.path)
    assert "210202********0039" in str(damaged.value)  # masked, as everywhere
    shown = [
        str(damaged.value),
        repr(damaged.value),
        repr(rehearsal.mock),
        repr(rehearsal.mock._state),
        repr(msgspec.convert(keys, type=MockKeys)),
    ]
    secrets = [SON[:-1], MOTHER, keys["wechatpay_apiv3"]]
    secrets += [keys[k].splitlines()[1] for k in keys if k != "wechatpay_apiv3"]
    for text in shown:
        for secret in secrets:
            assert secret not in text


def test_concurrent_tills_over_http_are_all_written(
    tmp_path: Path, gateways: Callable[[Path], MockGateway]
) -> None:
    path = tmp_path / "mock.db"
    mock = gateways(path)
    server = make_server(mock, bind("127.0.0.1", 0))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    answers: list[int] = []

    def till(number: int) -> None:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            pos = Pos(client, TifSigner(DEFAULT_PAASID, DEFAULT_TIF_SECRET))
            pos.sign_in()
            msgid = f"P21020200001{number:04d}{1:014d}"  # 30 characters, one per till
            settled = pos.call(
                "2102", settle_input(pos.psn_no(MOTHER), MOTHER, line("2.00")), msgid
            )
            answers.append(settled["infcode"])

    try:
        tills = [threading.Thread(target=till, args=(n,)) for n in range(12)]
        for t in tills:
            t.start()
        for t in tills:
            t.join(timeout=60)
    finally:
        server.stop()
        thread.join(timeout=10)
    assert answers == [0] * 12
    restarted = gateways(path)
    assert state_of(restarted) == state_of(mock)
    assert len(restarted.centre.ledger.transactions) == 12
    assert restarted.check() == []


# ---------------------------------------------------------------- gongji mock serve --state


@contextlib.contextmanager
def killed_at_exit(*options: str) -> Iterator[str]:
    """`gongji mock serve --port 0 ...` in a subprocess, killed with SIGKILL after the block:
    no shutdown, no close, so whatever it answered must already be on disk."""
    process = subprocess.Popen(
        [GONGJI, "--json", "mock", "serve", "--port", "0", "--extensions", *options],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        yield json.loads(process.stdout.readline())["url"]
    finally:
        process.kill()
        process.communicate(timeout=10)
    assert process.returncode == -signal.SIGKILL


def test_mock_serve_with_state_after_kill_9_answers_as_before(tmp_path: Path) -> None:
    state = tmp_path / "mock.db"
    signer = TifSigner(DEFAULT_PAASID, DEFAULT_TIF_SECRET)
    with killed_at_exit("--state", str(state)) as url, httpx.Client(base_url=url) as client:
        pos = Pos(client, signer)
        pos.sign_in()
        envelope = pos.envelope("2102", settle_input(pos.psn_no(MOTHER), MOTHER, line("120.00")))
        first = pos.post(envelope)
        assert first.json()["infcode"] == 0
        # Over HTTP, a POS takes the mock's channel keys from the state file.
        keys = row(state, "keys")
        wechat_auth = WechatPayAuth(
            WechatPayMerchant(
                mchid=DEFAULT_MCHID,
                serial_no=DEFAULT_MERCHANT_SERIAL,
                private_key=load_private_key(keys["wechatpay_merchant"]),
            ),
            PlatformKeyStore(
                public_keys={
                    PLATFORM_KEY_ID: load_private_key(keys["wechatpay_platform"]).public_key
                }
            ),
        )
        with httpx.Client(base_url=url, auth=wechat_auth) as wechat:
            paid = wechat_calls.codepay(wechat, "WX-HTTP", wechat_calls.code("1"))
        assert paid.status_code == 200, paid.text
        people = client.get("/gongji-admin/state").json()["people"]

    with killed_at_exit("--state", str(state)) as url, httpx.Client(base_url=url) as client:
        pos.client = client  # the same POS, the same sign_no, after the restart
        again = pos.post(envelope)
        assert again.content == first.content
        after = client.get("/gongji-admin/state").json()
        assert after["people"] == people  # balances as they were: charged once
        assert after["violations"] == []
        with httpx.Client(base_url=url, auth=wechat_auth) as wechat:
            assert wechat_calls.state(wechat, "WX-HTTP") == "SUCCESS"


def test_mock_serve_with_state_from_another_dataset_is_a_one_line_error(tmp_path: Path) -> None:
    state = tmp_path / "mock.db"
    MockGateway.demo(state=state).close()
    other = tmp_path / "family.toml"
    text = ZHANG_FAMILY.read_text(encoding="utf-8")
    other.write_text(text.replace('name = "张', 'name = "章', 1), encoding="utf-8")
    unchanged = state.read_bytes()
    result = subprocess.run(
        [GONGJI, "mock", "serve", "--port", "0", "--data", str(other), "--state", str(state)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1
    assert "another dataset" in result.stderr and "--data" in result.stderr
    assert state.read_bytes() == unchanged
