"""The mock's Alipay OpenAPI gateway: ``alipay.trade.pay`` (bar code), ``.query``, ``.cancel``,
``.refund``, ``.close`` and ``.fastpay.refund.query``.

Mounted on the exact path ``/gateway.do``. Parameters come from the query string
and from an ``application/x-www-form-urlencoded`` body (both, as Alipay's SDKs
send them). Each request is checked in this order, nothing processed before:

1. ``app_id`` is an app the mock knows, ``sign_type`` is RSA2, and ``sign`` verifies
   (SHA256withRSA over the sorted ``k=v&...`` of every parameter but ``sign``) with
   the app's public key. Otherwise, as Alipay answers, HTTP 200 with a signed
   ``error_response`` of code ``40002``;
2. ``biz_content`` (msgspec; amounts are yuan, strings or JSON numbers, to the fen);
3. idempotency: ``out_trade_no`` for payments and ``out_request_no`` for refunds;
   the same key with the same content answers the same trade, charged once; other
   content is refused (``ACQ.CONTEXT_INCONSISTENT``).

Every response is signed with the mock's Alipay key over the exact bytes of the
``<method>_response`` JSON value. The trades themselves live in ``trades``; the
payment code decides the outcome (``outcome_of``): docs/reference/mock-channels.md.
"""

from __future__ import annotations

import base64
import threading
import time
import urllib.parse
from collections.abc import Callable
from typing import Any

import attrs
import httpx
import msgspec

from gongji.errors import SignatureError
from gongji.money import Fen
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
from gongji_mock.alipay import PATH
from gongji_mock.alipay.trades import Answer, Trade, Trades, outcome_of
from gongji_mock.records import Serial, Table
from gongji_mock.testkeys import test_rsa_key

__all__ = [
    "DEFAULT_APP_ID",
    "PATH",
    "SELLER_ID",
    "AlipayEndpoint",
    "AlipayNotification",
    "Answer",
    "outcome_of",
]

#: The test app the mock knows out of the box: published on purpose (the mock moves no money).
DEFAULT_APP_ID = "2021000100000001"
SELLER_ID = "2088000000000001"
MAX_BODY_BYTES = 100_000

Clock = Callable[[], float]
#: Answers one method: the app, every parameter, the ``biz_content`` bytes.
Method = Callable[[str, dict[str, str], bytes], dict[str, Any]]


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
    configures to verify the mock's answers and notifications. ``methods`` maps each
    method name the mock answers to its answer; add one to answer another.
    """

    def __init__(self, *, clock: Clock = time.time) -> None:
        self._clock = clock
        self._alipay_key = test_rsa_key("alipay-platform")
        self.app_id = DEFAULT_APP_ID
        self.app_private_key: RsaPrivateKey = test_rsa_key("alipay-app")
        self._app_keys: dict[str, RsaPublicKey] = {DEFAULT_APP_ID: self.app_private_key.public_key}
        self.lock = threading.RLock()
        # One serial numbers trades and notifications alike.
        self._serial = Serial("alipay.serial")
        self.trades = Trades(clock=clock, serial=self._serial, notify=self._notify)
        self.notifications: list[AlipayNotification] = []
        self.methods: dict[str, Method] = {
            "alipay.trade.pay": self.trades.pay,
            "alipay.trade.query": self.trades.query,
            "alipay.trade.cancel": self.trades.cancel,
            "alipay.trade.refund": self.trades.refund,
            "alipay.trade.close": self.trades.close,
            "alipay.trade.fastpay.refund.query": self.trades.refund_query,
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
        with self.lock:
            self._app_keys[app_id] = public_key

    def collected(self) -> Fen:
        """Money the mock has taken from buyers, net of refunds and cancellations, in fen."""
        with self.lock:
            return self.trades.collected()

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
            answer = self.methods.get(method)
            if answer is None:
                raise Answer(
                    "40002",
                    "isv.invalid-method",
                    "不存在的方法名",
                    f"The mock's Alipay does not answer method {method[:60]!r}; "
                    "see docs/reference/mock-channels.md.",
                )
            with self.lock:
                content = answer(app_id, params, params.get("biz_content", "").encode())
        except Answer as refused:
            method = "" if refused.under_error_response else method
            return self._signed(refused.status, method, refused.content)
        return self._signed(200, method, {"code": "10000", "msg": "Success", **content})

    def _authenticate(self, params: dict[str, str]) -> str:
        try:
            return self._check_signature(params)
        except Answer as answer:
            answer.under_error_response = True  # as Alipay answers: HTTP 200, error_response
            raise

    def _check_signature(self, params: dict[str, str]) -> str:
        app_id = params.get("app_id", "")
        key = self._app_keys.get(app_id)
        if key is None:
            raise Answer(
                "40002",
                "isv.invalid-app-id",
                "无效的AppID参数",
                f"app_id {app_id[:32]!r} is not an app of the mock; use mock.alipay.app_id or "
                "register_app(). Nothing was processed.",
            )
        if params.get("sign_type") != SIGN_TYPE:
            raise Answer(
                "40002",
                "isv.invalid-signature-type",
                "无效的签名类型",
                "sign_type must be RSA2. Nothing was processed.",
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
            ) from None
        return app_id

    # ------------------------------------------------------------------ notifications

    def _notify(self, trade: Trade, refund: tuple[str, Fen] | None) -> None:
        if not trade.notify_url:
            return
        now = self.trades.now_text()
        params = {
            "notify_time": now,
            "notify_type": "trade_status_sync",
            "notify_id": f"mock{self._serial.next():028d}",
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
            params["gmt_refund"] = self.trades.now_text()
        kept = {name: value for name, value in params.items() if value}
        self.notifications.append(
            AlipayNotification(trade.notify_url, sign_notification(self._alipay_key, kept))
        )

    # ------------------------------------------------------------------ answers

    def _signed(self, status: int, method: str, content: dict[str, Any]) -> httpx.Response:
        raw = msgspec.json.encode(content)
        if method in self.methods:
            body = sign_response(self._alipay_key, method, raw)
        else:
            # An unknown method is answered under error_response, as Alipay does.
            sign = base64.b64encode(self._alipay_key.sign_sha256(raw)).decode("ascii")
            body = b'{"error_response":' + raw + f',"sign":"{sign}"}}'.encode()
        return httpx.Response(
            status, content=body, headers={"Content-Type": "application/json;charset=utf-8"}
        )

    def __repr__(self) -> str:
        return f"AlipayEndpoint(app_id={self.app_id!r}, trades={len(self.trades.table)})"

    # ------------------------------------------------------------------ a state file (--state)

    def use_keys(self, *, alipay_key: RsaPrivateKey, app_key: RsaPrivateKey) -> None:
        """Answer with these keys instead of this process's (a state file keeps them across restarts)."""
        with self.lock:
            self._alipay_key = alipay_key
            self.app_private_key = app_key
            self._app_keys[DEFAULT_APP_ID] = app_key.public_key

    def tables(self) -> list[Table[Any, Any]]:
        """What the mock's Alipay remembers (``gongji_mock.records``); its keys are kept
        apart (``use_keys``)."""
        return [self.trades.table, self._serial.table]


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
