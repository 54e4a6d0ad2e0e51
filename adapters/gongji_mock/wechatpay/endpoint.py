"""The mock's WeChat Pay APIv3: payment code (付款码), query, reverse, refund, refund query,
and medical-insurance orders (``/v3/med-ins/orders``, in ``medins``).

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
Trades live in ``trades``, refunds in ``refunds``; the payment code decides the
outcome (``outcome_of``), like ActiveMerchant's bogus gateway: see
docs/reference/mock-channels.md.
"""

from __future__ import annotations

import re
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import attrs
import httpx
import msgspec

from gongji.errors import SignatureError
from gongji.money import Fen
from gongji.signing._common import MemoryNonceCache, NonceCache
from gongji.signing.keys import RsaPrivateKey, RsaPublicKey
from gongji.signing.wechatpay import (
    WechatPayMerchant,
    encrypt_resource,
    platform_headers,
    verify_authorization,
)
from gongji.signing.wechatpay_keys import PUBLIC_KEY_ID_PREFIX, PlatformKeyStore
from gongji_mock.codes import Outcome
from gongji_mock.records import Serial, Table
from gongji_mock.testkeys import test_apiv3_key, test_rsa_key
from gongji_mock.wechatpay import PREFIX, close, wire
from gongji_mock.wechatpay.certificates import CERTIFICATES_PATH, PlatformCertificates
from gongji_mock.wechatpay.errors import Refusal, decode
from gongji_mock.wechatpay.medins import MedInsOrders
from gongji_mock.wechatpay.refunds import Refunds
from gongji_mock.wechatpay.trades import Trades, outcome_of

__all__ = [
    "CODEPAY_PATH",
    "DEFAULT_APPID",
    "DEFAULT_MCHID",
    "DEFAULT_MERCHANT_SERIAL",
    "PLATFORM_KEY_ID",
    "PREFIX",
    "REFUNDS_PATH",
    "Outcome",
    "WechatPayCallback",
    "WechatPayEndpoint",
    "outcome_of",
]

CODEPAY_PATH = "/v3/pay/transactions/codepay"
REFUNDS_PATH = "/v3/refund/domestic/refunds"

#: The test merchant the mock knows out of the box: published on purpose (the mock moves no money).
DEFAULT_MCHID = "1900000001"
DEFAULT_APPID = "wxd0000000mock0001"
DEFAULT_MERCHANT_SERIAL = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1"
#: Public-key mode: the platform key is named by this ID in ``Wechatpay-Serial``.
PLATFORM_KEY_ID = "PUB_KEY_ID_0100000000GONGJIMOCK0001"

MAX_BODY_BYTES = 100_000
TOLERANCE_SECONDS = 300

