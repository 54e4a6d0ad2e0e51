"""Attacks on the channels' callbacks (WeChat Pay refund callbacks, Alipay trade
notifications): replayed later (refused by timestamp), replayed within the window
(WeChat Pay: refused as a replay by its nonce; Alipay: the same notification, same
event id, so a POS applies it once), forged or altered (signature refused). Nothing a
callback says changes a ledger, a channel's trades or the till's journal."""

from __future__ import annotations

import time
import urllib.parse
from collections.abc import Callable

import pytest

from gongji import Cash, Fen, SignatureError
from gongji.gateways import PaymentState
from gongji.signing.alipay import sign_notification
from gongji_alipay import AlipayChannel
from gongji_mock import MockGateway, testkeys
from gongji_wechatpay import WechatPayChannel
from tests.client.conftest import ALIPAY_PAID, WECHAT_PAID, WIFE, Till, drug, purchase
from tests.security.conftest import ledger

LATE = 600  # seconds: a callback captured and sent again ten minutes later


def later(seconds: int) -> Callable[[], float]:
    return lambda: time.time() + seconds  # float-ok: a Unix time, not money


def journal_rows(till: Till) -> list[object]:
    return sorted(repr(e) for e in till.client.journal.entries())


def wechat_refund(till: Till, mock: MockGateway, key: str) -> None:
    sold = till.settle(
        purchase(WIFE, drug(90_000, coverage="C")), key=key, cash=Cash.wechat(WECHAT_PAID)
    )
    till.refund(sold.settlement_id)
    assert mock.wechatpay.notifications


def alipay_sale(till: Till, mock: MockGateway, key: str) -> None:
    till.settle(purchase(WIFE, drug(90_000, coverage="C")), key=key, cash=Cash.alipay(ALIPAY_PAID))
    assert mock.alipay.notifications


def test_wechat_callback_replayed_outside_the_window_is_refused_by_timestamp(
    till: Till, mock: MockGateway
) -> None:
    wechat_refund(till, mock, "ATK-CB-WX-LATE")
    callback = mock.wechatpay.notifications[-1]
    before, rows = ledger(mock), journal_rows(till)
    late_till = WechatPayChannel.for_mock(mock, clock=later(LATE))
    with pytest.raises(SignatureError, match="outside the 300 s window"):
        late_till.notification(callback.headers, callback.body)
    assert ledger(mock) == before and journal_rows(till) == rows


def test_alipay_notification_replayed_outside_the_window_is_refused_by_timestamp(
    till: Till, mock: MockGateway
) -> None:
    alipay_sale(till, mock, "ATK-CB-ALI-LATE")
    notice = mock.alipay.notifications[-1]
    before = ledger(mock)
    late_till = AlipayChannel.for_mock(mock.alipay, clock=later(48 * 3600))
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    with pytest.raises(SignatureError, match="outside the window"):
        late_till.notification(headers, notice.body)
    assert ledger(mock) == before


def test_wechat_callback_replayed_inside_the_window_is_accepted_once(
    till: Till, mock: MockGateway
) -> None:
    wechat_refund(till, mock, "ATK-CB-WX-TWICE")
    callback = mock.wechatpay.notifications[-1]
    channel = till.client.setup.channel("wechatpay")
    first = channel.notification(callback.headers, callback.body)
    assert first.state is PaymentState.REFUNDED
    before, rows = ledger(mock), journal_rows(till)
    with pytest.raises(SignatureError, match="replayed"):
        channel.notification(callback.headers, callback.body)
    assert ledger(mock) == before and journal_rows(till) == rows


def test_alipay_notification_replayed_inside_the_window_is_the_same_event_applied_once(
    till: Till, mock: MockGateway
) -> None:
    mock.faults.add("duplicate_callback", target="alipay", code="callback", times=1)
    alipay_sale(till, mock, "ATK-CB-ALI-TWICE")
    first, second = mock.alipay.notifications
    channel = till.client.setup.channel("alipay")
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    before, rows = ledger(mock), journal_rows(till)
    one = channel.notification(headers, first.body)
    two = channel.notification(headers, second.body)
    assert one == two and one.event_id  # a POS keyed on event_id applies it once
    assert one.state is PaymentState.PAID and one.amount == Fen(90_000 - 80_000)
    assert ledger(mock) == before and journal_rows(till) == rows


def test_forged_wechat_callback_signature_is_refused(till: Till, mock: MockGateway) -> None:
    wechat_refund(till, mock, "ATK-CB-WX-FORGED")
    callback = mock.wechatpay.notifications[-1]
    channel = till.client.setup.channel("wechatpay")
    forged_signature = dict(callback.headers)
    forged_signature["Wechatpay-Signature"] = forged_signature["Wechatpay-Signature"][::-1]
    with pytest.raises(SignatureError, match="signature"):
        channel.notification(forged_signature, callback.body)
    altered = callback.body.replace(b"REFUND.SUCCESS", b"REFUND.ABNORMAL")
    assert altered != callback.body
    with pytest.raises(SignatureError, match="did not verify"):
        channel.notification(callback.headers, altered)
    # The genuine one still opens: the forgeries burned no nonce.
    assert channel.notification(callback.headers, callback.body).state is PaymentState.REFUNDED


def test_forged_alipay_notification_is_refused(till: Till, mock: MockGateway) -> None:
    alipay_sale(till, mock, "ATK-CB-ALI-FORGED")
    params = dict(mock.alipay.notifications[-1].params)
    channel = till.client.setup.channel("alipay")
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    # The amount raised after signing:
    altered = params | {"total_amount": "9999.00"}
    with pytest.raises(SignatureError, match="did not verify"):
        channel.notification(headers, urllib.parse.urlencode(altered).encode())
    # Signed again, by a key that is not Alipay's:
    unsigned = {k: v for k, v in params.items() if k not in ("sign", "sign_type")}
    stranger = sign_notification(testkeys.test_rsa_key("security-forger"), unsigned)
    with pytest.raises(SignatureError, match="did not verify"):
        channel.notification(headers, urllib.parse.urlencode(stranger).encode())
