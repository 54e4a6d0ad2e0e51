"""The soak: a seeded, deterministic simulation of tills settling against a misbehaving mock.

    python bench/soak.py [--ops 20000] [--tills 3] [--seed S] [--json] [--workdir DIR]

The mock is served in its own process (``gongji mock serve --state FILE``, over a
generated population), with its faults switched at random, round by round, through
``/gongji-admin/faults``. ``--tills`` till processes (bench/soak_till.py), each with its
own SQLite journal and till number, run their share of the plan: previews, settlements
(own account, mutual aid, mixed baskets; cash by WeChat Pay, Alipay or at the counter),
retries of earlier sales with their key, impersonations, refunds and cancels. A till
kills itself (SIGKILL) at the checkpoint the plan gives; the supervisor starts it again,
and the new process runs ``recover()`` before anything else.

Afterwards, with the faults off and every till recovered once more, it checks DESIGN.md's
invariants 1-4 against the journals, the mock's ledger and the mock's channel trades, and
the run's logs; prints a report; and exits 1, with the command that replays the run, on
any violation. See docs/explanation/reliability.md for what is deterministic.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import hashlib
import json
import logging
import os
import re
import secrets
import shlex
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from gongji.flows.settle import order_number
from gongji.journal import Entry, EntryState, SqliteJournal
from gongji.money import Fen
from gongji_mock import MockGateway
from gongji_mock.centre.population import population_toml
from gongji_mock.faults import Faults
from gongji_mock.server.asgi import bind, make_server
from gongji_mock.server.delivery import CallbackDelivery
from soak_plan import fault_schedule, make_plan, rounds_for

HERE = Path(__file__).resolve().parent
TILL = HERE / "soak_till.py"
GONGJI = Path(sys.executable).with_name("gongji")
TILL_TIMEOUT = 600  # seconds a till process may take for one round before it counts as hung
MAX_RESTARTS = 20  # per till and round: a till that keeps dying is a finding, not a loop
CHANNELS = ("wechatpay", "alipay")


# ---------------------------------------------------------------- the callbacks' receiver


class Callbacks:
    """Where the mock POSTs its WeChat Pay callbacks and Alipay notifications: counts them,
    and how many arrived more than once (the duplicate_callback fault)."""

    def __init__(self) -> None:
        self.seen: collections.Counter[str] = collections.Counter()
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                with receiver.lock:
                    receiver.seen[hashlib.sha256(body).hexdigest()] += 1
                answer = b"success"  # what Alipay wants; WeChat Pay takes any 2xx
                self.send_response(200)
                self.send_header("content-length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *_: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/notify"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def counts(self) -> dict[str, int]:
        with self.lock:
            return {
                "received": sum(self.seen.values()),
                "distinct": len(self.seen),
                "delivered_twice_or_more": sum(1 for n in self.seen.values() if n > 1),
            }

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# ---------------------------------------------------------------- the run


class Soak:
    def __init__(self, args: argparse.Namespace, workdir: Path) -> None:
        self.args = args
        self.workdir = workdir
        self.seed: int = args.seed
        self.tills: int = args.tills
        self.violations: list[str] = []
        self.crashes = 0
        self.restarts = 0
        self.schedule: list[list[dict[str, Any]]] = []

    def prepare(self) -> None:
        families = self.args.families or max(20, min(400, self.args.ops // 40))
        text = population_toml(self.seed, families=families)
        (self.workdir / "population.toml").write_text(text, encoding="utf-8")
        from gongji_mock.centre.dataset import parse_dataset

        self.population = parse_dataset(text, "population.toml")
        rounds, per_round = rounds_for(self.args.ops, self.tills)
        self.rounds = rounds
        plan = make_plan(
            self.seed, self.args.ops, self.tills, self.population, self.args.crash_percent
        )
        self.plan = plan
        self.schedule = fault_schedule(self.seed, rounds)
        document = {"seed": self.seed, "per_round": per_round, "ops": plan}
        (self.workdir / "plan.json").write_text(json.dumps(document), encoding="utf-8")

    def start_mock(self, notify_url: str) -> None:
        """The mock, served over HTTP on 127.0.0.1 from a thread of this process: the tills
        reach it only over the network, and afterwards its ledger and trades are read here.
        No state file: the mock is never killed, and a state file's snapshot of every trade
        after every request would make the run quadratic in its length."""
        self.delivery = CallbackDelivery(notify_url=notify_url)
        self.mock = MockGateway(
            self.population, faults=Faults(seed=self.seed), delivery=self.delivery
        )
        self.server = make_server(self.mock, bind("127.0.0.1", 0))
        # uvicorn logs each connection a fault cuts, with its traceback: into mock.log, which
        # is searched for secrets with the tills' logs, not onto the report.
        self.mock_log = logging.FileHandler(self.workdir / "mock.log", encoding="utf-8")
        for name in ("uvicorn", "uvicorn.error", "gongji", "gongji_mock"):
            logger = logging.getLogger(name)
            logger.handlers[:] = [self.mock_log]
            logger.propagate = False
        self.serving = threading.Thread(target=self.server.run, name="mock", daemon=True)
        self.serving.start()
        self.url = self.server.url
        self.admin = httpx.Client(base_url=self.url, timeout=60)
        self.admin.get("/gongji-admin/faults").raise_for_status()  # up and answering

    def set_faults(self, rules: list[dict[str, Any]]) -> None:
        self.admin.delete("/gongji-admin/faults").raise_for_status()
        for rule in rules:
            self.admin.post("/gongji-admin/faults", json=rule).raise_for_status()

    def till(self, number: int, *what: str) -> subprocess.Popen[bytes]:
        log = (self.workdir / f"till-{number:02d}.log").open("ab")
        try:
            return subprocess.Popen(  # noqa: S603 - this run's own till script
                [sys.executable, str(TILL), str(self.workdir), self.url, str(number), *what],
                stdout=log,
                stderr=log,
            )
        finally:
            log.close()

    def run_round(self, number: int) -> None:
        self.set_faults(self.schedule[number])
        running = {t: self.till(t, str(number)) for t in range(self.tills)}
        restarts = collections.Counter[int]()
        deadline = time.monotonic() + TILL_TIMEOUT
        while running:
            for t, process in list(running.items()):
                try:
                    code = process.wait(timeout=0.05)
                except subprocess.TimeoutExpired:
                    if time.monotonic() > deadline:
                        process.kill()
                        process.wait()
                        self.violations.append(f"till {t} hung in round {number}")
                        del running[t]
                    continue
                del running[t]
                if code == -signal.SIGKILL:
                    self.crashes += 1
                    restarts[t] += 1
                    if restarts[t] > MAX_RESTARTS:
                        self.violations.append(
                            f"till {t} died {restarts[t]} times in round {number}"
                        )
                        continue
                    self.restarts += 1
                    running[t] = self.till(t, str(number))  # recover() first, then go on
                elif code != 0:
                    self.violations.append(
                        f"till {t} ended with exit code {code} in round {number} "
                        f"(see till-{t:02d}.log)"
                    )

    def final_recovery(self) -> None:
        self.admin.delete("/gongji-admin/faults").raise_for_status()
        recovering = [self.till(t, "--final") for t in range(self.tills)]
        for t, process in enumerate(recovering):
            if process.wait(timeout=TILL_TIMEOUT) != 0:
                self.violations.append(f"till {t}: the final recover() failed (see its log)")

    def stop_mock(self) -> None:
        self.admin.close()
        self.server.stop()
        self.serving.join(timeout=30)
        self.delivery.close()
        self.mock_log.close()


# ---------------------------------------------------------------- the invariants


def check_invariants(
    soak: Soak, centre_state: dict[str, Any], check: list[str], trades: list[Trade]
) -> list[str]:
    found: list[str] = [f"mock ledger: {v}" for v in check]  # invariant 1 on the ledger
    entries: list[Entry] = []
    orders: dict[str, str] = {}  # each attempt's out_trade_no -> its sale's key
    for t in range(soak.tills):
        path = soak.workdir / f"journal-{t:02d}.sqlite3"
        if not path.exists():
            continue
        journal = SqliteJournal(path)
        try:
            for entry in journal.in_doubt():  # invariant 3
                found.append(f"till {t}: {entry.key} still {entry.state.value} after recover()")
            entries.extend(journal.entries())
            orders |= attempts_by_order(path, journal.salt)
        finally:
            journal.close()
    by_key = {e.key: e for e in entries}
    # Invariant 1 on every receipt.
    for entry in entries:
        receipt = entry.receipt
        if receipt is None:
            continue
        parts = receipt.fund + sum((leg.amount for leg in receipt.legs), Fen(0)) + receipt.cash
        if parts != receipt.total:
            found.append(f"{entry.key}: receipt parts {parts} != total {receipt.total}")
    # Invariants 2 and 3 at the centre: the settlements standing on the ledger are exactly
    # those of the settled sales, one per key, each as its receipt says.
    transactions: dict[str, list[dict[str, Any]]] = collections.defaultdict(list)
    for transaction in centre_state["ledger"]:
        transactions[transaction["settlement_id"]].append(transaction)
    standing = {sid for sid, ts in transactions.items() if [t["kind"] for t in ts] == ["settle"]}
    settled = {
        e.receipt.settlement_id: e
        for e in entries
        if e.state is EntryState.SETTLED and e.receipt is not None
    }
    undone = {
        e.receipt.settlement_id
        for e in entries
        if e.state in (EntryState.REFUNDED, EntryState.CANCELLED) and e.receipt is not None
    }
    for sid in sorted(standing - set(settled)):
        found.append(f"centre: settlement {sid} stands but no sale in any journal is settled by it")
    for sid in sorted(set(settled) - standing):
        found.append(f"centre: {settled[sid].key} is settled as {sid}, which does not stand")
    for sid in sorted(undone & standing):
        found.append(f"centre: settlement {sid} was refunded or cancelled but still stands")
    for sid, entry in settled.items():
        if sid not in standing or entry.receipt is None:
            continue
        posted = transactions[sid][0]
        receipt = entry.receipt
        paid = collections.Counter[str]()
        for posting in posted["postings"]:
            account = posting["account"]
            kind = account if account in ("fund", "cash", "institution") else "personal"
            paid[kind] -= int(Fen.from_yuan(posting["amount"]))
        legs = int(sum((leg.amount for leg in receipt.legs), Fen(0)))
        if (paid["fund"], paid["personal"], paid["cash"]) != (
            int(receipt.fund),
            legs,
            int(receipt.cash),
        ) or int(Fen.from_yuan(posted["total"])) != int(receipt.total):
            found.append(f"centre: {entry.key} ({sid}) is posted otherwise than its receipt says")
    found.extend(check_channels(trades, by_key, orders))
    return found


def attempts_by_order(path: Path, salt: bytes) -> dict[str, str]:
    """Each settlement attempt's order number, from its msgid (a row of the journal)."""
    with contextlib.closing(sqlite3.connect(path)) as db:
        rows = db.execute(
            "SELECT key, msgid FROM msgids WHERE purpose IN ('2102', '2207')"
        ).fetchall()
    return {order_number(salt, msgid): key for key, msgid in rows}


