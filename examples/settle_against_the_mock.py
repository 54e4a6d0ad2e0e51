"""Settle a sale end to end against the in-process mock gateway: the real wire protocols,
the real signatures, no network and no real money.

The patient is Mr Zhang's mother (resident insurance, no personal account of her own).
She presents her own ID card; her son's and her daughter's accounts pay through family
mutual aid, and the rest is paid with a WeChat Pay payment code.
"""

from __future__ import annotations

import gongji
from gongji_mock import MockGateway

MOTHER = "210202195809120046"
SON = "210202198503170036"

mock = MockGateway.demo()
with gongji.SettlementClient.from_profile("mock", mock=mock) as client:
    purchase = gongji.Purchase(
        credential=gongji.Credential.id_card(MOTHER),
        items=[
            gongji.LineItem(
                code="XC01", name="降压药", unit_price=gongji.Fen(50_000), quantity=1, coverage="C"
            )
        ],
    )
    print("\n".join(client.preview(purchase).explain("zh")))
    receipt = client.settle(
        purchase, key="POS01-20261123-0001", cash=gongji.Cash.wechat("134567890123456781")
    )
    print(f"settled {receipt.settlement_id}: cash {receipt.cash} via {receipt.cash_channel}")
    again = client.settle(
        purchase, key="POS01-20261123-0001", cash=gongji.Cash.wechat("134567890123456781")
    )
    assert again == receipt  # the same key never charges twice
    print(f"the son's account now holds {mock.balance(SON)}; ledger sound: {mock.check() == []}")
    client.refund(receipt.settlement_id)
    print(f"after the refund it holds {mock.balance(SON)} again")
