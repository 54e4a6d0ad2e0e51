"""``WechatPayChannel``: WeChat Pay APIv3 as a gongji payment channel, every operation a flow.

Each operation checks its capability and its input, builds one ``httpx.Request``
(absolute URL, JSON body as exact bytes), and returns a flow that sends it
through ``WechatPayAuth`` (signed on the bytes sent, the answer verified on the
bytes received before anything is decoded) and parses the answer:

=================  ==============================================================
operation          WeChat Pay APIv3
=================  ==============================================================
charge             ``POST /v3/pay/transactions/codepay`` (付款码支付)
query              ``GET /v3/pay/transactions/out-trade-no/{out_trade_no}?mchid=``
reverse            ``POST /v3/pay/transactions/out-trade-no/{out_trade_no}/reverse``
refund             ``POST /v3/refund/domestic/refunds``
refund_status      ``GET /v3/refund/domestic/refunds/{out_refund_no}``
med_ins_order      ``POST /v3/med-ins/orders`` (sensitive fields RSA-OAEP encrypted)
med_ins_query      ``GET /v3/med-ins/orders/out-trade-no/{out_trade_no}``
notification       a callback: verified, then decoded, then decrypted (APIv3 key)
=================  ==============================================================

The platform's signatures are checked with its public key (public-key mode), with
platform certificates given by hand, or (``download_platform_certificates``) with the
certificates this channel downloads from ``GET /v3/certificates`` itself: before the
first operation, before they expire, and on an answer naming an unknown serial
(``gongji_wechatpay.certificates`` says what it trusts).

How answers map (docs/reference/adapter-wechatpay.md has the full tables): a
definitive refusal by the payer's side (insufficient funds, an expired code) is a
``FAILED`` payment with the channel's reason; a 5xx, 429 or ``SYSTEM_ERROR`` is
``Unavailable``; a refused signature (401 ``SIGN_ERROR``) is ``ConfigError``; a
refusal of the merchant's request (``OUT_TRADE_NO_USED``, ``PARAM_ERROR``) is
``Declined``; a response whose signature does not verify raises ``SignatureError``
from the auth, uncaught.
"""

from __future__ import annotations

import datetime
import importlib.metadata
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NoReturn, Protocol, TypeVar

import httpx
import msgspec

import gongji.jsonwire as jsonwire
from gongji.errors import ConfigError, Declined, GatewayError, SignatureError, Unavailable
from gongji.gateways import (
    Capability,
    CashOrder,
    ChannelNotification,
    ChannelPayment,
    ChannelRefund,
    PaymentState,
    require,
)
from gongji.gateways.exchange import Flow
from gongji.money import ZERO, Fen
from gongji.signing._common import (
    Clock,
    MemoryNonceCache,
    NonceCache,
    lower_keys,
    system_clock,
)
from gongji.signing.wechatpay import (
    CALLBACK_TOLERANCE_SECONDS,
    SERIAL,
    SIGNATURE,
    WechatPayAuth,
    WechatPayMerchant,
    WechatPayNotifications,
)
from gongji.signing.wechatpay_keys import PlatformKeyStore
from gongji.signing.wechatpay_medins import encrypt_med_ins_fields
from gongji_wechatpay import transform, wire
from gongji_wechatpay.certificates import PlatformCertificateDownloads
from gongji_wechatpay.medins import MedInsOrder, MedInsOrderResult
from gongji_wechatpay.settings import DEFAULT_BASE_URL, load_settings

__all__ = ["DEFAULT_BASE_URL", "MockWechatPay", "WechatPayChannel"]

CODEPAY_PATH = "/v3/pay/transactions/codepay"
QUERY_PATH = "/v3/pay/transactions/out-trade-no/{out_trade_no}"
REVERSE_PATH = "/v3/pay/transactions/out-trade-no/{out_trade_no}/reverse"
REFUNDS_PATH = "/v3/refund/domestic/refunds"
REFUND_QUERY_PATH = "/v3/refund/domestic/refunds/{out_refund_no}"
MED_INS_ORDERS_PATH = "/v3/med-ins/orders"
MED_INS_QUERY_PATH = "/v3/med-ins/orders/out-trade-no/{out_trade_no}"

