"""The soak's plan: every operation, fault rule, crash point, probe and pace, from the seed.

Independent streams of ``random.Random``, each seeded with a string derived from the
run's seed (a string seed is hashed with SHA-512, so it does not depend on PYTHONHASHSEED):

- ``plan``: the operations, in order, with their patient, basket, payment code, idempotency
  key, the checkpoint at which the till is to kill itself (0: none), and the probes;
- ``faults``: the mock's fault rules, one set per round;
- ``paces``: how fast the virtual clock runs in each round (a rush round makes every
  till send more than 100 messages a virtual second);
- the scheduler's (bench/soak_world.py) and the population's
  (``gongji_mock.centre.population``), both from the run's seed.

Operation ``i`` belongs to till ``i % tills`` and to round ``i // (tills * per_round)``.

The five probes of issue 15 are operations (or marks on one) like the others:

- ``same_key``: a till settles with a key another till used (its basket, so equal cash,
  or its own);
- ``crafted``: a key equal to ``"G" + sha256(other key)[:26]``, the digest an earlier
  key with a colon is given as the channel's order number;
- ``recover_beside``: on a crash, ``gongji journal recover`` runs beside the restarted
  POS, with its till number and journal (and, today, the same msgid serial start);
- ``cancel_lost``: a cancel whose WeChat Pay reversal answer is lost, then a refund of
  the same sale;
- a rush round (``pace``) with crashes in it: a busy till killed while it borrows seconds.

A clinic's visits are operations too (``VISIT_STEPS``): ``visit`` registers a visit
(2201), uploads its fee lines in one or two prescriptions (2204) and settles it
(2206/2207) with the operation's own key; ``visit_retry`` settles an earlier visit of
the till again with its key (the same receipt, or a new attempt of a failed one);
``visit_again`` settles an earlier visit under a new key (the centre settles a visit
once: refused while its settlement stands). Refunds and cancels pick visits' settlements
like sales'. A visit's kill point is in one of its steps (``crash_step``).

The run spans two days (``DAYS``): after the first half of the rounds the pharmacy
closes, every till recovers and reconciles the day with the centre (3201, 3202 by file),
and the clock moves on to the next morning (bench/soak_world.py).
"""

from __future__ import annotations

import hashlib
import random
from typing import Any

from gongji.model import InsuranceKind
from gongji_mock.centre.dataset import Dataset
from gongji_mock.faults import FaultKind