#: channel, out_trade_no, total, refunded, paid (fen)
Trade = tuple[str, str, int, int, bool]


def channel_trades(mock: MockGateway) -> list[Trade]:
    """Every payment-code trade the mock's channels hold, as their own records say."""
    trades: list[Trade] = [
        ("wechatpay", w.out_trade_no, int(w.total), int(w.refunded), w.paid)
        for w in mock.wechatpay.trades.table.values()
    ]
    trades += [
        ("alipay", a.out_trade_no, int(a.total), int(a.refunded), a.paid)
        for a in mock.alipay.trades.table.values()
    ]
    return trades


def check_channels(
    trades: list[Trade], by_key: dict[str, Entry], orders: dict[str, str]
) -> list[str]:
    """Invariant 2 at the channels: per sale at most one trade keeps money, exactly the
    receipt's cash share when the sale stands and nothing otherwise; no refund above its charge."""
    found: list[str] = []
    kept: dict[str, list[tuple[str, str, int]]] = collections.defaultdict(list)
    for channel, out_trade_no, total, refunded, paid in trades:
        if refunded > total or (refunded and not paid):
            found.append(f"{channel}: {out_trade_no} refunded {refunded} of a charge of {total}")
        if paid and total - refunded > 0:
            key = orders.get(out_trade_no, out_trade_no)
            kept[key].append((channel, out_trade_no, total - refunded))
    for key, keeping in sorted(kept.items()):
        entry = by_key.get(key)
        if len(keeping) > 1:
            found.append(f"{key}: {len(keeping)} trades keep money: {keeping}")
            continue
        channel, out_trade_no, amount = keeping[0]
        if entry is None or entry.state is not EntryState.SETTLED or entry.receipt is None:
            state = "no journal entry" if entry is None else entry.state.value
            found.append(
                f"{key}: {channel} keeps {amount} fen ({out_trade_no}) but the sale is {state}"
            )
        elif (channel, out_trade_no, amount) != (
            entry.cash_kind,
            entry.out_trade_no,
            int(entry.receipt.cash),
        ):
            found.append(
                f"{key}: {channel} keeps {amount} fen on {out_trade_no}; the receipt says "
                f"{int(entry.receipt.cash)} on {entry.cash_kind} {entry.out_trade_no}"
            )
    for key, entry in by_key.items():
        receipt = entry.receipt
        owed = (
            entry.state is EntryState.SETTLED
            and receipt is not None
            and receipt.cash > 0
            and entry.cash_kind in CHANNELS
        )
        if owed and key not in kept:
            found.append(
                f"{key}: settled with {receipt.cash} on {entry.cash_kind}, never collected"
            )  # type: ignore[union-attr]
    return found


