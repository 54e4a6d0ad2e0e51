"""The centre's rule checks at the CLI (in process, as test_cli_commands.py drives it):
``gongji preview`` and ``gongji settle`` show a finding as a warning under the table and in
``--json``, and a refused sale as the one-line error, with the cashier's sentence."""

from __future__ import annotations

import json

import pytest

from gongji.cli import main
from gongji_mock import MockGateway
from gongji_mock.national.risk import BLOCK, WARN
from tests.client.conftest import SON
from tests.client.test_risk_checks import risky_gateway

ITEM = "XJ01CAA040A001010100445:阿莫西林胶囊:12.50:2"


def gongji(mock: MockGateway, *args: str) -> int:
    return main(list(args), client_options={"mock": mock, "gateway": risky_gateway(mock)})


@pytest.fixture
def mock() -> MockGateway:
    mock = MockGateway.demo()
    mock.national.risk.flag(SON, WARN, content="本月已多次购买同类药品。")
    return mock


def test_preview_shows_the_centres_finding_under_the_quote(
    mock: MockGateway, capsys: pytest.CaptureFixture[str]
) -> None:
    assert gongji(mock, "preview", "--id-card", SON, "--item", ITEM) == 0
    out = capsys.readouterr().out
    assert "3101 warning 提示: The insurance centre's check before settlement (3101)" in out
    assert "本月已多次购买同类药品。" in out and SON not in out


def test_settle_shows_it_on_the_receipt_and_in_json(
    mock: MockGateway, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ("settle", "--id-card", SON, "--item", ITEM, "--key", "CLI-RISK-1", "--counter")
    assert gongji(mock, *args, "--json") == 0
    (warning,) = json.loads(capsys.readouterr().out)["receipt"]["warnings"]
    assert warning["rule"] == "3101" and "本月已多次购买同类药品。" in warning["reason"]


def test_a_refused_sale_is_one_line_with_what_to_do(
    mock: MockGateway, capsys: pytest.CaptureFixture[str]
) -> None:
    mock.national.risk.flag(SON, BLOCK, stage="3102", content="该参保人已被暂停购药。")
    args = ("settle", "--id-card", SON, "--item", ITEM, "--key", "CLI-RISK-2", "--counter")
    assert gongji(mock, *args) != 0
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("gongji: risk_refused: ")
    assert "refuses this sale" in err and "Nothing was charged." in err and "new key" in err
    assert SON not in err