#: How operations are mixed (weights).
MIX = {
    "preview": 14,
    "settle": 52,
    "retry": 6,
    "impersonate": 4,
    "refund": 9,
    "cancel": 9,
    # The probes of issue 15 that are operations of their own.
    "same_key": 2,
    "crafted": 2,
    "cancel_lost": 2,
    # A clinic's visits (register, upload fees, settle), their retries, and a settled
    # visit settled again under a new key.
    "visit": 10,
    "visit_retry": 2,
    "visit_again": 1,
}
#: A visit's steps, in order: the till's command for each (bench/soak_till.py). One
#: upload step per prescription. A step the centre's interface adds (2203 diagnosis
#: before the fees, 2205 withdrawing a line, 2202 cancelling an abandoned
#: registration) is a name here, its place in ``visit_steps`` and its command in the till.
VISIT_STEPS = ("register_visit", "diagnose_visit", "upload_fees", "settle_visit")
#: Where a visit's kill point falls (weights): the settlement is where money moves.
VISIT_CRASH_STEPS = {
    "register_visit": 10,
    "diagnose_visit": 5,
    "upload_fees": 25,
    "settle_visit": 60,
}
#: The checkpoints a step passes at most (request boundaries and journal writes; a sale's
#: kill point is drawn from 1-18): a visit's kill point is scaled into its step's.
VISIT_CHECKPOINTS = {"register_visit": 4, "diagnose_visit": 2, "upload_fees": 2, "settle_visit": 12}
#: A visit's operations are killed this much more often: three steps, each a place to die.
VISIT_CRASHES = 3
#: Departments and doctors of the clinic: (department, its code, its category (caty),
#: doctor, doctor's code).
_DEPARTMENTS = (
    ("内科", "0301", "A03", "王医生", "D210200000001"),
    ("外科", "0401", "A04", "李医生", "D210200000002"),
    ("儿科", "0701", "A07", "张医生", "D210200000003"),
    ("中医科", "5001", "A50", "赵医生", "D210200000004"),
)
#: The clinic's fee lines: a consultation, then drugs as prescribed (no traceability
#: codes at a clinic, and no cash-only goods: a visit settles its uploaded lines).
_CONSULTATION = ("110200001", "普通门诊诊查费", "drug", "A")
#: Share of the keys written with a colon (a POS's "SK01:000123"): the channel's order
#: number is then a digest of the key, which a crafted key can equal.
COLON_KEYS = 0.25
#: Share of the purchases that ask to pay from a relative's account (use_mutual_aid).
MUTUAL_AID = 0.6
#: Share of the crashes after which ``gongji journal recover`` runs beside the restarted POS.
RECOVER_BESIDE = 0.7
#: Every fourth round, from the third, is a rush: the virtual clock nearly stands still.
RUSH_EVERY, RUSH_FROM = 4, 2
#: The virtual days the run spans: each but the last ends with a close (bench/soak_world.py).
DAYS = 2
#: The faults a day's reconciliation meets at its close (the night's network is no better
#: than the day's): each of its messages lost before or after the centre took it, or
#: answered 503. The till asks again, up to ``RECONCILE_TRIES`` times, when a
#: reconciliation ends unavailable. The end's reconciliations meet none (the verdict).
CLOSE_FAULTS: list[dict[str, Any]] = [
    {"kind": kind, "target": "national", "code": code, "percent": 10}
    for code in ("3201", "9101", "3202", "9102")
    for kind in ("timeout_before_commit", "drop_after_commit", "error_5xx")
]
RECONCILE_TRIES = 6
#: Virtual microseconds the clock moves per scheduling step: (least, most), by pace.
PACES = {"steady": (2_000, 60_000), "rush": (0, 1_500)}
#: A rush round's operations crash this much more often (a busy till killed).
RUSH_CRASHES = 4
#: The last digit of a payment code decides its outcome at the mock (mock-channels.md).
CODE_OUTCOMES = {"paid": 78, "password_then_paid": 7, "password_never": 4, "insufficient": 7}
CODE_OUTCOMES |= {"expired": 4}
_LAST_DIGIT = {
    "paid": "1",
    "password_then_paid": "2",
    "password_never": "3",
    "insufficient": "4",
    "expired": "5",
}
_CATALOGUE = (
    ("XA01", "阿莫西林胶囊", "drug", "A"),
    ("XA02", "布洛芬缓释胶囊", "drug", "A"),
    ("XB01", "阿托伐他汀钙片", "drug", "B"),
    ("XB02", "血糖试纸", "medical_device", "B"),
    ("XC01", "进口眼药水", "drug", "C"),
    ("ZC01", "保健品", "supplement", "C"),  # cash only (R6)
)


def plan_random(seed: int, stream: str) -> random.Random:
    return random.Random(f"gongji-soak/{seed}/{stream}")