CAPABILITIES = frozenset(
    {
        Capability.CODE_PAYMENT,
        Capability.QUERY,
        Capability.REVERSE,
        Capability.REFUND,
        Capability.NOTIFY,
        Capability.MED_INS_ORDER,
    }
)

# Error codes, by what they mean for us. WeChat Pay writes some with and some without "_".
_UNAVAILABLE_CODES = frozenset(
    {"SYSTEM_ERROR", "SYSTEMERROR", "BANK_ERROR", "BANKERROR", "FREQUENCY_LIMITED"}
)
_CONFIG_CODES = frozenset(
    {"SIGN_ERROR", "NO_AUTH", "NOAUTH", "APPID_MCHID_NOT_MATCH", "MCH_NOT_EXISTS"}
)
#: The payer's side refused: nothing was charged, ask for another way to pay.
_PAYER_REFUSALS = frozenset(
    {
        "NOT_ENOUGH",
        "NOTENOUGH",
        "AUTH_CODE_ERROR",
        "AUTH_CODE_INVALID",
        "AUTH_CODE_EXPIRED",
        "AUTHCODEEXPIRE",
        "PAYER_ACCOUNT_ABNORMAL",
        "BUYER_MISMATCH",
        "TRADE_ERROR",
    }
)
_NOT_FOUND_CODES = frozenset({"ORDER_NOT_EXIST", "ORDERNOTEXIST", "RESOURCE_NOT_EXISTS"})

_S = TypeVar("_S", bound=msgspec.Struct)


def _user_agent() -> str:
    try:
        version = importlib.metadata.version("gongji")
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - source checkout
        version = "0"
    return f"gongji/{version} (WeChat Pay APIv3)"


_USER_AGENT = _user_agent()


class MockWechatPay(Protocol):
    """What ``for_mock`` needs of a mock WeChat Pay (``gongji_mock``'s ``mock.wechatpay``)."""

    merchant: WechatPayMerchant
    apiv3_key: str
    appid: str

    def platform_keys(self) -> PlatformKeyStore: ...


