"""A pharmacy till, as a POS writes it: ring up a basket, preview, show the cashier the
quote, settle with one key per sale, handle what can go wrong as
docs/how-to/settle-a-purchase.md says, refund one sale, and close with ``recover()``.

Run:  python examples/pharmacy_pos.py                       # the in-process mock
      gongji mock serve &                                   # or a served mock:
      python examples/pharmacy_pos.py --mock-url http://127.0.0.1:8930

The baskets are scripted (a real till reads its scanner). Payment codes are ones the
mock answers deterministically (docs/reference/mock-channels.md): the last digit 1
pays, 4 is an empty wallet.
"""

from __future__ import annotations

import argparse
from typing import NamedTuple

import httpx

import gongji
from gongji import clock as beijing
from gongji_mock import MockGateway

SON = "210202198503170036"  # Mr Zhang: employee, 5000 yuan in his account
MOTHER = "210202195809120046"  # his mother: resident, her son's account helps (mutual aid)
FATHER = "210202195601010112"  # his father: retired employee


class Sale(NamedTuple):
    what: str
    credential: gongji.Credential
    items: list[gongji.LineItem]
    cash: gongji.Cash
    patient_id: str | None = None  # who is treated, when not the credential's holder


def drug(
    code: str, name: str, price_fen: int, quantity: int = 1, coverage: str = "A"
) -> gongji.LineItem:
    return gongji.LineItem(
        code=code, name=name, unit_price=gongji.Fen(price_fen), quantity=quantity, coverage=coverage
    )


SALES = [
    Sale(
        "Mr Zhang, his own e-voucher",
        gongji.Credential.e_voucher("demo-token-zhangwei"),
        [drug("XA01", "阿莫西林胶囊", 3_330, quantity=3)],
        gongji.Cash.counter(),
    ),
    Sale(
        "his mother, her own ID card; her son's account helps",
        gongji.Credential.id_card(MOTHER),
        [drug("XC01", "降压药", 50_000, coverage="C")],
        gongji.Cash.wechat("134567890123456781"),
    ),
    Sale(
        "his father's medicine on Mr Zhang's card",
        gongji.Credential.id_card(SON),
        [drug("XA02", "硝苯地平缓释片", 3_680, quantity=2)],
        gongji.Cash.counter(),
        patient_id=FATHER,
    ),
    Sale(
        "his mother again; her WeChat wallet is empty",
        gongji.Credential.id_card(MOTHER),
        [drug("XC02", "维生素D滴剂", 46_000, coverage="C")],
        gongji.Cash.wechat("134567890123456784"),
    ),
    Sale(
        "Mr Zhang; the line to the centre drops mid-sale (rehearsed)",
        gongji.Credential.id_card(SON),
        [drug("XA03", "布洛芬缓释胶囊", 2_450)],
        gongji.Cash.counter(),
    ),
]


class Rehearsal:
    """The mock, told to misbehave the way a network does: in process, or over HTTP
    through a served mock's admin endpoint (docs/reference/mock-admin.md)."""

    def __init__(self, mock: MockGateway | None, url: str | None) -> None:
        self.mock, self.url = mock, url

    def lose_the_line(self) -> None:
        """The centre settles, its answer is lost, and the reversal cannot get through."""
        for code, kind in (("2102", "drop_after_commit"), ("2601", "timeout_before_commit")):
            if self.mock is not None:
                self.mock.faults.add(kind, target="national", code=code)
            else:
                rule = {"kind": kind, "target": "national", "code": code}
                httpx.post(f"{self.url}/gongji-admin/faults", json=rule).raise_for_status()

    def line_is_back(self) -> None:
        if self.mock is not None:
            self.mock.faults.clear()
        else:
            httpx.delete(f"{self.url}/gongji-admin/faults").raise_for_status()


def ring_up(client: gongji.SettlementClient, sale: Sale, key: str) -> gongji.Receipt | None:
    """One sale at the till: the receipt, or None when nothing was settled (or not yet)."""
    purchase = gongji.Purchase(
        credential=sale.credential, patient_id=sale.patient_id, items=sale.items
    )
    try:
        quote = client.preview(purchase)  # nothing is charged
        for line in quote.explain("zh"):
            print(f"    | {line}")
        return client.settle(purchase, key=key, cash=sale.cash)
    except gongji.OwnCardViolation as error:
        print(f"    refused, nothing settled: {error}")  # ask for the patient's own credential
    except gongji.Declined as error:
        print(f"    declined, nothing charged: {error}")
        if sale.cash.kind != "counter":
            print("    the customer pays the cash share at the counter instead")
            return client.settle(purchase, key=key, cash=gongji.Cash.counter())  # same key
    except gongji.Unavailable as error:
        print(f"    not reached, nothing charged: {error}")  # try again later, same key
    except gongji.OutcomeUnknown as error:
        print(f"    in doubt; recover() at closing resolves it: {error}")
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mock-url", help="a mock served by `gongji mock serve`")
    args = parser.parse_args()

    if args.mock_url:
        mock = None
        client = gongji.SettlementClient.from_profile("mock", url=args.mock_url)
    else:
        mock = MockGateway.demo()
        client = gongji.SettlementClient.from_profile("mock", mock=mock)
    rehearsal = Rehearsal(mock, args.mock_url)
    today = beijing.today().strftime("%Y%m%d")  # the centre's day: Beijing time

    with client:
        receipts: list[gongji.Receipt] = []
        for seq, sale in enumerate(SALES, start=1):
            key = f"POS01-{today}-{seq:04d}"  # one key per sale, kept across retries
            print(f"{key}  {sale.what}")
            if seq == len(SALES):
                rehearsal.lose_the_line()
            receipt = ring_up(client, sale, key)
            if receipt is not None:
                receipts.append(receipt)
                print(f"    settled {receipt.total}: fund {receipt.fund}, cash {receipt.cash}")
        rehearsal.line_is_back()

        # The mother brings her blood-pressure medicine back: a whole refund, both legs.
        refunded = client.refund(receipts[1].settlement_id)
        print(f"refunded {refunded.key}: {refunded.total}")
        for entry in client.recover():  # closing time: nothing may stay in doubt
            print(f"recovered {entry.key}: {entry.state.value} ({entry.reason})")


if __name__ == "__main__":
    main()
