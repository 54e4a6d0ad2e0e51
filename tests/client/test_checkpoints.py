"""Every step boundary of a sale is announced to the checkpoint hook, in order: the crash
tests kill a till at each of them."""

from __future__ import annotations

from gongji import Cash, SettlementClient
from gongji_mock import MockGateway
from tests.client.conftest import FAST_POLLING, MOTHER, WECHAT_PAID, purchase


def test_every_journal_write_and_request_is_a_boundary() -> None:
    seen: list[str] = []
    mock = MockGateway.demo()
    client = SettlementClient.from_profile(
        "mock", mock=mock, polling=FAST_POLLING, checkpoint=seen.append
    )
    client.settle(purchase(MOTHER), key="CP-0001", cash=Cash.wechat(WECHAT_PAID))
    writes = [name for name in seen if "journal" in name]
    assert writes == [
        f"{side} journal {state}"
        for state in ("centre_pending", "cash_pending", "settled")
        for side in ("before", "after")
    ]
    sends = [name for name in seen if "send" in name]
    assert len(sends) == 2 * 5  # 9001, 1101, 2101, 2102 and the payment code
    assert sends[-2:] == [
        "before send POST /v3/pay/transactions/codepay",
        "after send POST /v3/pay/transactions/codepay",
    ]
    # The settlement message goes out only after its intent is journaled.
    settlement_sent = [i for i, name in enumerate(seen) if name.startswith("before send")][3]
    assert seen.index("after journal centre_pending") < settlement_sent
