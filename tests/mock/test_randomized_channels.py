"""A seeded, randomized run of 2,000 mixed operations across the centre, WeChat Pay and Alipay:
settlements, payment-code charges of their cash share, resends, conflicting resends, queries,
reverses and cancels, partial refunds (some too large), and WeChat med-ins orders; with request
faults (5xx, timeouts before commit, answers dropped after commit, bad signatures) and callback
faults (duplicates, out of order) switched on, and every callback POSTed by the mock's
deliverer to a POS endpoint (in process, through httpx.MockTransport) that verifies it and
sometimes refuses it.

Whatever happened, once the faults are off and every uncertain outcome has been asked about:
the centre's ledger is sound, every settlement's parts sum to its total, no out_trade_no was
charged twice, no trade was refunded more than it was charged, and each channel's takings are
exactly what its own answers add up to.
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import attrs
import httpx
import msgspec
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from gongji import Fen, SignatureError
from gongji.signing import encrypt_med_ins_fields
from gongji.signing.alipay import AlipayAuth, AlipaySigner
from gongji.signing.keys import RsaPrivateKey
from gongji.signing.tif import TifSigner
from gongji.signing.wechatpay import WechatPayAuth, WechatPayMerchant, WechatPayNotifications
from gongji_mock import MockGateway
from gongji_mock.alipay.endpoint import PATH as ALIPAY_PATH
from gongji_mock.centre.dataset import demo_dataset
from gongji_mock.gateway import DEFAULT_PAASID, DEFAULT_TIF_SECRET
from gongji_mock.server.delivery import CallbackDelivery
from gongji_mock.wechatpay.endpoint import CODEPAY_PATH, DEFAULT_APPID, DEFAULT_MCHID, REFUNDS_PATH
from gongji_mock.wechatpay.medins import ORDERS_PATH
from tests.mock.test_national import Clock, Pos, conserved, line, settle_input

OPERATIONS = 2_000
SEED = 20261124
PEOPLE = [
    "210202198503170036",  # son, employee, 5000 yuan
    "210202195809120046",  # mother, resident
    "210202195601010112",  # father, retired employee
    "210202201506010227",  # granddaughter, resident
    "210502198802200422",  # daughter in Benxi, 30 yuan
]
WX_BASE = "https://api.mch.weixin.qq.com"
NOTIFY = "https://pos.example/notify"
TILL_SERIAL, TILL_APP_ID = "7E11C0FFEE0000000000000000000000000001", "2021000100000099"
REQUEST_FAULTS = {
    "error_5xx": 3,
    "timeout_before_commit": 3,
    "drop_after_commit": 4,
    "bad_signature": 3,
}
ANSWER_LOST = (httpx.TimeoutException, SignatureError)  # outcome unknown: ask again later


@attrs.define
class Charge:
    channel: str  # wechatpay | alipay
    out_trade_no: str
    total: Fen
    auth_code: str
    refunds: dict[str, Fen] = attrs.field(factory=dict)  # refund number -> amount asked


class Till(Pos):
    """The till, speaking to all three: the centre (TIF), WeChat Pay and Alipay (signed)."""

    def __init__(self, mock: MockGateway, clock: Clock) -> None:
        now = lambda: clock.now.timestamp()  # noqa: E731 - the mock's clock, for every signer
        transport = mock.transport()
        super().__init__(
            httpx.Client(transport=transport, base_url="http://mock.test"),
            TifSigner(DEFAULT_PAASID, DEFAULT_TIF_SECRET, clock=now),
        )
        wx, ali = mock.wechatpay, mock.alipay
        self.wx, self.ali = wx, ali
        # The till's own keys, registered with the mock. RSA-1024 only to keep a run of
        # thousands of signed requests short; the protocol and every check are the same.
        till_key = RsaPrivateKey(rsa.generate_private_key(public_exponent=65537, key_size=1024))  # noqa: S505
        merchant = WechatPayMerchant(
            mchid=DEFAULT_MCHID, serial_no=TILL_SERIAL, private_key=till_key
        )
        wx.register_merchant(DEFAULT_MCHID, TILL_SERIAL, till_key.public_key)
        ali.register_app(TILL_APP_ID, till_key.public_key)
        self.ali_signer = AlipaySigner(app_id=TILL_APP_ID, private_key=till_key)
        self.wechat = httpx.Client(
            transport=transport,
            base_url=WX_BASE,
            auth=WechatPayAuth(merchant, wx.platform_keys(), clock=now),
        )
        self.alipay = httpx.Client(
            transport=transport,
            base_url="https://openapi.alipay.com",
            auth=AlipayAuth(self.ali_signer, ali.verifier()),
        )
        self.names = {p.id.number: p.name for p in demo_dataset().people.values()}
        self.clock = clock

    def close(self) -> None:
        for client in (self.client, self.wechat, self.alipay):
            client.close()

    # -------------------------------------------------------------- WeChat Pay

    def wx_send(self, method: str, path: str, body: Any = None) -> httpx.Response | None:
        try:
            return self.wechat.request(method, path, json=body)
        except ANSWER_LOST:
            return None

    def codepay(self, charge: Charge, total: Fen | None = None) -> httpx.Response | None:
        return self.wx_send(
            "POST",
            CODEPAY_PATH,
            {
                "appid": DEFAULT_APPID,
                "mchid": DEFAULT_MCHID,
                "description": "大连测试药房-药品",
                "out_trade_no": charge.out_trade_no,
                "payer": {"auth_code": charge.auth_code},
                "amount": {"total": int(total or charge.total), "currency": "CNY"},
            },
        )

    def wx_query(self, out_trade_no: str) -> httpx.Response | None:
        return self.wx_send(
            "GET", f"/v3/pay/transactions/out-trade-no/{out_trade_no}?mchid={DEFAULT_MCHID}"
        )

    def wx_reverse(self, out_trade_no: str) -> httpx.Response | None:
        return self.wx_send(
            "POST",
            f"/v3/pay/transactions/out-trade-no/{out_trade_no}/reverse",
            {"appid": DEFAULT_APPID, "mchid": DEFAULT_MCHID},
        )

    def wx_refund(self, charge: Charge, number: str) -> httpx.Response | None:
        return self.wx_send(
            "POST",
            REFUNDS_PATH,
            {
                "out_trade_no": charge.out_trade_no,
                "out_refund_no": number,
                "notify_url": NOTIFY + "/wechat",
                "amount": {
                    "refund": int(charge.refunds[number]),
                    "total": int(charge.total),
                    "currency": "CNY",
                },
            },
        )

    def med_ins(self, setl: dict[str, str], holder: str, **change: int) -> httpx.Response | None:
        parts = ("medfee_sumamt", "fund_pay_sumamt", "acct_pay", "acct_mulaid_pay", "psn_cash_pay")
        fee = {part: int(Fen.from_yuan(setl[part])) for part in parts}
        cash = fee["psn_cash_pay"]
        fields = encrypt_med_ins_fields(
            self.wx.platform_keys(),
            payer_name=self.names[holder],
            payer_id=holder,
            at=self.clock.now,
        )
        body: dict[str, Any] = {
            "mix_pay_type": "CASH_AND_INSURANCE" if cash else "INSURANCE_ONLY",
            "order_type": "PHARMACY_PAY",
            "appid": DEFAULT_APPID,
            "openid": "oMockPatient000000000000001",
            "payer": fields.payer.as_wire(),
            "out_trade_no": f"MI-{setl['setl_id']}",
            "serial_no": setl["setl_id"][-20:],
            "pay_order_id": f"ORD{setl['setl_id']}",
            "pay_auth_no": f"AUTH{setl['setl_id']}",
            "geo_location": "121.614682,38.914003",
            "city_id": "210200",
            "med_inst_name": "大连测试药房",
            "med_inst_no": "P21020200001",
            "med_ins_order_create_time": "2026-11-23T17:00:00+08:00",
            "total_fee": fee["medfee_sumamt"],
            "med_ins_gov_fee": fee["fund_pay_sumamt"],
            "med_ins_self_fee": fee["acct_pay"],
            "med_ins_other_fee": fee["acct_mulaid_pay"],
            "med_ins_cash_fee": cash,
            "wechat_pay_cash_fee": cash,
            "callback_url": NOTIFY + "/med-ins",
        }
        if cash:
            body["prepay_id"] = f"wx{setl['setl_id']}"
        body.update(change)
        return self.wx_send("POST", ORDERS_PATH, body)

    # -------------------------------------------------------------- Alipay

    def ali_call(self, method: str, biz: dict[str, Any], **extra: str) -> dict[str, Any] | None:
        try:
            answer = self.alipay.post(
                ALIPAY_PATH,
                params=self.ali_signer.common_params(method, **extra),
                data={"biz_content": json.dumps(biz)},
            )
        except ANSWER_LOST:
            return None
        content: dict[str, Any] = json.loads(answer.content)[method.replace(".", "_") + "_response"]
        return content

    def ali_pay(self, charge: Charge, total: Fen | None = None) -> dict[str, Any] | None:
        biz = {
            "out_trade_no": charge.out_trade_no,
            "scene": "bar_code",
            "auth_code": charge.auth_code,
            "subject": "大连测试药房-药品",
            "total_amount": (total or charge.total).to_yuan(),
        }
        return self.ali_call("alipay.trade.pay", biz, notify_url=NOTIFY + "/alipay")

    def ali_refund(self, charge: Charge, number: str) -> dict[str, Any] | None:
        return self.ali_call(
            "alipay.trade.refund",
            {
                "out_trade_no": charge.out_trade_no,
                "refund_amount": charge.refunds[number].to_yuan(),
                "out_request_no": number,
            },
        )


class Receiver:
    """The POS's callback endpoint: verifies every callback before anything else (a bad one
    raises, and the delivery records the error), notes it, and refuses one in ten."""

    def __init__(self, mock: MockGateway, clock: Clock, rng: random.Random) -> None:
        wx = mock.wechatpay
        self.wechat = WechatPayNotifications(
            wx.platform_keys(), wx.apiv3_key, clock=lambda: clock.now.timestamp()
        )
        self.alipay = mock.alipay.verifier()
        self.rng = rng
        # (channel, notification id, out_trade_no, event) for every arrival, duplicates too
        self.arrivals: list[tuple[str, str, str, str]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = request.read()
        if request.headers["content-type"].startswith("application/x-www-form-urlencoded"):
            params = self.alipay.verify_notification_body(body)
            event = params["trade_status"] + (" refund" if "out_biz_no" in params else "")
            self.arrivals.append(("alipay", params["notify_id"], params["out_trade_no"], event))
            ok = httpx.Response(200, text="success")
        else:
            note = self.wechat.open(request.headers, body)
            resource = msgspec.json.decode(note.plaintext, type=dict[str, Any])
            self.arrivals.append(("wechatpay", note.id, resource["out_trade_no"], note.event_type))
            ok = httpx.Response(204)
        return httpx.Response(500, json={"code": "FAIL"}) if self.rng.random() < 0.1 else ok


@pytest.fixture
def run() -> Iterator[tuple[MockGateway, Till, Receiver]]:
    clock = Clock()
    rng = random.Random(SEED + 1)
    receiver_box: list[Receiver] = []
    delivery = CallbackDelivery(
        transport=httpx.MockTransport(lambda request: receiver_box[0](request)),
        sleep=lambda _: None,  # the backoff is tested elsewhere; here only the retries count
    )
    mock = MockGateway(demo_dataset(), clock=clock, delivery=delivery, extensions=True)
    receiver_box.append(Receiver(mock, clock, rng))
    pos = Till(mock, clock)
    pos.sign_in()
    yield mock, pos, receiver_box[0]
    pos.close()
    delivery.close()


def test_channels_and_centre_stay_sound_after_2000_random_operations_with_faults(
    run: tuple[MockGateway, Till, Receiver],
) -> None:
    mock, pos, receiver = run
    delivery = mock.delivery
    assert delivery is not None
    rng = random.Random(SEED)
    psn = {number: pos.psn_no(number) for number in PEOPLE}
    for kind, percent in REQUEST_FAULTS.items():
        for target in ("national", "wechatpay", "alipay"):
            if kind != "bad_signature" or target != "national":  # TIF answers are not signed
                mock.faults.add(kind, target=target, percent=percent)
    mock.faults.add("duplicate_callback", percent=10)
    mock.faults.add("out_of_order_callbacks", percent=5)

    settlements: list[tuple[dict[str, str], str]] = []  # (setlinfo, holder)
    settled_ids: set[str] = set()
    unanswered: list[dict[str, Any]] = []  # settlements whose answer was lost
    charges: dict[str, Charge] = {}
    trade_ids: dict[str, set[str]] = defaultdict(set)  # out_trade_no -> ids in its answers
    med_ins: dict[str, tuple[dict[str, str], str]] = {}  # out_trade_no -> (setlinfo, holder)
    mix_ids: dict[str, set[str]] = defaultdict(set)
    created_med_ins: set[str] = set()
    refunds = 0

    def note_wechat(out_trade_no: str, response: httpx.Response | None) -> None:
        if response is not None and response.status_code == 200:
            transaction = response.json().get("transaction_id")
            if transaction:
                trade_ids[out_trade_no].add(transaction)

    def note_alipay(out_trade_no: str, answer: dict[str, Any] | None) -> None:
        if answer is not None and answer.get("trade_no"):
            trade_ids[out_trade_no].add(answer["trade_no"])

    def settle(body: dict[str, Any], holder: str) -> None:
        try:
            response = pos.post(body)
        except httpx.TimeoutException:
            unanswered.append(body)
            return
        if response.status_code == 200 and response.json()["infcode"] == 0:
            setlinfo = response.json()["output"]["setlinfo"]
            assert conserved(setlinfo), setlinfo  # the settlement's parts sum to its total
            if setlinfo["setl_id"] not in settled_ids:  # a resent msgid answers the same one
                settled_ids.add(setlinfo["setl_id"])
                settlements.append((setlinfo, holder))

    for step in range(OPERATIONS):
        op = rng.choices(
            [
                "settle",
                "settle_again",
                "charge",
                "charge_again",
                "charge_conflict",
                "query",
                "reverse",
                "refund",
                "refund_again",
                "med_ins",
                "med_ins_conflict",
                "med_ins_query",
            ],
            [60, 6, 8, 2, 1, 3, 2, 5, 1, 4, 1, 1],  # signed channel calls cost most
        )[0]
        charged = list(charges.values())
        if op == "settle" or not settlements:
            holder = rng.choice(PEOPLE)
            price = f"{rng.randint(1, 60_000) / 100:.2f}"
            items = line(price, rng.randint(1, 3), rng.choice(["01", "02", "03"]))
            settle(pos.envelope("2102", settle_input(psn[holder], holder, items)), holder)
        elif op == "settle_again" and unanswered:
            body = unanswered.pop(rng.randrange(len(unanswered)))
            settle(body, body["input"]["data"]["mdtrt_cert_no"])  # same msgid: charged once
        elif op == "charge":
            setl, _ = rng.choice(settlements)
            cash = Fen.from_yuan(setl["psn_cash_pay"])
            channel = rng.choice(["wechatpay", "alipay"])
            out_trade_no = f"{'WX' if channel == 'wechatpay' else 'ALI'}-{setl['setl_id']}"
            last = rng.choice("1111111234")  # mostly paid; password, never, insufficient
            auth_code = (
                f"13{rng.randrange(10**15):015d}{last}"
                if channel == "wechatpay"
                else f"28{rng.randrange(10**13):013d}{last}"
            )
            if cash > 0 and out_trade_no not in charges:
                charge = charges[out_trade_no] = Charge(channel, out_trade_no, cash, auth_code)
                if channel == "wechatpay":
                    note_wechat(out_trade_no, pos.codepay(charge))
                else:
                    note_alipay(out_trade_no, pos.ali_pay(charge))
        elif op == "charge_again" and charged:
            charge = rng.choice(charged)  # the same content again: the same trade
            if charge.channel == "wechatpay":
                note_wechat(charge.out_trade_no, pos.codepay(charge))
            else:
                note_alipay(charge.out_trade_no, pos.ali_pay(charge))
        elif op == "charge_conflict" and trade_ids:
            # Another amount under a number the channel is known to hold: never charged.
            charge = charges[rng.choice(sorted(trade_ids))]
            other = charge.total + 1
            if charge.channel == "wechatpay":
                response = pos.codepay(charge, other)
                assert response is None or response.status_code in (403, 503), response.text
            else:
                answer = pos.ali_pay(charge, other)
                assert answer is None or answer.get("code") != "10000", answer
        elif op == "query" and charged:
            charge = rng.choice(charged)
            if charge.channel == "wechatpay":
                note_wechat(charge.out_trade_no, pos.wx_query(charge.out_trade_no))
            else:
                answer = pos.ali_call("alipay.trade.query", {"out_trade_no": charge.out_trade_no})
                note_alipay(charge.out_trade_no, answer)
        elif op == "reverse" and charged:
            charge = rng.choice(charged)
            if charge.channel == "wechatpay":
                pos.wx_reverse(charge.out_trade_no)
            else:
                pos.ali_call("alipay.trade.cancel", {"out_trade_no": charge.out_trade_no})
        elif op == "refund" and charged:
            charge = rng.choice(charged)
            refunds += 1
            number = f"R{refunds:05d}-{charge.out_trade_no}"[:32]
            # Up to the whole charge: several of these together ask for more than was paid.
            charge.refunds[number] = Fen(rng.randint(1, int(charge.total)))
            if charge.channel == "wechatpay":
                pos.wx_refund(charge, number)
            else:
                pos.ali_refund(charge, number)
        elif op == "refund_again" and any(c.refunds for c in charged):
            charge = rng.choice([c for c in charged if c.refunds])
            number = rng.choice(list(charge.refunds))  # the same refund again: refunded once
            if charge.channel == "wechatpay":
                pos.wx_refund(charge, number)
            else:
                pos.ali_refund(charge, number)
        elif op == "med_ins":
            setl, holder = rng.choice(settlements)
            out_trade_no = f"MI-{setl['setl_id']}"
            med_ins[out_trade_no] = (setl, holder)
            response = pos.med_ins(setl, holder)  # first time, or the same content again
            if response is not None and response.status_code == 200:
                mix_ids[out_trade_no].add(response.json()["mix_trade_no"])
                created_med_ins.add(out_trade_no)
        elif op == "med_ins_conflict" and created_med_ins:
            out_trade_no = rng.choice(sorted(created_med_ins))
            setl, holder = med_ins[out_trade_no]
            fee = int(Fen.from_yuan(setl["medfee_sumamt"]))
            gov = int(Fen.from_yuan(setl["fund_pay_sumamt"]))
            response = pos.med_ins(setl, holder, total_fee=fee + 1, med_ins_gov_fee=gov + 1)
            assert response is None or response.status_code in (400, 503), response.text
        elif op == "med_ins_query" and med_ins:
            out_trade_no = rng.choice(sorted(med_ins))
            response = pos.wx_send("GET", f"/v3/med-ins/orders/out-trade-no/{out_trade_no}")
            if response is not None and response.status_code == 200:
                mix_ids[out_trade_no].add(response.json()["mix_trade_no"])
        if step % 100 == 99:
            delivery.flush()

    # ------------------------------------------------ faults off: resolve every unknown outcome
    injected = dict(mock.faults.injected)
    mock.faults.clear()
    expected = {"wechatpay": Fen(0), "alipay": Fen(0)}
    for charge in charges.values():
        if charge.channel == "wechatpay":
            expected["wechatpay"] += _resolve_wechat(pos, charge, note_wechat)
        else:
            expected["alipay"] += _resolve_alipay(pos, charge, note_alipay)
    for out_trade_no in med_ins:
        response = pos.wx_send("GET", f"/v3/med-ins/orders/out-trade-no/{out_trade_no}")
        assert response is not None
        if response.status_code == 404:
            assert out_trade_no not in created_med_ins
            continue
        order = response.json()
        mix_ids[out_trade_no].add(order["mix_trade_no"])
        assert order["mix_pay_status"] == "MIX_PAY_SUCCESS"  # the query confirms a waiting one
        parts = ("med_ins_gov_fee", "med_ins_self_fee", "med_ins_other_fee", "wechat_pay_cash_fee")
        assert order["total_fee"] == sum(order[p] for p in parts)
        assert order["total_fee"] == int(Fen.from_yuan(med_ins[out_trade_no][0]["medfee_sumamt"]))
        expected["wechatpay"] += Fen(order["wechat_pay_cash_fee"])
    records = delivery.flush()

    # ------------------------------------------------ the invariants
    assert mock.check() == []
    assert all(mock.balance(number) >= 0 for number in PEOPLE)
    settled = [t.settlement_id for t in mock.centre.ledger.transactions if t.kind == "settle"]
    assert len(settled) == len(set(settled))
    # One trade per out_trade_no, whatever was resent, retried or lost.
    assert all(len(ids) == 1 for ids in trade_ids.values()), trade_ids
    assert all(len(ids) == 1 for ids in mix_ids.values()), mix_ids
    # Each channel took exactly what its answers add up to: nothing charged twice, and
    # refunds (checked per trade in the resolvers) never beyond the charge.
    assert mock.wechatpay.collected() == expected["wechatpay"]
    assert mock.alipay.collected() == expected["alipay"]
    # Every callback verified on arrival; each payment was notified as one notification,
    # however many times the duplicate fault and the retries delivered it.
    assert all(a.error is None for r in records for a in r.attempts), "a callback did not verify"
    assert all(r.status in ("delivered", "failed") for r in records)
    paid_notes: dict[str, set[str]] = defaultdict(set)
    for channel, note_id, out_trade_no, event in receiver.arrivals:
        if event in ("TRADE_SUCCESS", "MEDICAL_INSURANCE.SUCCESS"):
            paid_notes[f"{channel}/{out_trade_no}"].add(note_id)
    assert paid_notes and all(len(ids) == 1 for ids in paid_notes.values())
    # The faults really happened, and so did real work.
    for kind in (*REQUEST_FAULTS, "duplicate_callback", "out_of_order_callbacks"):
        assert injected.get(kind, 0) > 0, kind
    assert len(records) > len({id(r.callback) for r in records})  # some were sent twice
    assert any(len(r.attempts) > 1 for r in records)  # and refusals were retried
    assert len(settlements) > OPERATIONS // 10
    assert any(sum(c.refunds.values(), Fen(0)) > c.total for c in charges.values())  # over-asked
    assert expected["wechatpay"] > 0 and expected["alipay"] > 0


def _resolve_wechat(pos: Till, charge: Charge, note: Any) -> Fen:
    """What the trade holds now, from the mock's own answers; refunds never beyond the charge."""
    response = pos.wx_query(charge.out_trade_no)
    assert response is not None
    if response.status_code == 404:
        return Fen(0)  # never created, or barred by a reverse
    note(charge.out_trade_no, response)
    trade = response.json()
    refunded = Fen(0)
    for number in charge.refunds:
        found = pos.wx_send("GET", f"/v3/refund/domestic/refunds/{number}")
        assert found is not None
        if found.status_code == 200:
            assert found.json()["out_trade_no"] == charge.out_trade_no
            refunded += Fen(found.json()["amount"]["refund"])
    if trade["trade_state"] in ("SUCCESS", "REFUND", "REVOKED"):
        assert trade["amount"]["total"] == int(charge.total)
        assert refunded <= charge.total, (charge.out_trade_no, refunded)
    else:
        assert refunded == 0
    if trade["trade_state"] == "SUCCESS":
        assert refunded == 0
    return charge.total - refunded if trade["trade_state"] in ("SUCCESS", "REFUND") else Fen(0)


def _resolve_alipay(pos: Till, charge: Charge, note: Any) -> Fen:
    """As for WeChat; Alipay has no refund query here, so each refund is asked again (a refund
    already made answers fund_change N and refunds nothing more)."""
    refunded = Fen(0)
    for number in charge.refunds:
        answer = pos.ali_refund(charge, number)
        assert answer is not None
        if answer["code"] == "10000":
            refunded += charge.refunds[number]
            assert Fen.from_yuan(answer["refund_fee"]) <= charge.total
    answer = pos.ali_call("alipay.trade.query", {"out_trade_no": charge.out_trade_no})
    assert answer is not None
    if answer["code"] != "10000":
        assert answer["sub_code"] == "ACQ.TRADE_NOT_EXIST"
        return Fen(0)
    note(charge.out_trade_no, answer)
    assert Fen.from_yuan(answer["total_amount"]) == charge.total
    assert refunded <= charge.total, (charge.out_trade_no, refunded)
    return charge.total - refunded if answer["trade_status"] == "TRADE_SUCCESS" else Fen(0)
