"""The soak's plan: every operation, every fault rule and every crash point, from the seed.

Three independent streams of ``random.Random``, each seeded with a string derived from the
run's seed (a string seed is hashed with SHA-512, so it does not depend on PYTHONHASHSEED):

- ``plan``: the operations, in order, with their patient, basket, payment code, idempotency
  key, and the checkpoint at which the till is to kill itself (0: none);
- ``faults``: the mock's fault rules, one set per round;
- the population: ``gongji_mock.centre.population`` with the run's seed.

Operation ``i`` belongs to till ``i % tills`` and to round ``i // (tills * per_round)``.
What a plan cannot fix is how the tills' requests interleave at the mock, hence which
request a percentage fault hits, and so the outcome of each operation.
"""

from __future__ import annotations

import random
from typing import Any

from gongji.model import InsuranceKind
from gongji_mock.centre.dataset import Dataset
from gongji_mock.faults import FaultKind

#: How operations are mixed (weights).
MIX = {
    "preview": 14,
    "settle": 56,
    "retry": 6,
    "impersonate": 4,
    "refund": 10,
    "cancel": 10,
}
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
    """(rounds, operations per till per round): enough rounds for the fault schedule to
    change often, few enough that starting the till processes stays cheap."""
    rounds = max(4, min(20, ops // 1000))
    per_round = -(-ops // (rounds * tills))
    return -(-ops // (tills * per_round)), per_round


def make_plan(
    seed: int, ops: int, tills: int, population: Dataset, crash_percent: float
) -> list[dict[str, Any]]:  # float-ok: a probability
    rng = plan_random(seed, "plan")
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
    outcomes, outcome_weights = zip(*CODE_OUTCOMES.items(), strict=True)
    plan: list[dict[str, Any]] = []
    for index in range(ops):
        kind = rng.choices(kinds, weights)[0]
        pool = rng.choices((beneficiaries, insured, everyone), (50, 45, 5))[0]
        patient = rng.choice(pool)
        relatives = family_of.get(patient) or [rng.choice(everyone)]
        lines = []
        for _ in range(rng.choices((1, 2, 3, 4), (40, 30, 20, 10))[0]):
            code, name, category, coverage = rng.choice(_CATALOGUE)
            price = rng.choice((rng.randint(1, 2_000), rng.randint(500, 30_000)))
            if rng.random() < 0.05:
                price = rng.randint(50_000, 200_000)
            lines.append([code, name, price, rng.randint(1, 3), category, coverage])
        cash = rng.choices(("wechatpay", "alipay", "counter"), (45, 35, 20))[0]
        last = _LAST_DIGIT[rng.choices(outcomes, outcome_weights)[0]]
        if cash == "wechatpay":
            auth_code = "13" + "".join(rng.choices("0123456789", k=15)) + last
        elif cash == "alipay":
            auth_code = "28" + "".join(rng.choices("0123456789", k=13)) + last
        else:
            auth_code = ""
        crash_at = 0
        if rng.random() * 100 < crash_percent:
            crash_at = rng.randint(1, 18)
        plan.append(
            {
                "index": index,
                "till": index % tills,
                "kind": kind,
                "key": f"SK{index % tills:02d}-{index:06d}",
                "patient": patient,
                "credential": rng.choices(("id_card", "e_voucher"), (80, 20))[0],
                "presenter": rng.choice(relatives),  # impersonation: a relative's card
                "agent": rng.choice(relatives) if rng.random() < 0.1 else None,
                "lines": lines,
                "cash": cash,
                "auth_code": auth_code,
                "pick": rng.random(),  # which earlier sale a retry, refund or cancel takes
                "crash_at": crash_at,
                # A crash in the recovery that follows this crash (a second kill).
                "recover_crash_at": rng.randint(1, 6) if crash_at and rng.random() < 0.2 else 0,
            }
        )
    return plan


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
    "national": ("*", "*", "2102", "2101", "1101", "2103", "2601"),
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
