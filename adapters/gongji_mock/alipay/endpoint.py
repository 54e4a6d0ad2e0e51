"""The mock's Alipay OpenAPI gateway: ``alipay.trade.pay`` (bar code), ``.query``, ``.cancel``, ``.refund``.

Mounted on the exact path ``/gateway.do``. Parameters come from the query string
and from an ``application/x-www-form-urlencoded`` body (both, as Alipay's SDKs
send them). Each request is checked in this order, nothing processed before:

1. ``app_id`` is an app the mock knows, ``sign_type`` is RSA2, and ``sign`` verifies
   (SHA256withRSA over the sorted ``k=v&...`` of every parameter but ``sign``) with
   the app's public key. Otherwise HTTP 401 with code ``40002`` (see the doc:
   Alipay itself answers HTTP 200 here; the mock is louder on purpose);
2. ``biz_content`` (msgspec; amounts must be yuan strings);
3. idempotency: ``out_trade_no`` for payments and ``out_request_no`` for refunds;
   the same key with the same content answers the same trade, charged once; other
   content is refused (``ACQ.CONTEXT_INCONSISTENT``).

Every response is signed with the mock's Alipay key over the exact bytes of the
``<method>_response`` JSON value. The payment code decides the outcome
(``outcome_of``): docs/reference/mock-channels.md.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import itertools
import re
import threading
import time
import urllib.parse
from collections.abc import Callable
from typing import Any, TypeVar

import attrs
import httpx
import msgspec

from gongji import jsonwire
from gongji.errors import InvalidInput, SignatureError
from gongji.money import ZERO, Fen
from gongji.signing.alipay import (
    SIGN_TYPE,
    AlipaySigner,
    AlipayVerifier,
    sign_notification,
    sign_response,
    verify_request,
)
from gongji.signing.alipay_certs import AlipayPublicKeys
from gongji.signing.keys import RsaPrivateKey, RsaPublicKey
from gongji_mock.alipay import wire
from gongji_mock.codes import Outcome, outcome_by_pattern
from gongji_mock.testkeys import test_rsa_key

PATH = "/gateway.do"
#: The test app the mock knows out of the box: published on purpose (the mock moves no money).
DEFAULT_APP_ID = "2021000100000001"
SELLER_ID = "2088000000000001"
MAX_BODY_BYTES = 100_000

_AUTH_CODE = re.compile(r"(2[5-9]|30)[0-9]{14,22}")
_BEIJING = datetime.timezone(datetime.timedelta(hours=8))

Clock = Callable[[], float]
_B = TypeVar("_B", bound=msgspec.Struct)


def outcome_of(auth_code: str) -> Outcome | None:
    """The outcome of an Alipay payment code; None unless 16-24 digits starting 25-30."""
    return outcome_by_pattern(auth_code, _AUTH_CODE)


class Answer(Exception):
    """A business answer other than success: ``code`` (40002/40004), ``sub_code`` and messages."""

    def __init__(
        self, code: str, sub_code: str, zh: str, en: str, *, status: int = 200, **extra: str
    ) -> None:
        super().__init__(en)
        self.status = status
        self.content: dict[str, str] = {
            "code": code,
            "msg": "Business Failed" if code == "40004" else "Invalid Arguments",
            "sub_code": sub_code,
            "sub_msg": f"{zh} / {en}",
            **extra,
        }


@attrs.define
class _Trade:
    app_id: str
    out_trade_no: str
    trade_no: str
    fingerprint: str
    total: Fen
    status: str  # WAIT_BUYER_PAY, TRADE_SUCCESS, TRADE_CLOSED
    outcome: Outcome | None  # None: a number closed by cancel before any payment was seen
    notify_url: str = ""
    gmt_create: str = ""
    gmt_payment: str | None = None
    gmt_close: str | None = None
    cancel_action: str | None = None
    refunded: Fen = ZERO
    refunds: dict[str, tuple[Fen, str]] = attrs.field(
        factory=dict
    )  # out_request_no -> (amount, time)

    @property
    def paid(self) -> bool:
        return self.gmt_payment is not None


@attrs.frozen
class AlipayNotification:
    """An asynchronous notification as Alipay would POST it (form), signed without sign/sign_type."""

    url: str
    params: dict[str, str]

    @property
    def body(self) -> bytes:
        return urllib.parse.urlencode(self.params).encode()

    @property
    def event(self) -> str:
        status = self.params.get("trade_status", "")
        return f"{status} refund" if "out_biz_no" in self.params else status

    def request(self, url: str) -> httpx.Request:
        """The POST Alipay makes to ``url``: the parameters as a UTF-8 form."""
        return httpx.Request(
            "POST",
            url,
            content=self.body,
            headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
        )

    def accepted(self, response: httpx.Response) -> bool:
        """Alipay counts a notification received only when the body is ``success``."""
        return response.is_success and response.content.strip() == b"success"


class AlipayEndpoint:
    """The mock's Alipay gateway. Call it with an ``httpx.Request``.

    ``app_private_key`` is a test app key the mock generated and trusts, so that
    tests and rehearsing POS software can sign; ``public_keys()`` is what a client
    configures to verify the mock's answers and notifications.
    """

    def __init__(self, *, clock: Clock = time.time) -> None:
        self._clock = clock
        self._alipay_key = test_rsa_key("alipay-platform")
        self.app_id = DEFAULT_APP_ID
        self.app_private_key: RsaPrivateKey = test_rsa_key("alipay-app")
        self._app_keys: dict[str, RsaPublicKey] = {DEFAULT_APP_ID: self.app_private_key.public_key}
        self._lock = threading.RLock()
        self._trades: dict[tuple[str, str], _Trade] = {}
        self._serial = itertools.count(1)
        self.notifications: list[AlipayNotification] = []
        self._methods: dict[str, Callable[[str, dict[str, str], bytes], dict[str, Any]]] = {
            "alipay.trade.pay": self._pay,
            "alipay.trade.query": self._query,
            "alipay.trade.cancel": self._cancel,
            "alipay.trade.refund": self._refund,
        }

    # ------------------------------------------------------------------ for clients and tests

    @property
    def alipay_public_key(self) -> RsaPublicKey:
        return self._alipay_key.public_key

    def public_keys(self) -> AlipayPublicKeys:
        """Alipay's public key, public-key mode, as a client configures it."""
        return AlipayPublicKeys(public_key=self.alipay_public_key)

    def signer(self) -> AlipaySigner:
        """An ``AlipaySigner`` for the test app."""
        return AlipaySigner(app_id=self.app_id, private_key=self.app_private_key)

    def verifier(self) -> AlipayVerifier:
        return AlipayVerifier(self.public_keys(), clock=self._clock)

    def register_app(self, app_id: str, public_key: RsaPublicKey) -> None:
        """Trust another app (your own test key, say)."""
        with self._lock:
            self._app_keys[app_id] = public_key

    def collected(self) -> Fen:
        """Money the mock has taken from buyers, net of refunds and cancellations, in fen."""
        with self._lock:
            return sum(
                (trade.total - trade.refunded for trade in self._trades.values() if trade.paid),
                ZERO,
            )

    # ------------------------------------------------------------------ HTTP

    def __call__(self, request: httpx.Request) -> httpx.Response:
        return self.handle(request)

    def handle(self, request: httpx.Request) -> httpx.Response:
        """Answer one request to ``/gateway.do``."""
        method = ""
        try:
            params = _params(request)
            method = params.get("method", "")
            app_id = self._authenticate(params)
            handler = self._methods.get(method)
            if handler is None:
                raise Answer(
                    "40002",
                    "isv.invalid-method",
                    "不存在的方法名",
                    f"The mock's Alipay does not answer method {method[:60]!r}; "
                    "see docs/reference/mock-channels.md.",
                )
            with self._lock:
                content = handler(app_id, params, params.get("biz_content", "").encode())
        except Answer as answer:
            return self._signed(answer.status, method, answer.content)
        return self._signed(200, method, {"code": "10000", "msg": "Success", **content})

    def _authenticate(self, params: dict[str, str]) -> str:
        app_id = params.get("app_id", "")
        key = self._app_keys.get(app_id)
        if key is None:
            raise Answer(
                "40002",
                "isv.invalid-app-id",
                "无效的AppID参数",
                f"app_id {app_id[:32]!r} is not an app of the mock; use mock.alipay.app_id or "
                "register_app(). Nothing was processed.",
                status=401,
            )
        if params.get("sign_type") != SIGN_TYPE:
            raise Answer(
                "40002",
                "isv.invalid-signature-type",
                "无效的签名类型",
                "sign_type must be RSA2. Nothing was processed.",
                status=401,
            )
        try:
            verify_request(params, key)
        except SignatureError as exc:
            raise Answer(
                "40002",
                "isv.invalid-signature",
                "验签出错",
                f"{exc.message} Sign every parameter but sign, sorted, with the app private key. "
                "Nothing was processed.",
                status=401,
            ) from None
        return app_id

    # ------------------------------------------------------------------ alipay.trade.pay

    def _pay(self, app_id: str, params: dict[str, str], biz: bytes) -> dict[str, Any]:
        order = _decode(biz, wire.TradePay)
        if order.scene != "bar_code":
            raise _invalid("scene must be bar_code (the cashier scans the buyer's code).")
        total = _yuan(order.total_amount, "total_amount")
        if not order.out_trade_no or len(order.out_trade_no) > 64:
            raise _invalid("out_trade_no must be 1 to 64 characters.")
        outcome = outcome_of(order.auth_code)
        if outcome is None:
            raise _auth_code_invalid(order.out_trade_no)
        fingerprint = _digest(order.auth_code, str(int(total)), order.subject)
        trade = self._trades.get((app_id, order.out_trade_no))
        if trade is not None:
            if trade.outcome is None:
                raise Answer(
                    "40004",
                    "ACQ.TRADE_HAS_CLOSE",
                    "交易已经关闭",
                    f"out_trade_no {order.out_trade_no} was cancelled; nothing was charged. "
                    "Use a new out_trade_no.",
                )
            if trade.fingerprint != fingerprint:
                raise Answer(
                    "40004",
                    "ACQ.CONTEXT_INCONSISTENT",
                    "交易信息被篡改",
                    f"out_trade_no {order.out_trade_no} was already used for another payment; "
                    "nothing was charged. Give every new payment its own out_trade_no.",
                )
            return self._pay_answer(trade)
        if outcome is Outcome.CODE_EXPIRED:
            raise _auth_code_invalid(order.out_trade_no, expired=True)
        trade = _Trade(
            app_id=app_id,
            out_trade_no=order.out_trade_no,
            trade_no=self._trade_no(),
            fingerprint=fingerprint,
            total=total,
            status="WAIT_BUYER_PAY",
            outcome=outcome,
            notify_url=params.get("notify_url", ""),
            gmt_create=self._now_text(),
        )
        self._trades[(app_id, order.out_trade_no)] = trade
        if outcome is Outcome.PAID:
            self._settle(trade)
        elif outcome is Outcome.INSUFFICIENT_FUNDS:
            trade.status, trade.gmt_close = "TRADE_CLOSED", self._now_text()
        return self._pay_answer(trade)

    def _pay_answer(self, trade: _Trade) -> dict[str, Any]:
        if trade.outcome is Outcome.INSUFFICIENT_FUNDS:
            raise Answer(
                "40004",
                "ACQ.BUYER_BALANCE_NOT_ENOUGH",
                "买家余额不足",
                "The buyer's balance is insufficient; nothing was charged. "
                "Ask for another payment method and a new out_trade_no.",
                out_trade_no=trade.out_trade_no,
            )
        content = self._trade_amounts(trade)
        if trade.status == "WAIT_BUYER_PAY":
            return {"code": "10003", "msg": "order success pay inprocess", **content}
        return content

    def _settle(self, trade: _Trade) -> None:
        trade.status, trade.gmt_payment = "TRADE_SUCCESS", self._now_text()
        self._notify(trade)

    # ------------------------------------------------------------------ query, cancel

    def _find(self, app_id: str, ref: wire.TradeRef | wire.TradeRefund) -> _Trade:
        trade = None
        if ref.out_trade_no:
            trade = self._trades.get((app_id, ref.out_trade_no))
        elif ref.trade_no:
            trade = next(
                (
                    t
                    for t in self._trades.values()
                    if t.app_id == app_id and t.trade_no == ref.trade_no
                ),
                None,
            )
        else:
            raise _invalid("Name the trade with out_trade_no or trade_no.")
        if trade is None or trade.outcome is None:
            raise Answer(
                "40004",
                "ACQ.TRADE_NOT_EXIST",
                "交易不存在",
                "No such trade for this app; check out_trade_no or trade_no.",
            )
        return trade

    def _query(self, app_id: str, params: dict[str, str], biz: bytes) -> dict[str, Any]:
        trade = self._find(app_id, _decode(biz, wire.TradeRef))
        if trade.status == "WAIT_BUYER_PAY" and trade.outcome is Outcome.USERPAYING_THEN_PAID:
            self._settle(trade)  # the buyer entered the password while the POS waited
        content = {**self._trade_amounts(trade), "trade_status": trade.status}
        if trade.gmt_payment:
            content["send_pay_date"] = trade.gmt_payment
        return content

    def _cancel(self, app_id: str, params: dict[str, str], biz: bytes) -> dict[str, Any]:
        ref = _decode(biz, wire.TradeRef)
        if ref.out_trade_no and (app_id, ref.out_trade_no) not in self._trades:
            # Remember the number, so that a payment arriving late can never be charged.
            self._trades[(app_id, ref.out_trade_no)] = _Trade(
                app_id=app_id,
                out_trade_no=ref.out_trade_no,
                trade_no="",
                fingerprint="",
                total=ZERO,
                status="TRADE_CLOSED",
                outcome=None,
            )
        trade = self._find(app_id, ref)
        if trade.cancel_action is None:
            trade.cancel_action = "refund" if trade.paid else "close"
            if trade.paid:
                trade.refunded = trade.total  # the buyer gets back what is left
            if trade.status != "TRADE_CLOSED":
                trade.status, trade.gmt_close = "TRADE_CLOSED", self._now_text()
                self._notify(trade)
        return {
            "trade_no": trade.trade_no,
            "out_trade_no": trade.out_trade_no,
            "retry_flag": "N",
            "action": trade.cancel_action,
        }

    # ------------------------------------------------------------------ alipay.trade.refund

    def _refund(self, app_id: str, params: dict[str, str], biz: bytes) -> dict[str, Any]:
        order = _decode(biz, wire.TradeRefund)
        amount = _yuan(order.refund_amount, "refund_amount")
        trade = self._find(app_id, order)
        request_no = order.out_request_no or trade.out_trade_no
        known = trade.refunds.get(request_no)
        if known is not None:
            if known[0] != amount:
                raise Answer(
                    "40004",
                    "ACQ.CONTEXT_INCONSISTENT",
                    "交易信息被篡改",
                    f"out_request_no {request_no} was already used for a refund of "
                    f"{known[0].to_yuan()} yuan; nothing more was refunded. "
                    "Use a new out_request_no for a new partial refund.",
                )
            return self._refund_answer(trade, fund_change="N")
        if not trade.paid or trade.cancel_action is not None:
            raise Answer(
                "40004",
                "ACQ.TRADE_STATUS_ERROR",
                "交易状态不合法",
                f"Trade {trade.out_trade_no} is {trade.status} and holds no payment to refund; "
                "nothing was refunded.",
            )
        remaining = trade.total - trade.refunded
        if amount > remaining:
            raise Answer(
                "40004",
                "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL",
                "退款金额超限",
                f"{amount.to_yuan()} yuan is more than the {remaining.to_yuan()} yuan still "
                "refundable on this trade; nothing was refunded.",
            )
        trade.refunded = trade.refunded + amount
        trade.refunds[request_no] = (amount, self._now_text())
        if trade.refunded == trade.total:
            trade.status, trade.gmt_close = "TRADE_CLOSED", self._now_text()
        self._notify(trade, refund=(request_no, amount))
        return self._refund_answer(trade, fund_change="Y")

    def _refund_answer(self, trade: _Trade, *, fund_change: str) -> dict[str, Any]:
        return {
            "trade_no": trade.trade_no,
            "out_trade_no": trade.out_trade_no,
            "buyer_logon_id": _buyer_logon_id(trade),
            "fund_change": fund_change,
            "refund_fee": trade.refunded.to_yuan(),
            "gmt_refund_pay": max(when for _, when in trade.refunds.values()),
        }

    # ------------------------------------------------------------------ notifications

    def _notify(self, trade: _Trade, *, refund: tuple[str, Fen] | None = None) -> None:
        if not trade.notify_url:
            return
        params = {
            "notify_time": self._now_text(),
            "notify_type": "trade_status_sync",
            "notify_id": f"mock{next(self._serial):028d}",
            "app_id": trade.app_id,
            "charset": "utf-8",
            "version": "1.0",
            "trade_no": trade.trade_no,
            "out_trade_no": trade.out_trade_no,
            "seller_id": SELLER_ID,
            "trade_status": trade.status,
            "total_amount": trade.total.to_yuan(),
            "receipt_amount": trade.total.to_yuan() if trade.paid else "0.00",
            "buyer_pay_amount": trade.total.to_yuan() if trade.paid else "0.00",
            "gmt_create": trade.gmt_create,
            "gmt_payment": trade.gmt_payment or "",
            "gmt_close": trade.gmt_close or "",
        }
        if refund is not None:
            params["out_biz_no"] = refund[0]
            params["refund_fee"] = trade.refunded.to_yuan()
            params["gmt_refund"] = self._now_text()
        kept = {name: value for name, value in params.items() if value}
        self.notifications.append(
            AlipayNotification(trade.notify_url, sign_notification(self._alipay_key, kept))
        )

    # ------------------------------------------------------------------ helpers

    def _trade_amounts(self, trade: _Trade) -> dict[str, Any]:
        paid = trade.total.to_yuan() if trade.paid else "0.00"
        content: dict[str, Any] = {
            "trade_no": trade.trade_no,
            "out_trade_no": trade.out_trade_no,
            "buyer_logon_id": _buyer_logon_id(trade),
            "total_amount": trade.total.to_yuan(),
            "receipt_amount": paid,
            "buyer_pay_amount": paid,
        }
        if trade.paid:
            content["gmt_payment"] = trade.gmt_payment
            content["fund_bill_list"] = [{"fund_channel": "ALIPAYACCOUNT", "amount": paid}]
        return content

    def _signed(self, status: int, method: str, content: dict[str, Any]) -> httpx.Response:
        raw = msgspec.json.encode(content)
        if method in self._methods:
            body = sign_response(self._alipay_key, method, raw)
        else:
            # An unknown method is answered under error_response, as Alipay does.
            sign = base64.b64encode(self._alipay_key.sign_sha256(raw)).decode("ascii")
            body = b'{"error_response":' + raw + f',"sign":"{sign}"}}'.encode()
        return httpx.Response(
            status, content=body, headers={"Content-Type": "application/json;charset=utf-8"}
        )

    def _now_text(self) -> str:
        return datetime.datetime.fromtimestamp(int(self._clock()), _BEIJING).strftime(
            "%Y-%m-%d %H:%M:%S"
        )

    def _trade_no(self) -> str:
        moment = datetime.datetime.fromtimestamp(int(self._clock()), _BEIJING)
        return f"{moment:%Y%m%d}22{next(self._serial):018d}"

    def __repr__(self) -> str:
        return f"AlipayEndpoint(app_id={self.app_id!r}, trades={len(self._trades)})"

    # ------------------------------------------------------------------ a state file (--state)

    def use_keys(self, *, alipay_key: RsaPrivateKey, app_key: RsaPrivateKey) -> None:
        """Answer with these keys instead of this process's (a state file keeps them across restarts)."""
        with self._lock:
            self._alipay_key = alipay_key
            self.app_private_key = app_key
            self._app_keys[DEFAULT_APP_ID] = app_key.public_key

    def snapshot(self) -> AlipayState:
        """Trades and their refunds, as plain data (the keys are kept apart, see ``use_keys``)."""
        with self._lock:
            serial = next(self._serial)
            self._serial = itertools.count(serial)  # reading a count consumes it: put it back
            return AlipayState(
                trades=[
                    _TradeRow(
                        app_id=t.app_id,
                        out_trade_no=t.out_trade_no,
                        trade_no=t.trade_no,
                        fingerprint=t.fingerprint,
                        total=int(t.total),
                        status=t.status,
                        outcome=t.outcome,
                        notify_url=t.notify_url,
                        gmt_create=t.gmt_create,
                        gmt_payment=t.gmt_payment,
                        gmt_close=t.gmt_close,
                        cancel_action=t.cancel_action,
                        refunded=int(t.refunded),
                        refunds=[
                            _RefundRow(out_request_no=number, amount=int(amount), time=when)
                            for number, (amount, when) in t.refunds.items()
                        ],
                    )
                    for t in self._trades.values()
                ],
                serial=serial,
            )

    def restore(self, state: AlipayState) -> None:
        """Put back what ``snapshot()`` took."""
        trades = {
            (row.app_id, row.out_trade_no): _Trade(
                app_id=row.app_id,
                out_trade_no=row.out_trade_no,
                trade_no=row.trade_no,
                fingerprint=row.fingerprint,
                total=Fen(row.total),
                status=row.status,
                outcome=row.outcome,
                notify_url=row.notify_url,
                gmt_create=row.gmt_create,
                gmt_payment=row.gmt_payment,
                gmt_close=row.gmt_close,
                cancel_action=row.cancel_action,
                refunded=Fen(row.refunded),
                refunds={r.out_request_no: (Fen(r.amount), r.time) for r in row.refunds},
            )
            for row in state.trades
        }
        with self._lock:
            self._trades = trades
            self._serial = itertools.count(state.serial)