_DIGITS = re.compile(rb"[0-9]{15,24}X?")


def check_secrets(soak: Soak, keys: dict[str, Any]) -> tuple[list[str], int]:
    """Invariant 4 on what the run wrote: no full ID number, payment code or key in a
    journal file or a captured log. Returns the findings and the bytes searched."""
    ids = {p.id.number.encode() for p in soak.population.people.values()}
    codes = {op["auth_code"].encode() for op in soak.plan if op["auth_code"]}
    secrets_ = [
        keys["tif"]["secret"],
        keys["wechatpay"]["apiv3_key"],
        *(
            line
            for pem in (
                keys["wechatpay"]["merchant_private_key"],
                keys["alipay"]["app_private_key"],
            )
            for line in pem.splitlines()[1:-1][:3]
        ),
    ]
    found: list[str] = []
    searched = 0
    files = sorted(soak.workdir.glob("journal-*.sqlite3*")) + sorted(soak.workdir.glob("till-*"))
    files += [soak.workdir / "mock.log"]
    for path in files:
        if path.suffix == ".key" or not path.exists():
            continue  # the journal key file is the one place the key belongs
        data = path.read_bytes()
        searched += len(data)
        for match in _DIGITS.finditer(data):
            number = match.group()
            if number in ids or number[:18] in ids:
                found.append(f"{path.name}: a full ID number ({number[:6].decode()}...)")
            elif number in codes:
                found.append(f"{path.name}: a payment code ({number[:4].decode()}...)")
        for secret in secrets_:
            if secret and secret.encode() in data:
                found.append(f"{path.name}: a key or secret of the mock")
    for path in soak.workdir.glob("journal-*.sqlite3"):
        key_text = path.with_name(path.name + ".key").read_bytes().strip()
        for other in soak.workdir.glob(path.name + "*"):
            if other.suffix != ".key" and key_text and key_text in other.read_bytes():
                found.append(f"{other.name}: the journal key itself")
    return sorted(set(found)), searched


