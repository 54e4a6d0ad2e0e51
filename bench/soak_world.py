"""The soak's world: the mock, the till processes, the network between them, the clock
and the scheduler. One seed decides everything in it.

Exactly one till process runs at a time. A step of the scheduler picks one process that
can go on (seeded), moves the virtual clock on by the round's pace, and either answers
the request the process is waiting on (from the mock, in this process, faults and all)
or hands it its next command; then it waits for the process's next frame: another
request, the command's outcome, or end-of-file when the process killed itself at its
planned checkpoint. So the order of every request at the mock, which request each fault
hits, every time any party reads and every kill point follow from the seed, and a run
replays the same at any machine load. Wall time decides nothing: a process that sends
nothing for ``PATIENCE`` seconds ends the run with no verdict (a hang, not a finding).

Between rounds the world can close the day (``close_day``): every till recovers and
reconciles it with the centre, and the clock jumps to the next morning; ``reconcile``
has every till reconcile given days (at the end, all of them).
"""

from __future__ import annotations

import collections
import contextlib
import datetime
import json
import os
import select
import signal
import socket
import sys
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, cast

import httpx

import soak_till
from gongji.clock import msgid_time
from gongji_mock import MockGateway
from gongji_mock.centre.dataset import Dataset
from gongji_mock.faults import Faults
from soak_plan import (
    CLOSE_FAULTS,
    PACES,
    RECONCILE_TRIES,
    VISIT_STEPS,
    crafted_key,
    plan_random,
    visit_steps,
)
from soak_wire import START, Closed, VirtualClock, receive, send

#: Seconds a process may send nothing before the run is abandoned as hung (no verdict).
PATIENCE = 900
MAX_RESTARTS = 20  # per operation: a till that keeps dying is a finding, not a loop
#: The path of WeChat Pay's reversal of a payment-code payment (the cancel_lost probe).
WECHAT_REVERSE = "/reverse"


class Hung(Exception):
    """A process sent nothing for ``PATIENCE`` seconds: the run has no verdict."""


class Process:
    """A till process as the supervisor sees it: its socket and what it waits for.

    It is forked from this process, which has imported everything and loaded the keys
    (a fresh interpreter takes seconds to start on a loaded machine), and it shares
    nothing with it afterwards but its socket and the files on disk: its own journal
    connection, its own module state (the city gateway's msgid numbering), its own pid.
    """

    sock: socket.socket

    def __init__(self, world: World, till: int, role: str, serial_start: int) -> None:
        self.till, self.role, self.serial_start = till, role, serial_start
        self.name = f"till {till}" + (" recover" if role == "recover" else "")
        ours, theirs = socket.socketpair()
        log = world.workdir / f"till-{till:02d}.log"
        others = [p.sock for p in world.processes.values()]
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:  # the till: never returns
            _become_till(world.workdir, till, serial_start, theirs, [ours, *others], log)
        theirs.close()
        self.pid = pid
        self.sock = ours
        self.channel = _raw(ours)
        self.request: tuple[Any, ...] | None = None  # the request frame it waits an answer to
        self.command: dict[str, Any] | None = None  # the command it runs
        self.lose_answer = ""  # the cancel_lost probe: lose answers to requests to this path

    def wait_for_frame(self) -> tuple[Any, ...]:
        return receive(_Patient(self.channel))

    def end(self) -> int:
        """Reap the process (a dead one's lease is then provably dead); its exit code."""
        with contextlib.suppress(OSError):
            self.channel.close()
            self.sock.close()
        _, status = os.waitpid(self.pid, 0)
        return os.waitstatus_to_exitcode(status)


def _become_till(
    workdir: Path,
    till: int,
    serial_start: int,
    channel: socket.socket,
    foreign: list[socket.socket],
    log: Path,
) -> None:
    """In the forked child: drop the supervisor's sockets, log to the till's file, serve."""
    code = 1
    try:
        for other in foreign:
            other.close()
        fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        os.close(fd)
        code = soak_till.serve(workdir, till, serial_start, _raw(channel))
    except BaseException:
        traceback.print_exc()
    finally:
        os._exit(code)  # never the supervisor's exit handlers, buffers or finalizers


def _raw(end: socket.socket) -> IO[bytes]:
    """A socket as an unbuffered file: a read returns what has arrived, at most the size asked."""
    return cast("IO[bytes]", end.makefile("rwb", buffering=0))


