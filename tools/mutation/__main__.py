"""``make mutate``: mutation testing of the core that decides who pays, with a ratchet.

    python -m tools.mutation                     every module in mutation.toml, then the ratchet
    python -m tools.mutation money planner       only modules whose path contains a word
    python -m tools.mutation --record            raise the recorded figures to today's
    python -m tools.mutation --list money        the mutants, without running them

The modules, the tests and the figures live in ``mutation.toml``; the mutants that
cannot change behaviour in ``mutation-equivalent.toml``, each with why.
"""

from __future__ import annotations

import argparse
import hashlib
import math
import sys
import time
import tomllib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from tools.mutation.operators import Mutant, find_mutants
from tools.mutation.runner import Coverage, Job, baseline, preload, run_jobs

CONFIG = Path("mutation.toml")


@dataclass
class Config:
    modules: dict[str, float]  # path -> recorded kill rate, in percent
    tests: list[str]
    workers: int
    equivalents: dict[str, str]  # mutant key -> why it cannot change behaviour
    equivalents_path: Path
    warm_up: list[str]
    digest: str  # of what the figures were recorded against


def load_config(path: Path = CONFIG) -> Config:
    table = tomllib.loads(path.read_text(encoding="utf-8"))["mutation"]
    equivalents_path = Path(table["equivalents"])
    listed = tomllib.loads(equivalents_path.read_text(encoding="utf-8")).get("equivalent", [])
    return Config(
        modules={str(k): float(v) for k, v in table["modules"].items()},
        tests=list(table["tests"]),
        workers=int(table["workers"]),
        equivalents={entry["mutant"]: entry["why"] for entry in listed},
        equivalents_path=equivalents_path,
        warm_up=list(table.get("warm_up", [])),
        digest=str(table.get("digest", "")),
    )


def module_name(path: Path) -> str:
    """``sdk/gongji/rules/chain.py`` -> ``gongji.rules.chain``: up through the packages."""
    parts = [] if path.name == "__init__.py" else [path.stem]
    folder = path.parent
    while (folder / "__init__.py").exists():
        parts.insert(0, folder.name)
        folder = folder.parent
    return ".".join(parts)


@dataclass
class Tally:
    total: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    survivors: list[Mutant] = field(default_factory=list)
    #: Survivors that never met a test: "no test reaches it", or "error" (pytest failed to start).
    untested: dict[str, str] = field(default_factory=dict)
    keys: set[str] = field(default_factory=set)  # of every mutant of the module

    @property
    def score(self) -> float:
        """Killed share of the mutants not listed as equivalent, in percent, rounded down."""
        counted = self.total - self.outcomes["equivalent"]
        killed = self.outcomes["killed"] + self.outcomes["timeout"]
        return 100.0 if counted == 0 else math.floor(1000 * killed / counted) / 10


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.mutation", description=__doc__)
    parser.add_argument("only", nargs="*", help="run only modules whose path contains one of these")
    parser.add_argument("--record", action="store_true", help="raise the recorded kill rates")
    parser.add_argument("--list", action="store_true", help="list the mutants; run nothing")
    parser.add_argument(
        "--if-changed",
        action="store_true",
        help="run only if the modules, the tests or the tool changed since the last --record",
    )
    args = parser.parse_args(argv)
    config = load_config()
    if args.if_changed and config.digest == digest(config):
        print(f"Mutation figures of {CONFIG} are current (nothing they cover changed).")
        return 0
    paths = [p for p in config.modules if not args.only or any(w in p for w in args.only)]
    if not paths:
        print(f"No module of {CONFIG} matches {args.only}.", file=sys.stderr)
        return 2
    mutants = {
        path: find_mutants(module_name(Path(path)), Path(path).read_bytes()) for path in paths
    }
    if args.list:
        for path in paths:
            for mutant in mutants[path]:
                print(f"{path}:{mutant.line}: [{mutant.operator}] {mutant.key}")
        return 0

    started = time.monotonic()
    code, coverage = baseline(paths, config.tests)
    if code != 0:
        print(f"The fast tests fail without any mutant (pytest exit {code}); fix them first.")
        return 2
    preload(coverage.modules, config.warm_up)
    tallies = _run(paths, mutants, coverage, config)
    _report(tallies, config)
    print(
        f"{sum(t.total for t in tallies.values())} mutants in {time.monotonic() - started:.0f} s."
    )
    below = _ratchet(tallies, config)
    if args.record and not below:
        if len(tallies) < len(config.modules):
            print("Record after a run over every module (no module names).", file=sys.stderr)
            return 2
        _record(tallies, config)
    return below


def digest(config: Config) -> str:
    """What the figures depend on: the modules, the fast tests and their helpers, the
    equivalents and this tool. ``make test`` re-runs the mutants only when it changes.

    Computed from paths relative to the checkout and from text with LF line ends, so a
    fresh clone, wherever it lies and however git wrote its line ends, gets the digest
    that was recorded.
    """
    root = Path(__file__).resolve().parents[2]
    tool = sorted(p.relative_to(root).as_posix() for p in Path(__file__).parent.glob("*.py"))
    files = [
        *config.modules,
        *config.tests,
        "tests/conftest.py",
        config.equivalents_path.as_posix(),
        *tool,
    ]
    sha = hashlib.sha256()
    for name in files:
        text = (root / name).read_bytes().replace(b"\r\n", b"\n")
        sha.update(name.encode() + b"\0" + text + b"\0")
    return sha.hexdigest()[:16]