class _RefundRow(msgspec.Struct, frozen=True, kw_only=True):
    out_request_no: str
    amount: int  # fen
    time: str


class _TradeRow(msgspec.Struct, frozen=True, kw_only=True):
    app_id: str
    out_trade_no: str
    trade_no: str
    fingerprint: str
    total: int  # fen
    status: str
    outcome: Outcome | None
    notify_url: str
    gmt_create: str
    gmt_payment: str | None
    gmt_close: str | None
    cancel_action: str | None
    refunded: int  # fen
    refunds: list[_RefundRow]


class AlipayState(msgspec.Struct, frozen=True, kw_only=True):
    trades: list[_TradeRow]
    serial: int  # the next serial of trade numbers and notify ids


def _params(request: httpx.Request) -> dict[str, str]:
    pairs = list(request.url.params.multi_items())
    if request.content:
        if len(request.content) > MAX_BODY_BYTES:
            raise Answer("40002", "isv.invalid-parameter", "请求过大", "The body is too large.")
        try:
            pairs += urllib.parse.parse_qsl(
                request.content.decode("utf-8"), keep_blank_values=True, strict_parsing=True
            )
        except (UnicodeDecodeError, ValueError):
            raise Answer(
                "40002",
                "isv.invalid-parameter",
                "参数无效",
                "The body is not a UTF-8 form (application/x-www-form-urlencoded).",
            ) from None
    params = dict(pairs)
    if len(params) != len(pairs):
        raise Answer(
            "40002",
            "isv.invalid-parameter",
            "参数重复",
            "A parameter appears twice (query and body?); send each once. Nothing was processed.",
        )
    return params


