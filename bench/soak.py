"""The soak: a seeded, deterministic simulation of tills settling against a misbehaving mock.

    python bench/soak.py [--ops 20000] [--tills 3] [--seed S] [--json] [--workdir DIR]

The mock (a generated population) runs in this process; ``--tills`` till processes
(bench/soak_till.py), each with its own SQLite journal and till number, run their share
of the plan: previews, settlements (own account, mutual aid, mixed baskets; cash by
WeChat Pay, Alipay or at the counter), retries of earlier sales with their key,
impersonations, refunds and cancels, a clinic's visits (registered, fees uploaded,
settled, retried, settled again under a new key), and the five probes of issue 15
(bench/soak_plan.py).
A till kills itself (SIGKILL) at the checkpoint the plan gives; a new process runs
``recover()`` first, then the command again, and goes on.

The tills reach the mock only through this process (bench/soak_wire.py), which runs one
of them at a time, as a seeded scheduler decides, on a virtual clock (bench/soak_world.py):
the same seed gives the same operations, faults, kill points, outcomes and digest at any
machine load.

The run spans two virtual days. At the close of the first, and at the end, every till
recovers and reconciles each day with the centre as a real till does (3201 per clearing
group, 3202 by file through 9101 and 9102), and each report is checked against the
journals and the centre's books. Afterwards, with the faults off and every till
recovered once more, it checks DESIGN.md's invariants 1-4 against the journals, the
mock's ledger, visits and channel trades, and the run's logs (bench/soak_check.py);
prints a report with the outcome digest and the reconciliation figures; and exits 1,
with the command that replays the run, on any violation. See docs/explanation/reliability.md.
"""

from __future__ import annotations

import argparse
import collections
import datetime
import hashlib
import json
import logging
import os
import secrets
import shlex
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

import soak_till
from gongji_mock import MockGateway
from gongji_mock.centre.dataset import parse_dataset
from gongji_mock.centre.population import population_toml
from gongji_mock.profile import MOCK_INSTITUTION
from soak_check import (
    CentreBooks,
    centre_day,
    channel_trades,
    check_cashier_sentences,
    check_centre,
    check_channels,
    check_receipts,
    check_reconciliation,
    check_secrets,
    check_visits,
    day_books,
    read_sales,
)
from soak_plan import VISIT_STEPS, day_closes, fault_schedule, make_plan, paces, rounds_for
from soak_world import Hung, World

#: Fields of an outcome line that are not the outcome (kept out of the digest).
_NOT_OUTCOME = ("ms",)
DISCREPANCY_KINDS = ("journal_only", "centre_only", "amount_differs", "state_differs")


