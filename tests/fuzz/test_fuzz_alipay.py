"""Alipay's answers and notifications: only a GongjiError leaves the channel."""

from __future__ import annotations

import datetime

import pytest
from hypothesis import given

from tests.fuzz.strategies import (
    Case,
    cases,
    form_maker,
    fuzz_settings,
    json_maker,
    only_gongji_errors,
    prefixed,
    seed,
    with_corpus,
)
from tests.fuzz.targets import ALIPAY_NOW, ALIPAY_OPERATIONS, TARGETS, _alipay

pytestmark = pytest.mark.fuzz

REFUSED = seed("alipay-alipay.trade.pay-refused.answer")
ANSWERS = {
    f"alipay-{op}": prefixed(json_maker(seed(f"alipay-alipay.trade.{op}.answer"), REFUSED))
    for op in ALIPAY_OPERATIONS
}
ANSWERS["alipay-verify-response"] = prefixed(
    json_maker(*(seed(f"alipay-alipay.trade.{op}.answer") for op in ALIPAY_OPERATIONS))
)


@fuzz_settings()
@given(cases(ANSWERS))
@with_corpus(*ANSWERS)
def test_alipay_answers_raise_only_gongji_errors(case: Case) -> None:
    name, data, _ = case
    only_gongji_errors(TARGETS[name], data)


def _notification(**extra: str) -> dict[str, str]:
    beijing = datetime.datetime.fromtimestamp(
        ALIPAY_NOW, datetime.timezone(datetime.timedelta(hours=8))
    )
    return {
        "notify_id": "NOTIFY-1",
        "notify_type": "trade_status_sync",
        "notify_time": f"{beijing - datetime.timedelta(seconds=30):%Y-%m-%d %H:%M:%S}",
        "app_id": _alipay(verified=True).app_id,
        "out_trade_no": "SEED-4-1",
        "trade_no": "2026112322000000000000000001",
        "trade_status": "TRADE_SUCCESS",
        "total_amount": "893810.00",
        "receipt_amount": "893810.00",
        "gmt_payment": "2026-11-23 22:14:16",
        "sign_type": "RSA2",
        "sign": "c2lnbg==",
        **extra,
    }


FORMS = form_maker(_notification(), _notification(out_biz_no="SEED-4-R1", refund_fee="10.00"))
NOTIFICATIONS = {
    "alipay-notification": prefixed(FORMS),
    "alipay-notification-verify": FORMS,
    # the SM2/SM4 mobile-payment channel's answers: another channel's envelope, here for room
    "mobilepay": json_maker(seed("mobilepay.answer")),
}


@fuzz_settings()
@given(cases(NOTIFICATIONS))
@with_corpus(*NOTIFICATIONS)
def test_alipay_notifications_raise_only_gongji_errors(case: Case) -> None:
    name, data, _ = case
    only_gongji_errors(TARGETS[name], data)


def test_the_notification_seed_is_accepted_once_verified() -> None:
    """The fuzzed notifications start from one the channel accepts: mutations reach past it."""
    import urllib.parse

    body = urllib.parse.urlencode(_notification()).encode()
    found = TARGETS["alipay-notification"](b"\x00" + body)
    assert getattr(found, "out_trade_no", None) == "SEED-4-1"
