"""The mock's WeChat Pay APIv3: payment code (付款码), query, reverse, refund, refund query,
and medical-insurance orders (``/v3/med-ins/orders``, in ``wechatpay_medins``).

Mounted on ``/v3/``. Each request is checked in this order, and nothing is
processed until every check before it has passed:

1. the merchant's ``Authorization: WECHATPAY2-SHA256-RSA2048 ...`` over the exact
   method, path and query, and body bytes (HTTP 401 ``SIGN_ERROR`` otherwise;
   the body is not read), with a 300 s timestamp window and nonce replay refusal;
2. the ``Wechatpay-Serial`` header, when present, names the mock's platform key;
3. the body (msgspec; amounts must be JSON integers: fen);
4. the merchant's idempotency key (``out_trade_no``, ``out_refund_no``): the same
   key with the same content answers the same trade, charged once; with other
   content it is refused (``OUT_TRADE_NO_USED``, ``INVALID_REQUEST``).

Every response, errors included, is signed with the mock's platform key
(``Wechatpay-Timestamp/Nonce/Signature/Serial`` over ``TIMESTAMP\\nNONCE\\nBODY\\n``).
The payment code decides the outcome (``outcome_of``), like ActiveMerchant's
bogus gateway: see docs/reference/mock-channels.md.
"""

from __future__ import annotations

import datetime
import hashlib
import itertools
import re
import secrets
import threading
import time
from collections.abc import Callable, Mapping

import attrs
import httpx
import msgspec

from gongji.errors import SignatureError
from gongji.money import ZERO, Fen
from gongji.signing._common import MemoryNonceCache, NonceCache
from gongji.signing.keys import RsaPrivateKey, RsaPublicKey
from gongji.signing.wechatpay import (
    WechatPayMerchant,
    encrypt_resource,
    platform_headers,
    verify_authorization,
)
from gongji.signing.wechatpay_keys import PlatformKeyStore
from gongji_mock.codes import Outcome, outcome_by_pattern
from gongji_mock.testkeys import test_apiv3_key, test_rsa_key
from gongji_mock.wechatpay import wire
from gongji_mock.wechatpay.errors import Refusal
from gongji_mock.wechatpay.errors import decode as _decode
from gongji_mock.wechatpay.errors import param_error as _param_error
from gongji_mock.wechatpay.medins import MedInsOrders, MedInsState

PREFIX = "/v3/"
CODEPAY_PATH = "/v3/pay/transactions/codepay"
REFUNDS_PATH = "/v3/refund/domestic/refunds"

#: The test merchant the mock knows out of the box: published on purpose (the mock moves no money).
DEFAULT_MCHID = "1900000001"
DEFAULT_APPID = "wxd0000000mock0001"
DEFAULT_MERCHANT_SERIAL = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1"
#: Public-key mode: the platform key is named by this ID in ``Wechatpay-Serial``.
PLATFORM_KEY_ID = "PUB_KEY_ID_0100000000GONGJIMOCK0001"

#: Where a refund goes back to: the customer's WeChat balance (零钱), in this mock always.
RECEIVED_ACCOUNT = "支付用户零钱"
MAX_BODY_BYTES = 100_000
TOLERANCE_SECONDS = 300

_QUERY = re.compile(r"/v3/pay/transactions/out-trade-no/([^/]+)")
_REVERSE = re.compile(r"/v3/pay/transactions/out-trade-no/([^/]+)/reverse")
_REFUND_QUERY = re.compile(r"/v3/refund/domestic/refunds/([^/]+)")
_AUTH_CODE = re.compile(r"1[0-5][0-9]{16}")
_BEIJING = datetime.timezone(datetime.timedelta(hours=8))

Clock = Callable[[], float]


def outcome_of(auth_code: str) -> Outcome | None:
    """The outcome of a WeChat payment code; None when it is not one (18 digits, 10-15 first)."""
    return outcome_by_pattern(auth_code, _AUTH_CODE)


@attrs.define
class _Refund:
    out_refund_no: str
    refund_id: str
    amount: Fen
    fingerprint: str
    create_time: str


