"""DESIGN invariant 4, swept end to end: a representative day at a till (sales on own
accounts and mutual aid through WeChat Pay and Alipay, e-vouchers, a fault reversed, a
decline, an R1 refusal, a sale left in doubt and recovered, refund, cancel, callbacks,
reconciliation, the CLI's journal and reconcile commands), with every logger at DEBUG.
Everything that came out (log records, exceptions, reprs and strs of the public
objects, every column of every journal row read raw with sqlite3, the CLI's output) is
searched for the private keys' PEM bodies, the APIv3 key, the TIF secret, the journal
key, the e-voucher tokens, the payment codes and the full ID numbers used."""

from __future__ import annotations

import base64
import logging
import sqlite3
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gongji import (
    Cash,
    Credential,
    GongjiError,
    OutcomeUnknown,
    Purchase,
    SettlementClient,
)
from gongji.cli import main
from gongji.config import client_arguments
from gongji.identity import mask_id
from gongji.journal import SqliteJournal
from gongji_mock import MockGateway
from gongji_mock.gateway import DEFAULT_TIF_SECRET
from gongji_mock.testkeys import MockKeys
from tests.client.conftest import (
    ALIPAY_PAID,
    ALIPAY_POOR,
    DAUGHTER,
    FAST_POLLING,
    FATHER,
    GRANDMOTHER,
    MOTHER,
    SISTER,
    SON,
    WECHAT_PAID,
    WECHAT_POOR,
    WIFE,
    drug,
    purchase,
)
from tests.test_cli_journal import SECRET_ENV, config

PEOPLE = (SON, MOTHER, FATHER, DAUGHTER, SISTER, GRANDMOTHER, WIFE)
LOGGERS = ("", "gongji", "gongji_mock", "httpx", "httpcore")


