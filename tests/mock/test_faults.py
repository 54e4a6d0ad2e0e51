"""Faults on request: each kind does what it says, deterministically, and the ledger stays sound."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from gongji import ConfigError
from gongji.signing.tif import TifSigner
from gongji_mock import MockGateway
from gongji_mock.centre.dataset import demo_dataset
from gongji_mock.faults import Faults
from gongji_mock.gateway import DEFAULT_PAASID, DEFAULT_TIF_SECRET
from tests.mock.test_national import Clock, Pos, line, settle_input

MOTHER = "210202195809120046"


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def mock(clock: Clock) -> Iterator[MockGateway]:
    mock = MockGateway(demo_dataset(), clock=clock, extensions=True)  # raw extension dialect
    yield mock
    assert mock.check() == []


@pytest.fixture
def pos(mock: MockGateway, clock: Clock) -> Iterator[Pos]:
    signer = TifSigner(DEFAULT_PAASID, DEFAULT_TIF_SECRET, clock=lambda: clock.now.timestamp())
    with httpx.Client(transport=mock.transport(), base_url="http://mock.test") as client:
        pos = Pos(client, signer)
        pos.sign_in()
        yield pos


def settle_body(pos: Pos, msgid: str) -> dict[str, object]:
    return pos.envelope("2102", settle_input(pos.psn_no(MOTHER), MOTHER, line("50.00")), msgid)


def test_timeout_before_commit_charges_nothing(pos: Pos, mock: MockGateway) -> None:
    mock.faults.add("timeout_before_commit", target="national", code="2102", times=1)
    with pytest.raises(httpx.ReadTimeout):
        pos.post(settle_body(pos, pos.msgid()))
    assert mock.centre.ledger.transactions == ()
    assert mock.faults.injected["timeout_before_commit"] == 1


def test_drop_after_commit_charges_once_and_the_same_msgid_tells_what_happened(
    pos: Pos, mock: MockGateway
) -> None:
    mock.faults.add("drop_after_commit", target="national", code="2102", times=1)
    msgid = pos.msgid()
    with pytest.raises(httpx.ReadTimeout):
        pos.post(settle_body(pos, msgid))
    assert len(mock.centre.ledger.transactions) == 1  # it did go through
    again = pos.post(settle_body(pos, msgid)).json()  # asking again with the same msgid is safe
    assert again["infcode"] == 0
    assert len(mock.centre.ledger.transactions) == 1


def test_error_5xx_processes_nothing(pos: Pos, mock: MockGateway) -> None:
    body = settle_body(pos, pos.msgid())
    mock.faults.add("error_5xx", target="national", times=1)
    response = pos.post(body)
    assert response.status_code == 503
    assert mock.centre.ledger.transactions == ()


def test_a_fault_for_one_code_leaves_other_codes_alone(pos: Pos, mock: MockGateway) -> None:
    mock.faults.add("error_5xx", target="national", code="2102")
    assert pos.psn_no(MOTHER)  # 1101 unaffected
    assert pos.post(settle_body(pos, pos.msgid())).status_code == 503


def test_clock_skew_moves_the_centres_clock_out_of_the_tif_window(
    pos: Pos, mock: MockGateway
) -> None:
    body = settle_body(pos, pos.msgid())
    mock.faults.add("clock_skew", skew_seconds=400)
    response = pos.post(body)
    assert response.status_code == 401
    mock.faults.clear()
    assert pos.post(settle_body(pos, pos.msgid())).json()["infcode"] == 0


def test_bad_signature_spoils_the_wechat_signature_header() -> None:
    mock = MockGateway.demo()
    mock.mount(
        "/signed/",
        lambda _: httpx.Response(200, headers={"Wechatpay-Signature": "QUJD"}, json={"ok": 1}),
    )
    mock.faults.add("bad_signature", times=1)
    with httpx.Client(transport=mock.transport(), base_url="http://mock.test") as client:
        spoiled = client.get("/signed/x")
        clean = client.get("/signed/x")
    assert spoiled.headers["Wechatpay-Signature"] != "QUJD"
    assert spoiled.json() == {"ok": 1}
    assert clean.headers["Wechatpay-Signature"] == "QUJD"


def test_percent_faults_replay_exactly_from_the_seed() -> None:
    def run(seed: int) -> list[bool]:
        faults = Faults(seed=seed)
        faults.add("error_5xx", percent=30)
        return [bool(faults.decide("national", "2102").kinds) for _ in range(200)]

    assert run(7) == run(7)
    assert run(7) != run(8)
    assert 30 <= sum(run(7)) <= 90  # about 30% of 200


def test_faults_load_from_toml(tmp_path: Path) -> None:
    path = tmp_path / "faults.toml"
    path.write_text(
        'seed = 3\n[[fault]]\nkind = "latency"\nlatency_ms = 5\n[[fault]]\nkind = "drop_after_commit"\ntarget = "national"\ncode = "2102"\ntimes = 2\n',
        encoding="utf-8",
    )
    faults = Faults.load(path)
    assert [rule.kind.value for rule in faults.rules] == ["latency", "drop_after_commit"]
    assert faults.describe()[1]["left"] == 2


@pytest.mark.parametrize(
    "text",
    [
        '[[fault]]\nkind = "meteor"\n',
        '[[fault]]\nkind = "latency"\ntarget = "bank"\n',
        '[[fault]]\nkind = "latency"\npercent = 101\n',
    ],
    ids=["unknown-kind", "unknown-target", "percent-over-100"],
)
def test_bad_faults_file_is_a_config_error(tmp_path: Path, text: str) -> None:
    path = tmp_path / "faults.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError):
        Faults.load(path)


def test_latency_delays_the_answer_without_changing_it(pos: Pos, mock: MockGateway) -> None:
    mock.faults.add("latency", latency_ms=1, times=1)
    assert pos.psn_no(MOTHER)
    assert mock.faults.injected["latency"] == 1


def test_clock_skew_rule_sets_the_skew(clock: Clock) -> None:
    mock = MockGateway(demo_dataset(), clock=clock, extensions=True)  # raw extension dialect
    mock.faults.add("clock_skew", skew_seconds=-90)
    assert mock.centre.clock() == clock.now - datetime.timedelta(seconds=90)
