"""``gongji reconcile`` and ``gongji journal list|show|recover``.

Through the real entry point (a subprocess) against a mock served over HTTP on
127.0.0.1, where the command's own journal is enough; through ``gongji.cli.main`` in
process where the command must work on the journal a till filled in the test.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest

from gongji import Cash, OutcomeUnknown, SettlementClient
from gongji.cli import main
from gongji.identity import mask_id
from gongji.journal import EntryState, MemoryJournal
from gongji_mock import MockGateway
from gongji_mock.gateway import DEFAULT_PAASID, DEFAULT_TIF_SECRET
from gongji_mock.server.asgi import bind, make_server
from tests.client.conftest import (
    DAUGHTER,
    FAST_POLLING,
    FATHER,
    GRANDMOTHER,
    MOTHER,
    SISTER,
    SON,
    WECHAT_PAID,
    WIFE,
    drug,
    purchase,
)
from tests.test_cli import GONGJI

PEOPLE = (SON, MOTHER, FATHER, DAUGHTER, SISTER, GRANDMOTHER, WIFE)
SECRET_ENV = "GONGJI_TEST_CLI_TIF"

PROFILE = """
[profiles.till]
[profiles.till.gateway]
adapter = "cityins"
city = "dalian"
base_url = "{url}"
institution_code = "H21020200001"
institution_name = "大连共济测试药房"
paasid = "{paasid}"
secret_env = "{env}"
"""


def config(tmp_path: Path, url: str = "http://centre.gongji-mock.invalid") -> Path:
    path = tmp_path / "gongji.toml"
    path.write_text(PROFILE.format(url=url, paasid=DEFAULT_PAASID, env=SECRET_ENV), "utf-8")
    return path


def run(*args: str) -> subprocess.CompletedProcess[str]:
    env = os.environ | {SECRET_ENV: DEFAULT_TIF_SECRET}
    return subprocess.run([GONGJI, *args], capture_output=True, text=True, timeout=60, env=env)


def assert_no_full_id(text: str) -> None:
    for number in PEOPLE:
        assert number not in text


# ---------------------------------------------------------------- over HTTP, in a subprocess


class Served:
    def __init__(self, mock: MockGateway, url: str) -> None:
        self.mock = mock
        self.url = url
        self.day = mock.centre.clock().date().isoformat()


@pytest.fixture
def served() -> Iterator[Served]:
    mock = MockGateway.demo()
    # Listening before the thread starts: the first request waits in the backlog, no sleep.
    server = make_server(mock, bind("127.0.0.1", 0))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield Served(mock, server.url)
    finally:
        server.stop()
        thread.join(timeout=10)
        assert not thread.is_alive()


def test_reconcile_of_a_day_without_sales_is_clean_and_exits_0(
    served: Served, tmp_path: Path
) -> None:
    path = config(tmp_path, served.url)
    result = run(
        "--json", "reconcile", "--date", served.day, "--config", str(path), "--profile", "till"
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    # Nothing to total, so no 3201; the empty details file went to 3202 all the same.
    assert report["clean"] is True and report["agreed"] is None
    assert report["day"] == served.day and report["discrepancies"] == []
    text = run("reconcile", "--date", served.day, "--config", str(path), "--profile", "till")
    assert text.returncode == 0
    assert f"Reconciliation of {served.day}: clean." in text.stdout


def test_reconcile_reports_what_the_commands_journal_lacks_and_exits_1(
    served: Served, tmp_path: Path
) -> None:
    # Settled by a till whose journal the command does not have.
    with SettlementClient.from_profile("mock", url=served.url, polling=FAST_POLLING) as till:
        receipt = till.settle(purchase(MOTHER), key="CLI-0001", cash=Cash.wechat(WECHAT_PAID))
    path = config(tmp_path, served.url)
    common = ("reconcile", "--date", served.day, "--config", str(path), "--profile", "till")
    as_json = run(*common, "--json")
    assert as_json.returncode == 1, as_json.stderr
    report = json.loads(as_json.stdout)
    assert report["clean"] is False and report["agreed"] is None  # no totals to judge
    [found] = report["discrepancies"]
    assert found["kind"] == "centre_only" and found["setl_id"] == receipt.settlement_id
    # The centre's result file states the total, the fund and the accounts, nothing else.
    assert found["centre"]["total"] == int(receipt.total)
    assert found["centre"]["mutual_aid"] is None and found["centre"]["cash"] is None
    assert found["psn_no"] == served.mock.psn_no(MOTHER)
    text = run(*common)
    assert text.returncode == 1
    assert "1 discrepancy" in text.stdout and "had nothing to judge" in text.stdout
    assert receipt.settlement_id in text.stdout and "not in this journal" in text.stdout
    assert_no_full_id(as_json.stdout + text.stdout + as_json.stderr + text.stderr)


def test_reconcile_with_no_centre_answering_exits_2_in_one_line(tmp_path: Path) -> None:
    # A port bound but not listening: connecting is refused at once, never a wait.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as closed:
        closed.bind(("127.0.0.1", 0))
        path = config(tmp_path, f"http://127.0.0.1:{closed.getsockname()[1]}")
        result = run(
            "reconcile", "--date", "2026-11-23", "--config", str(path), "--profile", "till"
        )
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("gongji: unavailable: ")
    assert "Check the network to the gateway" in result.stderr


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (("--date", "23/11/2026"), "is not a day written YYYY-MM-DD. Give the business day like"),
        (("--date", "2026-02-30"), "is not a day written YYYY-MM-DD"),
        (
            ("--date", "2026-11-23", "--profile", "nowhere"),
            "has no profile 'nowhere'. Use one of: till",
        ),
        (("--date", "2026-11-23", "--profile", ""), "No profile was given. Pass --profile NAME"),
    ],
)
def test_reconcile_refuses_bad_arguments_in_one_line_and_exits_2(
    tmp_path: Path, args: tuple[str, ...], said: str
) -> None:
    path = config(tmp_path)
    result = run("reconcile", "--config", str(path), "--profile", "till", *args)
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert said in result.stderr


def test_a_missing_configuration_file_is_one_line_saying_what_to_do(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.toml"
    result = run("journal", "list", "--config", str(missing), "--profile", "till")
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert f"There is no configuration file at {missing}" in result.stderr
    assert "docs/reference/config.md" in result.stderr


def test_a_directory_given_as_the_configuration_is_one_line(tmp_path: Path) -> None:
    result = run("--json", "journal", "list", "--config", str(tmp_path), "--profile", "till")
    assert result.returncode == 2
    assert json.loads(result.stdout)["error"] == "config_error"


def test_a_new_profiles_journal_lists_nothing_shows_no_key_and_recovers_nothing(
    tmp_path: Path,
) -> None:
    path = config(tmp_path)
    common = ("--config", str(path), "--profile", "till")
    listed = run("--json", "journal", "list", *common)
    assert listed.returncode == 0 and json.loads(listed.stdout) == []
    shown = run("journal", "show", "NO-SUCH-KEY", *common)
    assert shown.returncode == 2 and shown.stderr.count("\n") == 1
    assert (
        "no entry with the key 'NO-SUCH-KEY'" in shown.stderr
        and "gongji journal list" in shown.stderr
    )
    recovered = run("--json", "journal", "recover", *common)
    assert recovered.returncode == 0
    assert json.loads(recovered.stdout) == {"resolved": [], "in_doubt": []}


def test_an_unknown_state_filter_names_the_states(tmp_path: Path) -> None:
    result = run(
        "journal", "list", "--state", "lost", "--config", str(config(tmp_path)), "--profile", "till"
    )
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert (
        "no entry state 'lost'" in result.stderr
        and "settled" in result.stderr
        and "in_doubt" in result.stderr
    )


# ---------------------------------------------------------------- in process, one journal


class Shop:
    """A till and the ``gongji`` command sharing one journal and one in-process mock."""

    def __init__(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv(SECRET_ENV, DEFAULT_TIF_SECRET)
        self.mock = MockGateway.demo()
        self.journal = MemoryJournal()
        self.till = SettlementClient.from_profile(
            "mock", mock=self.mock, journal=self.journal, polling=FAST_POLLING
        )
        self.path = config(tmp_path)
        self.day = self.mock.centre.clock().date().isoformat()

    def gongji(self, *args: str) -> int:
        options = {
            "journal": self.journal,
            "transport": self.mock.transport(),
            "polling": FAST_POLLING,
        }
        return main(
            [*args, "--config", str(self.path), "--profile", "till"], client_options=options
        )


@pytest.fixture
def shop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Shop]:
    shop = Shop(tmp_path, monkeypatch)
    with shop.till:
        yield shop


def test_reconcile_with_the_tills_journal_is_clean_and_exits_0(
    shop: Shop, capsys: pytest.CaptureFixture[str]
) -> None:
    shop.till.settle(purchase(MOTHER), key="SHOP-0001", cash=Cash.wechat(WECHAT_PAID))
    shop.till.settle(purchase(SON, drug(9_000)), key="SHOP-0002")
    assert shop.gongji("reconcile", "--date", shop.day, "--json") == 0
    report = json.loads(capsys.readouterr().out)
    assert report["clean"] and report["journal"]["count"] == report["centre"]["count"] == 2


def test_reconcile_names_an_amount_changed_in_the_journal_and_exits_1(
    shop: Shop, capsys: pytest.CaptureFixture[str]
) -> None:
    receipt = shop.till.settle(purchase(MOTHER), key="SHOP-0001", cash=Cash.wechat(WECHAT_PAID))
    entry = shop.journal.get("SHOP-0001")
    assert entry is not None and entry.settlement is not None
    changed = attrs.evolve(
        entry.settlement, fund=entry.settlement.fund + 500, cash=entry.settlement.cash - 500
    )
    shop.journal.put(attrs.evolve(entry, settlement=changed))
    assert shop.gongji("reconcile", "--date", shop.day) == 1
    out = capsys.readouterr().out
    assert "Reconciliation of" in out and "1 discrepancy" in out
    assert "amount_differs" in out and receipt.settlement_id in out and "SHOP-0001" in out
    assert "fund: journal 5.00, centre 0.00" in out and "cash:" not in out  # the centre's file
    assert "The centre's remark: 金额不符" in out
    assert_no_full_id(out)


def test_journal_list_shows_each_sale_and_filters_by_state_and_day(
    shop: Shop, capsys: pytest.CaptureFixture[str]
) -> None:
    kept = shop.till.settle(purchase(MOTHER), key="SHOP-0001", cash=Cash.wechat(WECHAT_PAID))
    gone = shop.till.settle(purchase(SON, drug(9_000)), key="SHOP-0002")
    shop.till.refund(gone.settlement_id)
    assert shop.gongji("journal", "list", "--json") == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["key"], r["state"], r["settlement_id"], r["total"], r["cash"]) for r in rows] == [
        ("SHOP-0001", "settled", kept.settlement_id, 50_000, 7_000),
        ("SHOP-0002", "refunded", gone.settlement_id, 9_000, 0),
    ]
    assert all(r["updated_at"] for r in rows)
    assert shop.gongji("journal", "list", "--state", "refunded", "--json") == 0
    assert [r["key"] for r in json.loads(capsys.readouterr().out)] == ["SHOP-0002"]
    assert shop.gongji("journal", "list", "--date", "2001-01-01", "--json") == 0
    assert json.loads(capsys.readouterr().out) == []
    assert shop.gongji("journal", "list", "--date", shop.day) == 0
    out = capsys.readouterr().out
    assert "Journal: 2 entries" in out and kept.settlement_id in out and "500.00" in out
    assert_no_full_id(out)


def test_journal_show_gives_the_receipt_with_masked_ids_only(
    shop: Shop, capsys: pytest.CaptureFixture[str]
) -> None:
    receipt = shop.till.settle(purchase(MOTHER), key="SHOP-0001", cash=Cash.wechat(WECHAT_PAID))
    assert shop.gongji("journal", "show", "SHOP-0001", "--json") == 0
    shown = json.loads(capsys.readouterr().out)
    assert (
        shown["state"] == "settled" and shown["receipt"]["settlement_id"] == receipt.settlement_id
    )
    legs = [(leg["payer"], leg["amount"]) for leg in shown["receipt"]["legs"]]
    assert legs == [
        (leg.payer_id.masked if leg.payer_id else None, int(leg.amount)) for leg in receipt.legs
    ]
    assert shown["settlement"]["patient"] == mask_id(MOTHER)
    assert shop.gongji("journal", "show", "SHOP-0001") == 0
    out = capsys.readouterr().out
    assert f"Receipt {receipt.settlement_id}" in out and "70.00" in out
    assert_no_full_id(json.dumps(shown, ensure_ascii=False) + out)


def test_journal_recover_resolves_a_sale_left_in_doubt_and_exits_0(
    shop: Shop, capsys: pytest.CaptureFixture[str]
) -> None:
    shop.mock.faults.add("drop_after_commit", target="national", code="2102", times=1)
    shop.mock.faults.add("timeout_before_commit", target="national", code="2601", times=3)
    with pytest.raises(OutcomeUnknown):
        shop.till.settle(purchase(MOTHER), key="SHOP-0001", cash=Cash.wechat(WECHAT_PAID))
    assert shop.gongji("journal", "list", "--state", "in_doubt", "--json") == 0
    assert [r["key"] for r in json.loads(capsys.readouterr().out)] == ["SHOP-0001"]
    # While the centre still cannot be reached, the sale stays in doubt: exit 1.
    shop.mock.faults.add("timeout_before_commit", target="national", code="2601", times=3)
    assert shop.gongji("journal", "recover") == 1
    assert "Still in doubt: SHOP-0001" in capsys.readouterr().out
    shop.mock.faults.clear()
    assert shop.gongji("journal", "recover", "--json") == 0
    recovered = json.loads(capsys.readouterr().out)
    assert [(r["key"], r["state"]) for r in recovered["resolved"]] == [("SHOP-0001", "failed")]
    assert recovered["in_doubt"] == []
    assert shop.journal.get("SHOP-0001").state is EntryState.FAILED  # type: ignore[union-attr]
    assert shop.gongji("reconcile", "--date", shop.day) == 0
    assert shop.mock.check() == []


def test_without_the_cli_extra_the_books_print_as_plain_lines(
    shop: Shop, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "rich.console", None)  # import rich.console fails
    receipt = shop.till.settle(purchase(MOTHER), key="SHOP-0001", cash=Cash.wechat(WECHAT_PAID))
    assert shop.gongji("reconcile", "--date", shop.day) == 0
    assert shop.gongji("journal", "list") == 0
    assert shop.gongji("journal", "list", "--state", "failed") == 0
    assert shop.gongji("journal", "show", "SHOP-0001") == 0
    out = capsys.readouterr().out
    assert "┃" not in out and f"Reconciliation of {shop.day}: clean." in out
    assert f"SHOP-0001  settled  {receipt.settlement_id}" in out
    assert "Journal: 0 entries" in out
    assert_no_full_id(out)


# ---------------------------------------------------------------- a range of days


def _around(day: str) -> tuple[str, str]:
    import datetime

    middle = datetime.date.fromisoformat(day)
    one = datetime.timedelta(days=1)
    return (middle - one).isoformat(), (middle + one).isoformat()


def test_reconcile_of_a_clean_range_gives_a_report_per_day_and_exits_0(
    shop: Shop, capsys: pytest.CaptureFixture[str]
) -> None:
    shop.till.settle(purchase(MOTHER), key="SHOP-0001", cash=Cash.wechat(WECHAT_PAID))
    first, last = _around(shop.day)
    assert shop.gongji("reconcile", "--from", first, "--to", last, "--json") == 0
    document = json.loads(capsys.readouterr().out)
    assert [d["day"] for d in document["days"]] == [first, shop.day, last]
    assert [d["journal"]["count"] for d in document["days"]] == [0, 1, 0]
    assert document["clean"] and document["summary"] == {
        "days": 3,
        "clean_days": 3,
        "discrepancies": 0,
        "unclean_days": [],
    }


def test_reconcile_of_a_range_names_the_day_that_differs_and_exits_1(
    shop: Shop, capsys: pytest.CaptureFixture[str]
) -> None:
    shop.till.settle(purchase(MOTHER), key="SHOP-0001", cash=Cash.wechat(WECHAT_PAID))
    entry = shop.journal.get("SHOP-0001")
    assert entry is not None and entry.settlement is not None
    changed = attrs.evolve(
        entry.settlement, fund=entry.settlement.fund + 1, cash=entry.settlement.cash - 1
    )
    shop.journal.put(attrs.evolve(entry, settlement=changed))
    first, last = _around(shop.day)
    assert shop.gongji("reconcile", "--from", first, "--to", last) == 1
    captured = capsys.readouterr()
    assert "2 of 3 days are clean; see the reports of " + shop.day in captured.out
    assert captured.out.count("Reconciliation of") == 3 and "Summary" in captured.out
    assert captured.err == ""  # no progress bar when stderr is not a terminal


def test_reconcile_of_a_range_shows_progress_on_a_terminal(
    shop: Shop, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    monkeypatch.setenv("FORCE_COLOR", "1")
    first, last = _around(shop.day)
    assert shop.gongji("reconcile", "--from", first, "--to", last) == 0
    assert "reconciling" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (("--from", "2026-11-23"), "--from needs --to"),
        (("--from", "2026-11-23", "--to", "2026-11-22"), "is 0 days long"),
        (("--from", "2024-01-01", "--to", "2026-01-01"), "at most 366 days apart"),
        (("--date", "2026-11-23", "--to", "2026-11-24"), "--to goes with --from"),
    ],
)
def test_reconcile_refuses_a_wrong_range_in_one_line(
    shop: Shop, capsys: pytest.CaptureFixture[str], args: tuple[str, ...], said: str
) -> None:
    assert shop.gongji("reconcile", *args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and said in err


# ---------------------------------------------------------------- settle against a served mock


def test_settle_with_mock_url_charges_the_served_mock_which_keeps_it(
    served: Served, capsys: pytest.CaptureFixture[str]
) -> None:
    before = served.mock.balance(SON)
    args = ["--id-card", SON, "--item", "X01:感冒灵颗粒:12.50:2", "--key", "SERVED-1"]
    assert main(["settle", *args, "--counter", "--mock-url", served.url, "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["rehearsal"] is False and document["receipt"]["legs"][0]["amount"] == 2500
    assert served.mock.balance(SON) == before - 2500
    assert served.mock.check() == []


def test_journal_list_attention_shows_what_needs_a_person_and_recover_leaves_it(
    shop: Shop, capsys: pytest.CaptureFixture[str]
) -> None:
    shop.till.settle(purchase(MOTHER), key="SHOP-0001", cash=Cash.wechat(WECHAT_PAID))
    shop.till.settle(purchase(SON, drug(9_000)), key="SHOP-0002")
    stuck = shop.journal.get("SHOP-0002")
    assert stuck is not None
    # What the centre said may carry an ID number: it is scrubbed wherever it is shown.
    why = f"2601 refused for good: 已冲正 {SON}"
    shop.journal.put(attrs.evolve(stuck, state=EntryState.NEEDS_ATTENTION, reason=why))
    assert shop.gongji("journal", "list", "--attention", "--json") == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["key"], r["state"]) for r in rows] == [("SHOP-0002", "needs_attention")]
    assert rows[0]["reason"].startswith("2601 refused for good: 已冲正 ")
    assert shop.gongji("journal", "list", "--attention") == 0
    out = capsys.readouterr().out
    assert "Journal: 1 entry" in out and "SHOP-0002 needs a person: 2601 refused" in out
    assert "SHOP-0001" not in out
    # Not in doubt: recover() neither retries it nor counts it as left over.
    assert shop.gongji("journal", "recover", "--json") == 0
    assert json.loads(capsys.readouterr().out) == {"resolved": [], "in_doubt": []}
    assert shop.journal.get("SHOP-0002") == attrs.evolve(
        stuck, state=EntryState.NEEDS_ATTENTION, reason=why
    )
    assert_no_full_id(json.dumps(rows, ensure_ascii=False) + out)


def test_journal_list_takes_attention_or_a_state_not_both(tmp_path: Path) -> None:
    result = run(
        "journal", "list", "--attention", "--state", "failed",
        "--config", str(config(tmp_path)), "--profile", "till",
    )  # fmt: skip
    assert result.returncode == 2 and "not allowed with argument" in result.stderr
