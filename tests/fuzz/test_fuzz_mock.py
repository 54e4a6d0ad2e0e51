"""The mock's own request decoders (a served mock takes outside bytes too): every request
gets an answer, never a crash."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given

from tests.fuzz.strategies import (
    SEEDS,
    Case,
    cases,
    fuzz_settings,
    json_maker,
    only_gongji_errors,
    prefixed,
    seed,
    with_corpus,
)
from tests.fuzz.targets import TARGETS

pytestmark = pytest.mark.fuzz

NATIONAL = [path.read_bytes() for path in sorted(Path(SEEDS).glob("national-*.request"))]
MAKERS = {
    "mock-national": json_maker(*NATIONAL),
    "mock-wechatpay": prefixed(
        json_maker(
            seed("wechatpay-v-pay-transactions-codepay.request"),
            seed("wechatpay-refund.request"),
            seed("wechatpay-reverse.request"),
        )
    ),
    "mock-alipay": prefixed(
        json_maker(seed("alipay-pay.biz"), seed("alipay-refund.biz"), seed("alipay-ref.biz"))
    ),
    "mock-admin": prefixed(
        json_maker(seed("admin-e-voucher.request"), seed("admin-faults.request"))
    ),
}


@fuzz_settings()
@given(cases(MAKERS))
@with_corpus(*MAKERS)
def test_mock_requests_get_an_answer(case: Case) -> None:
    name, data, _ = case
    only_gongji_errors(TARGETS[name], data, ids=name == "mock-national")


def test_the_national_seeds_reach_their_infno() -> None:
    """The live sign_no and a fresh msgid are spliced in: a recorded message is processed."""
    answers = [TARGETS["mock-national"](request) for request in NATIONAL]
    assert all(
        answer.json()["infcode"] != -1 or "签到" not in answer.json()["err_msg"]
        for answer in answers
    )  # type: ignore[attr-defined]
    assert any(answer.json()["infcode"] == 0 for answer in answers)  # type: ignore[attr-defined]