def rounds_for(ops: int, tills: int) -> tuple[int, int]:
    """(rounds, operations per till per round): enough rounds for the fault schedule and
    the paces to change often (every fault kind is on within four rounds)."""
    rounds = max(8, min(40, ops // 500))
    per_round = -(-ops // (rounds * tills))
    return -(-ops // (tills * per_round)), per_round


def day_closes(rounds: int) -> list[int]:
    """The rounds after which the day closes (reconciled, then the next morning): the run's
    rounds cut into ``DAYS`` days."""
    return [rounds * day // DAYS - 1 for day in range(1, DAYS)]


def paces(rounds: int) -> list[str]:
    """Each round's pace: ``rush`` every ``RUSH_EVERY`` rounds from ``RUSH_FROM``, else steady."""
    return ["rush" if r % RUSH_EVERY == RUSH_FROM else "steady" for r in range(rounds)]


def make_plan(
    seed: int, ops: int, tills: int, population: Dataset, crash_percent: float
) -> list[dict[str, Any]]:  # float-ok: a probability
    rng = plan_random(seed, "plan")
    _, per_round = rounds_for(ops, tills)
    pace = paces(rounds_for(ops, tills)[0])
    people = sorted(population.people.values(), key=lambda p: p.id.number)
    family_of: dict[str, list[str]] = {}
    for binding in population.bindings:
        for a, b in ((binding.owner, binding.beneficiary), (binding.beneficiary, binding.owner)):
            family_of.setdefault(a.number, []).append(b.number)
    # Beneficiaries are drawn more often: they are who mutual aid pays for.
    beneficiaries = sorted({b.beneficiary.number for b in population.bindings})
    insured = [p.id.number for p in people if p.insurance.kind is not InsuranceKind.NONE]
    everyone = [p.id.number for p in people]
    kinds, weights = zip(*MIX.items(), strict=True)
    plan: list[dict[str, Any]] = []
    settled_keys: list[tuple[int, int]] = []  # (till, index) of every planned settlement
    colon_keys: list[int] = []  # ... of those whose key has a colon
    visits: list[tuple[int, int]] = []  # (till, index) of every planned visit
    for index in range(ops):
        till = index % tills
        kind = rng.choices(kinds, weights)[0]
        pool = rng.choices((beneficiaries, insured, everyone), (50, 45, 5))[0]
        patient = rng.choice(pool)
        relatives = family_of.get(patient) or [rng.choice(everyone)]
        lines = _basket(rng, index)
        cash = rng.choices(("wechatpay", "alipay", "counter"), (45, 35, 20))[0]
        colon = rng.random() < COLON_KEYS
        crash_at = 0
        rush = pace[index // (tills * per_round)] == "rush"
        often = (RUSH_CRASHES if rush else 1) * (VISIT_CRASHES if kind.startswith("visit") else 1)
        if rng.random() * 100 < crash_percent * often:
            crash_at = rng.randint(1, 18)
        op: dict[str, Any] = {
            "index": index,
            "till": till,
            "kind": kind,
            "key": f"SK{till:02d}{':' if colon else '-'}{index:06d}",
            "patient": patient,
            "credential": rng.choices(("id_card", "e_voucher"), (80, 20))[0],
            "presenter": rng.choice(relatives),  # impersonation: a relative's card
            "agent": rng.choice(relatives) if rng.random() < 0.1 else None,
            "lines": lines,
            "cash": cash,
            "auth_code": _payment_code(rng, cash),
            "pick": rng.random(),  # which earlier sale a retry, refund or cancel takes
            "crash_at": crash_at,
            # A crash in the recovery that follows this crash (a second kill).
            "recover_crash_at": rng.randint(1, 6) if crash_at and rng.random() < 0.2 else 0,
            "recover_beside": bool(crash_at) and rng.random() < RECOVER_BESIDE,
            "borrow": None,  # same_key, crafted: the earlier operation whose key is taken
            "same_basket": rng.random() < 0.5,  # ... and whose purchase, for equal cash
            # Mutual aid is asked for per sale (the patient's wish); most who can, do.
            "mutual_aid": rng.random() < MUTUAL_AID,
            # Visits (drawn for every operation, so the stream is the same for all kinds).
            "department": list(rng.choice(_DEPARTMENTS)),
            "prescriptions": _prescriptions(rng),
            "crash_step": rng.choices(*zip(*VISIT_CRASH_STEPS.items(), strict=True))[0],
            # A relative's card shown first at the visit's settlement (R1), then the patient's.
            "wrong_card_first": rng.random() < 0.05,
        }
        if kind == "same_key":
            others = [i for t, i in settled_keys if t != till]
            op["borrow"] = others[int(rng.random() * len(others))] if others else None
        elif kind == "crafted":
            op["borrow"] = colon_keys[int(rng.random() * len(colon_keys))] if colon_keys else None
        if kind.startswith("visit"):
            _visit_op(rng, op, [i for t, i in visits if t == till], plan)
            if op["kind"] == "visit":
                visits.append((till, index))
        elif kind in ("same_key", "crafted") and op["borrow"] is None:
            op["kind"] = "settle"  # nothing to borrow from yet: an ordinary sale
        elif op["borrow"] is not None and op["same_basket"]:
            # The earlier sale's purchase, paid the same way with this customer's own code:
            # the same cash share on the same channel.
            op["auth_code"] = _payment_code(rng, plan[op["borrow"]]["cash"])
        if op["kind"] == "settle":
            settled_keys.append((till, index))
            if colon:
                colon_keys.append(index)
        plan.append(op)
    return plan


def _visit_op(
    rng: random.Random, op: dict[str, Any], earlier: list[int], plan: list[dict[str, Any]]
) -> None:
    """A visit's own key; a retry or a second settlement takes an earlier visit of the till
    (a plain visit when there is none yet), and a second settlement its own payment code
    for that visit's way of paying."""
    op["key"] = f"VK{op['till']:02d}-{op['index']:06d}"
    if op["crash_at"]:
        step = op["crash_step"] if op["kind"] == "visit" else "settle_visit"
        op["crash_at"] = 1 + (op["crash_at"] - 1) * VISIT_CHECKPOINTS[step] // 18
    if op["kind"] == "visit":
        return
    if not earlier:
        op["kind"] = "visit"
        return
    op["borrow"] = earlier[int(rng.random() * len(earlier))]
    if op["kind"] == "visit_again":
        op["auth_code"] = _payment_code(rng, plan[op["borrow"]]["cash"])


def _basket(rng: random.Random, index: int) -> list[list[Any]]:
    lines: list[list[Any]] = []
    for _ in range(rng.choices((1, 2, 3, 4), (40, 30, 20, 10))[0]):
        code, name, category, coverage = rng.choice(_CATALOGUE)
        price = rng.choice((rng.randint(1, 2_000), rng.randint(500, 30_000)))
        if rng.random() < 0.05:
            price = rng.randint(50_000, 200_000)
        quantity = rng.randint(1, 3)
        # A drug's packs carry their traceability codes (追溯码), one a pack and never sold
        # twice: made from the operation, the line and the pack (no draw from ``rng``).
        codes = [
            f"81{index:012d}{len(lines):03d}{pack:03d}"
            for pack in range(quantity if category == "drug" else 0)
        ]
        lines.append([code, name, price, quantity, category, coverage, codes])
    return lines


def _prescriptions(rng: random.Random) -> list[list[list[Any]]]:
    """A visit's fee lines, as uploaded: a consultation, then one or two prescriptions."""
    lines: list[list[Any]] = [[*_CONSULTATION[:2], 1_000, 1, *_CONSULTATION[2:], []]]
    drugs = [line for line in _CATALOGUE if line[2] != "supplement"]
    uploads: list[list[list[Any]]] = []
    for _ in range(rng.choices((1, 2), (70, 30))[0]):
        for _ in range(rng.choices((1, 2, 3), (50, 35, 15))[0]):
            code, name, category, coverage = rng.choice(drugs)
            price = rng.choice((rng.randint(1, 2_000), rng.randint(500, 30_000)))
            lines.append([code, name, price, rng.randint(1, 3), category, coverage, []])
        uploads.append(lines)
        lines = []
    return uploads


def visit_steps(op: dict[str, Any]) -> list[str]:
    """The commands of a visit operation, in order: register, diagnose (2203: the centre
    takes no fee line before it), one upload a prescription, settle."""
    register, diagnose, upload, settle = VISIT_STEPS
    return [register, diagnose, *[upload] * len(op["prescriptions"]), settle]


def _payment_code(rng: random.Random, cash: str) -> str:
    outcomes, outcome_weights = zip(*CODE_OUTCOMES.items(), strict=True)
    last = _LAST_DIGIT[rng.choices(outcomes, outcome_weights)[0]]
    if cash == "wechatpay":
        return "13" + "".join(rng.choices("0123456789", k=15)) + last
    if cash == "alipay":
        return "28" + "".join(rng.choices("0123456789", k=13)) + last
    return ""


def crafted_key(key: str) -> str:
    """The key whose channel order number today's gongji makes equal to ``key``'s digest."""
    return "G" + hashlib.sha256(key.encode()).hexdigest()[:26]


#: Request faults and callback faults, each with the targets it can hit.
_TARGETS = {
    FaultKind.LATENCY: ("*", "national", "wechatpay", "alipay"),
    FaultKind.ERROR_5XX: ("*", "national", "wechatpay", "alipay"),
    FaultKind.TIMEOUT_BEFORE_COMMIT: ("*", "national", "wechatpay", "alipay"),
    FaultKind.DROP_AFTER_COMMIT: ("*", "national", "wechatpay", "alipay"),
    FaultKind.BAD_SIGNATURE: ("wechatpay", "alipay"),
    FaultKind.CLOCK_SKEW: ("*",),
    # Callbacks are few (refunds, payments confirmed after a password): both channels.
    FaultKind.DUPLICATE_CALLBACK: ("*",),
    FaultKind.OUT_OF_ORDER_CALLBACKS: ("*",),
}
#: Codes a rule may single out (else every code of its target).
_CODES = {
    "national": (
        "*",
        "*",
        "2102",
        "2101",
        "1101",
        "2103",
        "2601",
        "2201",
        "2203",
        "2204",
        "2207",
        "2208",
    ),
    "wechatpay": ("*", "*", "/v3/pay/transactions/codepay"),
    "alipay": ("*", "*", "alipay.trade.pay", "alipay.trade.query"),
    "*": ("*",),
}


def fault_schedule(seed: int, rounds: int) -> list[list[dict[str, Any]]]:
    """The fault rules of each round. Every kind is on in at least one of four rounds
    (round r always has kinds 2r and 2r + 1, mod 8); the others are switched on at random."""
    rng = plan_random(seed, "faults")
    every = list(FaultKind)
    schedule = []
    for number in range(rounds):
        forced = {every[(2 * number) % len(every)], every[(2 * number + 1) % len(every)]}
        chosen = forced | {k for k in every if rng.random() < 0.3}
        rules = []
        for kind in sorted(chosen, key=every.index):
            target = rng.choice(_TARGETS[kind])
            rule: dict[str, Any] = {"kind": kind.value, "target": target}
            if kind is FaultKind.CLOCK_SKEW:
                # Within the TIF replay window (300 s): late or early, but not refused.
                rule["skew_seconds"] = rng.choice((-1, 1)) * rng.randint(5, 120)
            elif kind is FaultKind.LATENCY:
                rule |= {"percent": rng.randint(5, 20), "latency_ms": rng.randint(1, 15)}
            elif kind in (FaultKind.DUPLICATE_CALLBACK, FaultKind.OUT_OF_ORDER_CALLBACKS):
                rule |= {"code": "callback", "percent": rng.randint(50, 100)}
            else:
                rule |= {"code": rng.choice(_CODES[target]), "percent": rng.randint(2, 6)}
            rules.append(rule)
        schedule.append(rules)
    return schedule
