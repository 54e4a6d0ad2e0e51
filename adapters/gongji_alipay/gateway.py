"""``AlipayChannel``: the Alipay OpenAPI as a gongji ``PaymentChannel``.

Every operation is a sans-I/O flow (``gongji.gateways.exchange``): it builds one
signed ``httpx.Request`` to the gateway (every parameter, ``sign`` included, in an
``application/x-www-form-urlencoded`` body, as gopay sends them; byte for byte the
string python-alipay-sdk signs and sends, ``AlipaySigner.signed_form``), checks the
answer's ``sign`` over the exact bytes received, and only then decodes the verified
``<method>_response`` member.

What an answer means for the money (docs/reference/adapter-alipay.md):

* a returned ``ChannelPayment`` / ``ChannelRefund`` is Alipay's definitive word;
* ``ConfigError`` and ``Declined`` are refusals of the request: it did nothing;
* ``Unavailable``, ``SignatureError``, any other ``GatewayError`` and an
  ``httpx.TransportError`` leave a write's outcome unknown: query (or repeat with
  the same key) before anything else.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol, TypeVar

import httpx
import msgspec

import gongji.jsonwire as jsonwire
from gongji.errors import (
    ConfigError,
    Declined,
    GatewayError,
    InvalidInput,
    SignatureError,
    Unavailable,
)
from gongji.gateways import (
    Capability,
    CashOrder,
    ChannelNotification,
    ChannelPayment,
    ChannelRefund,
    PaymentState,
    require,
)
from gongji.gateways.exchange import Flow, exchange
from gongji.gateways.secrets import secret_source, setting_path, setting_paths
from gongji.money import ZERO, Fen
from gongji.signing._common import Clock, system_clock
from gongji.signing.alipay import (
    AlipayPublicKeys,
    AlipaySigner,
    AlipayVerifier,
)
from gongji.signing.keys import load_private_key, load_public_key
from gongji_alipay import transform, wire
from gongji_alipay.transform import GATEWAY

__all__ = [
    "CAPABILITIES",
    "DEFAULT_BASE_URL",
    "NOTIFY_MAX_AGE_SECONDS",
    "SETTINGS_KEYS",
    "AlipayChannel",
]

DEFAULT_BASE_URL = "https://openapi.alipay.com/gateway.do"
#: Alipay delivers a notification again for about 25 hours until it is acknowledged.
NOTIFY_MAX_AGE_SECONDS = 26 * 3600
#: A notification stamped further ahead of this machine's clock than this is refused.
NOTIFY_FUTURE_TOLERANCE_SECONDS = 300

CAPABILITIES: frozenset[Capability] = frozenset(
    {
        Capability.CODE_PAYMENT,
        Capability.QUERY,
        Capability.REVERSE,
        Capability.REFUND,
        Capability.NOTIFY,
    }
)

PAY = "alipay.trade.pay"
QUERY = "alipay.trade.query"
CANCEL = "alipay.trade.cancel"
REFUND = "alipay.trade.refund"

#: Business answers (40004) that say nothing definitive: Alipay's advice is to query.
_IN_DOUBT = frozenset({"ACQ.SYSTEM_ERROR"})
#: The out_trade_no (or out_request_no) already names another payment or buyer.
_KEY_REUSED = frozenset({"ACQ.CONTEXT_INCONSISTENT", "ACQ.TRADE_BUYER_NOT_MATCH"})
#: 40002 answers that mean this app's credentials are wrong.
_BAD_CREDENTIALS = frozenset(
    {
        "isv.invalid-signature",
        "isv.invalid-app-id",
        "isv.invalid-signature-type",
        "isv.app-unonline",
        "isv.invalid-app-auth-token",
    }
)
_CANCEL_ACTIONS = {
    "close": "action close: the trade was closed; nothing had been paid.",
    "refund": "action refund: the payment was given back to the buyer.",
}
_MAX_KEY_LENGTH = 64

_Reply = TypeVar("_Reply", bound=wire.Reply)
#: The form carries every parameter; its values are percent-encoded UTF-8. Built once:
#: httpx copies a ``Headers`` without normalising each name and value again.
_FORM = httpx.Headers({"Content-Type": "application/x-www-form-urlencoded;charset=utf-8"})


class MockAlipayKeys(Protocol):
    """What ``for_mock`` needs of a mock Alipay endpoint (``gongji_mock``'s ``mock.alipay``)."""

    def signer(self) -> AlipaySigner: ...

    def verifier(self) -> AlipayVerifier: ...


#: The keys ``from_settings`` reads (docs/reference/adapter-alipay.md).
SETTINGS_KEYS = frozenset(
    {
        "app_id",
        "app_private_key_path",
        "app_private_key_env",
        "app_private_key",
        "alipay_public_key_path",
        "alipay_public_key_env",
        "alipay_public_key",
        "app_cert_path",
        "alipay_root_cert_path",
        "alipay_cert_path",
        "base_url",
        "notify_url",
        "store_id",
        "terminal_id",
        "notify_max_age_seconds",
    }
)


class AlipayChannel:
    """The Alipay OpenAPI payment channel: payment code, query, cancel, refund, notifications.

    Sans-I/O: each operation returns a flow for a driver to run. Keyword-only
    construction; ``from_settings`` reads a configuration profile and
    ``for_mock`` trusts a ``gongji_mock`` Alipay endpoint.
    """

    name: str = "alipay"
    capabilities: frozenset[Capability] = CAPABILITIES

    def __init__(
        self,
        *,
        signer: AlipaySigner,
        verifier: AlipayVerifier,
        base_url: str = DEFAULT_BASE_URL,
        notify_url: str | None = None,
        store_id: str = "",
        terminal_id: str = "",
        clock: Clock = system_clock,
        notify_max_age_seconds: int = NOTIFY_MAX_AGE_SECONDS,
    ) -> None:
        url = httpx.URL(base_url)
        if url.scheme not in ("https", "http") or not url.host:
            raise ConfigError(
                f"The Alipay base_url {base_url[:80]!r} is not an absolute http(s) URL.",
                next_step=f"Use {DEFAULT_BASE_URL} (or the mock's URL).",
            )
        if notify_max_age_seconds <= 0:
            raise ConfigError(
                "notify_max_age_seconds must be a positive number of seconds.",
                next_step=f"Leave it out for the default ({NOTIFY_MAX_AGE_SECONDS} s).",
            )
        self._signer = signer
        self._verifier = verifier
        self._url = url
        self.base_url = base_url
        self.notify_url = notify_url
        self.store_id = store_id
        self.terminal_id = terminal_id
        self._clock = clock
        self.notify_max_age_seconds = notify_max_age_seconds

    @property
    def app_id(self) -> str:
        return self._signer.app_id

    # ------------------------------------------------------------ construction

    @classmethod
    def from_settings(
        cls, settings: Mapping[str, Any], config_dir: Path | None = None
    ) -> AlipayChannel:
        """A channel from a configuration profile's ``[alipay]`` table.

        Public-key mode: ``app_id``, ``app_private_key_path`` (or ``app_private_key_env``,
        or ``app_private_key`` itself), ``alipay_public_key_path`` (or ``_env``, or the
        key itself). Certificate mode adds ``app_cert_path`` and ``alipay_root_cert_path``
        and names Alipay's certificate(s) in ``alipay_cert_path``. Optional: ``base_url``,
        ``notify_url``, ``store_id``, ``terminal_id``, ``notify_max_age_seconds``. Keys
        and secrets are found through ``gongji.gateways.secrets``; relative paths are
        read from ``config_dir``, the configuration file's folder. An unknown key is
        refused, so that a misspelt one is never silently ignored; no error ever
        repeats a key's content.
        """
        unknown = sorted(set(settings) - SETTINGS_KEYS)
        if unknown:
            raise ConfigError(
                f"Unknown Alipay setting(s): {', '.join(k[:40] for k in unknown)}.",
                next_step=f"Use only: {', '.join(sorted(SETTINGS_KEYS))}.",
            )
        app_id = _text(settings, "app_id", required=True)
        private_source = _key_source(settings, "app_private_key", config_dir)
        if private_source is None:
            raise ConfigError(
                "The Alipay setting app_private_key_path is missing.",
                next_step=(
                    "Point app_private_key_path at the app's private key file (PEM), or set "
                    "app_private_key from the environment."
                ),
            )
        private_key = load_private_key(private_source)
        app_cert = setting_path(settings, "app_cert_path", where="alipay", config_dir=config_dir)
        root_cert = setting_path(
            settings, "alipay_root_cert_path", where="alipay", config_dir=config_dir
        )
        if (app_cert is None) != (root_cert is None):
            raise ConfigError(
                "Alipay certificate mode needs both app_cert_path and alipay_root_cert_path.",
                next_step="Configure both (appCertPublicKey_*.crt and alipayRootCert.crt), or neither for public-key mode.",
            )
        if app_cert is not None and root_cert is not None:
            signer = AlipaySigner.with_certificates(
                app_id=app_id,
                private_key=private_key,
                app_certificate=_read_file(app_cert, "app_cert_path"),
                alipay_root_certificates=_read_file(root_cert, "alipay_root_cert_path"),
            )
        else:
            signer = AlipaySigner(app_id=app_id, private_key=private_key)
        public_key_source = _key_source(settings, "alipay_public_key", config_dir)
        certificates = tuple(
            _read_file(path, "alipay_cert_path")
            for path in setting_paths(
                settings, "alipay_cert_path", where="alipay", config_dir=config_dir
            )
        )
        if public_key_source is None and not certificates:
            raise ConfigError(
                "Alipay's public key is not configured: the answers could not be verified.",
                next_step=(
                    "Set alipay_public_key_path (public-key mode) or alipay_cert_path "
                    "(alipayCertPublicKey_RSA2.crt, certificate mode)."
                ),
            )
        keys = AlipayPublicKeys(
            public_key=None if public_key_source is None else load_public_key(public_key_source),
            certificates=certificates,
        )
        max_age = settings.get("notify_max_age_seconds", NOTIFY_MAX_AGE_SECONDS)
        if type(max_age) is not int:
            raise ConfigError(
                "notify_max_age_seconds must be a whole number of seconds.",
                next_step=f"Leave it out for the default ({NOTIFY_MAX_AGE_SECONDS} s).",
            )
        return cls(
            signer=signer,
            verifier=AlipayVerifier(keys),
            base_url=_text(settings, "base_url") or DEFAULT_BASE_URL,
            notify_url=_text(settings, "notify_url") or None,
            store_id=_text(settings, "store_id"),
            terminal_id=_text(settings, "terminal_id"),
            notify_max_age_seconds=max_age,
        )

    @classmethod
    def for_mock(
        cls,
        mock_alipay: MockAlipayKeys,
        *,
        base_url: str = DEFAULT_BASE_URL,
        notify_url: str | None = None,
        clock: Clock = system_clock,
    ) -> AlipayChannel:
        """A channel signing as the mock's test app and trusting the mock's Alipay key.

        ``AlipayChannel.for_mock(mock.alipay)``; drive it with ``mock.transport()``
        (the mock answers on the path ``/gateway.do`` of any host).
        """
        return cls(
            signer=mock_alipay.signer(),
            verifier=mock_alipay.verifier(),
            base_url=base_url,
            notify_url=notify_url,
            clock=clock,
        )

    # ------------------------------------------------------------ operations

    def charge(self, order: CashOrder) -> Flow[ChannelPayment]:
        """``alipay.trade.pay`` with the buyer's payment code (``scene`` bar_code).

        PAID (``10000``), PENDING (``10003``: the buyer must enter the password;
        query, then reverse), FAILED (a definitive refusal: nothing charged) or
        CLOSED (the out_trade_no was cancelled before: nothing charged).
        """
        require(self, Capability.CODE_PAYMENT)
        _check_key(order.out_trade_no, "out_trade_no")
        _check_amount(order.amount, "The amount to collect")
        if not order.auth_code:
            raise InvalidInput(
                "The payment code is empty.",
                next_step="Scan the buyer's Alipay payment code again; nothing was sent.",
            )
        return self._charge(order)

    def query(self, out_trade_no: str) -> Flow[ChannelPayment]:
        """``alipay.trade.query``: PENDING, PAID, CLOSED, or NOT_FOUND (``ACQ.TRADE_NOT_EXIST``)."""
        require(self, Capability.QUERY)
        _check_key(out_trade_no, "out_trade_no")
        return self._query(out_trade_no)

    def reverse(self, out_trade_no: str) -> Flow[ChannelPayment]:
        """``alipay.trade.cancel``: CLOSED when done (unpaid: closed; paid: given back), or NOT_FOUND.

        ``reason`` says which (``action``); ``retry_flag`` ``Y`` raises ``Unavailable``:
        cancel again with the same out_trade_no.
        """
        require(self, Capability.REVERSE)
        _check_key(out_trade_no, "out_trade_no")
        return self._reverse(out_trade_no)

    def refund(
        self, out_trade_no: str, out_refund_no: str, amount: Fen, total: Fen
    ) -> Flow[ChannelRefund]:
        """``alipay.trade.refund`` of ``amount`` with ``out_request_no`` = ``out_refund_no``.

        ``total`` is the trade's total: a refund above it is refused before sending.
        """
        require(self, Capability.REFUND)
        _check_key(out_trade_no, "out_trade_no")
        _check_key(out_refund_no, "out_refund_no")
        _check_amount(amount, "The refund")
        _check_amount(total, "The trade's total")
        if amount > total:
            raise InvalidInput(
                f"The refund ({amount.to_yuan()} yuan) is more than the trade's total "
                f"({total.to_yuan()} yuan).",
                next_step="Refund at most the trade's total; nothing was sent.",
            )
        return self._refund(out_trade_no, out_refund_no, amount)

    def notification(self, headers: Mapping[str, str], body: bytes) -> ChannelNotification:
        """Verify an asynchronous notification (the raw form body), then decode it.

        ``SignatureError`` when its ``sign`` does not verify with Alipay's key, when
        it is for another app, or when its ``notify_time`` is outside the window
        (older than ``notify_max_age_seconds``). Alipay expects the plain text
        ``success`` in answer once it has been handled (and repeats it otherwise:
        ``event_id`` is its ``notify_id``).
        """
        require(self, Capability.NOTIFY)
        content_type = next(
            (value for name, value in headers.items() if name.lower() == "content-type"), ""
        )
        if content_type and not content_type.lower().startswith(
            "application/x-www-form-urlencoded"
        ):
            raise SignatureError(
                f"The Alipay notification is {content_type[:60]!r}, not an "
                "application/x-www-form-urlencoded form; it is not trusted."
            )
        params = self._verifier.verify_notification_body(body)
        try:
            notice = msgspec.convert(params, type=wire.TradeNotification)
        except msgspec.ValidationError as exc:
            raise _unreadable("the notification", str(exc)) from None
        if notice.app_id != self.app_id:
            raise SignatureError(
                f"The Alipay notification is for app {notice.app_id[:32]!r}, not this "
                f"channel's app {self.app_id!r}; it is not trusted."
            )
        if notice.notify_type != "trade_status_sync":
            raise GatewayError(
                f"The Alipay notification is of type {notice.notify_type[:40]!r}; this adapter "
                "reads trade_status_sync only.",
                code="alipay_unsupported_notification",
                gateway=GATEWAY,
                next_step="Acknowledge it and query the trade instead.",
            )
        self._check_notify_time(notice.notify_time)
        return transform.notification_from_params(notice)

    # ------------------------------------------------------------ flows

    def _charge(self, order: CashOrder) -> Flow[ChannelPayment]:
        out_trade_no = order.out_trade_no
        reply = yield from self._call(
            PAY,
            transform.pay_content(order, store_id=self.store_id, terminal_id=self.terminal_id),
            wire.PayReply,
            out_trade_no=out_trade_no,
            notify_url=order.notify_url or self.notify_url,
            in_doubt=(
                f"The payment's outcome is unknown: query out_trade_no {out_trade_no} and reverse "
                "it if it is not paid; never charge again under a new out_trade_no."
            ),
        )
        if reply.code == "10000":
            return transform.payment_from_pay(order, reply, PaymentState.PAID)
        if reply.code == "10003":
            return transform.payment_from_pay(order, reply, PaymentState.PENDING)
        sub_code = _sub_code(reply)
        if sub_code == "ACQ.TRADE_HAS_SUCCESS":
            # The same out_trade_no was paid already (a repeat): report that trade as it stands.
            return (yield from self._query(out_trade_no))
        if sub_code in _KEY_REUSED:
            raise _key_reused(reply, f"out_trade_no {out_trade_no}")
        if sub_code == "ACQ.TRADE_HAS_CLOSE":
            return ChannelPayment(
                out_trade_no, PaymentState.CLOSED, ZERO, reply.trade_no, transform.reason_of(reply)
            )
        return ChannelPayment(
            out_trade_no, PaymentState.FAILED, ZERO, reply.trade_no, transform.reason_of(reply)
        )

    def _query(self, out_trade_no: str) -> Flow[ChannelPayment]:
        reply = yield from self._call(
            QUERY,
            wire.TradeRef(out_trade_no=out_trade_no),
            wire.QueryReply,
            out_trade_no=out_trade_no,
            in_doubt="Query again later; a query changes nothing.",
        )
        if reply.code == "10000":
            return transform.payment_from_query(out_trade_no, reply)
        if _sub_code(reply) == "ACQ.TRADE_NOT_EXIST":
            return ChannelPayment(
                out_trade_no, PaymentState.NOT_FOUND, reason=transform.reason_of(reply)
            )
        raise _declined(QUERY, reply)

    def _reverse(self, out_trade_no: str) -> Flow[ChannelPayment]:
        again = (
            f"Nothing is known to have been undone: cancel out_trade_no {out_trade_no} again "
            "(it is idempotent)."
        )
        reply = yield from self._call(
            CANCEL,
            wire.TradeRef(out_trade_no=out_trade_no),
            wire.CancelReply,
            out_trade_no=out_trade_no,
            in_doubt=again,
        )
        if reply.retry_flag == "Y":
            raise Unavailable(
                f"Alipay asks for alipay.trade.cancel of {out_trade_no} to be repeated "
                f"(retry_flag Y; {transform.reason_of(reply)}).",
                gateway=GATEWAY,
                next_step=again,
            )
        if reply.code == "10000":
            return ChannelPayment(
                out_trade_no,
                PaymentState.CLOSED,
                ZERO,
                reply.trade_no,
                _CANCEL_ACTIONS.get(reply.action, f"action {reply.action[:20] or 'none'}."),
            )
        if _sub_code(reply) == "ACQ.TRADE_NOT_EXIST":
            return ChannelPayment(
                out_trade_no, PaymentState.NOT_FOUND, reason=transform.reason_of(reply)
            )
        raise _declined(CANCEL, reply)

    def _refund(self, out_trade_no: str, out_refund_no: str, amount: Fen) -> Flow[ChannelRefund]:
        reply = yield from self._call(
            REFUND,
            transform.refund_content(out_trade_no, out_refund_no, amount),
            wire.RefundReply,
            out_trade_no=out_trade_no,
            in_doubt=(
                f"The refund's outcome is unknown: repeat it with the same out_refund_no "
                f"{out_refund_no} (Alipay refunds once per out_request_no)."
            ),
        )
        if reply.code == "10000":
            return transform.refund_from_reply(out_trade_no, out_refund_no, amount, reply)
        if _sub_code(reply) in _KEY_REUSED:
            raise _key_reused(reply, f"out_refund_no {out_refund_no}")
        return ChannelRefund(
            out_trade_no, out_refund_no, amount, "failed", reason=transform.reason_of(reply)
        )

    # ------------------------------------------------------------ one call

    def _request(
        self, method: str, content: msgspec.Struct, notify_url: str | None
    ) -> httpx.Request:
        # Every parameter in the form, sign included, none in the query: the URL stays the
        # one parsed at construction (httpx reads a long query character by character).
        body = self._signer.signed_form(method, content, notify_url=notify_url)
        return httpx.Request("POST", self._url, content=body, headers=_FORM)

    def _call(
        self,
        method: str,
        content: msgspec.Struct,
        reply_type: type[_Reply],
        *,
        out_trade_no: str,
        in_doubt: str,
        notify_url: str | None = None,
    ) -> Flow[_Reply]:
        """Send one signed request; the verified answer, decoded, with its gateway code checked.

        Returns answers coded ``10000``, ``10003`` (payments) and ``40004`` (business
        refusals, for the operation to read); raises on everything else.
        """
        response = yield from exchange(self._request(method, content, notify_url))
        # <method>_response, or error_response (an app or signature refused), whatever the status.
        try:
            raw = self._verifier.verify_response(response.content, method)  # the bytes verified
        except SignatureError:
            if response.status_code < 500:
                raise
            # A proxy's or a load balancer's page, which Alipay never signs: only its status is read.
            raise Unavailable(
                f"Alipay answered HTTP {response.status_code} to {method}.",
                gateway=GATEWAY,
                next_step=in_doubt,
            ) from None
        try:
            reply = jsonwire.decode(raw, type=reply_type)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise _unreadable(method, str(exc), in_doubt) from None
        if reply.out_trade_no and reply.out_trade_no != out_trade_no:
            # A genuine answer about another trade (replayed): its sign does not bind the request.
            raise SignatureError(
                f"Alipay's answer to {method} is about out_trade_no {reply.out_trade_no[:64]!r}, "
                f"not {out_trade_no!r}; it is not trusted.",
                next_step=in_doubt,
            )
        _check_gateway_code(method, reply, in_doubt, payment=method == PAY)
        return reply

    def _check_notify_time(self, notify_time: str) -> None:
        try:
            stamped = datetime.datetime.strptime(notify_time, "%Y-%m-%d %H:%M:%S").replace(
                tzinfo=transform.BEIJING
            )
        except ValueError:
            raise _unreadable(
                "the notification", "notify_time is not yyyy-MM-dd HH:mm:ss"
            ) from None
        now = datetime.datetime.fromtimestamp(self._clock(), datetime.UTC)
        age = int((now - stamped).total_seconds())
        if age > self.notify_max_age_seconds or -age > NOTIFY_FUTURE_TOLERANCE_SECONDS:
            raise SignatureError(
                f"The Alipay notification's notify_time {notify_time} is {abs(age)} s "
                f"{'old' if age > 0 else 'ahead of this clock'}, outside the window "
                f"({self.notify_max_age_seconds} s back, {NOTIFY_FUTURE_TOLERANCE_SECONDS} s ahead): "
                "a replay, or a wrong clock.",
                next_step="Check this machine's clock (NTP), and query the trade for its state.",
            )

    def __repr__(self) -> str:
        mode = "certificate" if self._signer.app_cert_sn else "public-key"
        return f"AlipayChannel(app_id={self.app_id!r}, base_url={self.base_url!r}, {mode} mode)"


# ---------------------------------------------------------------- answers


def _sub_code(reply: wire.Reply) -> str:
    # Some answers prefix the business code with "aop." (aop.ACQ.SYSTEM_ERROR).
    return reply.sub_code.removeprefix("aop.")


def _check_gateway_code(method: str, reply: wire.Reply, in_doubt: str, *, payment: bool) -> None:
    """Raise for every gateway code but success, a payment's ``10003``, and business refusals."""
    code = reply.code
    if code == "10000" or (code == "10003" and payment):
        return
    words = transform.reason_of(reply)
    if code == "40004":
        if _sub_code(reply) in _IN_DOUBT:
            raise Unavailable(
                f"Alipay could not complete {method} ({words}).",
                gateway=GATEWAY,
                next_step=in_doubt,
            )
        return
    if code == "20000":
        raise Unavailable(
            f"Alipay's service is unavailable for {method} ({words}).",
            gateway=GATEWAY,
            next_step=in_doubt,
        )
    if code == "40002" and reply.sub_code in _BAD_CREDENTIALS:
        raise ConfigError(
            f"Alipay refused {method}: the app's credentials are not accepted ({words}).",
            code="alipay_credentials",
            gateway=GATEWAY,
            next_step=(
                "Check the app_id and that the app private key is the one whose public key is "
                "uploaded for this app in the Alipay console; nothing was processed."
            ),
        )
    if code in ("20001", "40001", "40002", "40006"):
        raise ConfigError(
            f"Alipay refused {method} before processing it ({words}).",
            code="alipay_refused_request",
            gateway=GATEWAY,
            next_step=(
                "Check the app's products and permissions in the Alipay console (40006, 20001) "
                "or report the request as a gongji bug (40001, 40002); nothing was processed."
            ),
        )
    raise GatewayError(
        f"Alipay answered {method} with code {code[:20]!r} ({words}), which gongji does not know.",
        code="alipay_unknown_code",
        gateway=GATEWAY,
        next_step=in_doubt,
    )


def _declined(method: str, reply: wire.Reply) -> Declined:
    return Declined(
        f"Alipay refused {method}: {transform.reason_of(reply)}.",
        infcode=reply.sub_code or reply.code,
        err_msg=reply.sub_msg[:300],
        gateway=GATEWAY,
    )


def _key_reused(reply: wire.Reply, key: str) -> Declined:
    return Declined(
        f"Alipay refused the request: {key} already names another payment "
        f"({transform.reason_of(reply)}).",
        infcode=reply.sub_code,
        err_msg=reply.sub_msg[:300],
        gateway=GATEWAY,
        next_step=(
            "This request charged or refunded nothing; the earlier one with that number stands "
            "(query it). Give every new payment and refund its own number."
        ),
    )


def _unreadable(what: str, detail: str, in_doubt: str | None = None) -> GatewayError:
    return GatewayError(
        f"Alipay's answer to {what} is signed but cannot be read ({detail[:200]}).",
        code="alipay_unreadable",
        gateway=GATEWAY,
        next_step=in_doubt or "Query the trade for its state.",
    )


# ---------------------------------------------------------------- input checks


def _check_key(value: str, name: str) -> None:
    if not isinstance(value, str) or not 1 <= len(value) <= _MAX_KEY_LENGTH:
        raise InvalidInput(
            f"{name} must be 1 to {_MAX_KEY_LENGTH} characters.",
            next_step=f"Give the payment a proper {name}; nothing was sent.",
        )


def _check_amount(amount: Fen, what: str) -> None:
    if not isinstance(amount, Fen):
        raise InvalidInput(
            f"{what} must be gongji.Fen (integer fen), got {type(amount).__name__}.",
            next_step="Pass Fen(1250) for 12.50 yuan; nothing was sent.",
        )
    if not ZERO < amount <= transform.MAX_AMOUNT:
        raise InvalidInput(
            f"{what} must be between 0.01 and {transform.MAX_AMOUNT.to_yuan()} yuan, "
            f"got {amount.to_yuan()}.",
            next_step="Correct the amount; nothing was sent.",
        )


# ---------------------------------------------------------------- settings


def _text(settings: Mapping[str, Any], key: str, *, required: bool = False) -> str:
    value = settings.get(key, "")
    if not isinstance(value, str):
        raise ConfigError(
            f"The Alipay setting {key} must be a string, got {type(value).__name__}.",
            next_step=f"Write {key} as a quoted string.",
        )
    if required and not value:
        raise ConfigError(
            f"The Alipay setting {key} is missing.",
            next_step="Copy it from the Alipay open platform console.",
        )
    return value


def _key_source(
    settings: Mapping[str, Any], name: str, config_dir: Path | None
) -> Path | str | None:
    """``<name>_path`` (a file), ``<name>_env`` (a variable) or ``<name>`` (the key itself,
    as the console prints it: this adapter's reference allows it)."""
    return secret_source(
        settings,
        name,
        where="alipay",
        config_dir=config_dir,
        file_suffix="_path",
        inline=True,
        required=False,
    )


def _read_file(path: Path, key: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ConfigError(
            f"The file named by the Alipay setting {key} ({path}) could not be read ({exc.strerror}).",
            next_step="Check the path and its permissions.",
        ) from None