# ---------------------------------------------------------------- the report


def tally(soak: Soak) -> dict[str, Any]:
    operations: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    recoveries = started_recoveries = 0
    recovered_entries = 0
    legs = collections.Counter[str]()
    violations = []
    for t in range(soak.tills):
        path = soak.workdir / f"till-{t:02d}.jsonl"
        if not path.exists():
            continue
        for text in path.read_text(encoding="utf-8").splitlines():
            try:
                line = json.loads(text)
            except json.JSONDecodeError:
                continue
            if "recovering" in line:
                started_recoveries += 1
            if "recovered" in line:
                recoveries += 1
                recovered_entries += line["recovered"]
            if "end" in line:
                operations[line["kind"]][line["outcome"]] += 1
                for leg in line.get("legs", ()):
                    legs[leg] += 1
                if line.get("violation"):
                    violations.append(f"till {t}, operation {line['end']}: {line['violation']}")
    return {
        "operations": {k: dict(v) for k, v in sorted(operations.items())},
        "executed": sum(sum(v.values()) for v in operations.values()),
        "recoveries_started": started_recoveries,  # one per restart: killed ones too
        "recoveries": recoveries,  # recover() runs that ended (the final ones included)
        "recovered_entries": recovered_entries,
        "legs": dict(legs),
        "till_violations": violations,
    }


