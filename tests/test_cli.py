"""The gongji command through its real entry point."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import OWNER, PATIENT

GONGJI = shutil.which("gongji", path=str(Path(sys.executable).parent)) or "gongji"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([GONGJI, *args], capture_output=True, text=True, timeout=60)


def test_demo_runs_every_story_as_scripted() -> None:
    result = run("--json", "demo")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["ok"] and len(report["stories"]) >= 6
    impersonation = [s for s in report["stories"] if "impersonation" in s["story"]]
    assert impersonation[0]["refused"]["rule"] == "R1"


def test_demo_output_never_shows_a_full_id_number() -> None:
    from gongji.demo import zhang_family

    people, _, _ = zhang_family()
    for args in (("demo",), ("--json", "demo")):
        out = run(*args)
        for number in [*people, OWNER, PATIENT]:
            assert str.__str__(number) not in out.stdout + out.stderr


def test_policy_show_prints_the_resolved_pack() -> None:
    result = run("policy", "show", "liaoning-dalian-2025")
    assert result.returncode == 0
    pack = json.loads(result.stdout)
    assert pack["premium"]["adult"] == "380.00" and pack["plausibility"]["marriage_age_male"] == 22


def test_unknown_pack_is_one_line_error_and_non_zero_exit() -> None:
    result = run("policy", "show", "nowhere-1999")
    assert result.returncode == 1
    assert (
        result.stderr.count("\n") == 1
        and "config_error" in result.stderr
        and "national-2024" in result.stderr
    )


def test_missing_pack_file_is_one_line_error(tmp_path: Path) -> None:
    result = run("policy", "show", str(tmp_path / "missing.toml"))
    assert (
        result.returncode == 1
        and result.stderr.count("\n") == 1
        and "cannot be read" in result.stderr
    )


def test_plugins_lists_the_builtin_rules() -> None:
    result = run("--json", "plugins")
    names = {row["name"] for row in json.loads(result.stdout)}
    assert {f"gongji.rules.R{n}" for n in range(1, 10)} <= names


def test_plugins_lists_each_adapter_with_its_plugin_and_capabilities() -> None:
    rows = json.loads(run("--json", "plugins").stdout)
    adapters = {a["name"]: (row["name"], a) for row in rows for a in row["adapters"]}
    plugin, cityins = adapters["cityins"]
    assert plugin == "cityins" and cityins["kind"] == "insurance"
    assert {"person_info", "settle", "reverse"} <= set(cityins["capabilities"])


def test_mock_serve_help_documents_callback_delivery() -> None:
    result = run("mock", "serve", "--help")
    assert result.returncode == 0
    text = " ".join(result.stdout.split())
    assert "--notify-url URL" in text
    assert "notify_url" in text and "retried" in text and "/gongji-admin/callbacks" in text
