"""Rules R1-R9 + the payer chain for one purchase, next to one RSA-2048 signature.

One beneficiary with 8 bindings, a 10-line basket, the Dalian pack; the same run
times one RSA-2048 PKCS#1 v1.5 SHA-256 signature with ``cryptography``, the cost
every settlement pays anyway. Target: rules + planner <= 0.35 x one signature.
Figures are medians of repeated batches, so a noisy neighbour moves them little.
"""

from __future__ import annotations

import datetime
import statistics
import sys
import time
from collections.abc import Callable

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from stdnum.cn import ric

from gongji import Credential, Fen
from gongji.model import Binding, Insurance, LineItem, Person, PersonalAccount, Purchase
from gongji.plugins import get_plugin_manager
from gongji.policy import get_policy
from gongji.rules.assess import assess
from gongji.rules.context import CheckContext

TARGET = 0.35


def _id(region: str, birth: str, order: int) -> str:
    body = f"{region}{birth}{order:03d}"
    return body + ric.calc_check_digit(body + "0")


def build_context() -> CheckContext:
    patient = _id("210202", "19580912", 4)
    owners = [
        Person(
            _id("210202", f"198{i}0101", 11 + 2 * i),
            "子女",
            Insurance("employee", "active", "210202" if i % 2 else "210502"),
            PersonalAccount(Fen(3_000 + 1_000 * i)),
        )
        for i in range(8)
    ]
    statuses = ["active", "active", "pending", "active", "revoked", "active", "active", "active"]
    bindings = tuple(
        Binding(
            o.id,
            patient,
            "child" if i == 7 else "parent",
            statuses[i],
            priority=i + 1,
            per_transaction_limit=Fen(5_000) if i % 3 == 0 else None,
        )
        for i, o in enumerate(owners)
    )
    items = [
        LineItem(
            code=f"X{i:02d}",
            name="药品",
            unit_price=Fen(1_250 + 100 * i),
            quantity=1 + i % 3,
            category="cosmetic" if i == 9 else "drug",
            coverage="ABC"[i % 3],
        )
        for i in range(10)
    ]
    purchase = Purchase(credential=Credential.e_voucher("bench-token"), items=items)
    return CheckContext(
        purchase=purchase,
        holder=Person(patient, "母亲", Insurance("resident", "active", "210202")),
        policy=get_policy("liaoning-dalian-2025"),
        today=datetime.date(2026, 11, 23),
        fund=Fen(4_000),
        bindings=bindings,
        owners={o.id: o for o in owners},
    )


def per_call_ns(fn: Callable[[], object], batch: int, rounds: int = 15) -> float:
    """Median over ``rounds`` batches of the time per call, in nanoseconds."""
    for _ in range(max(1, batch // 10)):
        fn()
    samples = []
    for _ in range(rounds):
        start = time.perf_counter_ns()
        for _ in range(batch):
            fn()
        samples.append((time.perf_counter_ns() - start) / batch)
    return statistics.median(samples)


def main() -> int:
    plugins = get_plugin_manager()
    context = build_context()
    quote = assess(context, plugins)
    assert quote.total == quote.fund + quote.accounts + quote.cash
    # A fresh context each call so the cached properties are recomputed, as in a real settlement.
    fields = {
        f: getattr(context, f)
        for f in ("purchase", "holder", "policy", "today", "fund", "bindings", "owners")
    }

    def rules_and_planner() -> object:
        return assess(CheckContext(**fields), plugins)

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    message = b'{"infno":"2102","input":{"data":{"mdtrt_id":"M1","medfee_sumamt":"125.00"}}}' * 4

    def rsa_sign() -> object:
        return key.sign(message, padding.PKCS1v15(), hashes.SHA256())

    rules_ns = per_call_ns(rules_and_planner, batch=2_000)
    rsa_ns = per_call_ns(rsa_sign, batch=100)
    ratio = rules_ns / rsa_ns
    print(f"{'what':<44}{'median per call':>18}")
    print(f"{'rules R1-R9 + payer chain (8 bindings, 10 lines)':<44}{rules_ns / 1000:>15.1f} us")
    print(f"{'RSA-2048 PKCS#1 v1.5 SHA-256 sign':<44}{rsa_ns / 1000:>15.1f} us")
    print(f"{'ratio rules / RSA sign':<44}{ratio:>18.3f}")
    verdict = "PASS" if ratio <= TARGET else "MISS"
    print(
        f"rules+planner = {ratio:.3f} x one RSA-2048 signature ({rules_ns / 1000:.1f} us); target <= {TARGET} x: {verdict}"
    )
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