class _Patient:
    """A read of a till's socket that waits at most ``PATIENCE`` seconds for each chunk."""

    def __init__(self, stream: IO[bytes]) -> None:
        self.stream = stream

    def read(self, size: int) -> bytes:
        ready, _, _ = select.select([self.stream.fileno()], [], [], PATIENCE)
        if not ready:
            raise Hung(f"a till process sent nothing for {PATIENCE} s")
        return self.stream.read(size) or b""


class Pos:
    """One till's cashier: the operations of the round left, what it settled, the visits
    its clinic registered, and the commands of the operation in hand (a crash puts a
    recovery and the command again first)."""

    def __init__(self, till: int, ops: list[dict[str, Any]], plan: list[dict[str, Any]]) -> None:
        self.till, self.ops, self.plan = till, ops, plan
        self.queue: collections.deque[dict[str, Any]] = collections.deque()
        self.op: dict[str, Any] | None = None
        self.commands: collections.deque[dict[str, Any]] = collections.deque()
        self.sales: dict[str, dict[str, Any]] = {}  # key -> settlement_id, cash, channel, undone
        #: The clinic's billing system: each visit as the centre last answered it (the
        #: ``gongji.Visit``, registered and with its fees), by the key of its operation.
        self.visits: dict[str, Any] = {}
        self.deaths = 0  # of the operation in hand

    def start_round(self, number: int, per_round: int) -> None:
        self.queue.extend(self.ops[number * per_round : (number + 1) * per_round])

    def next_command(self) -> dict[str, Any] | None:
        """The next command to send; None when the round's share is done."""
        while not self.commands:
            if not self.queue:
                self.op = None
                return None
            self.op = self.queue.popleft()
            self.deaths = 0
            self.commands.extend(self.commands_for(self.op))
        return self.commands[0]

    def commands_for(self, op: dict[str, Any]) -> list[dict[str, Any]]:
        kind, crash = op["kind"], op["crash_at"]
        base = {"index": op["index"], "kind": kind, "crash_at": crash}
        if kind == "preview":
            return [base | {"do": "preview", "op": op}]
        if kind == "impersonate":
            if op["presenter"] == op["patient"]:
                return [base | {"do": "skip"}]
            return [base | _sale(op, op["key"]) | {"do": "impersonate"}]
        if kind == "retry":
            earlier = [o for o in self.ops if o["kind"] == "settle" and o["index"] < op["index"]]
            if not earlier:
                return [base | {"do": "skip"}]
            original = earlier[int(op["pick"] * len(earlier))]
            return [base | _sale(original, original["key"]) | {"retried": original["key"]}]
        if kind in ("same_key", "crafted"):
            borrowed = self.plan[op["borrow"]]
            key = borrowed["key"] if kind == "same_key" else crafted_key(borrowed["key"])
            sale = _sale(borrowed if op["same_basket"] else op, key)
            return [base | sale | {"auth_code": op["auth_code"], "borrowed": borrowed["key"]}]
        if kind == "visit":
            return self.visit_commands(op)
        if kind in ("visit_retry", "visit_again"):
            original = self.plan[op["borrow"]]
            visit = self.visits.get(original["key"])
            if visit is None or not visit.items:  # never registered, or its fees never uploaded
                return [base | {"do": "skip"}]
            if kind == "visit_retry":
                return [
                    base | _visit_settle(original, original["key"]) | {"retried": original["key"]}
                ]
            # The visit settled again under this operation's key, paid with its own code.
            again = _visit_settle(original, op["key"]) | {"auth_code": op["auth_code"]}
            return [base | again | {"again": original["key"]}]
        if kind in ("refund", "cancel", "cancel_lost"):
            standing = sorted(
                k
                for k, sale in self.sales.items()
                if not sale["undone"]
                and (kind != "cancel_lost" or (sale["channel"] == "wechatpay" and sale["cash"]))
            )
            if not standing:
                return [base | {"do": "skip"}]
            key = standing[int(op["pick"] * len(standing))]
            undo = base | {"key": key, "settlement_id": self.sales[key]["settlement_id"]}
            if kind != "cancel_lost":
                return [undo | {"do": kind}]
            return [
                undo | {"do": "cancel", "lose": WECHAT_REVERSE},
                undo | {"do": "refund", "crash_at": 0},
            ]
        return [base | _sale(op, op["key"])]

    def visit_commands(self, op: dict[str, Any], upto: int | None = None) -> list[dict[str, Any]]:
        """A visit's commands (``soak_plan.visit_steps``), its kill point in the plan's step;
        ``upto``: only the registration and the uploads up to that prescription (a visit
        whose upload was cut by a kill is registered anew: nothing tells the billing
        system which of its lines the centre took)."""
        key, crash = op["key"], op["crash_at"]
        base = {"index": op["index"], "kind": op["kind"], "op": op, "key": key, "visit_key": key}
        commands: list[dict[str, Any]] = []
        for step in visit_steps(op):
            command = base | {"do": step, "crash_at": 0}
            if step == "upload_fees":
                part = sum(1 for c in commands if c["do"] == step)
                if upto is not None and part > upto:
                    break
                command |= {"lines": op["prescriptions"][part], "part": part}
            elif step == "settle_visit":
                if upto is not None:
                    break
                command = base | _visit_settle(op, key) | {"crash_at": 0}
                if op["wrong_card_first"] and op["presenter"] != op["patient"]:
                    # A relative's card first (R1, refused before anything is journaled),
                    # then the patient's own, under the same key.
                    commands.append(command | {"presenter": op["presenter"], "wrong_card": True})
            if step == op["crash_step"] and not any(c["crash_at"] for c in commands):
                command["crash_at"] = crash
            commands.append(command)
        return commands

    def done(self, outcome: dict[str, Any], visit: Any = None) -> None:
        """The command in hand ended with ``outcome``: remember what it settled, undid,
        registered or uploaded."""
        command = self.commands.popleft()
        tries = command.get("tries", 1)
        unreconciled = command["do"] == "reconcile" and outcome.get("outcome") != "reconciled"
        if unreconciled and tries < RECONCILE_TRIES:  # the finance team asks again
            self.commands.appendleft(command | {"tries": tries + 1})
        if command["do"] in VISIT_STEPS and command["do"] != "settle_visit":
            # A step before the settlement answers the visit as the centre now holds it.
            if visit is not None:
                self.visits[command["key"]] = visit
            else:  # not registered, or the fees not taken: the visit is left (no charge)
                self.drop_visit(command["key"])
        if outcome.get("outcome") == "settled" and "key" in outcome:
            self.sales.setdefault(
                outcome["key"],
                {
                    "settlement_id": outcome["settlement_id"],
                    "cash": outcome["cash"],
                    "channel": outcome["cash_channel"],
                    "undone": False,
                },
            )
        if outcome.get("outcome") in ("refunded", "cancelled") and outcome.get("key") in self.sales:
            self.sales[outcome["key"]]["undone"] = True

    def drop_visit(self, key: str) -> None:
        """The rest of a visit's commands: left undone."""
        self.commands = collections.deque(
            c for c in self.commands if c.get("visit_key") != key or c["do"] not in VISIT_STEPS
        )

    def died(self, recover_crash_at: int) -> None:
        """The process died in the command in hand: a new one recovers first, then does it again."""
        crashed = self.commands.popleft()
        self.deaths += 1
        again = [crashed | {"crash_at": 0, "after_crash": True}]
        if crashed["do"] == "recover":
            again = []  # the recovery itself was killed: recover again, then go on
        elif crashed["do"] in ("diagnose_visit", "upload_fees") and self.op is not None:
            # Registered anew (and diagnosed), its fees uploaded again up to the one cut.
            redo = self.visit_commands(self.op, upto=crashed.get("part", -1))
            again = [c | {"crash_at": 0, "after_crash": True} for c in redo]
        recovery = {
            "index": crashed["index"],
            "kind": "recover",
            "do": "recover",
            "after_crash": True,
        }
        self.commands.extendleft(reversed([recovery | {"crash_at": recover_crash_at}, *again]))


