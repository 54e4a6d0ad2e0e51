"""One till of the soak, in its own process (started by bench/soak.py, never by hand).

    python bench/soak_till.py WORKDIR URL TILL ROUND
    python bench/soak_till.py WORKDIR URL TILL --final

It runs its share of one round of the plan against the served mock with its own SQLite
journal, writing a line per operation to ``till-NN.jsonl`` (flushed, so a SIGKILL loses
nothing written before it). At an operation's planned checkpoint it kills itself with
SIGKILL: nothing is flushed or cleaned up, as when the power goes. Started again, it
finds the operation it died in, runs ``recover()`` first (which may itself be killed
once, at its own planned checkpoint), then does that operation again (a POS retrying
the sale with the same key), then goes on. ``--final`` only recovers, with no faults on.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from gongji import (
    Cash,
    Credential,
    Declined,
    EligibilityError,
    GongjiError,
    InvalidInput,
    LineItem,
    OutcomeUnknown,
    OwnCardViolation,
    Purchase,
    SettlementClient,
    Unavailable,
)
from gongji.flows.setup import Polling
from gongji.journal import SqliteJournal
from gongji.model import Receipt
from gongji.rules.quote import Quote

POLLING = Polling(interval_ms=5, attempts=3, read_retries=2)


class Till:
    def __init__(self, workdir: Path, url: str, till: int, plan: list[dict[str, Any]]) -> None:
        self.workdir, self.url, self.till, self.plan = workdir, url, till, plan
        self.log_path = workdir / f"till-{till:02d}.jsonl"
        self.lines = _read_lines(self.log_path)
        self.log = self.log_path.open("a", encoding="utf-8")
        self.checkpoints = 0
        self.kill_at = 0
        self.admin = httpx.Client(base_url=url, timeout=30)
        self.client = SettlementClient.from_profile(
            "mock",
            url=url,
            journal=SqliteJournal(workdir / f"journal-{till:02d}.sqlite3"),
            polling=POLLING,
            checkpoint=self.checkpoint,
            till=till + 1,
        )
        # What this till has settled and not undone, rebuilt from its log: key -> receipt facts.
        self.sales: dict[str, dict[str, Any]] = {}
        for line in self.lines:
            self._remember(line)

    # ---------------------------------------------------------------- crashing

    def checkpoint(self, _name: str) -> None:
        self.checkpoints += 1
        if self.kill_at and self.checkpoints == self.kill_at:
            self.log.flush()
            os.kill(os.getpid(), signal.SIGKILL)

    def arm(self, at: int) -> None:
        self.checkpoints, self.kill_at = 0, at

    def write(self, line: dict[str, Any]) -> None:
        self.log.write(json.dumps(line, ensure_ascii=False) + "\n")
        self.log.flush()

    # ---------------------------------------------------------------- running a round

    def run(self, ops: list[dict[str, Any]]) -> None:
        ended = {line["end"] for line in self.lines if "end" in line}
        started = [line["start"] for line in self.lines if "start" in line]
        crashed = started[-1] if started and started[-1] not in ended else None
        if crashed is not None or any("recovering" in line for line in self.lines[-1:]):
            self.recover_after_crash(crashed, ops)
        for op in ops:
            if op["index"] in ended:
                continue
            again = op["index"] == crashed
            self.write({"start": op["index"]})
            self.arm(0 if again else op["crash_at"])
            began = time.monotonic()
            outcome = self.operate(op)
            self.arm(0)
            outcome |= {"end": op["index"], "kind": op["kind"], "after_crash": again}
            outcome["ms"] = round((time.monotonic() - began) * 1000)
            self.write(outcome)
            self._remember(outcome)

    def recover_after_crash(self, crashed: int | None, ops: list[dict[str, Any]]) -> None:
        tries = sum(1 for line in self.lines if line.get("recovering") == crashed)
        op = next((o for o in ops if o["index"] == crashed), None)
        self.write({"recovering": crashed})
        # The recovery itself is killed once where the plan says so (a second crash).
        self.arm(op["recover_crash_at"] if op is not None and tries == 0 else 0)
        self.recover()
        self.arm(0)

    def recover(self) -> None:
        try:
            ended = self.client.recover()
            left = len(self.client.journal.in_doubt())
            self.write({"recovered": len(ended), "left": left})
        except GongjiError as error:
            self.write({"recovered": 0, "error": f"{type(error).__name__}: {error}"})

    # ---------------------------------------------------------------- one operation

    def operate(self, op: dict[str, Any]) -> dict[str, Any]:
        kind = op["kind"]
        try:
            if kind == "preview":
                return _quote_outcome(self.client.preview(self.purchase(op)))
            if kind == "impersonate":
                return self.impersonate(op)
            if kind == "retry":
                return self.retry(op)
            if kind in ("refund", "cancel"):
                return self.undo(op, kind)
            return self.settle(op, op["key"])
        except OwnCardViolation as error:
            return {"outcome": "refused_r1", "message": str(error)}
        except EligibilityError as error:
            return {"outcome": "refused", "message": str(error)}
        except Declined as error:
            return {"outcome": "declined", "message": str(error)}
        except OutcomeUnknown as error:
            return {"outcome": "in_doubt", "message": str(error)}
        except Unavailable as error:
            return {"outcome": "unavailable", "message": str(error)}
        except InvalidInput as error:
            return {"outcome": "invalid", "message": str(error)}
        except GongjiError as error:
            return {"outcome": type(error).__name__, "message": str(error)}

    def purchase(self, op: dict[str, Any], presenter: str | None = None) -> Purchase:
        holder = presenter or op["patient"]
        if op["credential"] == "e_voucher" and presenter is None:
            answer = self.admin.post("/gongji-admin/e-voucher", json={"id_number": holder})
            answer.raise_for_status()
            credential = Credential.e_voucher(answer.json()["qr_text"])
        else:
            credential = Credential.id_card(holder)
        items = [
            LineItem(code=c, name=n, unit_price=p, quantity=q, category=cat, coverage=cov)
            for c, n, p, q, cat, cov in op["lines"]
        ]
        return Purchase(
            credential=credential,
            items=items,
            patient_id=op["patient"] if presenter else None,
            agent_id=None if presenter else op["agent"],
        )

    def cash(self, op: dict[str, Any]) -> Cash:
        if op["cash"] == "wechatpay":
            return Cash.wechat(op["auth_code"])
        if op["cash"] == "alipay":
            return Cash.alipay(op["auth_code"])
        return Cash.counter()

    def settle(self, op: dict[str, Any], key: str) -> dict[str, Any]:
        receipt = self.client.settle(self.purchase(op), key=key, cash=self.cash(op))
        return _receipt_outcome(receipt, "settled") | {"key": key}

    def impersonate(self, op: dict[str, Any]) -> dict[str, Any]:
        if op["presenter"] == op["patient"]:
            return {"outcome": "skipped"}
        receipt = self.client.settle(
            self.purchase(op, presenter=op["presenter"]), key=op["key"], cash=self.cash(op)
        )
        return _receipt_outcome(receipt, "settled") | {
            "key": op["key"],
            "violation": "R1: someone else's credential settled a purchase",
        }

    def retry(self, op: dict[str, Any]) -> dict[str, Any]:
        """The same sale again, with its key and basket: never a second charge."""
        earlier = [o for o in self.plan if o["kind"] == "settle" and o["index"] < op["index"]]
        if not earlier:
            return {"outcome": "skipped"}
        original = earlier[int(op["pick"] * len(earlier))]
        key = original["key"]
        known = self.sales.get(key)
        result = self.settle(original, key) | {"retried": key}
        if known is not None and result.get("settlement_id") != known["settlement_id"]:
            result["violation"] = (
                f"key {key} settled as {known['settlement_id']} and again as "
                f"{result.get('settlement_id')}"
            )
        return result

    def undo(self, op: dict[str, Any], how: str) -> dict[str, Any]:
        standing = sorted(k for k, sale in self.sales.items() if not sale.get("undone"))
        if not standing:
            return {"outcome": "skipped"}
        key = standing[int(op["pick"] * len(standing))]
        sid = self.sales[key]["settlement_id"]
        undo = self.client.refund if how == "refund" else self.client.cancel
        receipt = undo(sid)
        done = "refunded" if how == "refund" else "cancelled"
        return _receipt_outcome(receipt, done) | {"key": key, "undone": key}

    # ---------------------------------------------------------------- bookkeeping

    def _remember(self, line: dict[str, Any]) -> None:
        if line.get("outcome") == "settled" and "key" in line and "settlement_id" in line:
            self.sales.setdefault(line["key"], {"settlement_id": line["settlement_id"]})
        if "undone" in line and line["undone"] in self.sales:
            self.sales[line["undone"]]["undone"] = True


def _quote_outcome(quote: Quote) -> dict[str, Any]:
    parts = int(quote.fund) + sum(int(leg.amount) for leg in quote.legs) + int(quote.cash)
    outcome: dict[str, Any] = {"outcome": "quoted", "refusals": len(quote.refusals)}
    if parts != int(quote.total):
        outcome["violation"] = f"quote parts sum to {parts}, total {int(quote.total)}"
    return outcome


def _receipt_outcome(receipt: Receipt, outcome: str) -> dict[str, Any]:
    legs = {leg.source for leg in receipt.legs}
    parts = int(receipt.fund) + sum(int(leg.amount) for leg in receipt.legs) + int(receipt.cash)
    line: dict[str, Any] = {
        "outcome": outcome,
        "settlement_id": receipt.settlement_id,
        "total": int(receipt.total),
        "cash": int(receipt.cash),
        "legs": sorted(legs),
        "divergence": bool(receipt.divergence),
    }
    if parts != int(receipt.total):
        line["violation"] = f"receipt {receipt.settlement_id}: parts {parts} != {receipt.total}"
    return line


def _read_lines(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    lines = []
    for text in path.read_text(encoding="utf-8").splitlines():
        try:
            lines.append(json.loads(text))
        except json.JSONDecodeError:
            break  # a line cut by the kill: everything before it stands
    return lines


def main(argv: list[str]) -> int:
    workdir, url, till = Path(argv[0]), argv[1], int(argv[2])
    # The SDK's own log, at its most talkative, goes to stderr (captured by the supervisor
    # and searched for secrets afterwards).
    logging.basicConfig(level=logging.INFO, format="%(name)s %(levelname)s %(message)s")
    logging.getLogger("gongji").setLevel(logging.DEBUG)
    plan = json.loads((workdir / "plan.json").read_text(encoding="utf-8"))
    mine = [op for op in plan["ops"] if op["till"] == till]
    runner = Till(workdir, url, till, mine)
    try:
        if argv[3] == "--final":
            runner.arm(0)
            runner.recover()
            return 0
        number = int(argv[3])
        per_round = plan["per_round"]
        runner.run(mine[number * per_round : (number + 1) * per_round])
    finally:
        runner.client.close()
        runner.admin.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