def _decode(biz: bytes, kind: type[_B]) -> _B:
    try:
        return jsonwire.decode(biz, type=kind)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise _invalid(
            f'biz_content cannot be read ({exc}); amounts are yuan strings such as "12.50".'
        ) from None


def _yuan(text: str, name: str) -> Fen:
    try:
        amount = Fen.from_yuan(text)
    except InvalidInput as exc:
        raise _invalid(f"{name}: {exc.message}") from None
    if amount <= 0:
        raise _invalid(f"{name} must be more than 0.00 yuan.")
    return amount


def _invalid(en: str) -> Answer:
    return Answer("40004", "ACQ.INVALID_PARAMETER", "参数无效", f"{en} Nothing was processed.")


def _auth_code_invalid(out_trade_no: str, *, expired: bool = False) -> Answer:
    return Answer(
        "40004",
        "ACQ.PAYMENT_AUTH_CODE_INVALID",
        "支付授权码无效",
        (
            "The payment code has expired; ask the buyer to refresh it and scan again."
            if expired
            else "The payment code is not an Alipay one (16-24 digits starting 25-30); scan it again."
        )
        + " Nothing was charged.",
        out_trade_no=out_trade_no,
    )


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def _buyer_logon_id(trade: _Trade) -> str:
    return f"mock***{hashlib.sha256(trade.out_trade_no.encode()).hexdigest()[:4]}@example.com"
