"""Every time on the channels is Beijing time, whatever the machine's zone (``TZ``): the
Alipay ``timestamp`` gongji signs, and the times the mock's WeChat Pay and Alipay write. Each zone runs in a fresh interpreter, so ``TZ`` is read
from the start (no process-wide ``time.tzset`` in the test process)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

# 2026-11-23 01:30:00 UTC: 09:30 in Beijing, still 2026-11-22 in New York.
PROBE = r"""
import datetime, json
import httpx
from gongji.gateways import CashOrder
from gongji.money import Fen
from gongji.signing.alipay import AlipaySigner
from gongji_alipay import AlipayChannel
from gongji_mock import MockGateway
from gongji_mock.centre.dataset import demo_dataset
from gongji_wechatpay import WechatPayChannel
from gongji_wechatpay.medins import MedInsOrder
from tests.adapters.wechatpay.conftest import run_flow

moment = datetime.datetime(2026, 11, 23, 1, 30, tzinfo=datetime.UTC)
clock = moment.timestamp
mock = MockGateway(demo_dataset(), clock=lambda: moment)
seen = {}
with httpx.Client(transport=mock.transport()) as client:
    signer = AlipaySigner(app_id="2021000100000001", private_key=mock.alipay.app_private_key, clock=clock)
    seen["alipay_timestamp"] = signer.common_params("alipay.trade.query")["timestamp"]
    alipay = AlipayChannel.for_mock(mock.alipay, clock=clock, notify_url="https://pos.test/n")
    run_flow(alipay.charge(CashOrder(out_trade_no="TZ-A", amount=Fen(100), auth_code="2887654321012341")), client)
    seen["alipay_notify_time"] = mock.alipay.notifications[0].params["notify_time"]
    wechat = WechatPayChannel.for_mock(mock, clock=clock)
    run_flow(wechat.charge(CashOrder(out_trade_no="TZ-W", amount=Fen(100), auth_code="133456789012345671")), client)
    answer = client.get("https://api.mch.weixin.qq.com/v3/pay/transactions/out-trade-no/TZ-W", params={"mchid": wechat.mchid}, auth=wechat._auth)
    seen["wechat_success_time"] = answer.json()["success_time"]
print(json.dumps(seen))
"""


@pytest.mark.parametrize("zone", ["UTC", "America/New_York", "Asia/Shanghai"])
def test_channel_times_are_beijing_time_whatever_the_os_time_zone(zone: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE],
        env={**os.environ, "TZ": zone},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert seen == {
        "alipay_timestamp": "2026-11-23 09:30:00",
        "alipay_notify_time": "2026-11-23 09:30:00",
        "wechat_success_time": "2026-11-23T09:30:00+08:00",
    }
