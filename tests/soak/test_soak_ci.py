"""DESIGN.md's invariants 1-4 through the soak at CI size: 2,000 operations of 3 till
processes against a served mock with every fault kind switched on in turn, tills killed
(SIGKILL) at planned checkpoints and recovered by fresh processes (bench/soak.py).

The seed is fixed, so the plan, the fault schedule and the crash points are the same on
every run; the test also fails when the run did not exercise what it claims to (every
fault kind, a crash and a recovery, refunds, mutual aid), not only on a violation."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from gongji_mock.faults import CALLBACK_KINDS, REQUEST_KINDS, FaultKind

ROOT = Path(__file__).resolve().parents[2]
SEED = 20261123
OPERATIONS = 2_000


def test_invariants_hold_through_2000_operations_with_faults_and_crashes(tmp_path: Path) -> None:
    command = [
        sys.executable,
        str(ROOT / "bench" / "soak.py"),
        *("--ops", str(OPERATIONS), "--tills", "3", "--seed", str(SEED), "--json"),
        *("--workdir", str(tmp_path)),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=900, cwd=ROOT)
    assert done.stdout, done.stderr[-3000:]
    report = json.loads(done.stdout.splitlines()[-1])
    assert report["violations"] == [], (report["violations"][:20], report["replay"])
    assert done.returncode == 0, done.stderr[-3000:]
    # The run did what it claims: every operation ran, every fault kind was on, the
    # request and callback faults were injected, tills died and were recovered.
    assert report["executed"] == OPERATIONS
    assert set(report["faults_switched_on"]) == {kind.value for kind in FaultKind}
    injected = {kind for kind, count in report["faults_injected"].items() if count > 0}
    assert injected >= {kind.value for kind in REQUEST_KINDS | CALLBACK_KINDS}
    assert report["crashes"] >= 1
    assert report["restarts"] == report["crashes"]  # every killed till came back
    assert report["recoveries_started"] == report["crashes"]  # and recovered first
    assert report["recovered_entries"] >= 1
    assert report["operations"]["settle"].get("settled", 0) > OPERATIONS // 4
    assert report["operations"]["refund"].get("refunded", 0) > 0
    assert report["operations"]["cancel"].get("cancelled", 0) > 0
    assert report["operations"]["impersonate"].get("refused_r1", 0) > 0
    assert report["legs"].get("mutual_aid", 0) > 0
    assert report["legs"].get("own_account", 0) > 0