class Corpus:
    """Everything the day let out, as text."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    def add(self, *things: object) -> None:
        for thing in things:
            self.texts.extend((repr(thing), str(thing)))

    def error(self, error: BaseException) -> None:
        while error is not None:
            self.add(error)
            self.texts.append(str(getattr(error, "next_step", "")))
            error = error.__cause__ or error.__context__  # type: ignore[assignment]

    def text(self) -> str:
        return "\n".join(self.texts)


def pem_body_lines(pem: str) -> list[str]:
    return [line for line in pem.strip().splitlines() if line and not line.startswith("-----")]


def journal_rows(path: Path) -> Iterator[str]:
    """Every value of every row of every table, raw, as text (bytes both ways)."""
    with sqlite3.connect(path) as db:
        tables = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            for row in db.execute(f'SELECT * FROM "{table}"'):  # noqa: S608 - names from sqlite_master
                for value in row:
                    if isinstance(value, bytes):
                        yield value.decode("utf-8", "replace")
                        yield value.hex()
                        yield base64.b64encode(value).decode()
                    else:
                        yield str(value)


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name or None)
    return caplog


def test_a_representative_day_lets_out_no_secret_and_no_full_id_number(
    tmp_path: Path,
    debug_logs: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(SECRET_ENV, DEFAULT_TIF_SECRET)
    corpus = Corpus()
    mock = MockGateway.demo()
    path = tmp_path / "journal.sqlite3"
    journal = SqliteJournal(path)
    arguments = client_arguments("mock", mock=mock)
    corpus.add(arguments, *arguments.values(), *arguments["channels"].values())
    client = SettlementClient(**(arguments | {"journal": journal, "polling": FAST_POLLING}))
    corpus.add(client, client.setup, client.setup.gateway, mock, journal, mock.keys)
    tokens = [mock.issue_e_voucher(MOTHER), mock.issue_e_voucher(WIFE), "demo-token-zhangwei"]
    codes = [WECHAT_PAID, WECHAT_POOR, ALIPAY_PAID, ALIPAY_POOR]

    def sale(buy: Purchase, key: str, cash: Cash) -> Any:
        corpus.add(buy, buy.credential, cash, *buy.items)
        corpus.add(client.preview(buy))
        receipt = client.settle(buy, key=key, cash=cash)
        corpus.add(receipt, *receipt.legs, *receipt.refusals, *receipt.divergence)
        return receipt

    def refused(call: Any, *args: Any, **kwargs: Any) -> None:
        try:
            call(*args, **kwargs)
        except GongjiError as error:
            corpus.error(error)
        else:  # pragma: no cover - every call here is one that must fail
            raise AssertionError(f"{call.__name__} did not fail")

    # Own account and WeChat Pay; mutual aid and Alipay; an e-voucher, mutual aid, WeChat Pay.
    own = sale(purchase(WIFE, drug(90_000, coverage="C")), "SWEEP-1", Cash.wechat(WECHAT_PAID))
    aid = sale(purchase(MOTHER), "SWEEP-2", Cash.alipay(ALIPAY_PAID))
    voucher = Purchase(credential=Credential.e_voucher(tokens[0]), items=[drug(9_000)])
    sale(voucher, "SWEEP-3", Cash.wechat(WECHAT_PAID))
    fixed = Purchase(credential=Credential.e_voucher(tokens[2]), items=[drug(9_000)])
    sale(fixed, "SWEEP-4", Cash.counter())
    # A proxy purchase with the daughter's social card, by her father.
    card = mock.social_card(DAUGHTER)
    sale(Purchase(credential=card, agent_id=SON, items=[drug(2_000)]), "SWEEP-5", Cash.counter())
    # A fault: the centre's answer lost, the settlement reversed.
    mock.faults.add("drop_after_commit", target="national", code="2102", times=1)
    refused(client.settle, purchase(WIFE, drug(5_000)), key="SWEEP-6", cash=Cash.counter())
    # Declined by the channel; refused by R1 (with the son's e-voucher); a forged token.
    refused(
        client.settle,
        purchase(WIFE, drug(90_000, coverage="C")),
        key="SWEEP-7",
        cash=Cash.wechat(WECHAT_POOR),
    )
    refused(client.settle, purchase(MOTHER), key="SWEEP-8", cash=Cash.alipay(ALIPAY_POOR))
    stolen = Purchase(
        credential=Credential.e_voucher(tokens[1]), patient_id=MOTHER, items=[drug(900)]
    )
    refused(client.settle, stolen, key="SWEEP-9", cash=Cash.counter())
    refused(
        client.preview,
        Purchase(credential=Credential.e_voucher("ev-not-a-token"), items=[drug(900)]),
    )
    # Left in doubt, then recovered.
    mock.faults.add("drop_after_commit", target="national", code="2102", times=1)
    mock.faults.add("timeout_before_commit", target="national", code="2601", times=3)
    try:
        client.settle(purchase(SON, drug(3_000)), key="SWEEP-10", cash=Cash.counter())
    except OutcomeUnknown as error:
        corpus.error(error)
    else:  # pragma: no cover
        raise AssertionError("the sale was not left in doubt")
    corpus.add(*client.recover())
    # Undo; callbacks; the day's reconciliation.
    corpus.add(client.refund(own.settlement_id), client.cancel(aid.settlement_id))
    for callback in mock.wechatpay.notifications:
        corpus.add(
            callback,
            client.setup.channel("wechatpay").notification(callback.headers, callback.body),
        )
    for notice in mock.alipay.notifications:
        corpus.add(notice, client.setup.channel("alipay").notification({}, notice.body))
    today = mock.centre.clock().date()
    corpus.add(client.reconcile(today))
    corpus.add(*journal.entries())
    refused(Credential.id_card, SON[:-1] + "0")
    refused(Cash.wechat, WECHAT_PAID[:-1])
    client.close()
    # The CLI on the same journal.
    capsys.readouterr()
    options = {
        "journal": SqliteJournal(path),
        "transport": mock.transport(),
        "polling": FAST_POLLING,
    }
    profile = ["--config", str(config(tmp_path)), "--profile", "till"]
    for command in (
        ["journal", "list"],
        ["journal", "list", "--json"],
        ["journal", "show", "SWEEP-2"],
        ["journal", "show", "SWEEP-5", "--json"],
        ["reconcile", "--date", today.isoformat()],
        ["reconcile", "--date", today.isoformat(), "--json"],
    ):
        main([*command, *profile], client_options=options)
    out = capsys.readouterr()
    options["journal"].close()
    corpus.texts.extend((out.out, out.err))
    corpus.texts.extend(journal_rows(path))
    for record in debug_logs.records:
        corpus.texts.append(record.getMessage())
        if record.exc_info:
            corpus.texts.append(logging.Formatter().formatException(record.exc_info))
        if record.exc_text:
            corpus.texts.append(record.exc_text)
    text = corpus.text()

    # The sweep saw the day: output of every kind, with the masked forms in it.
    assert debug_logs.records and out.out and len(list(journal_rows(path))) > 50
    assert mask_id(MOTHER) in text and mask_id(SON) in text
    assert mask_id(SON) in out.out and "SWEEP-2" in out.out
    assert "<hidden>" in text

    keys = MockKeys.of_this_process()
    secrets = {
        "the TIF secret": DEFAULT_TIF_SECRET,
        "the APIv3 key": keys.wechatpay_apiv3,
        "the journal key": journal.key_file.read_text(encoding="utf-8").strip(),
        "the social card's serial number": "D21020012345",
    }
    for name in ("wechatpay_platform", "wechatpay_merchant", "alipay_platform", "alipay_app"):
        for n, line in enumerate(pem_body_lines(getattr(keys, name))):
            secrets[f"line {n} of the {name} private key"] = line
    secrets |= {f"e-voucher token {t}": t for t in tokens}
    secrets |= {f"payment code {c}": c for c in codes}
    secrets |= {f"the ID number {mask_id(p)}": p for p in PEOPLE}
    leaked = leaks(text, secrets)
    assert leaked == [], f"found in the day's output: {', '.join(leaked)}"


def leaks(text: str, secrets: dict[str, str]) -> list[str]:
    """The names of the secrets found in ``text``, as they are or URL-encoded."""
    forms = {
        name: {value, urllib.parse.quote(value, safe=""), urllib.parse.quote_plus(value)}
        for name, value in secrets.items()
    }
    return sorted(name for name, values in forms.items() if any(v in text for v in values))


def test_the_sweep_finds_a_planted_secret_however_it_is_written() -> None:
    secrets = {"a token": "ev-Ab/c+d", "an ID number": SON}
    assert leaks(f"sold to {mask_id(SON)}", secrets) == []
    assert leaks(f"debug: token=ev-Ab%2Fc%2Bd for {SON}", secrets) == ["a token", "an ID number"]
    line = pem_body_lines(MockKeys.of_this_process().alipay_app)[3]
    assert len(line) == 64 and leaks(f"key={line}", {"a key line": line}) == ["a key line"]
