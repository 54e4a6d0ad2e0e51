"""The ``gongji`` command at exit: every command that signed in at the centre signs out
(9002), also when the centre refused what it asked; a command that sent nothing signs
nothing out. Through the real entry point against a mock served over HTTP."""

from __future__ import annotations

from pathlib import Path

from gongji_mock import MockGateway
from tests import test_cli_journal
from tests.client.conftest import MOTHER
from tests.test_cli_journal import Served, config, run

served = test_cli_journal.served  # the fixture: the demo mock served over HTTP

NOT_INSURED = "110101199003070011"  # a valid ID number the demo centre does not know
ITEM = "X01:感冒灵颗粒:12.50:2"


def national_codes(mock: MockGateway) -> list[str]:
    """The national messages the mock answered, oldest first."""
    records = reversed(mock.recent.records())
    return [record.code for record in records if record.target == "national"]


def test_a_sale_through_the_command_signs_in_and_out(served: Served) -> None:
    result = run(
        *("settle", "--mock-url", served.url, "--id-card", MOTHER, "--item", ITEM),
        *("--key", "CLI-SIGN-0001", "--counter"),
    )
    assert result.returncode == 0, result.stderr
    codes = national_codes(served.mock)
    assert codes[0] == "9001" and codes[-1] == "9002" and codes.count("9002") == 1
    assert len(served.mock.national.records.sign_ins) == 0


def test_a_command_the_centre_refused_still_signs_out(served: Served) -> None:
    result = run("preview", "--mock-url", served.url, "--id-card", NOT_INSURED, "--item", ITEM)
    assert result.returncode != 0
    assert national_codes(served.mock) == ["9001", "1101", "9002"]


def test_a_configured_till_signs_out_after_reconciling(served: Served, tmp_path: Path) -> None:
    path = config(tmp_path, served.url)
    common = ("--config", str(path), "--profile", "till")
    result = run("reconcile", "--date", served.day, *common)
    assert result.returncode == 0, result.stderr
    codes = national_codes(served.mock)
    assert codes[0] == "9001" and codes[-1] == "9002"


def test_a_command_that_sent_nothing_signs_nothing_out(served: Served, tmp_path: Path) -> None:
    path = config(tmp_path, served.url)
    result = run("journal", "list", "--config", str(path), "--profile", "till")
    assert result.returncode == 0, result.stderr
    assert national_codes(served.mock) == []
