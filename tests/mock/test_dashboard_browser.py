"""The dashboard in a real browser: headless Chromium (Debian's package, /usr/bin/chromium)
driven by Playwright, against a mock served by uvicorn on 127.0.0.1 in a thread, with a
real ``SettlementClient`` settling over HTTP beside it.

Without the browser (or Playwright) the browser tests skip, except under ``CI=true``,
where that is a failure: ``make test`` installs Chromium first
(scripts/chromium-for-tests.sh). Never ``playwright install``: it downloads a browser.
Every wait is Playwright's own auto-waiting (``expect``), never a sleep.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from gongji import Cash, Fen, SettlementClient, Unavailable
from gongji_mock import MockGateway
from gongji_mock.server.asgi import bind, make_server
from tests.client.conftest import FAST_POLLING, MOTHER, SISTER, SON, WECHAT_PAID, purchase

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

CHROMIUM = Path(os.environ.get("GONGJI_TEST_CHROMIUM", "/usr/bin/chromium"))
# Headless as root, with nothing of its own on the network (no updates, no sync, no QUIC):
# without these, Chromium's background connections are refused noisily on a machine
# that reaches nothing but 127.0.0.1.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
HOW = "make test installs it as root (scripts/chromium-for-tests.sh; apt-get install chromium)"


def browser_or_skip(chromium: Path) -> Path:
    """The browser to drive; without it (or Playwright), skip, or fail under ``CI=true``."""
    missing = None
    if not (chromium.is_file() and os.access(chromium, os.X_OK)):
        missing = f"no Chromium at {chromium}; {HOW}"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            missing = "Playwright is not installed: pip install -e '.[dev]'"
    if missing is None:
        return chromium
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true but the dashboard's browser tests cannot run: {missing}.")
    pytest.skip(missing)


class Served:
    def __init__(self, mock: MockGateway, url: str) -> None:
        self.mock = mock
        self.url = url


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    chromium = browser_or_skip(CHROMIUM)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def served() -> Iterator[Served]:
    mock = MockGateway.demo()
    # Listening before the thread starts: the browser's first request waits in the backlog.
    server = make_server(mock, bind("127.0.0.1", 0))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield Served(mock, server.url)
    finally:
        server.stop()
        thread.join(timeout=10)


@pytest.fixture
def page(browser: Browser, served: Served) -> Iterator[Page]:
    context = browser.new_context()
    shown = context.new_page()
    # A script error or a failed load (a console error) fails the test that caused it.
    errors: list[str] = []
    shown.on("pageerror", lambda error: errors.append(str(error)))
    shown.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    shown.goto(f"{served.url}/")
    try:
        yield shown
    finally:
        context.close()
    assert errors == []


@pytest.fixture
def till(served: Served) -> Iterator[SettlementClient]:
    with SettlementClient.from_profile("mock", url=served.url, polling=FAST_POLLING) as client:
        yield client


def expect(target: Any) -> Any:
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(target)


def row(page: Page, table: str, text: str) -> Any:
    return page.locator(f"#{table} tbody tr", has_text=text)


def test_the_page_shows_the_demo_family_masked_and_no_fault(page: Page, served: Served) -> None:
    people = served.mock.centre.dataset.people
    expect(page.locator("#people tbody tr")).to_have_count(len(people))
    for number in people:
        expect(page.locator("#people")).to_contain_text(number.masked)
    expect(row(page, "people", "210202********0036")).to_contain_text(
        served.mock.balance(SON).to_yuan()
    )
    expect(page.locator("#bindings")).to_contain_text("210202********0046")
    expect(page.locator("#check")).to_have_text("账本平衡 Ledger sound")
    expect(page.locator("#faults tbody")).to_have_text("无 none")
    expect(page.locator("#switches input[type=checkbox]")).not_to_have_count(0)
    expect(page.locator("#switches input:checked")).to_have_count(0)
    html = page.content()
    for number in people:
        assert number.number not in html
    assert "PRIVATE KEY" not in html and "tif-secret" not in html


def test_a_settlement_made_through_the_api_appears_on_the_page(
    page: Page, served: Served, till: SettlementClient
) -> None:
    expect(page.locator("#ledger tbody")).to_have_text("无 none")
    receipt = till.settle(purchase(MOTHER), key="BROWSER-0001", cash=Cash.wechat(WECHAT_PAID))
    # Auto-refresh brings it in; expect waits for it.
    expect(page.locator("#ledger tbody")).to_contain_text(receipt.settlement_id)
    expect(row(page, "requests", "2102")).to_contain_text("answered")
    expect(row(page, "requests", "/v3/pay/transactions/codepay")).to_contain_text("answered")
    son, sister = served.mock.balance(SON), served.mock.balance(SISTER)
    assert son < Fen(500_000)
    expect(row(page, "people", "210202********0036")).to_contain_text(son.to_yuan())
    expect(row(page, "people", "210502********0422")).to_contain_text(sister.to_yuan())
    # The refresh button reads at once, whatever the auto-refresh does.
    page.uncheck("#auto")
    till.refund(receipt.settlement_id)
    page.click("#refresh")
    expect(row(page, "ledger", "reversal")).to_contain_text(receipt.settlement_id)


def test_a_fault_switched_on_in_the_page_changes_the_next_call_and_off_restores_it(
    page: Page, served: Served, till: SettlementClient
) -> None:
    mock = served.mock
    # A timeout at the centre's 2102, from the form.
    page.select_option("#form-kind", "timeout_before_commit")
    page.select_option("#form-target", "national")
    page.fill("#form-code", "2102")
    page.click("#form-on")
    expect(row(page, "faults", "timeout_before_commit")).to_contain_text("2102")
    assert [(r.kind, r.target, r.code) for r in mock.faults.rules] == [
        ("timeout_before_commit", "national", "2102")
    ]
    with pytest.raises(Unavailable, match="reversed"):
        till.settle(purchase(MOTHER), key="BROWSER-0002", cash=Cash.wechat(WECHAT_PAID))
    # Nothing was charged: the settlement was reversed, no account moved, no cash taken.
    assert (mock.balance(SON), mock.balance(SISTER)) == (Fen(500_000), Fen(3_000))
    assert mock.wechatpay.collected() == Fen(0)
    assert mock.check() == []
    expect(row(page, "requests", "timeout_before_commit")).to_contain_text("no answer")
    expect(row(page, "requests", "2601")).to_contain_text("answered")  # the reversal

    # Off again from its row: the same sale now settles.
    row(page, "faults", "timeout_before_commit").get_by_role("button").click()
    expect(page.locator("#faults tbody")).to_have_text("无 none")
    assert mock.faults.rules == ()
    receipt = till.settle(purchase(MOTHER), key="BROWSER-0002", cash=Cash.wechat(WECHAT_PAID))
    assert mock.wechatpay.collected() == receipt.cash
    assert mock.balance(SON) < Fen(500_000) and mock.check() == []


def test_a_switch_ticked_in_the_page_hits_every_call_of_its_protocol_until_unticked(
    page: Page, served: Served, till: SettlementClient
) -> None:
    mock = served.mock
    switch = page.locator("#switch-error_5xx-national")
    switch.check()
    expect(row(page, "faults", "error_5xx")).to_contain_text("national")
    expect(switch).to_be_checked()
    with pytest.raises(Unavailable):
        till.settle(purchase(MOTHER), key="BROWSER-0003")
    assert mock.centre.ledger.transactions == () and mock.check() == []
    expect(row(page, "requests", "error_5xx").first).to_contain_text("503")

    switch.uncheck()
    expect(page.locator("#faults tbody")).to_have_text("无 none")
    expect(switch).not_to_be_checked()
    receipt = till.settle(purchase(MOTHER), key="BROWSER-0003")
    expect(page.locator("#ledger tbody")).to_contain_text(receipt.settlement_id)


def test_a_missing_browser_skips_here_and_fails_under_ci(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    nowhere = tmp_path / "chromium"
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="no Chromium at"):
        browser_or_skip(nowhere)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true but the dashboard's browser tests"):
        browser_or_skip(nowhere)
    nowhere.write_text("#!/bin/sh\n")  # present but not executable: still missing
    with pytest.raises(pytest.fail.Exception, match="no Chromium at"):
        browser_or_skip(nowhere)