class WechatPayChannel:
    """WeChat Pay APIv3 for the cash share: payment code, query, reverse, refunds, med-ins
    orders, callbacks. Sans-I/O: every operation returns a flow (``gongji.gateways.exchange``).

    Construct it with keys in hand (keyword-only), from a configuration profile
    (``from_settings``), or trusting a mock gateway (``for_mock``).
    """

    name = "wechatpay"
    capabilities: frozenset[Capability] = CAPABILITIES

    def __init__(
        self,
        *,
        merchant: WechatPayMerchant,
        platform: PlatformKeyStore,
        apiv3_key: str | bytes,
        appid: str,
        base_url: str = DEFAULT_BASE_URL,
        clock: Clock = system_clock,
        store_id: str | None = None,
        device_ip: str | None = None,
        refund_notify_url: str | None = None,
        nonce_cache: NonceCache | None = None,
        callback_tolerance_seconds: int = CALLBACK_TOLERANCE_SECONDS,
        download_platform_certificates: bool = False,
    ) -> None:
        if not appid:
            raise ConfigError(
                "WeChat Pay needs the AppID bound to the merchant (appid).",
                next_step="Copy it from the merchant platform (产品中心 - AppID账号管理).",
            )
        url = httpx.URL(base_url)
        if url.scheme not in ("https", "http") or not url.host:
            raise ConfigError(
                f"The WeChat Pay base_url {base_url[:80]!r} is not an http(s) URL.",
                next_step=f"Leave it out for {DEFAULT_BASE_URL}, or give the full URL of a proxy or mock.",
            )
        self.merchant = merchant
        self.platform = platform
        self.appid = appid
        self.base_url = base_url.rstrip("/")
        self.store_id = store_id
        self.device_ip = device_ip
        self.refund_notify_url = refund_notify_url
        self._clock = clock
        self._auth = WechatPayAuth(merchant, platform, clock=clock)
        # Certificate mode, downloaded: the store is filled (and refreshed) by this channel.
        self._downloads = (
            PlatformCertificateDownloads(platform, apiv3_key, base_url=self.base_url, clock=clock)
            if download_platform_certificates
            else None
        )
        # Callbacks: a replay window, and a nonce cache so that a replayed callback is refused.
        self._notifications = WechatPayNotifications(
            platform,
            apiv3_key,
            tolerance_seconds=callback_tolerance_seconds,
            nonce_cache=nonce_cache if nonce_cache is not None else MemoryNonceCache(),
            clock=clock,
        )

    # ------------------------------------------------------------------ construction

    @classmethod
    def from_settings(
        cls,
        settings: Mapping[str, Any],
        config_dir: Path | None = None,
        *,
        environ: Mapping[str, str] | None = None,
        clock: Clock = system_clock,
    ) -> WechatPayChannel:
        """A channel from a configuration profile's settings (keys by file path, secrets from
        files or environment variables; see docs/reference/adapter-wechatpay.md). Relative
        paths are read from ``config_dir``, the configuration file's folder."""
        loaded = load_settings(settings, config_dir, environ=environ)
        return cls(
            merchant=loaded.merchant,
            platform=loaded.platform,
            apiv3_key=loaded.apiv3_key,
            appid=loaded.appid,
            base_url=loaded.base_url,
            clock=clock,
            store_id=loaded.store_id,
            device_ip=loaded.device_ip,
            refund_notify_url=loaded.refund_notify_url,
            callback_tolerance_seconds=loaded.callback_tolerance_seconds,
            download_platform_certificates=loaded.download_platform_certificates,
        )

    @classmethod
    def for_mock(
        cls,
        mock: MockWechatPay | Any,
        *,
        base_url: str = DEFAULT_BASE_URL,
        clock: Clock = system_clock,
        **options: Any,
    ) -> WechatPayChannel:
        """A channel that trusts a ``gongji_mock`` WeChat Pay (``mock`` or ``mock.wechatpay``):
        its test merchant, platform key and APIv3 key. No configuration needed.

        With ``download_platform_certificates=True`` it starts with no platform key at all
        and downloads the mock's platform certificates (certificate mode)."""
        endpoint = getattr(mock, "wechatpay", mock)
        downloaded = bool(options.get("download_platform_certificates"))
        return cls(
            merchant=endpoint.merchant,
            platform=PlatformKeyStore() if downloaded else endpoint.platform_keys(),
            apiv3_key=endpoint.apiv3_key,
            appid=endpoint.appid,
            base_url=base_url,
            clock=clock,
            **options,
        )

    @property
    def mchid(self) -> str:
        return self.merchant.mchid

    # ------------------------------------------------------------------ payment code

    def charge(self, order: CashOrder) -> Flow[ChannelPayment]:
        """Collect ``order.amount`` with the payment code the cashier scanned."""
        require(self, Capability.CODE_PAYMENT)
        body = transform.code_pay_request(
            order,
            appid=self.appid,
            mchid=self.mchid,
            store_id=self.store_id,
            device_ip=self.device_ip,
        )
        return self._charge(self._post(CODEPAY_PATH, body), order)

    def _charge(self, request: httpx.Request, order: CashOrder) -> Flow[ChannelPayment]:
        response = yield from self._exchange(request)
        if response.status_code == 200:
            payment = transform.payment_from_transaction(
                _decode(response, wire.Transaction, "The codepay answer")
            )
            return _same_trade(payment, order.out_trade_no)
        error = _error(response)
        if response.status_code == 202 or error.code == "USERPAYING":
            return ChannelPayment(
                out_trade_no=order.out_trade_no, state=PaymentState.PENDING, amount=order.amount
            )
        then = (
            f"Query {order.out_trade_no} (its outcome is not known), and reverse it unless it "
            "is paid; do not charge again with a new out_trade_no."
        )
        _raise_common(response, error, "the codepay request", then)
        if error.code in _PAYER_REFUSALS or (
            error.code == "PARAM_ERROR"
            and error.detail is not None
            and error.detail.field == "payer.auth_code"
        ):
            return ChannelPayment(
                out_trade_no=order.out_trade_no,
                state=PaymentState.FAILED,
                amount=order.amount,
                reason=_reason(error, order),
            )
        if response.status_code in (400, 403):
            _decline(
                response,
                error,
                f"WeChat Pay refused the codepay request for {order.out_trade_no}",
                "Nothing was charged by this request. An out_trade_no already used, closed or "
                "reversed cannot be charged again: query it, and give a new payment a new number.",
                scrub=order.auth_code,
            )
        raise Unavailable(
            f"WeChat Pay answered the codepay request for {order.out_trade_no} with HTTP "
            f"{response.status_code} {error.code or '(no code)'}; its outcome is not definitive.",
            next_step=then,
            gateway="wechatpay",
            request_id=_request_id(response),
        )

    def query(self, out_trade_no: str) -> Flow[ChannelPayment]:
        """The trade's state now (``NOT_FOUND`` when WeChat Pay never received it)."""
        require(self, Capability.QUERY)
        path = QUERY_PATH.format(out_trade_no=transform.check_out_trade_no(out_trade_no))
        return self._query(self._get(path, {"mchid": self.mchid}), out_trade_no)

    def _query(self, request: httpx.Request, out_trade_no: str) -> Flow[ChannelPayment]:
        response = yield from self._exchange(request)
        if response.status_code == 200:
            payment = transform.payment_from_transaction(
                _decode(response, wire.Transaction, "The order query answer")
            )
            return _same_trade(payment, out_trade_no)
        error = _error(response)
        if response.status_code == 404 and error.code in _NOT_FOUND_CODES:
            return ChannelPayment(out_trade_no=out_trade_no, state=PaymentState.NOT_FOUND)
        _raise_common(response, error, "the order query", "Query again; a query changes nothing.")
        _decline(response, error, f"WeChat Pay refused the query of {out_trade_no}", "")

    def reverse(self, out_trade_no: str) -> Flow[ChannelPayment]:
        """Reverse (撤销) a code payment: close it unpaid, or give the money back. ``CLOSED``
        when done; ``NOT_FOUND`` when WeChat Pay never received the trade."""
        require(self, Capability.REVERSE)
        path = REVERSE_PATH.format(out_trade_no=transform.check_out_trade_no(out_trade_no))
        body = wire.ReverseRequest(appid=self.appid, mchid=self.mchid)
        return self._reverse(self._post(path, body), out_trade_no)

    def _reverse(self, request: httpx.Request, out_trade_no: str) -> Flow[ChannelPayment]:
        response = yield from self._exchange(request)
        if response.is_success:  # 200 with {appid, mchid, out_trade_no}, or 204 with no body
            return ChannelPayment(out_trade_no=out_trade_no, state=PaymentState.CLOSED)
        error = _error(response)
        if response.status_code == 404 and error.code in _NOT_FOUND_CODES:
            return ChannelPayment(out_trade_no=out_trade_no, state=PaymentState.NOT_FOUND)
        _raise_common(
            response,
            error,
            "the reverse request",
            f"Reverse {out_trade_no} again; reversing the same out_trade_no is idempotent.",
        )
        _decline(
            response,
            error,
            f"WeChat Pay refused to reverse {out_trade_no}",
            "A payment older than the reverse window is given back with a refund instead.",
        )

    # ------------------------------------------------------------------ refunds

    def refund(
        self, out_trade_no: str, out_refund_no: str, amount: Fen, total: Fen
    ) -> Flow[ChannelRefund]:
        """Give back ``amount`` of the order's ``total``; idempotent by ``out_refund_no``."""
        require(self, Capability.REFUND)
        body = transform.refund_request(
            out_trade_no, out_refund_no, amount, total, notify_url=self.refund_notify_url
        )
        return self._refund(self._post(REFUNDS_PATH, body), body)

    def _refund(self, request: httpx.Request, body: wire.RefundRequest) -> Flow[ChannelRefund]:
        response = yield from self._exchange(request)
        if response.status_code == 200:
            return transform.refund_from_wire(_decode(response, wire.Refund, "The refund answer"))
        error = _error(response)
        _raise_common(
            response,
            error,
            "the refund request",
            f"Ask refund_status({body.out_refund_no!r}), or send the refund again with the same "
            "out_refund_no: WeChat Pay refunds once per out_refund_no.",
        )
        return ChannelRefund(
            out_trade_no=body.out_trade_no,
            out_refund_no=body.out_refund_no,
            amount=Fen(body.amount.refund),
            state="failed",
            reason=_reason(error),
        )

    def refund_status(self, out_refund_no: str) -> Flow[ChannelRefund]:
        """A refund's state now; ``failed`` with reason ``RESOURCE_NOT_EXISTS`` when WeChat Pay
        has no refund under that number (nothing was refunded with it)."""
        require(self, Capability.REFUND)
        path = REFUND_QUERY_PATH.format(out_refund_no=transform.check_out_refund_no(out_refund_no))
        return self._refund_status(self._get(path), out_refund_no)

    def _refund_status(self, request: httpx.Request, out_refund_no: str) -> Flow[ChannelRefund]:
        response = yield from self._exchange(request)
        if response.status_code == 200:
            refund = _decode(response, wire.Refund, "The refund query answer")
            if refund.out_refund_no != out_refund_no:
                raise transform.unexpected(
                    f"WeChat Pay answered the query of refund {out_refund_no} about refund "
                    f"{refund.out_refund_no[:64]}."
                )
            return transform.refund_from_wire(refund)
        error = _error(response)
        if response.status_code == 404 and error.code in _NOT_FOUND_CODES:
            return ChannelRefund(
                out_trade_no="",
                out_refund_no=out_refund_no,
                amount=ZERO,
                state="failed",
                reason=_reason(error),
            )
        _raise_common(response, error, "the refund query", "Query again; a query changes nothing.")
        _decline(response, error, f"WeChat Pay refused the query of refund {out_refund_no}", "")

    # ------------------------------------------------------------------ medical-insurance orders

    def med_ins_order(self, order: MedInsOrder) -> Flow[MedInsOrderResult]:
        """Place a medical-insurance order (医保自费混合收款下单) with the payer's name and
        ``id_digest`` encrypted under the platform key the ``Wechatpay-Serial`` header names."""
        require(self, Capability.MED_INS_ORDER)
        return self._med_ins_order(order)

    def _med_ins_order(self, order: MedInsOrder) -> Flow[MedInsOrderResult]:
        yield from self._refresh_if_due()  # the fields are encrypted under a current key
        sensitive = encrypt_med_ins_fields(
            self.platform,
            payer_name=order.payer_name,
            payer_id=order.payer_id,
            relative_name=order.relative_name,
            relative_id=order.relative_id,
            at=self._now(),
        )
        body = transform.med_ins_request(order, appid=self.appid, sensitive=sensitive)
        request = self._post(
            MED_INS_ORDERS_PATH, body, headers={"Wechatpay-Serial": sensitive.serial}
        )
        return (yield from self._med_ins(request, order.out_trade_no, write=True))

    def med_ins_query(self, out_trade_no: str) -> Flow[MedInsOrderResult]:
        """A med-ins order's state now, by the merchant's ``out_trade_no``."""
        require(self, Capability.MED_INS_ORDER)
        path = MED_INS_QUERY_PATH.format(out_trade_no=transform.check_out_trade_no(out_trade_no))
        return self._med_ins(self._get(path), out_trade_no, write=False)

    def _med_ins(
        self, request: httpx.Request, out_trade_no: str, *, write: bool
    ) -> Flow[MedInsOrderResult]:
        response = yield from self._exchange(request)
        if response.status_code == 200:
            entity = _decode(response, wire.MedInsOrderEntity, "The med-ins order answer")
            if entity.out_trade_no != out_trade_no:
                raise transform.unexpected(
                    f"WeChat Pay answered about med-ins order {entity.out_trade_no[:64]} "
                    f"instead of {out_trade_no}."
                )
            return transform.med_ins_result(entity)
        error = _error(response)
        if not write and response.status_code == 404 and error.code in _NOT_FOUND_CODES:
            return MedInsOrderResult(
                out_trade_no=out_trade_no,
                mix_trade_no="",
                state=PaymentState.NOT_FOUND,
                mix_pay_status="",
                reason=_reason(error),
            )
        then = (
            f"Query the med-ins order {out_trade_no} (med_ins_query) before placing it again."
            if write
            else "Query again; a query changes nothing."
        )
        _raise_common(response, error, "the med-ins order request", then)
        _decline(
            response,
            error,
            f"WeChat Pay refused the med-ins order {out_trade_no}",
            "Check the order's amounts and fields against the centre's settlement.",
        )

    # ------------------------------------------------------------------ callbacks

    def notification(self, headers: Mapping[str, str], body: bytes) -> ChannelNotification:
        """Verify a callback (signature, time window, replay) on its raw bytes, then decode it,
        decrypt its resource with the APIv3 key and map it to the trade's state.

        ``amount`` is the trade's total for a payment, the refund's amount for a refund,
        and the cash WeChat Pay collected for a med-ins result.
        """
        require(self, Capability.NOTIFY)
        try:
            opened = self._notifications.open(headers, body)
        except SignatureError as refused:
            serial = lower_keys(headers).get(SERIAL, "")
            if self._downloads is None or not serial or self.platform.holds(serial):
                raise
            # A rotation: the next operation (or refresh_certificates) downloads first.
            self._downloads.mark_stale()
            raise SignatureError(
                refused.message,
                next_step=(
                    "Answer WeChat Pay with an error (it sends the callback again) and run "
                    "refresh_certificates(): the callback names a certificate not downloaded yet."
                ),
            ) from None
        event = opened.event_type
        if event.startswith("TRANSACTION.") or (
            not event and opened.original_type == "transaction"
        ):
            transaction = _decode_bytes(opened.plaintext, wire.Transaction, "The payment callback")
            return transform.transaction_notification(transaction, opened.id)
        if event.startswith("REFUND.") or (not event and opened.original_type == "refund"):
            notice = _decode_bytes(opened.plaintext, wire.RefundNotice, "The refund callback")
            return transform.refund_notification(notice, opened.id)
        if event.startswith("MEDICAL_INSURANCE."):
            entity = _decode_bytes(opened.plaintext, wire.MedInsOrderEntity, "The med-ins callback")
            return transform.med_ins_notification(entity, opened.id)
        raise GatewayError(
            f"The WeChat Pay callback {opened.id} is a {event[:60] or opened.original_type[:60]!r} "
            "event, which this adapter does not handle.",
            code="unsupported_notification",
            gateway="wechatpay",
            next_step=(
                "It verified and came from WeChat Pay: acknowledge it, and handle it elsewhere "
                "if it matters (payments, refunds and med-ins results are handled here)."
            ),
        )

    # ------------------------------------------------------------------ platform certificates

    def refresh_certificates(self) -> Flow[None]:
        """Download the platform certificates now (certificate mode, downloaded); in any other
        mode there is nothing to download and the flow sends nothing."""
        if self._downloads is not None:
            yield from self._downloads.refresh(self._auth.sign, self._headers())

    def _refresh_if_due(self) -> Flow[None]:
        if self._downloads is not None and self._downloads.due():
            yield from self._downloads.refresh(self._auth.sign, self._headers())

    def _exchange(self, request: httpx.Request) -> Flow[httpx.Response]:
        """Sign ``request``, send it, and verify the answer on its bytes before anything is
        read; in certificate mode, download first when due and again on an unknown serial."""
        yield from self._refresh_if_due()
        self._auth.sign(request)
        response: httpx.Response = yield request
        if self._downloads is not None and self._downloads.names_unknown_serial(response):
            yield from self._downloads.refresh(self._auth.sign, self._headers())
        self._auth.verify(response)
        return response

    # ------------------------------------------------------------------ requests

    def _now(self) -> datetime.datetime:
        return datetime.datetime.fromtimestamp(self._clock(), datetime.UTC)

    def _headers(self) -> dict[str, str]:
        return {"Accept": "application/json", "User-Agent": _USER_AGENT}

    def _get(self, path: str, params: Mapping[str, str] | None = None) -> httpx.Request:
        return httpx.Request("GET", self.base_url + path, params=params, headers=self._headers())

    def _post(
        self, path: str, body: msgspec.Struct, *, headers: Mapping[str, str] | None = None
    ) -> httpx.Request:
        # The body is encoded once, here; the signer signs exactly these bytes.
        content = msgspec.json.encode(body)
        sent = {**self._headers(), "Content-Type": "application/json", **(headers or {})}
        return httpx.Request("POST", self.base_url + path, content=content, headers=sent)

    def __repr__(self) -> str:
        return (
            f"WechatPayChannel(mchid={self.mchid!r}, appid={self.appid!r}, "
            f"serial_no={self.merchant.serial_no!r}, platform={self.platform!r}, "
            f"base_url={self.base_url!r}, apiv3_key=<hidden>)"
        )


