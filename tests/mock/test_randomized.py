"""A seeded, randomized run of mixed operations against the mock centre with faults on:
whatever happens, the ledger's invariants hold and no e-voucher pays twice."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator

import httpx
import pytest

from gongji.signing.tif import TifSigner
from gongji_mock import MockGateway
from gongji_mock.centre.dataset import demo_dataset
from gongji_mock.gateway import DEFAULT_PAASID, DEFAULT_TIF_SECRET
from tests.mock.test_national import Clock, Pos, line, settle_input

PEOPLE = [
    "210202198503170036",  # son, employee, 5000 yuan
    "210202195809120046",  # mother, resident, bound to son (limit) and daughter
    "210202195601010112",  # father, retired employee
    "210202201506010227",  # granddaughter, resident; pending binding
    "210502198802200422",  # daughter in Benxi, 30 yuan
    "620102193211080627",  # grandmother in Gansu
]
OPERATIONS = 2_000


@pytest.fixture
def run() -> Iterator[tuple[MockGateway, Pos]]:
    clock = Clock()
    mock = MockGateway(demo_dataset(), clock=clock, extensions=True)  # raw extension dialect
    signer = TifSigner(DEFAULT_PAASID, DEFAULT_TIF_SECRET, clock=lambda: clock.now.timestamp())
    with httpx.Client(transport=mock.transport(), base_url="http://mock.test") as client:
        pos = Pos(client, signer)
        pos.sign_in()
        yield mock, pos


def test_ledger_invariants_hold_after_2000_random_operations_with_faults(
    run: tuple[MockGateway, Pos],
) -> None:
    mock, pos = run
    rng = random.Random(20261123)
    psn = {number: pos.psn_no(number) for number in PEOPLE}
    for kind, percent in (("error_5xx", 3), ("timeout_before_commit", 3), ("drop_after_commit", 5)):
        mock.faults.add(kind, target="national", percent=percent)
    settled: list[dict[str, str]] = []
    sent_settlements: list[str] = []
    outcomes: dict[str, int] = {}

    for _ in range(OPERATIONS):
        op = rng.choices(
            ["settle", "pre", "retry", "cancel", "reverse", "impersonate"], [40, 15, 10, 15, 10, 10]
        )[0]
        holder = rng.choice(PEOPLE)
        items = [
            line(
                f"{rng.randint(1, 90_000) / 100:.2f}",
                rng.randint(1, 3),
                rng.choice(["01", "02", "03"]),
            )
        ]
        body: dict[str, object]
        if op in ("settle", "pre"):
            msgid = pos.msgid()
            body = pos.envelope(
                "2102" if op == "settle" else "2101",
                settle_input(psn[holder], holder, *items),
                msgid,
            )
            if op == "settle":
                sent_settlements.append(json.dumps(body))
        elif op == "retry" and sent_settlements:
            body = json.loads(
                rng.choice(sent_settlements)
            )  # the same msgid again: never charged twice
        elif op == "cancel" and settled:
            s = rng.choice(settled)
            body = pos.envelope(
                "2103",
                {
                    "data": {
                        "setl_id": s["setl_id"],
                        "psn_no": s["psn_no"],
                        "mdtrt_id": s["mdtrt_id"],
                    }
                },
            )
        elif op == "reverse" and sent_settlements:
            original = json.loads(rng.choice(sent_settlements))
            data = original["input"]["data"]
            body = pos.envelope(
                "2601",
                {"data": {"psn_no": data["psn_no"], "omsgid": original["msgid"], "oinfno": "2102"}},
            )
        else:  # someone else's credential for the patient (R1), straight to the centre
            patient, other = rng.sample(PEOPLE, 2)
            body = pos.envelope("2102", settle_input(psn[patient], other, *items))
        try:
            response = pos.post(body)
        except httpx.TimeoutException:
            outcomes["timeout"] = outcomes.get("timeout", 0) + 1
            continue
        if response.status_code != 200:
            outcomes[str(response.status_code)] = outcomes.get(str(response.status_code), 0) + 1
            continue
        answer = response.json()
        outcomes[f"infcode {answer['infcode']}"] = (
            outcomes.get(f"infcode {answer['infcode']}", 0) + 1
        )
        if answer["infcode"] == 0 and body["infno"] == "2102":
            settled.append(answer["output"]["setlinfo"])
        if op == "impersonate":
            assert answer["infcode"] == -1, "the centre settled someone else's credential"

    assert mock.check() == []
    assert all(mock.balance(number) >= 0 for number in PEOPLE)
    # Each settlement in the ledger was posted once, whatever the retries and dropped answers.
    ids = [t.settlement_id for t in mock.centre.ledger.transactions if t.kind == "settle"]
    assert len(ids) == len(set(ids))
    # The faults really happened, and so did real work.
    assert mock.faults.injected["drop_after_commit"] > 0
    assert outcomes.get("infcode 0", 0) > OPERATIONS // 4
