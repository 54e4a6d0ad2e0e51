"""Every example runs, as an integrator would run it: scripts with python, an
integrator's test suite (``examples/test_*.py``) with pytest."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from gongji_mock import MockGateway
from gongji_mock.server.asgi import bind, make_server

EXAMPLES_DIR = Path(__file__).resolve().parent.parent / "examples"
EVERY_EXAMPLE = sorted(EXAMPLES_DIR.glob("*.py"))
# examples/test_*.py are test suites: run by pytest, never as scripts.
SUITES = [p for p in EVERY_EXAMPLE if p.name.startswith("test_")]
EXAMPLES = [p for p in EVERY_EXAMPLE if p not in SUITES]


def test_there_are_examples() -> None:
    assert EXAMPLES
    assert SUITES


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_example_runs(example: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(example)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip()


@pytest.mark.parametrize("suite", SUITES, ids=lambda p: p.name)
def test_example_test_suite_passes(suite: Path) -> None:
    """The integrator's suite uses gongji's pytest plugin, found through its entry point."""
    result = subprocess.run(
        [sys.executable, "-m", "pytest", str(suite), "-q", "-p", "no:cacheprovider"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=suite.parent,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    summary = re.search(r"(\d+) passed", result.stdout)
    assert summary is not None, result.stdout
    assert int(summary.group(1)) > 0


def test_the_pharmacy_till_runs_against_a_served_mock() -> None:
    mock = MockGateway.demo()
    server = make_server(mock, bind("127.0.0.1", 0))  # listening before the thread starts
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        result = subprocess.run(
            [sys.executable, str(EXAMPLES_DIR / "pharmacy_pos.py"), "--mock-url", server.url],
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        server.stop()
        thread.join(timeout=10)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("settled ¥") == 3
    assert mock.check() == []
    assert mock.centre.ledger.transactions  # the sales reached this mock, over HTTP
