"""Start-up of the ``gongji`` command, as a POS shell script pays it: whole processes.

Four commands run interleaved in rounds, each a fresh interpreter:
``python -c "import httpx"`` (the floor: gongji cannot start before its HTTP client),
``python -c "import gongji"``, ``gongji --help`` and
``gongji --json preview examples/purchase.toml`` (the mock profile: a rehearsal in
process). Each figure is the median wall time over the rounds, and each ratio the
median of the per-round ratios to the floor, so a noisy neighbour moves it little.

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


def seconds(argv: list[str]) -> float:  # float-ok: seconds, not money
    started = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, cwd=ROOT, env=ENV)  # noqa: S603 - our own argv
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    rounds = parser.parse_args().rounds
    for argv, _ in COMMANDS.values():  # warm the bytecode caches and the page cache
        seconds(argv)
    times: dict[str, list[float]] = {name: [] for name in COMMANDS}  # float-ok: seconds
    for _ in range(rounds):
        for name, (argv, _) in COMMANDS.items():
            times[name].append(seconds(argv))
    floor = times[FLOOR]
    missed = []
    print(f"start-up, median of {rounds} whole processes each, interleaved:")
    for name, (_, target) in COMMANDS.items():
        ratio = statistics.median(t / f for t, f in zip(times[name], floor, strict=True))
        verdict = ""
        if target is not None:
            ok = ratio <= target
            verdict = f"  target <= {target:.1f}x: {'ok' if ok else 'MISSED'}"
            if not ok:
                missed.append(name)
        print(
            f"  {name:<30} {statistics.median(times[name]) * 1000:7.1f} ms  {ratio:5.2f}x{verdict}"
        )
    if missed:
        print(f"missed: {', '.join(missed)}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
