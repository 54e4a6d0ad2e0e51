"""Start-up of the ``gongji`` command, as a POS shell script pays it: whole processes.

Four commands run interleaved in rounds, each a fresh interpreter:
``python -c "import httpx"`` (the floor: gongji cannot start before its HTTP client),
``python -c "import gongji"``, ``gongji --help`` and
``gongji --json preview examples/purchase.toml`` (the mock profile: a rehearsal in
process). Each figure is the median wall time over the rounds, and each ratio the
median of the per-round ratios to the floor, so a noisy neighbour moves it little.
Beside the wall time, each process's CPU time (user + system, from ``os.wait4``): on a
busy machine the wall time waits for the scheduler, the CPU time does not, so the
verdict is the CPU-time ratio; the wall-time ratio is printed for a quiet machine.

Targets (issue 13): ``gongji --help`` <= 1.5 x the floor, the preview <= 2.5 x.
Exit status 1 on any miss. ``--rounds N`` (default 15).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
#: The installed console script, as a POS runs it (``python -m gongji.cli`` without one).
_SCRIPT = shutil.which("gongji", path=str(Path(PYTHON).parent))
GONGJI = [_SCRIPT] if _SCRIPT else [PYTHON, "-m", "gongji.cli"]
#: As installed on a till: with bytecode caches. Without them (PYTHONDONTWRITEBYTECODE,
#: as some shells and CI set) every process compiles every module again, which is not
#: what a POS pays and would swamp what this measures.
ENV = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
EXAMPLE = str(ROOT / "examples" / "purchase.toml")

#: name -> (argv, target ratio to the floor, or None)
COMMANDS: dict[str, tuple[list[str], float | None]] = {
    "import httpx": ([PYTHON, "-c", "import httpx"], None),
    "import gongji": ([PYTHON, "-c", "import gongji"], None),
    "gongji --help": ([*GONGJI, "--help"], 1.5),
    "gongji --json preview FILE": ([*GONGJI, "--json", "preview", EXAMPLE], 2.5),
}
FLOOR = "import httpx"


def seconds(argv: list[str]) -> tuple[float, float]:  # float-ok: seconds, not money
    """The wall time and the CPU time (user + system) of one whole process."""
    started = time.perf_counter()
    child = subprocess.Popen(argv, stdout=subprocess.DEVNULL, cwd=ROOT, env=ENV)  # noqa: S603 - our own argv
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise subprocess.CalledProcessError(child.returncode, argv)
    return wall, usage.ru_utime + usage.ru_stime


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    rounds = parser.parse_args().rounds
    for argv, _ in COMMANDS.values():  # warm the bytecode caches and the page cache
        seconds(argv)
    wall: dict[str, list[float]] = {name: [] for name in COMMANDS}  # float-ok: seconds
    cpu: dict[str, list[float]] = {name: [] for name in COMMANDS}  # float-ok: seconds
    for _ in range(rounds):
        for name, (argv, _) in COMMANDS.items():
            spent = seconds(argv)
            wall[name].append(spent[0])
            cpu[name].append(spent[1])
    missed = []
    print(f"start-up, median of {rounds} whole processes each, interleaved (verdict on CPU time):")
    print(f"  {'':<30} {'wall':>9} {'ratio':>6}  {'cpu':>9} {'ratio':>6}")
    for name, (_, target) in COMMANDS.items():
        wall_ratio = _ratio(wall[name], wall[FLOOR])
        cpu_ratio = _ratio(cpu[name], cpu[FLOOR])
        verdict = ""
        if target is not None:
            ok = cpu_ratio <= target
            verdict = f"  target <= {target:.1f}x: {'ok' if ok else 'MISSED'}"
            if not ok:
                missed.append(name)
        print(
            f"  {name:<30} {statistics.median(wall[name]) * 1000:6.1f} ms {wall_ratio:5.2f}x"
            f"  {statistics.median(cpu[name]) * 1000:6.1f} ms {cpu_ratio:5.2f}x{verdict}"
        )
    if missed:
        print(f"missed: {', '.join(missed)}")
    return 1 if missed else 0


def _ratio(spent: list[float], floor: list[float]) -> float:  # float-ok: seconds
    """The median of the per-round ratios to the floor."""
    return statistics.median(t / f for t, f in zip(spent, floor, strict=True))


if __name__ == "__main__":
    sys.exit(main())
