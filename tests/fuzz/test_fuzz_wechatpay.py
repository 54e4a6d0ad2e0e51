"""WeChat Pay's answers and callbacks: only a GongjiError leaves the channel."""

from __future__ import annotations

import base64
import random

import pytest
from hypothesis import given

from tests.fuzz.strategies import (
    Case,
    cases,
    damage,
    fuzz_settings,
    json_maker,
    only_gongji_errors,
    prefixed,
    seed,
    with_corpus,
)
from tests.fuzz.targets import TARGETS, WECHAT_OPERATIONS, _mock

pytestmark = pytest.mark.fuzz

TRANSACTION = seed("wechatpay-v-pay-transactions-codepay.answer")
REFUND = seed("wechatpay-refund.answer")
MEDINS = seed("wechatpay-medins.answer")
ERROR = seed("wechatpay-error.answer")
BODIES = {
    "charge": (TRANSACTION, ERROR),
    "query": (TRANSACTION, ERROR),
    "reverse": (TRANSACTION, ERROR),
    "refund": (REFUND, ERROR),
    "refund_status": (REFUND, ERROR),
    "med_ins_query": (MEDINS, ERROR),
    "med_ins_order": (MEDINS, ERROR),
}
ANSWERS = {f"wechatpay-{op}": prefixed(json_maker(*BODIES[op])) for op in WECHAT_OPERATIONS}


@fuzz_settings()
@given(cases(ANSWERS))
@with_corpus(*ANSWERS)
def test_wechatpay_answers_raise_only_gongji_errors(case: Case) -> None:
    name, data, _ = case
    only_gongji_errors(TARGETS[name], data)


def _unsigned_callback(seed_value: int) -> bytes:
    """Headers that look right (names, a timestamp in the window, a known serial) with a
    signature that is garbage, or damaged, or missing; and a real-shaped body."""
    rng = random.Random(seed_value)
    serial = _mock().wechatpay.platform_key_id
    headers = {
        "Wechatpay-Timestamp": rng.choice(["1795000000", "0", "-1", "9" * 30, "abc", ""]),
        "Wechatpay-Nonce": rng.choice(["n0nce", "", "测试"]),
        "Wechatpay-Serial": rng.choice([serial, "UNKNOWN", ""]),
        "Wechatpay-Signature": rng.choice(
            [base64.b64encode(rng.randbytes(256)).decode(), "!!", "", "A" * 5000]
        ),
        "Wechatpay-Signature-Type": rng.choice(["WECHATPAY2-SHA256-RSA2048", "HMAC", ""]),
    }
    for name in rng.sample(sorted(headers), rng.randrange(3)):
        del headers[name]
    head = ";".join(f"{k}:{v}" for k, v in headers.items()).encode()
    body = damage(rng, seed("wechatpay-callback-transaction.envelope"))
    return head + b"\n" + body


CALLBACKS = {
    "wechatpay-callback-plaintext": prefixed(
        json_maker(TRANSACTION, seed("wechatpay-refund-notice.plaintext"), MEDINS)
    ),
    "wechatpay-callback-envelope": json_maker(
        seed("wechatpay-callback-transaction.envelope"), seed("wechatpay-callback-refund.envelope")
    ),
    "wechatpay-callback-verify": _unsigned_callback,
    "wechatpay-verify-response": _unsigned_callback,
}


@fuzz_settings()
@given(cases(CALLBACKS))
@with_corpus(*CALLBACKS)
def test_wechatpay_callbacks_raise_only_gongji_errors(case: Case) -> None:
    name, data, _ = case
    only_gongji_errors(TARGETS[name], data)


def test_an_unsigned_callback_is_never_accepted() -> None:
    """The verify target is only meaningful if none of its inputs ever verifies."""
    from gongji import GongjiError

    for seed_value in range(200):
        assert isinstance(
            only_gongji_errors(
                TARGETS["wechatpay-callback-verify"], _unsigned_callback(seed_value)
            ),
            GongjiError,
        )