def _run(
    paths: list[str], mutants: dict[str, list[Mutant]], coverage: Coverage, config: Config
) -> dict[str, Tally]:
    tallies = {
        path: Tally(total=len(mutants[path]), keys={m.key for m in mutants[path]}) for path in paths
    }
    jobs: list[Job] = []
    by_key: dict[str, tuple[str, Mutant]] = {}
    for path in paths:
        source = Path(path).read_bytes()
        resolved = str(Path(path).resolve())
        for mutant in mutants[path]:
            if mutant.key in config.equivalents:
                tallies[path].outcomes["equivalent"] += 1
                continue
            reached = coverage.tests_for(resolved, *mutant.reach)
            if mutant.at_import:
                reached.add(None)
            if not reached:
                tallies[path].outcomes["not reached"] += 1
                tallies[path].survivors.append(mutant)
                tallies[path].untested[mutant.key] = "no test reaches it"
                continue
            # A line run at import (a table, a default, a decorator) is read by any test.
            chosen = set(coverage.durations) if None in reached else {t for t in reached if t}
            # Quickest first: with -x a killed mutant stops at its first failing test.
            tests = tuple(sorted(chosen, key=lambda t: (coverage.durations.get(t, 0.0), t)))
            budget = sum(coverage.durations.get(t, 0.0) for t in tests)
            by_key[mutant.key] = (path, mutant)
            jobs.append(
                Job(
                    key=mutant.key,
                    module=mutant.module,
                    path=resolved,
                    source=mutant.apply(source),
                    tests=tests,
                    timeout=10 * budget + 10,
                )
            )

    done = 0

    def on_done(job: Job, outcome: str) -> None:
        nonlocal done
        done += 1
        path, mutant = by_key[job.key]
        tallies[path].outcomes[outcome] += 1
        if outcome in ("survived", "error"):
            tallies[path].survivors.append(mutant)
        if outcome == "error":  # pytest could not run the tests: a fault of this tool
            tallies[path].untested[mutant.key] = "error: pytest did not run the tests"
        if done % 50 == 0:
            print(f"  {done}/{len(jobs)} mutants run", flush=True)

    run_jobs(jobs, config.workers, on_done)
    return tallies


def _report(tallies: dict[str, Tally], config: Config) -> None:
    for path, tally in tallies.items():
        for mutant in tally.survivors:
            why = tally.untested.get(mutant.key, mutant.operator)
            print(f"SURVIVED {path}:{mutant.line} [{why}]\n    {mutant.key}")
    print(
        f"\n{'module':<34} {'mutants':>7} {'killed':>6} {'equiv':>5} {'alive':>5} {'score':>6} {'floor':>6}"
    )
    for path, tally in tallies.items():
        killed = tally.outcomes["killed"] + tally.outcomes["timeout"]
        print(
            f"{path:<34} {tally.total:>7} {killed:>6} {tally.outcomes['equivalent']:>5} "
            f"{len(tally.survivors):>5} {tally.score:>5.1f}% {config.modules[path]:>5.1f}%"
        )
    stale = set(config.equivalents) - {key for t in tallies.values() for key in t.keys}
    if stale and len(tallies) == len(config.modules):
        print(f"\n{len(stale)} entries of {config.equivalents_path} match no mutant any more:")
        for key in sorted(stale):
            print(f"    {key}")


def _ratchet(tallies: dict[str, Tally], config: Config) -> int:
    below = {p: t for p, t in tallies.items() if t.score < config.modules[p]}
    for path, tally in below.items():
        print(
            f"RATCHET: {path} kills {tally.score:.1f}% of its mutants, below the recorded "
            f"{config.modules[path]:.1f}%. Kill the survivors above with a test named after "
            f"the rule or edge it proves, or list a true equivalent in {config.equivalents_path}."
        )
    return 1 if below else 0


def _record(tallies: dict[str, Tally], config: Config) -> None:
    text = CONFIG.read_text(encoding="utf-8")
    for path, tally in tallies.items():
        old = config.modules[path]
        if tally.score > old:
            line = f'"{path}" = {old:.1f}'
            if line not in text:
                raise SystemExit(f"Cannot find the line {line!r} in {CONFIG} to raise it.")
            text = text.replace(line, f'"{path}" = {tally.score:.1f}')
            print(f"Recorded {path}: {old:.1f}% -> {tally.score:.1f}%")
    old_digest = f'digest = "{config.digest}"'
    if old_digest not in text:
        raise SystemExit(f"Cannot find the line {old_digest!r} in {CONFIG}.")
    CONFIG.write_text(text.replace(old_digest, f'digest = "{digest(config)}"'), encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