def run(args: argparse.Namespace) -> dict[str, Any]:
    started = time.monotonic()
    keep = args.workdir is not None
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix=f"gongji-soak-{args.seed}-"))
    workdir.mkdir(parents=True, exist_ok=True)
    families = args.families or max(20, min(400, args.ops // 40))
    text = population_toml(args.seed, families=families, policy=args.policy)
    (workdir / "population.toml").write_text(text, encoding="utf-8")
    population = parse_dataset(text, "population.toml")
    rounds, per_round = rounds_for(args.ops, args.tills)
    plan = make_plan(args.seed, args.ops, args.tills, population, args.crash_percent)
    schedule = fault_schedule(args.seed, rounds)
    pace = paces(rounds)
    (workdir / "plan.json").write_text(
        json.dumps({"seed": args.seed, "per_round": per_round, "paces": pace, "ops": plan}),
        encoding="utf-8",
    )
    world = World(workdir, args.seed, population, plan, args.tills, per_round)
    mock_log = _log_mock(workdir)
    keys = _admin(world.mock, "keys")
    (workdir / "keys.json").write_text(json.dumps(keys), encoding="utf-8")
    soak_till.preload(workdir)
    closes = day_closes(rounds)
    days: list[datetime.date] = []
    reconciled: list[dict[str, Any]] = []  # each reconciliation's figures
    try:
        for till in range(args.tills):
            world.start(till)
        for number in range(rounds):
            world.run_round(number, pace[number], schedule[number])
            if number in closes:
                days.append(world.close_day())
                reconciled.append(_reconciled(world, workdir, days[-1], "close"))
        world.final_recovery()
        days.append(world.today())
        world.reconcile(days)
        reconciled += [_reconciled(world, workdir, day, "end") for day in days]
    finally:
        world.stop_all()
        mock_log.close()
    ledger = _admin(world.mock, "state")["ledger"]
    trades = channel_trades(world.mock)
    records = world.records
    with (workdir / "outcomes.jsonl").open("w", encoding="utf-8") as out:
        for line in records:
            out.write(json.dumps(line, ensure_ascii=False) + "\n")
    sales, violations = read_sales(workdir)
    violations = (
        list(world.violations)
        + [
            f"till {line['till']}, operation {line['end']}: {line['violation']}"
            for line in records
            if line.get("violation")
        ]
        + violations
    )
    violations += [f"mock ledger: {v}" for v in world.mock.check()]
    violations += check_receipts(sales)
    violations += check_centre(sales, ledger)
    violations += check_channels(sales, trades)
    violations += check_visits(sales, ledger, CentreBooks.of(world.mock), visits_settled(records))
    violations += [v for figures in reconciled for v in figures.pop("violations")]
    violations += check_cashier_sentences(records, sales, trades)
    leaks, searched = check_secrets(workdir, *_secrets_of(population, plan, keys))
    violations += leaks
    counts = tally(records)
    injected = dict(sorted(world.mock.faults.injected.items()))
    # An order number is keyed by its journal's random salt: the digest names its sale.
    sale_of = {sale.entry.out_trade_no: sale.name for sale in sales if sale.entry.out_trade_no}
    digest = outcome_digest(records, ledger, trades, injected, violations, sale_of)
    wall = time.monotonic() - started
    report = {
        "seed": args.seed,
        "ops": args.ops,
        "tills": args.tills,
        "people": len(population.people),
        "bindings": len(population.bindings),
        **counts,
        "faults_injected": injected,
        # clock_skew is a standing condition, not drawn per request: the mock counts no
        # injections of it, so the rules switched on are reported as well.
        "faults_switched_on": dict(
            sorted(collections.Counter(r["kind"] for rules in schedule for r in rules).items())
        ),
        "callbacks": _callbacks(world.mock),
        "crashes": world.crashes,
        "recoveries_started": world.recoveries_started,
        "restarts": world.restarts,
        "probes": {
            "same_key": sum(1 for op in plan if op["kind"] == "same_key"),
            "crafted": sum(1 for op in plan if op["kind"] == "crafted"),
            "recover_beside": world.beside,
            "cancel_lost": sum(1 for op in plan if op["kind"] == "cancel_lost"),
            "answers_lost_by_probe": world.lost_answers,
            "rush_rounds": pace.count("rush"),
            "crashes_in_rush_rounds": world.rush_crashes,
            "msgids_from_borrowed_seconds": world.network.borrowed,
        },
        "visits": visit_figures(records),
        "reconciliations": reconciled,
        "steps": world.steps,
        "virtual_seconds": world.clock.micros // 1_000_000,
        "secrets_bytes_searched": searched,
        "wall_seconds": wall,
        "ops_per_second": counts["executed"] / wall,
        "violations": violations,
        "digest": digest,
        "replay": replay_command(args),
        "workdir": str(workdir),
    }
    (workdir / "report.json").write_text(json.dumps(report, ensure_ascii=False), encoding="utf-8")
    if not violations and not keep:
        shutil.rmtree(workdir, ignore_errors=True)
    return report


def _reconciled(world: World, workdir: Path, day: datetime.date, when: str) -> dict[str, Any]:
    """Check every till's reconciliation of ``day`` just made against the journals and
    the centre as they are now; its figures, with the violations found."""
    books, stale = day_books(workdir, day)
    reports = world.reconciliations.get(day.isoformat(), {})
    centre = centre_day(world.mock, day, MOCK_INSTITUTION[0])
    found = check_reconciliation(day, reports, books, centre, soak_till.region(workdir))
    if when == "close":
        found += stale  # at the end, read_sales reports what is still in doubt
    kinds = collections.Counter(d["kind"] for r in reports.values() for d in r["discrepancies"])
    return {
        "day": day.isoformat(),
        "at": when,
        "settlements": len(centre),
        "total": sum(total for total, _ in centre.values()),
        "fund": sum(fund for _, fund in centre.values()),
        "tills_clean": sum(1 for r in reports.values() if r["clean"]),
        "matched": sum(r["matched"] for r in reports.values()),
        "groups": sum(len(r["statements"]) for r in reports.values()),
        "groups_agreed": sum(1 for r in reports.values() for v in r["statements"] if v["agreed"]),
        **{kind: kinds.get(kind, 0) for kind in DISCREPANCY_KINDS},
        "unresolved": sum(len(r["unresolved"]) for r in reports.values()),
        "violations": [f"{when} {v}" for v in found],
    }


def visits_settled(records: list[dict[str, Any]]) -> dict[tuple[str, str], str]:
    """(journal, key) -> the visit the clinic settled under that key."""
    return {
        (f"journal-{line['till']:02d}", line["key"]): line["visit_id"]
        for line in records
        if line["do"] == "settle_visit" and "visit_id" in line
    }


def visit_figures(records: list[dict[str, Any]]) -> dict[str, int]:
    """What the clinic's visits did: registered, fees uploaded, settled, undone, refused."""
    visit_keys = {line["key"] for line in records if line["do"] == "settle_visit"}
    count = collections.Counter[str]()
    for line in records:
        outcome, do = line.get("outcome"), line["do"]
        count["registered"] += outcome == "registered"
        count["uploads"] += outcome == "uploaded"
        count["settled"] += do == "settle_visit" and outcome == "settled"
        count["refused_r1"] += do == "settle_visit" and outcome == "refused_r1"
        count["settled_again_refused"] += line["kind"] == "visit_again" and outcome == "declined"
        count["steps_done_again_after_a_kill"] += do in VISIT_STEPS and line["after_crash"]
        undone = outcome in ("refunded", "cancelled") and line.get("key") in visit_keys
        count["refunded_or_cancelled"] += undone
    return dict(count)


def _log_mock(workdir: Path) -> logging.FileHandler:
    """The mock's own log (and the SDK's, in this process) goes to mock.log, which is
    searched for secrets with the tills' logs."""
    handler = logging.FileHandler(workdir / "mock.log", encoding="utf-8")
    for name in ("gongji", "gongji_mock"):
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.propagate = False
    return handler


def _admin(mock: MockGateway, what: str) -> Any:
    """The mock's admin endpoint (docs/reference/mock-admin.md), asked in process."""
    response = mock.handle(httpx.Request("GET", f"http://mock.soak.invalid/gongji-admin/{what}"))
    if response.status_code != 200:
        raise RuntimeError(f"the mock's admin answered GET {what} with {response.status_code}")
    return json.loads(response.read())


def _secrets_of(
    population: Any, plan: list[dict[str, Any]], keys: dict[str, Any]
) -> tuple[set[bytes], set[bytes], list[str]]:
    ids = {p.id.number.encode() for p in population.people.values()}
    codes = {op["auth_code"].encode() for op in plan if op["auth_code"]}
    pems = (keys["wechatpay"]["merchant_private_key"], keys["alipay"]["app_private_key"])
    lines = [line for pem in pems for line in pem.splitlines()[1:-1][:3]]
    return ids, codes, [keys["tif"]["secret"], keys["wechatpay"]["apiv3_key"], *lines]


def _callbacks(mock: MockGateway) -> dict[str, int]:
    """The callbacks the channels sent, and how many went more than once (duplicate_callback)."""
    sent = list(mock.wechatpay.notifications) + list(mock.alipay.notifications)
    times = collections.Counter(id(callback) for callback in sent)
    return {
        "sent": len(sent),
        "distinct": len(times),
        "delivered_twice_or_more": sum(1 for n in times.values() if n > 1),
    }


def outcome_digest(
    records: list[dict[str, Any]],
    ledger: list[dict[str, Any]],
    trades: list[Any],
    injected: dict[str, int],
    violations: list[str],
    sale_of: dict[str, str],
) -> str:
    """SHA-256 of everything the run decided: each command's outcome (in the order they
    ended, with their virtual times), the centre's ledger, the channels' trades, the
    faults injected and the violations. Two runs of one seed print the same digest."""
    document = {
        "outcomes": [{k: v for k, v in line.items() if k not in _NOT_OUTCOME} for line in records],
        "ledger": ledger,
        "trades": sorted(
            [t.channel, sale_of.get(t.out_trade_no, "?"), t.total, t.refunded, t.paid]
            for t in trades
        ),
        "injected": injected,
        "violations": [_named(v, sale_of) for v in violations],
    }
    text = json.dumps(document, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _named(violation: str, sale_of: dict[str, str]) -> str:
    for number, name in sale_of.items():
        violation = violation.replace(number, name)
    return violation


def tally(records: list[dict[str, Any]]) -> dict[str, Any]:
    operations: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    legs = collections.Counter[str]()
    recoveries = recovered = 0
    for line in records:
        if line["do"] == "recover":
            recoveries += 1
            recovered += line.get("recovered", 0)
            continue
        name = line["kind"]
        if name == "cancel_lost" or name.startswith("visit"):
            name = f"{name}.{line['do']}"
        operations[name][line["outcome"]] += 1
        for leg in line.get("legs", ()):
            legs[leg] += 1
    # An operation is executed once it ended, at its first try or after a kill: every
    # line names the plan's operation it ends ("end"), and a cancel-then-refund has two.
    executed = len({line["end"] for line in records if line["do"] not in ("recover", "reconcile")})
    return {
        "operations": {k: dict(v) for k, v in sorted(operations.items())},
        "executed": executed,
        "recoveries": recoveries,  # recover() runs that ended (the final ones and beside too)
        "recovered_entries": recovered,
        "legs": dict(legs),
    }


def replay_command(args: argparse.Namespace) -> str:
    return (
        f"{shlex.quote(sys.executable)} bench/soak.py --ops {args.ops} --tills {args.tills} "
        f"--seed {args.seed} --crash-percent {args.crash_percent} --policy {args.policy}"
        + (f" --families {args.families}" if args.families else "")
    )


def print_report(report: dict[str, Any]) -> None:
    print(
        f"gongji soak: seed {report['seed']}, {report['ops']} operations, {report['tills']} tills"
    )
    print(f"  population: {report['people']} people, {report['bindings']} bindings")
    print("  operations (kind: outcome count):")
    for kind, outcomes in report["operations"].items():
        text = ", ".join(
            f"{o} {n}" for o, n in sorted(outcomes.items(), key=lambda x: (-x[1], x[0]))
        )
        print(f"    {kind:20s} {sum(outcomes.values()):6d}  {text}")
    print(f"  legs on receipts: {report['legs']}")
    print(f"  probes: {report['probes']}")
    print(f"  fault rules switched on (round x kind): {report['faults_switched_on']}")
    print(f"  faults injected: {report['faults_injected']}")
    print(f"  callbacks: {report['callbacks']}")
    print(
        f"  crashes (SIGKILL): {report['crashes']}, restarts: {report['restarts']}, "
        f"recover() runs started after a crash: {report['recoveries_started']}, "
        f"ended (with the final ones): {report['recoveries']}, "
        f"entries they returned (resolved or left): {report['recovered_entries']}"
    )
    print(f"  visits: {report['visits']}")
    print("  reconciliation by file (3201 per group, 3202 via 9101/9102), every till:")
    for figures in report["reconciliations"]:
        print(
            f"    {figures['day']} at {figures['at']:5s}: {figures['settlements']} settlements "
            f"standing ({figures['total']} fen, fund {figures['fund']}); matched "
            f"{figures['matched']}, centre_only {figures['centre_only']} (other tills'), "
            f"journal_only {figures['journal_only']}, amount_differs {figures['amount_differs']}, "
            f"state_differs {figures['state_differs']}, unresolved {figures['unresolved']}; "
            f"3201 groups agreed {figures['groups_agreed']}/{figures['groups']}; "
            f"{figures['tills_clean']} tills clean"
        )
    print(f"  secrets search: {report['secrets_bytes_searched']} bytes of journals and logs")
    print(
        f"  {report['steps']} scheduling steps over {report['virtual_seconds']} virtual seconds; "
        f"wall time {report['wall_seconds']:.1f} s, {report['ops_per_second']:.1f} operations/s"
    )
    print(f"  outcome digest: {report['digest']}")
    print(f"  violations: {len(report['violations'])}")
    for violation in report["violations"][:50]:
        print(f"    - {violation}")
    if report["violations"]:
        print(f"  replay: {report['replay']}")
        print(f"  files: {report['workdir']}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ops", type=int, default=20_000, help="operations (default 20000)")
    parser.add_argument("--tills", type=int, default=3, help="till processes (default 3)")
    parser.add_argument("--seed", type=int, default=None, help="default: a new one, printed")
    parser.add_argument("--families", type=int, default=0, help="default: ops/40, 20..400")
    parser.add_argument(
        "--crash-percent",
        type=float,
        default=1.0,
        help="share of operations with a planned SIGKILL (default 1.0)",
    )
    parser.add_argument(
        "--policy",
        default="national-2025",
        help="the population's policy pack (default national-2025, which has no fund share; "
        "demo-dalian has one for outpatient visits)",
    )
    parser.add_argument("--workdir", help="keep every file of the run here")
    parser.add_argument("--json", action="store_true", help="the report as one JSON object")
    args = parser.parse_args(argv)
    if args.seed is None:
        args.seed = secrets.randbelow(10**9)
    if args.ops < 1 or not 1 <= args.tills <= 98:
        parser.error("--ops must be at least 1 and --tills 1..98")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        report = run(args)
    except Hung as hung:
        print(f"gongji soak: no verdict, the run hung ({hung}); replay: {replay_command(args)}")
        return 2
    if args.json:
        print(json.dumps(report, ensure_ascii=False))
    else:
        print_report(report)
    return 1 if report["violations"] else 0


if __name__ == "__main__":
    if os.environ.get("PYTHONHASHSEED") != "0":
        # Set iteration order must not vary between runs of a seed: run again with it fixed
        # (after the seed is drawn, so that it is printed once).
        arguments = parse_args()
        argv = list(sys.argv[1:])
        if "--seed" not in argv:
            argv += ["--seed", str(arguments.seed)]
        env = os.environ | {"PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1"}
        os.execve(sys.executable, [sys.executable, __file__, *argv], env)  # noqa: S606
    sys.exit(main())