@attrs.define
class _Trade:
    mchid: str
    appid: str
    out_trade_no: str
    fingerprint: str
    total: Fen
    state: str  # SUCCESS, REFUND, USERPAYING, PAYERROR, REVOKED
    state_desc: str
    outcome: Outcome | None
    transaction_id: str | None = None
    attach: str = ""
    success_time: str | None = None
    refunded: Fen = ZERO
    refunds: list[_Refund] = attrs.field(factory=list)

    @property
    def paid(self) -> bool:
        return self.success_time is not None


@attrs.frozen
class WechatPayCallback:
    """A callback as WeChat Pay would POST it: signed headers over the exact body bytes."""

    url: str
    event_type: str
    headers: dict[str, str]
    body: bytes = attrs.field(repr=lambda body: f"<{len(body)} bytes>")

    @property
    def event(self) -> str:
        return self.event_type

    def request(self, url: str) -> httpx.Request:
        """The POST WeChat Pay makes to ``url``: these headers, these exact body bytes."""
        return httpx.Request("POST", url, headers=self.headers, content=self.body)

    def accepted(self, response: httpx.Response) -> bool:
        """WeChat Pay counts a callback received on any 2xx (200 or 204); otherwise it retries."""
        return response.is_success


class WechatPayEndpoint:
    """The mock's WeChat Pay APIv3. Call it with an ``httpx.Request``.

    ``merchant`` is a test merchant whose keys the mock generated and trusts;
    ``platform_keys()`` is what a client configures to verify the mock. ``insured``
    maps a med-ins ``id_digest`` to the name on that person's e-voucher (the gateway
    passes its dataset's people); without it med-ins payers are checked for form only.
    """

    def __init__(
        self,
        *,
        clock: Clock = time.time,
        nonce_cache: NonceCache | None = None,
        insured: Mapping[str, str] | None = None,
    ) -> None:
        self._clock = clock
        self._nonces: NonceCache = nonce_cache if nonce_cache is not None else MemoryNonceCache()
        self.platform_key_id = PLATFORM_KEY_ID
        self._platform_key = test_rsa_key("wechatpay-platform")
        self.apiv3_key = test_apiv3_key()
        self.merchant = WechatPayMerchant(
            mchid=DEFAULT_MCHID,
            serial_no=DEFAULT_MERCHANT_SERIAL,
            private_key=test_rsa_key("wechatpay-merchant"),
        )
        self.appid = DEFAULT_APPID
        self._merchant_keys: dict[tuple[str, str], RsaPublicKey] = {
            (DEFAULT_MCHID, DEFAULT_MERCHANT_SERIAL): self.merchant.private_key.public_key
        }
        self._lock = threading.RLock()
        self._trades: dict[tuple[str, str], _Trade] = {}
        self._refunds: dict[tuple[str, str], tuple[_Trade, _Refund]] = {}
        self._serial = itertools.count(1)
        self.notifications: list[WechatPayCallback] = []
        self.med_ins = MedInsOrders(
            # The key in force at each call: use_keys() (a state file) may replace it.
            decrypt=lambda sealed: self._platform_key.decrypt_oaep_sha1(sealed),
            platform_key_id=self.platform_key_id,
            clock=self._clock,
            notify=self._callback,
            insured=insured,
        )

    # ------------------------------------------------------------------ for clients and tests

    @property
    def platform_public_key(self) -> RsaPublicKey:
        return self._platform_key.public_key

    def platform_keys(self) -> PlatformKeyStore:
        """A key store holding the mock's platform public key under its ID (public-key mode)."""
        return PlatformKeyStore(public_keys={self.platform_key_id: self.platform_public_key})

    def register_merchant(self, mchid: str, serial_no: str, public_key: RsaPublicKey) -> None:
        """Trust another merchant API key (your own test key, say) for ``mchid``."""
        with self._lock:
            self._merchant_keys[(mchid, serial_no)] = public_key

    def collected(self) -> Fen:
        """Money the mock has taken from payers, net of refunds and reversals, in fen:
        payment-code trades, and the self-pay cash of confirmed med-ins orders."""
        with self._lock:
            paid = (trade.total - trade.refunded for trade in self._trades.values() if trade.paid)
            return sum(paid, ZERO) + self.med_ins.collected()

    def confirm_med_ins(self, mix_trade_no: str, *, paid: bool = True) -> str:
        """Play the patient: confirm (or, ``paid=False``, abandon) a med-ins order in WeChat.

        Returns its ``mix_pay_status``; a confirmed order sends MEDICAL_INSURANCE.SUCCESS.
        """
        with self._lock:
            return self.med_ins.confirm(mix_trade_no, paid=paid)

    # ------------------------------------------------------------------ HTTP

    def __call__(self, request: httpx.Request) -> httpx.Response:
        return self.handle(request)

    def handle(self, request: httpx.Request) -> httpx.Response:
        """Answer one HTTP request under ``/v3/``."""
        try:
            mchid = self._authenticate(request)
            with self._lock:
                status, payload = self._route(request, mchid)
        except Refusal as refusal:
            return self._signed(refusal.status, msgspec.json.encode(refusal.error))
        return self._signed(status, msgspec.json.encode(payload))

    def _authenticate(self, request: httpx.Request) -> str:
        authorization = request.headers.get("authorization", "")
        body = request.content
        try:
            mchid = verify_authorization(
                request.method,
                request.url.raw_path,
                body,
                authorization,
                merchant_keys=self._merchant_keys,
                now=self._clock(),
                tolerance_seconds=TOLERANCE_SECONDS,
                nonce_cache=self._nonces,
            )
        except SignatureError as exc:
            raise Refusal(
                401,
                "SIGN_ERROR",
                "签名错误，请求未处理",
                f"{exc.message} Nothing was processed; sign the exact bytes sent with the merchant API key.",
            ) from None
        serial = request.headers.get("wechatpay-serial")
        if serial is not None and serial != self.platform_key_id:
            raise Refusal(
                400,
                "INVALID_REQUEST",
                "Wechatpay-Serial 错误",
                f"Wechatpay-Serial {serial[:64]!r} is not the platform key {self.platform_key_id}; "
                "configure the mock's platform public key (mock.wechatpay.platform_keys()).",
            )
        if len(body) > MAX_BODY_BYTES:
            raise Refusal(
                400,
                "INVALID_REQUEST",
                "请求体过大",
                "The body is too large; nothing was processed.",
            )
        return mchid

    def _route(self, request: httpx.Request, mchid: str) -> tuple[int, msgspec.Struct]:
        path, method = request.url.path, request.method
        if self.med_ins.serves(path):
            return self.med_ins.route(request, mchid)
        if method == "POST" and path == CODEPAY_PATH:
            return self._codepay(_decode(request.content, wire.CodePayRequest), mchid)
        if method == "POST" and (match := _REVERSE.fullmatch(path)):
            return self._reverse(match[1], _decode(request.content, wire.ReverseRequest), mchid)
        if method == "GET" and (match := _QUERY.fullmatch(path)):
            _require_query_mchid(request, mchid)
            return 200, self._transaction(self._trade(mchid, match[1]))
        if method == "POST" and path == REFUNDS_PATH:
            return self._refund(_decode(request.content, wire.RefundRequest), mchid)
        if method == "GET" and (match := _REFUND_QUERY.fullmatch(path)):
            found = self._refunds.get((mchid, match[1]))
            if found is None:
                raise Refusal(
                    404,
                    "RESOURCE_NOT_EXISTS",
                    "退款单不存在",
                    f"No refund {match[1][:64]!r} for merchant {mchid}; check out_refund_no.",
                )
            return 200, self._refund_out(*found)
        raise Refusal(
            404,
            "NOT_FOUND",
            "接口不存在",
            f"The mock's WeChat Pay does not serve {method} {path[:80]}; "
            "see docs/reference/mock-channels.md for what it answers.",
        )

    # ------------------------------------------------------------------ payment code

    def _codepay(self, order: wire.CodePayRequest, mchid: str) -> tuple[int, msgspec.Struct]:
        if order.mchid != mchid:
            raise _param_error("mchid", "mchid differs from the Authorization header's mchid.")
        if order.amount.total <= 0 or order.amount.currency != "CNY":
            raise _param_error(
                "amount.total", "amount.total must be a positive integer of fen, CNY."
            )
        if not order.out_trade_no or len(order.out_trade_no) > 32:
            raise _param_error("out_trade_no", "out_trade_no must be 1 to 32 characters.")
        outcome = outcome_of(order.payer.auth_code)
        if outcome is None:
            raise _param_error(
                "payer.auth_code",
                "The payment code is not a WeChat one (18 digits starting 10-15); scan it again.",
                zh="付款码无效，请重新扫码",
            )
        fingerprint = _digest(
            order.appid, order.description, order.payer.auth_code, str(order.amount.total)
        )
        key = (mchid, order.out_trade_no)
        trade = self._trades.get(key)
        if trade is not None:
            if trade.fingerprint != fingerprint:
                raise Refusal(
                    403,
                    "OUT_TRADE_NO_USED",
                    "商户订单号重复",
                    f"out_trade_no {order.out_trade_no} was already used "
                    f"({'reversed' if trade.state == 'REVOKED' else 'for another payment'}); "
                    "nothing was charged. Give every new payment its own out_trade_no.",
                )
            return self._codepay_answer(trade)
        if outcome is Outcome.CODE_EXPIRED:
            raise _param_error(
                "payer.auth_code",
                "The payment code has expired; ask the customer to refresh it and scan again.",
                zh="二维码已过期，请用户在微信上刷新后再试",
            )
        trade = _Trade(
            mchid=mchid,
            appid=order.appid,
            out_trade_no=order.out_trade_no,
            fingerprint=fingerprint,
            total=Fen(order.amount.total),
            state="USERPAYING",
            state_desc="需要用户输入支付密码",
            outcome=outcome,
            attach=order.attach,
        )
        self._trades[key] = trade
        if outcome is Outcome.PAID:
            self._pay(trade)
        elif outcome is Outcome.INSUFFICIENT_FUNDS:
            trade.state, trade.state_desc = "PAYERROR", "用户余额不足，支付失败"
        return self._codepay_answer(trade)

    def _codepay_answer(self, trade: _Trade) -> tuple[int, msgspec.Struct]:
        if trade.state == "USERPAYING":
            raise Refusal(
                202,
                "USERPAYING",
                "需要用户输入支付密码",
                "The customer must enter the payment password: query the order "
                "(GET /v3/pay/transactions/out-trade-no/{out_trade_no}) until it is paid, "
                "or reverse it.",
            )
        if trade.state == "PAYERROR":
            raise Refusal(
                403,
                "NOT_ENOUGH",
                "用户账户余额不足",
                "The customer's balance is insufficient; nothing was charged. "
                "Ask for another payment method and a new out_trade_no.",
            )
        return 200, self._transaction(trade)

    def _pay(self, trade: _Trade) -> None:
        trade.state, trade.state_desc = "SUCCESS", "支付成功"
        trade.transaction_id = self._transaction_id()
        trade.success_time = self._now_text()

    # ------------------------------------------------------------------ query, reverse

    def _trade(self, mchid: str, out_trade_no: str) -> _Trade:
        trade = self._trades.get((mchid, out_trade_no))
        if trade is None or (trade.outcome is None and trade.state == "REVOKED"):
            raise Refusal(
                404,
                "ORDER_NOT_EXIST",
                "订单不存在",
                f"No order {out_trade_no[:64]!r} for merchant {mchid}; check out_trade_no.",
            )
        if trade.state == "USERPAYING" and trade.outcome is Outcome.USERPAYING_THEN_PAID:
            self._pay(trade)  # the customer entered the password while the POS waited
        return trade

    def _reverse(
        self, out_trade_no: str, body: wire.ReverseRequest, mchid: str
    ) -> tuple[int, msgspec.Struct]:
        if body.mchid != mchid:
            raise _param_error("mchid", "mchid differs from the Authorization header's mchid.")
        key = (mchid, out_trade_no)
        trade = self._trades.get(key)
        if trade is None or trade.outcome is None:
            # Remember the number, so that a payment arriving late can never be charged.
            self._trades[key] = trade or _Trade(
                mchid=mchid,
                appid=body.appid,
                out_trade_no=out_trade_no,
                fingerprint="",
                total=ZERO,
                state="REVOKED",
                state_desc="已撤销",
                outcome=None,
            )
            raise Refusal(
                404,
                "ORDER_NOT_EXIST",
                "订单不存在",
                f"No order {out_trade_no[:64]!r}: nothing was charged, and the mock now refuses "
                "this out_trade_no, so a late payment cannot be charged either.",
            )
        if trade.state != "REVOKED":
            if trade.paid:
                trade.refunded = trade.total  # the reversal gives the customer back what is left
            trade.state, trade.state_desc = "REVOKED", "已撤销"
        return 200, wire.ReverseResponse(
            appid=trade.appid or None, mchid=mchid, out_trade_no=out_trade_no
        )

    def _transaction(self, trade: _Trade) -> wire.Transaction:
        return wire.Transaction(
            appid=trade.appid,
            mchid=trade.mchid,
            out_trade_no=trade.out_trade_no,
            transaction_id=trade.transaction_id,
            trade_type="MICROPAY",
            trade_state=trade.state,
            trade_state_desc=trade.state_desc,
            bank_type="OTHERS" if trade.paid else None,
            attach=trade.attach or None,
            success_time=trade.success_time,
            payer=wire.Payer(openid=_openid(trade)) if trade.paid else None,
            amount=wire.TransactionAmount(
                total=int(trade.total),
                payer_total=int(trade.total) if trade.paid else None,
                currency="CNY",
                payer_currency="CNY",
            ),
        )

    # ------------------------------------------------------------------ refunds

    def _refund(self, order: wire.RefundRequest, mchid: str) -> tuple[int, msgspec.Struct]:
        if not order.out_refund_no or len(order.out_refund_no) > 64:
            raise _param_error("out_refund_no", "out_refund_no must be 1 to 64 characters.")
        trade = self._trade_for_refund(order, mchid)
        fingerprint = _digest(trade.out_trade_no, str(order.amount.refund), str(order.amount.total))
        known = self._refunds.get((mchid, order.out_refund_no))
        if known is not None:
            if known[1].fingerprint != fingerprint:
                raise Refusal(
                    400,
                    "INVALID_REQUEST",
                    "订单金额或退款金额与之前请求不一致，请核实后再试",
                    f"out_refund_no {order.out_refund_no} was already used for another refund; "
                    "nothing more was refunded. Use a new out_refund_no for a new refund.",
                )
            return 200, self._refund_out(*known)
        if not trade.paid or trade.state == "REVOKED":
            raise Refusal(
                400,
                "INVALID_REQUEST",
                "订单未支付或已撤销，不能退款",
                f"Order {trade.out_trade_no} is {trade.state}, not paid; nothing was refunded.",
            )
        if order.amount.total != int(trade.total):
            raise _param_error(
                "amount.total",
                f"amount.total must be the order's total, {int(trade.total)} fen.",
            )
        remaining = trade.total - trade.refunded
        if order.amount.refund <= 0 or order.amount.refund > int(remaining):
            raise Refusal(
                400,
                "INVALID_REQUEST",
                "申请退款金额超过订单可退金额",
                f"The refund of {order.amount.refund} fen is not within the {int(remaining)} fen "
                "still refundable on this order; nothing was refunded.",
            )
        refund = _Refund(
            out_refund_no=order.out_refund_no,
            refund_id=f"50{next(self._serial):030d}"[-32:],
            amount=Fen(order.amount.refund),
            fingerprint=fingerprint,
            create_time=self._now_text(),
        )
        trade.refunded = trade.refunded + refund.amount
        trade.refunds.append(refund)
        trade.state, trade.state_desc = "REFUND", "转入退款"
        self._refunds[(mchid, order.out_refund_no)] = (trade, refund)
        self._notify_refund(trade, refund, order.notify_url)
        return 200, self._refund_out(trade, refund)

    def _trade_for_refund(self, order: wire.RefundRequest, mchid: str) -> _Trade:
        if order.out_trade_no:
            trade = self._trades.get((mchid, order.out_trade_no))
        else:
            trade = next(
                (
                    t
                    for t in self._trades.values()
                    if t.mchid == mchid
                    and order.transaction_id
                    and t.transaction_id == order.transaction_id
                ),
                None,
            )
        if trade is None or trade.outcome is None:
            raise Refusal(
                404,
                "RESOURCE_NOT_EXISTS",
                "订单不存在",
                "No such order for this merchant; check out_trade_no or transaction_id. Nothing was refunded.",
            )
        return trade

    def _refund_amount(self, trade: _Trade, refund: _Refund) -> wire.RefundAmountOut:
        return wire.RefundAmountOut(
            total=int(trade.total),
            refund=int(refund.amount),
            payer_total=int(trade.total),
            payer_refund=int(refund.amount),
            settlement_total=int(trade.total),
            settlement_refund=int(refund.amount),
            discount_refund=0,
            currency="CNY",
        )

    def _refund_out(self, trade: _Trade, refund: _Refund) -> wire.Refund:
        return wire.Refund(
            refund_id=refund.refund_id,
            out_refund_no=refund.out_refund_no,
            transaction_id=trade.transaction_id or "",
            out_trade_no=trade.out_trade_no,
            channel="ORIGINAL",
            user_received_account=RECEIVED_ACCOUNT,
            success_time=refund.create_time,
            create_time=refund.create_time,
            status="SUCCESS",
            funds_account="AVAILABLE",
            amount=self._refund_amount(trade, refund),
        )

    def _notify_refund(self, trade: _Trade, refund: _Refund, url: str) -> None:
        notice = wire.RefundNotice(
            mchid=trade.mchid,
            out_trade_no=trade.out_trade_no,
            transaction_id=trade.transaction_id or "",
            out_refund_no=refund.out_refund_no,
            refund_id=refund.refund_id,
            refund_status="SUCCESS",
            success_time=refund.create_time,
            user_received_account=RECEIVED_ACCOUNT,
            amount=self._refund_amount(trade, refund),
        )
        self._callback(url, "REFUND.SUCCESS", "退款成功", "refund", msgspec.json.encode(notice))

    # ------------------------------------------------------------------ callbacks

    def _callback(
        self, url: str, event_type: str, summary: str, original_type: str, plaintext: bytes
    ) -> None:
        sealed = encrypt_resource(self.apiv3_key, plaintext, associated_data=original_type)
        envelope = wire.CallbackEnvelope(
            id=secrets.token_hex(18),
            create_time=self._now_text(),
            resource_type="encrypt-resource",
            event_type=event_type,
            summary=summary,
            resource=wire.CallbackResource(original_type=original_type, **sealed),
        )
        body = msgspec.json.encode(envelope)
        headers = platform_headers(
            self._platform_key, body, serial=self.platform_key_id, timestamp=int(self._clock())
        )
        headers["Content-Type"] = "application/json"
        self.notifications.append(WechatPayCallback(url, event_type, headers, body))

    # ------------------------------------------------------------------ helpers

    def _signed(self, status: int, body: bytes) -> httpx.Response:
        headers = platform_headers(
            self._platform_key, body, serial=self.platform_key_id, timestamp=int(self._clock())
        )
        headers["Content-Type"] = "application/json; charset=utf-8"
        headers["Request-ID"] = secrets.token_hex(16)
        return httpx.Response(status, content=body, headers=headers)

    def _now_text(self) -> str:
        moment = datetime.datetime.fromtimestamp(int(self._clock()), _BEIJING)
        return moment.isoformat()

    def _transaction_id(self) -> str:
        moment = datetime.datetime.fromtimestamp(int(self._clock()), _BEIJING)
        return f"42000{moment:%Y%m%d}{next(self._serial):015d}"

    def __repr__(self) -> str:
        return (
            f"WechatPayEndpoint(mchid={DEFAULT_MCHID!r}, platform_key_id={self.platform_key_id!r}, "
            f"trades={len(self._trades)}, med_ins_orders={len(self.med_ins)}, apiv3_key=<hidden>)"
        )

    # ------------------------------------------------------------------ a state file (--state)

    def use_keys(
        self, *, platform_key: RsaPrivateKey, merchant_key: RsaPrivateKey, apiv3_key: str
    ) -> None:
        """Answer with these keys instead of this process's (a state file keeps them across restarts)."""
        with self._lock:
            self._platform_key = platform_key
            self.apiv3_key = apiv3_key
            self.merchant = WechatPayMerchant(
                mchid=DEFAULT_MCHID, serial_no=DEFAULT_MERCHANT_SERIAL, private_key=merchant_key
            )
            self._merchant_keys[(DEFAULT_MCHID, DEFAULT_MERCHANT_SERIAL)] = merchant_key.public_key

    def snapshot(self) -> WechatPayState:
        """Trades and their refunds, and the med-ins orders, as plain data (the keys are kept
        apart, see ``use_keys``)."""
        with self._lock:
            serial = next(self._serial)
            self._serial = itertools.count(serial)  # reading a count consumes it: put it back
            return WechatPayState(
                trades=[
                    _TradeRow(
                        mchid=t.mchid,
                        appid=t.appid,
                        out_trade_no=t.out_trade_no,
                        fingerprint=t.fingerprint,
                        total=int(t.total),
                        state=t.state,
                        state_desc=t.state_desc,
                        outcome=t.outcome,
                        transaction_id=t.transaction_id,
                        attach=t.attach,
                        success_time=t.success_time,
                        refunded=int(t.refunded),
                        refunds=[
                            _RefundRow(
                                out_refund_no=r.out_refund_no,
                                refund_id=r.refund_id,
                                amount=int(r.amount),
                                fingerprint=r.fingerprint,
                                create_time=r.create_time,
                            )
                            for r in t.refunds
                        ],
                    )
                    for t in self._trades.values()
                ],
                serial=serial,
                med_ins=self.med_ins.snapshot(),
            )

    def restore(self, state: WechatPayState) -> None:
        """Put back what ``snapshot()`` took."""
        trades = {}
        refunds = {}
        for row in state.trades:
            trade = _Trade(
                mchid=row.mchid,
                appid=row.appid,
                out_trade_no=row.out_trade_no,
                fingerprint=row.fingerprint,
                total=Fen(row.total),
                state=row.state,
                state_desc=row.state_desc,
                outcome=row.outcome,
                transaction_id=row.transaction_id,
                attach=row.attach,
                success_time=row.success_time,
                refunded=Fen(row.refunded),
                refunds=[
                    _Refund(
                        r.out_refund_no, r.refund_id, Fen(r.amount), r.fingerprint, r.create_time
                    )
                    for r in row.refunds
                ],
            )
            trades[(row.mchid, row.out_trade_no)] = trade
            for refund in trade.refunds:
                refunds[(row.mchid, refund.out_refund_no)] = (trade, refund)
        with self._lock:
            self._trades = trades
            self._refunds = refunds
            self._serial = itertools.count(state.serial)
            self.med_ins.restore(state.med_ins)


