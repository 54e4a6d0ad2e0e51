"""The sample adapter plugin (examples/write_an_adapter) works as a third party's would:
built and installed as its own distribution, found by gongji through its entry point
alone, and passing gongji's contract suite for payment channels.

It is installed with pip into a throwaway directory (no venv, no index: hatchling comes
with the dev extra) and used from a fresh interpreter with only that directory added to
its path, so nothing here imports it from the source tree.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest

from gongji.contract import PaymentChannelContract

SAMPLE = Path(__file__).resolve().parent.parent / "examples" / "write_an_adapter"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if importlib.util.find_spec("hatchling") is None:
        pytest.fail("Building the sample needs hatchling: pip install -e '.[dev]' brings it.")
    target = tmp_path_factory.mktemp("site")
    built = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--disable-pip-version-check",
            "--target",
            str(target),
            str(SAMPLE),
        ],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert built.returncode == 0, built.stderr[-3000:]
    assert list(target.glob("gongji_campuscard-*.dist-info/entry_points.txt"))
    return target


def run(site: Path, *arguments: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "PYTHONPATH": str(site)}
    environment.pop("GONGJI_DISABLE_PLUGINS", None)
    return subprocess.run(
        [sys.executable, *arguments],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_installed_sample_adapter_passes_the_payment_channel_contract(
    site: Path, tmp_path: Path
) -> None:
    report = tmp_path / "report.xml"
    result = run(
        site,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        f"--junitxml={report}",
        str(SAMPLE / "tests"),
        cwd=tmp_path,  # not the source tree: the package must come from its installation
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    passed = {
        (case.get("classname", "").rsplit(".", 1)[-1], case.get("name", ""))
        for case in ElementTree.parse(report).iter("testcase")  # noqa: S314 - written by our pytest
        if not any(child.tag in ("failure", "error", "skipped") for child in case)
    }
    contract = {name for name in dir(PaymentChannelContract) if name.startswith("test_")}
    assert contract, "the contract suite has no tests"
    assert {("TestCampusCardChannel", name) for name in contract} <= passed
    assert (
        "test_campuscard",
        "test_the_plugin_registers_the_channel_through_its_entry_point",
    ) in passed


def test_gongji_plugins_lists_the_installed_sample_adapter(site: Path, tmp_path: Path) -> None:
    result = run(
        site,
        "-c",
        "from gongji.cli import main; raise SystemExit(main())",
        "--json",
        "plugins",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    sample = rows["campuscard"]
    assert sample["from"] == "gongji-campuscard"
    assert [(a["name"], a["kind"]) for a in sample["adapters"]] == [("campuscard", "channel")]