def _sale(op: dict[str, Any], key: str) -> dict[str, Any]:
    return {"do": "settle", "op": op, "key": key, "auth_code": op["auth_code"]}


def _visit_settle(op: dict[str, Any], key: str) -> dict[str, Any]:
    """The settlement of ``op``'s visit under ``key``: the visit as the billing system keeps
    it is added when the command is sent (``visit_key``)."""
    return {
        "do": "settle_visit",
        "op": op,
        "key": key,
        "auth_code": op["auth_code"],
        "visit_key": op["key"],
    }


class World:
    def __init__(
        self,
        workdir: Path,
        seed: int,
        population: Dataset,
        plan: list[dict[str, Any]],
        tills: int,
        per_round: int,
    ) -> None:
        self.workdir, self.seed, self.tills, self.per_round = workdir, seed, tills, per_round
        self.clock = VirtualClock()
        self.scheduler = plan_random(seed, "scheduler")
        self.serials = plan_random(seed, "serials")
        self.mock = MockGateway(population, clock=self.clock.beijing, faults=Faults(seed=seed))
        self.plan = plan
        self.pos = [Pos(t, [op for op in plan if op["till"] == t], plan) for t in range(tills)]
        self.processes: dict[str, Process] = {}
        self.pace, self.rushing = PACES["steady"], False
        self.records: list[dict[str, Any]] = []
        self.network = NetworkLog(workdir / "network.jsonl")
        self.violations: list[str] = []
        self.crashes = self.restarts = self.beside = self.lost_answers = 0
        self.rush_crashes = 0  # a busy till killed: crashes in rush rounds
        self.recoveries_started = 0  # recover() runs a restarted POS began (killed ones too)
        self.steps = 0
        #: Each day's reconciliation reports (``ReconciliationReport.as_dict()``), by till,
        #: as the latest reconciliation of the day answered.
        self.reconciliations: dict[str, dict[int, dict[str, Any]]] = {}

    # ---------------------------------------------------------------- processes

    def start(self, till: int, role: str = "pos", serial_start: int | None = None) -> Process:
        start = self.serials.randrange(10_000) if serial_start is None else serial_start
        process = Process(self, till, role, start)
        self.processes[process.name] = process
        return process

    def stop_all(self) -> None:
        self.network.close()
        for name in sorted(self.processes):
            process = self.processes.pop(name)
            with contextlib.suppress(OSError):
                send(process.channel, ("quit", self.clock.micros))
            process.end()

    # ---------------------------------------------------------------- running

    def run_round(self, number: int, pace: str, rules: list[dict[str, Any]]) -> None:
        self.mock.faults.clear()
        for rule in rules:
            self.mock.faults.add(**rule)
        self.pace, self.rushing = PACES[pace], pace == "rush"
        for pos in self.pos:
            pos.start_round(number, self.per_round)
        self.run_until_idle()

    def final_recovery(self) -> None:
        """Faults off; every till recovers once more, as the last thing it does."""
        self.mock.faults.clear()
        for pos in self.pos:
            pos.commands.append(
                {"index": -1, "kind": "final_recover", "do": "recover", "crash_at": 0}
            )
        self.run_until_idle()

    def close_day(self) -> datetime.date:
        """The pharmacy closes: every till recovers, the faults off (nothing is left in
        doubt), then reconciles the day with the centre, its messages meeting
        ``CLOSE_FAULTS``; then the clock moves on to the next morning at 09:00. The day
        closed."""
        day = self.today()
        self.mock.faults.clear()
        for pos in self.pos:
            pos.commands.append({"index": -1, "kind": "close", "do": "recover", "crash_at": 0})
        self.run_until_idle()
        for rule in CLOSE_FAULTS:
            self.mock.faults.add(**rule)
        self.reconcile([day])
        self.mock.faults.clear()
        self.clock.micros = _micros_at(day + datetime.timedelta(days=1))
        return day

    def reconcile(self, days: list[datetime.date]) -> None:
        """Every till reconciles each of ``days`` with the centre, under the faults on."""
        for pos in self.pos:
            pos.commands.extend(
                {
                    "index": -1,
                    "kind": "reconcile",
                    "do": "reconcile",
                    "day": day.isoformat(),
                    "crash_at": 0,
                }
                for day in days
            )
        self.run_until_idle()

    def today(self) -> datetime.date:
        return self.clock.beijing().date()

    def run_until_idle(self) -> None:
        while True:  # bounded: every step ends a request or a command, and the plan is finite
            runnable = [p for name, p in sorted(self.processes.items()) if self._can_go(p)]
            if not runnable:
                return
            self.step(self.scheduler.choice(runnable))

    def _can_go(self, process: Process) -> bool:
        if process.request is not None or process.command is not None:
            return True
        if process.role == "recover":
            return False
        return self.pos[process.till].next_command() is not None

    def step(self, process: Process) -> None:
        self.steps += 1
        self.clock.micros += self.scheduler.randint(*self.pace)
        try:
            if process.request is not None:
                send(process.channel, self.answer(process, process.request))
                process.request = None
            else:
                command = self.pos[process.till].next_command()
                assert command is not None
                if command["do"] == "skip":
                    self.record(process, command, {"outcome": "skipped"})
                    return
                process.command = command
                process.lose_answer = command.get("lose", "")
                if command["do"] == "recover" and command.get("after_crash"):
                    self.recoveries_started += 1
                wired = _wire_command(command, self.pos[process.till].visits)
                send(process.channel, ("op", self.clock.micros, wired))
            frame = process.wait_for_frame()
        except (Closed, OSError):
            self.died(process)
            return
        if frame[0] == "request":
            process.request = frame
            return
        assert frame[0] == "done", frame[0]
        command, process.command = process.command, None
        assert command is not None
        self.record(process, command, frame[1])
        if process.role == "recover":  # gongji journal recover ends when it has recovered
            del self.processes[process.name]
            send(process.channel, ("quit", self.clock.micros))
            process.end()

    def answer(self, process: Process, frame: tuple[Any, ...]) -> tuple[Any, ...]:
        """The network: the mock answers the request now, or a fault takes the answer."""
        _, method, url, headers, body = frame
        request = httpx.Request(method, url, headers=headers, content=body)
        now = self.clock.micros
        try:
            response = self.mock.handle(request)
            content = response.read()
        except httpx.TransportError as error:
            self.network.log(now, process, request, None, type(error).__name__)
            return ("error", now, type(error).__name__, str(error))
        if process.lose_answer and request.url.path.endswith(process.lose_answer):
            # Every answer to it while the command runs: a read repeated is lost again.
            self.lost_answers += 1
            self.network.log(now, process, request, content, "lost by the cancel_lost probe")
            return ("error", now, "ReadTimeout", "soak probe: the answer was lost after the commit")
        self.network.log(now, process, request, content, "")
        return ("answer", now, response.status_code, response.headers.multi_items(), content)

    def died(self, process: Process) -> None:
        code = process.end()
        del self.processes[process.name]
        command, process.command, process.request = process.command, None, None
        if process.role == "recover":
            self.violations.append(f"{process.name} ended with exit code {code}")
            return
        pos = self.pos[process.till]
        if code == -signal.SIGKILL:
            self.crashes += 1
            self.rush_crashes += self.rushing
        else:
            self.violations.append(
                f"{process.name} ended with exit code {code} in operation "
                f"{command['index'] if command else '?'} (see till-{process.till:02d}.log)"
            )
        if command is None or pos.deaths >= MAX_RESTARTS:
            if command is not None:
                self.violations.append(
                    f"{process.name} died {pos.deaths + 1} times in operation {command['index']}"
                )
                pos.commands.clear()
            self.start(process.till)
            return
        op = pos.op or {}
        first = command["do"] != "recover" and not command.get("after_crash")
        pos.died(op.get("recover_crash_at", 0) if first else 0)
        self.restarts += 1
        successor = self.start(process.till)
        if first and op.get("recover_beside"):
            # gongji journal recover, run by hand beside the restarted POS: same till number,
            # same journal, and (today's worst case) the same msgid serial start.
            self.beside += 1
            helper = self.start(process.till, "recover", successor.serial_start)
            helper.command = {
                "index": command["index"],
                "kind": "recover_beside",
                "do": "recover",
                "crash_at": 0,
            }
            self._hand(helper)

    def _hand(self, process: Process) -> None:
        """Give a new recover process its one command; it answers on its next step."""
        assert process.command is not None
        send(process.channel, ("op", self.clock.micros, _wire_command(process.command)))
        frame = process.wait_for_frame()
        if frame[0] == "request":
            process.request = frame
        else:
            self.record(process, process.command, frame[1])
            process.command = None
            del self.processes[process.name]
            send(process.channel, ("quit", self.clock.micros))
            process.end()

    def record(self, process: Process, command: dict[str, Any], outcome: dict[str, Any]) -> None:
        # Kept apart from the outcome line (which is written out and digested): the visit
        # names its patient; a day's reconciliation report is checked on its own.
        visit = outcome.pop("visit", None)
        report = outcome.pop("report", None)
        if report is not None:
            self.reconciliations.setdefault(command["day"], {})[process.till] = report
            outcome |= _report_figures(report)
        line = {
            "till": process.till,
            "process": process.role,
            "end": command["index"],
            "kind": command["kind"],
            "do": command["do"],
            "after_crash": bool(command.get("after_crash")),
            "at": self.clock.micros,
        }
        for name in ("key", "retried", "borrowed", "again", "settlement_id", "day"):
            if name in command:
                line[name] = command[name]
        if process.role == "pos" and command.get("visit_key") in self.pos[process.till].visits:
            line["visit_id"] = self.pos[process.till].visits[command["visit_key"]].visit_id
        line |= outcome
        if process.role == "pos":
            pos = self.pos[process.till]
            known = pos.sales.get(line.get("retried", ""))
            settled = line.get("outcome") == "settled"
            if known is not None and settled and line["settlement_id"] != known["settlement_id"]:
                line["violation"] = (
                    f"key {line['retried']} settled as {known['settlement_id']} and again as "
                    f"{line.get('settlement_id')}"
                )
            if command["do"] == "skip":
                pos.commands.popleft()
            else:
                pos.done(line, visit)
        self.records.append(line)

    def iter_records(self) -> Iterator[dict[str, Any]]:
        return iter(self.records)