# ---------------------------------------------------------------------- parsing


def _decode_bytes(content: bytes, kind: type[_S], what: str) -> _S:
    try:
        return jsonwire.decode(content, type=kind)
    except msgspec.ValidationError as exc:
        raise transform.unexpected(
            f"{what} was refused: {exc}. Amounts on the WeChat Pay wire are integer fen "
            "(JSON integers); nothing in it was used."
        ) from None
    except msgspec.DecodeError:
        raise transform.unexpected(f"{what} is not JSON; nothing in it was used.") from None


def _decode(response: httpx.Response, kind: type[_S], what: str) -> _S:
    return _decode_bytes(response.content, kind, what)


def _error(response: httpx.Response) -> wire.Error:
    """The error body of a signed answer (``WechatPayAuth`` verified it), else an empty one.

    An unsigned error answer (a proxy's 502 page, a refused signature) passes the auth
    but says only that the call failed: its body is never read for a code, so nothing
    unsigned can pass for a definitive "not charged" or "not found".
    """
    if SIGNATURE not in response.headers:
        return wire.Error()
    try:
        return jsonwire.decode(response.content, type=wire.Error)
    except msgspec.MsgspecError:
        return wire.Error()


def _request_id(response: httpx.Response) -> str | None:
    found = response.headers.get("Request-ID")
    return None if found is None else str(found)