Clock = Callable[[], float]
#: Answers one route: the request, its path's match, the merchant the Authorization named.
Route = Callable[[httpx.Request, re.Match[str], str], tuple[int, msgspec.Struct | None]]


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
    ``route()`` adds an answer for another method and path.
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
        # Certificate mode (GET /v3/certificates): a request that does not name a public key
        # (PUB_KEY_ID_...) in Wechatpay-Serial is answered under the newest platform
        # certificate, as during WeChat Pay's switch from certificates to the public key.
        self.certificates = PlatformCertificates(
            test_rsa_key("wechatpay-platform-certificate"), clock=clock
        )
        self._answer_key: tuple[str, RsaPrivateKey] = (PLATFORM_KEY_ID, self._platform_key)
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
        self.lock = threading.RLock()
        self.notifications: list[WechatPayCallback] = []
        # One serial numbers transaction ids and refund ids alike: neither ever repeats.
        self._serial = Serial("wechatpay.serial")
        self.trades = Trades(clock=clock, serial=self._serial)
        self.refunds = Refunds(self.trades, serial=self._serial, notify=self._callback)
        self.med_ins = MedInsOrders(
            # The key the request's Wechatpay-Serial names (use_keys() may replace it).
            decrypt=lambda sealed: self._sensitive_key().decrypt_oaep_sha1(sealed),
            platform_key_id=self.platform_key_id,
            clock=self._clock,
            notify=self._callback,
            insured=insured,
        )
        self._routes: list[tuple[str, re.Pattern[str], Route]] = []
        self.route("POST", re.escape(CODEPAY_PATH), self._codepay)
        self.route("POST", r"/v3/pay/transactions/out-trade-no/([^/]+)/reverse", self._reverse)
        self.route("GET", r"/v3/pay/transactions/out-trade-no/([^/]+)", self._query)
        self.route("POST", re.escape(REFUNDS_PATH), self._refund)
        self.route("GET", r"/v3/refund/domestic/refunds/([^/]+)", self._refund_query)
        self.route("GET", re.escape(CERTIFICATES_PATH), self._certificates)
        self.route("POST", close.CLOSE.pattern, self._close)
        self.route("GET", close.BY_TRANSACTION_ID.pattern, self._query_by_transaction_id)

    def route(self, method: str, path: str, answer: Route) -> None:
        """Answer ``method`` on paths that fully match the regular expression ``path``."""
        self._routes.append((method, re.compile(path), answer))

    # ------------------------------------------------------------------ for clients and tests

    @property
    def platform_public_key(self) -> RsaPublicKey:
        return self._platform_key.public_key

    def platform_keys(self) -> PlatformKeyStore:
        """A key store holding the mock's platform public key under its ID (public-key mode)."""
        return PlatformKeyStore(public_keys={self.platform_key_id: self.platform_public_key})

    def platform_certificates(self) -> PlatformKeyStore:
        """A key store holding the listed platform certificates (certificate mode, given by hand)."""
        return PlatformKeyStore(certificates=self.certificates.listed())

    def register_merchant(self, mchid: str, serial_no: str, public_key: RsaPublicKey) -> None:
        """Trust another merchant API key (your own test key, say) for ``mchid``."""
        with self.lock:
            self._merchant_keys[(mchid, serial_no)] = public_key

    def collected(self) -> Fen:
        """Money the mock has taken from payers, net of refunds and reversals, in fen:
        payment-code trades, and the self-pay cash of confirmed med-ins orders."""
        with self.lock:
            return self.trades.collected() + self.med_ins.collected()

    def confirm_med_ins(self, mix_trade_no: str, *, paid: bool = True) -> str:
        """Play the patient: confirm (or, ``paid=False``, abandon) a med-ins order in WeChat.

        Returns its ``mix_pay_status``; a confirmed order sends MEDICAL_INSURANCE.SUCCESS.
        """
        with self.lock:
            # Med-ins results are signed with the platform public key (a product of 2024 on).
            self._answer_key = (self.platform_key_id, self._platform_key)
            return self.med_ins.confirm(mix_trade_no, paid=paid)

    # ------------------------------------------------------------------ HTTP

    def __call__(self, request: httpx.Request) -> httpx.Response:
        return self.handle(request)

    def handle(self, request: httpx.Request) -> httpx.Response:
        """Answer one HTTP request under ``/v3/``."""
        answer_key = self._answer_key_for(request)
        try:
            mchid = self._authenticate(request)
            with self.lock:
                # Callbacks a request causes are signed as its answer is.
                self._answer_key = answer_key
                status, payload = self._answer(request, mchid)
        except Refusal as refusal:
            return self._signed(refusal.status, msgspec.json.encode(refusal.error), answer_key)
        body = b"" if payload is None else msgspec.json.encode(payload)
        return self._signed(status, body, answer_key)

    def _answer_key_for(self, request: httpx.Request) -> tuple[str, RsaPrivateKey]:
        if request.headers.get("wechatpay-serial", "").startswith(PUBLIC_KEY_ID_PREFIX):
            return self.platform_key_id, self._platform_key
        current = self.certificates.current
        return current.serial, current.private_key

    def _sensitive_key(self) -> RsaPrivateKey:
        """The private key of what the request being answered named in Wechatpay-Serial."""
        return self._answer_key[1]

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
        if (
            serial is not None
            and serial != self.platform_key_id
            and self.certificates.find(serial) is None
        ):
            raise Refusal(
                400,
                "INVALID_REQUEST",
                "Wechatpay-Serial 错误",
                f"Wechatpay-Serial {serial[:64]!r} is neither the platform key "
                f"{self.platform_key_id} nor a valid platform certificate "
                f"({', '.join(self.certificates.serials)}); download them (GET /v3/certificates) "
                "or configure the mock's platform public key (mock.wechatpay.platform_keys()).",
            )
        if len(body) > MAX_BODY_BYTES:
            raise Refusal(
                400,
                "INVALID_REQUEST",
                "请求体过大",
                "The body is too large; nothing was processed.",
            )
        return mchid

    def _answer(self, request: httpx.Request, mchid: str) -> tuple[int, msgspec.Struct | None]:
        path, method = request.url.path, request.method
        if self.med_ins.serves(path):
            return self.med_ins.route(request, mchid)
        for route_method, pattern, answer in self._routes:
            if method == route_method and (match := pattern.fullmatch(path)):
                return answer(request, match, mchid)
        raise Refusal(
            404,
            "NOT_FOUND",
            "接口不存在",
            f"The mock's WeChat Pay does not serve {method} {path[:80]}; "
            "see docs/reference/mock-channels.md for what it answers.",
        )

    # ------------------------------------------------------------------ routes

    def _codepay(
        self, request: httpx.Request, _match: re.Match[str], mchid: str
    ) -> tuple[int, msgspec.Struct]:
        return self.trades.codepay(decode(request.content, wire.CodePayRequest), mchid)

    def _reverse(
        self, request: httpx.Request, match: re.Match[str], mchid: str
    ) -> tuple[int, msgspec.Struct]:
        body = decode(request.content, wire.ReverseRequest)
        return self.trades.reverse(match[1], body, mchid)

    def _query(
        self, request: httpx.Request, match: re.Match[str], mchid: str
    ) -> tuple[int, msgspec.Struct]:
        _require_query_mchid(request, mchid)
        return 200, self.trades.transaction(self.trades.query(mchid, match[1]))

    def _refund(
        self, request: httpx.Request, _match: re.Match[str], mchid: str
    ) -> tuple[int, msgspec.Struct]:
        return self.refunds.refund(decode(request.content, wire.RefundRequest), mchid)

    def _refund_query(
        self, _request: httpx.Request, match: re.Match[str], mchid: str
    ) -> tuple[int, msgspec.Struct]:
        return 200, self.refunds.query(mchid, match[1])

    def _certificates(
        self, _request: httpx.Request, _match: re.Match[str], _mchid: str
    ) -> tuple[int, msgspec.Struct]:
        return 200, self.certificates.listing(self.apiv3_key)

    def _close(
        self, request: httpx.Request, match: re.Match[str], mchid: str
    ) -> tuple[int, msgspec.Struct | None]:
        body = decode(request.content, close.CloseRequest)
        key = (mchid, match[1])
        self.trades.table.put(
            key, close.close(self.trades.table.get(key), body, mchid=mchid, out_trade_no=match[1])
        )
        return 204, None

    def _query_by_transaction_id(
        self, request: httpx.Request, match: re.Match[str], mchid: str
    ) -> tuple[int, msgspec.Struct]:
        _require_query_mchid(request, mchid)
        paid = close.by_transaction_id(
            self.trades.table.values(), mchid=mchid, transaction_id=match[1]
        )
        return 200, self.trades.transaction(paid)

    # ------------------------------------------------------------------ callbacks and answers

    def _callback(
        self, url: str, event_type: str, summary: str, original_type: str, plaintext: bytes
    ) -> None:
        sealed = encrypt_resource(self.apiv3_key, plaintext, associated_data=original_type)
        envelope = wire.CallbackEnvelope(
            id=secrets.token_hex(18),
            create_time=self.trades.now_text(),
            resource_type="encrypt-resource",
            event_type=event_type,
            summary=summary,
            resource=wire.CallbackResource(original_type=original_type, **sealed),
        )
        body = msgspec.json.encode(envelope)
        serial, key = self._answer_key
        headers = platform_headers(key, body, serial=serial, timestamp=int(self._clock()))
        headers["Content-Type"] = "application/json"
        self.notifications.append(WechatPayCallback(url, event_type, headers, body))

    def _signed(
        self, status: int, body: bytes, answer_key: tuple[str, RsaPrivateKey]
    ) -> httpx.Response:
        serial, key = answer_key
        headers = platform_headers(key, body, serial=serial, timestamp=int(self._clock()))
        headers["Content-Type"] = "application/json; charset=utf-8"
        headers["Request-ID"] = secrets.token_hex(16)
        return httpx.Response(status, content=body, headers=headers)

    def __repr__(self) -> str:
        return (
            f"WechatPayEndpoint(mchid={DEFAULT_MCHID!r}, platform_key_id={self.platform_key_id!r}, "
            f"trades={len(self.trades.table)}, med_ins_orders={len(self.med_ins)}, apiv3_key=<hidden>)"
        )

    # ------------------------------------------------------------------ a state file (--state)

    def use_keys(
        self, *, platform_key: RsaPrivateKey, merchant_key: RsaPrivateKey, apiv3_key: str
    ) -> None:
        """Answer with these keys instead of this process's (a state file keeps them across restarts)."""
        with self.lock:
            self._platform_key = platform_key
            self._answer_key = (self.platform_key_id, platform_key)
            self.apiv3_key = apiv3_key
            self.merchant = WechatPayMerchant(
                mchid=DEFAULT_MCHID, serial_no=DEFAULT_MERCHANT_SERIAL, private_key=merchant_key
            )
            self._merchant_keys[(DEFAULT_MCHID, DEFAULT_MERCHANT_SERIAL)] = merchant_key.public_key

    def tables(self) -> list[Table[Any, Any]]:
        """What the mock's WeChat Pay remembers (``gongji_mock.records``); its keys are kept
        apart (``use_keys``)."""
        return [
            self.trades.table,
            self.refunds.table,
            self._serial.table,
            *self.med_ins.tables(),
        ]


def _require_query_mchid(request: httpx.Request, mchid: str) -> None:
    if request.url.params.get("mchid") != mchid:
        raise Refusal(
            400,
            "PARAM_ERROR",
            "参数错误",
            "The query needs ?mchid= with the merchant id of the Authorization header.",
            detail=wire.ErrorDetail(field="mchid", location="query", issue="missing or different"),
        )
