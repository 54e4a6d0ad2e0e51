"""Record real answers and requests of the mock as the fuzzers' seeds (run by hand, not a test).

    .venv/bin/python -m tests.fuzz.record_seeds

Drives settlements, refunds and reconciliation through the client against the in-process
mock and writes each distinct exchange under ``tests/fuzz/corpus/seeds/``: the national
answers by infno, the channels' answers by path or method, the requests the mock decoded.
The fuzzers mutate these real-shaped documents; the files are committed so that CI is stable.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx

from gongji import Cash, SettlementClient
from gongji import clock as beijing
from gongji_mock import MockGateway
from tests.client.conftest import (
    ALIPAY_PAID,
    FAST_POLLING,
    MOTHER,
    SON,
    WECHAT_PAID,
    WECHAT_PASSWORD,
    drug,
    purchase,
)

SEEDS = Path(__file__).parent / "corpus" / "seeds"


def _name(request: httpx.Request) -> str:
    path = request.url.path
    if path.startswith("/fsi/"):
        return "national-" + json.loads(request.content)["infno"]
    if path == "/gateway.do":
        form = dict(httpx.QueryParams(request.content.decode()))
        return "alipay-" + (request.url.params.get("method") or form.get("method", "unknown"))
    return "wechatpay-" + re.sub(r"[^a-z]+", "-", path.lower()).strip("-")[:60]


def main() -> None:
    mock = MockGateway.demo()
    seen: dict[str, tuple[httpx.Request, httpx.Response]] = {}

    def record(request: httpx.Request) -> httpx.Response:
        response = mock.handle(request)
        response.read()
        seen.setdefault(_name(request), (request, response))
        return response

    client = SettlementClient.from_profile(
        "mock", mock=mock, polling=FAST_POLLING, transport=httpx.MockTransport(record)
    )
    with client:
        client.settle(purchase(MOTHER), key="SEED-1", cash=Cash.wechat(WECHAT_PAID))
        client.settle(purchase(MOTHER), key="SEED-2", cash=Cash.wechat(WECHAT_PASSWORD))
        paid = client.settle(
            purchase(SON, drug(1_000)), key="SEED-3", cash=Cash.alipay(ALIPAY_PAID)
        )
        client.settle(purchase(SON, drug(90_000_000)), key="SEED-4", cash=Cash.alipay(ALIPAY_PAID))
        client.refund(paid.settlement_id)
        client.reconcile(beijing.today())
        record_journal_rows(client)
    SEEDS.mkdir(parents=True, exist_ok=True)
    for name, (request, response) in sorted(seen.items()):
        (SEEDS / f"{name}.answer").write_bytes(response.content)
        (SEEDS / f"{name}.request").write_bytes(request.content)
        print(name, response.status_code, len(response.content))


def record_journal_rows(client: SettlementClient) -> None:
    """Each journal entry as the durable journals store it, sealed with the fuzzers' key."""
    from gongji.journal import codec
    from gongji.journal.sealing import JournalKey
    from tests.fuzz.targets import JOURNAL_KEY_BYTES

    key = JournalKey(JOURNAL_KEY_BYTES)
    for number, entry in enumerate(client.setup.journal.entries()):
        row = codec.row_of(entry, key)
        (SEEDS / f"journal-{number}.row").write_bytes(codec.encode_row(row))


if __name__ == "__main__":
    main()