def _reason(error: wire.Error, order: CashOrder | None = None) -> str:
    """The channel's own words, short, with the payment code scrubbed should it be echoed."""
    text = f"{error.code}: {error.message}" if error.code else error.message
    if order is not None and order.auth_code:
        text = text.replace(order.auth_code, "<payment code>")
    return text[:300]


def _same_trade(payment: ChannelPayment, out_trade_no: str) -> ChannelPayment:
    if payment.out_trade_no != out_trade_no:
        raise transform.unexpected(
            f"WeChat Pay answered about order {payment.out_trade_no[:64]} instead of {out_trade_no}."
        )
    return payment


def _raise_common(response: httpx.Response, error: wire.Error, operation: str, then: str) -> None:
    """Raise for the answers every operation treats alike: our signature refused, a
    configuration WeChat Pay refuses, WeChat Pay unavailable, and an answer with no
    signed error code (which decides nothing)."""
    status = response.status_code
    if status == 401 or error.code == "SIGN_ERROR":
        raise ConfigError(
            f"WeChat Pay refused the signature on {operation} (HTTP {status} "
            f"{error.code or 'SIGN_ERROR'}); nothing was processed.",
            next_step=(
                "Check the merchant API private key and its certificate serial number "
                "(merchant_serial_no) against the merchant platform's API security page, and "
                "this machine's clock."
            ),
            gateway="wechatpay",
            request_id=_request_id(response),
        )
    if error.code in _CONFIG_CODES:
        raise ConfigError(
            f"WeChat Pay refused {operation}: {_reason(error)}.",
            next_step=(
                "Check mchid, appid (bound to the mchid) and that the product is enabled for "
                "this merchant on the merchant platform; nothing was processed."
            ),
            gateway="wechatpay",
            request_id=_request_id(response),
        )
    if status >= 500 or status == 429 or error.code in _UNAVAILABLE_CODES:
        raise Unavailable(
            f"WeChat Pay could not answer {operation} (HTTP {status} "
            f"{error.code or 'no error code'}).",
            next_step=then,
            gateway="wechatpay",
            request_id=_request_id(response),
        )
    if not error.code:
        raise Unavailable(
            f"{operation[0].upper()}{operation[1:]} got HTTP {status} with no signed error "
            "code; the answer is not definitive.",
            next_step=then,
            gateway="wechatpay",
            request_id=_request_id(response),
        )


def _decline(
    response: httpx.Response, error: wire.Error, message: str, then: str, *, scrub: str = ""
) -> NoReturn:
    reason = _reason(error)
    if scrub:
        reason = reason.replace(scrub, "<payment code>")
    raise Declined(
        f"{message}: HTTP {response.status_code} {reason or '(no error body)'}.",
        infcode=error.code or str(response.status_code),
        err_msg=reason,
        gateway="wechatpay",
        request_id=_request_id(response),
        next_step=then or None,
    )