class _RefundRow(msgspec.Struct, frozen=True, kw_only=True):
    out_refund_no: str
    refund_id: str
    amount: int  # fen
    fingerprint: str
    create_time: str


class _TradeRow(msgspec.Struct, frozen=True, kw_only=True):
    mchid: str
    appid: str
    out_trade_no: str
    fingerprint: str
    total: int  # fen
    state: str
    state_desc: str
    outcome: Outcome | None
    transaction_id: str | None
    attach: str
    success_time: str | None
    refunded: int  # fen
    refunds: list[_RefundRow]


class WechatPayState(msgspec.Struct, frozen=True, kw_only=True):
    trades: list[_TradeRow]
    serial: int  # the next serial of transaction and refund ids
    # Absent from state files written before med-ins orders were kept: none then.
    med_ins: MedInsState = msgspec.field(default_factory=MedInsState)


def _require_query_mchid(request: httpx.Request, mchid: str) -> None:
    if request.url.params.get("mchid") != mchid:
        raise Refusal(
            400,
            "PARAM_ERROR",
            "参数错误",
            "The query needs ?mchid= with the merchant id of the Authorization header.",
            detail=wire.ErrorDetail(field="mchid", location="query", issue="missing or different"),
        )


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def _openid(trade: _Trade) -> str:
    return "oMock" + hashlib.sha256(f"{trade.mchid}/{trade.out_trade_no}".encode()).hexdigest()[:23]