def print_report(report: dict[str, Any]) -> None:
    print(
        f"gongji soak: seed {report['seed']}, {report['ops']} operations, {report['tills']} tills"
    )
    print(f"  population: {report['people']} people, {report['bindings']} bindings")
    print("  operations (kind: outcome count):")
    for kind, outcomes in report["operations"].items():
        text = ", ".join(f"{o} {n}" for o, n in sorted(outcomes.items(), key=lambda x: -x[1]))
        print(f"    {kind:12s} {sum(outcomes.values()):6d}  {text}")
    print(f"  legs on receipts: {report['legs']}")
    print(f"  fault rules switched on (round x kind): {report['faults_switched_on']}")
    print(f"  faults injected: {report['faults_injected']}")
    print(f"  callbacks received: {report['callbacks']}")
    print(
        f"  crashes (SIGKILL): {report['crashes']}, restarts: {report['restarts']}, "
        f"recover() runs started after a crash: {report['recoveries_started']}, "
        f"ended (with the final ones): {report['recoveries']}, "
        f"entries they resolved: {report['recovered_entries']}"
    )
    print(f"  secrets search: {report['secrets_bytes_searched']} bytes of journals and logs")
    print(
        f"  wall time {report['wall_seconds']:.1f} s, {report['ops_per_second']:.1f} operations/s"
    )
    print(f"  violations: {len(report['violations'])}")
    for violation in report["violations"][:50]:
        print(f"    - {violation}")
    if report["violations"]:
        print(f"  replay: {report['replay']}")
        print(f"  files: {report['workdir']}")


def run(args: argparse.Namespace) -> dict[str, Any]:
    started = time.monotonic()
    keep = args.workdir is not None
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix=f"gongji-soak-{args.seed}-"))
    workdir.mkdir(parents=True, exist_ok=True)
    soak = Soak(args, workdir)
    soak.prepare()
    callbacks = Callbacks()
    soak.start_mock(callbacks.url)
    try:
        for number in range(soak.rounds):
            soak.run_round(number)
        soak.final_recovery()
        state = soak.admin.get("/gongji-admin/state").json()
        check = soak.mock.check()
        injected = dict(soak.mock.faults.injected)
        keys = soak.admin.get("/gongji-admin/keys").json()
        trades = channel_trades(soak.mock)
    finally:
        soak.stop_mock()
        callbacks.close()
    wall = time.monotonic() - started
    counts = tally(soak)
    violations = list(soak.violations) + counts.pop("till_violations")
    violations += check_invariants(soak, state, check, trades)
    leaks, searched = check_secrets(soak, keys)
    violations += leaks
    replay = (
        f"{shlex.quote(sys.executable)} bench/soak.py --ops {args.ops} --tills {args.tills} "
        f"--seed {args.seed} --crash-percent {args.crash_percent}"
        + (f" --families {args.families}" if args.families else "")
    )
    report = {
        "seed": args.seed,
        "ops": args.ops,
        "tills": args.tills,
        "people": len(soak.population.people),
        "bindings": len(soak.population.bindings),
        **counts,
        "faults_injected": dict(sorted(injected.items())),
        # clock_skew is a standing condition, not drawn per request: the mock counts no
        # injections of it, so the rules switched on are reported as well.
        "faults_switched_on": dict(
            sorted(collections.Counter(r["kind"] for rules in soak.schedule for r in rules).items())
        ),
        "callbacks": callbacks.counts(),
        "crashes": soak.crashes,
        "restarts": soak.restarts,
        "secrets_bytes_searched": searched,
        "wall_seconds": wall,
        "ops_per_second": counts["executed"] / wall,
        "violations": violations,
        "replay": replay,
        "workdir": str(workdir),
    }
    if not violations and not keep:
        import shutil

        shutil.rmtree(workdir, ignore_errors=True)
    return report


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
    report = run(args)
    if args.json:
        print(json.dumps(report, ensure_ascii=False))
    else:
        print_report(report)
    return 1 if report["violations"] else 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    sys.exit(main())
