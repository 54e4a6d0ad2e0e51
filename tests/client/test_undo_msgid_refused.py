"""A refund whose journaled cancellation msgid the centre refuses as taken (another
message had it) is journaled under a new msgid and goes through: found by the soak, where
such a sale stayed ``undoing`` after every recover() (invariant 3)."""

from __future__ import annotations

import json

import httpx

from gongji import Credential, Fen, LineItem, Purchase, SettlementClient
from gongji.journal import EntryState
from gongji_mock import MockGateway

SON = "210202198503170036"  # 5000 yuan in his own account (the demo family)
TAKEN = "报文ID重复且内容不同，不予处理 / msgid already used for a different message"


def test_a_refund_whose_cancellation_msgid_is_refused_as_taken_goes_again_under_a_new_one() -> None:
    mock = MockGateway.demo()
    refused: list[str] = []

    def centre(request: httpx.Request) -> httpx.Response:
        message = json.loads(request.content) if request.url.path.startswith("/fsi/") else {}
        if message.get("infno") == "2103" and not refused:
            refused.append(message["msgid"])
            return httpx.Response(200, json={"infcode": -1, "err_msg": TAKEN})
        return mock.handle(request)

    client = SettlementClient.from_profile("mock", mock=mock, transport=httpx.MockTransport(centre))
    before = mock.balance(SON)
    sale = Purchase(
        credential=Credential.id_card(SON),
        items=[LineItem(code="XA01", name="阿莫西林胶囊", unit_price=Fen(2_000), quantity=1)],
    )
    receipt = client.settle(sale, key="UNDO-TAKEN-1")
    assert mock.balance(SON) < before
    client.refund(receipt.settlement_id)
    entry = client.journal.get("UNDO-TAKEN-1")
    assert entry is not None and entry.state is EntryState.REFUNDED
    assert refused and entry.undo_msgid != refused[0]
    assert mock.balance(SON) == before  # the settlement was cancelled at the centre
    assert mock.check() == []