def _micros_at(day: datetime.date) -> int:
    """The virtual clock's reading at 09:00 Beijing time on ``day``."""
    opening = datetime.datetime.combine(day, START.timetz())
    return (opening - START) // datetime.timedelta(microseconds=1)


def _report_figures(report: dict[str, Any]) -> dict[str, Any]:
    """A reconciliation report's figures, for the outcome line (and the digest)."""
    kinds = collections.Counter(d["kind"] for d in report["discrepancies"])
    return {
        "clean": report["clean"],
        "agreed": report["agreed"],
        "matched": report["matched"],
        "discrepancies": dict(sorted(kinds.items())),
        "journal": report["journal"],
        "centre": report["centre"],
        "groups": len(report["statements"]),
        "groups_agreed": sum(1 for v in report["statements"] if v["agreed"]),
        "unresolved": len(report["unresolved"]),
    }


class NetworkLog:
    """One line per request the tills sent, as the network saw it: who, when (virtual),
    what (the national infno and msgid, or the channel's path) and how it ended (the
    centre's infcode and words, the HTTP status, or the fault that took the answer).
    What a violation is pinned down from; searched for secrets like the logs."""

    def __init__(self, path: Path) -> None:
        self.file = path.open("w", encoding="utf-8")
        #: Messages whose msgid names a second after the moment it was sent: a busy till
        #: numbering ahead of the clock (borrowed seconds).
        self.borrowed = 0

    def log(
        self, now: int, process: Process, request: httpx.Request, answer: bytes | None, fault: str
    ) -> None:
        line: dict[str, Any] = {"at": now, "by": process.name, "path": request.url.path}
        if request.url.path.endswith("callService"):
            sent = _json(request.content)
            msgid = str(sent.get("msgid") or "")
            line |= {"infno": sent.get("infno"), "msgid": msgid}
            if msgid[-18:-4] > msgid_time(START + datetime.timedelta(microseconds=now)):
                self.borrowed += 1
            if answer is not None:
                got = _json(answer)
                line |= {
                    "infcode": got.get("infcode"),
                    "err_msg": str(got.get("err_msg") or "")[:160],
                }
        if fault:
            line["fault"] = fault
        self.file.write(json.dumps(line, ensure_ascii=False) + "\n")

    def close(self) -> None:
        self.file.close()


def _json(data: bytes) -> dict[str, Any]:
    try:
        found = json.loads(data)
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


def _wire_command(command: dict[str, Any], visits: dict[str, Any] | None = None) -> dict[str, Any]:
    """What the till needs of a command (the probe's network fault stays here), with the
    visit a visit's step works on, as the billing system keeps it."""
    wired = {k: v for k, v in command.items() if k != "lose"}
    if "visit_key" in command and visits is not None:
        wired["visit"] = visits.get(command["visit_key"])
    return wired
