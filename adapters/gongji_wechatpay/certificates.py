"""Certificate mode: the platform certificates, downloaded, checked and kept in memory.

``GET /v3/certificates`` lists WeChat Pay's platform certificates, each PEM sealed
with AEAD_AES_256_GCM under the merchant's APIv3 key (``associated_data``
``"certificate"``). What gongji trusts, and why:

* A certificate is trusted only when it **decrypts under the APIv3 key**: the GCM
  tag authenticates the ciphertext, and only WeChat Pay and the merchant hold that
  key. A certificate that does not decrypt, whose serial is not the ``serial_no``
  it is listed under, or that is not valid now, is dropped, never trusted.
* The download's own signature is then checked, with a certificate already
  trusted or one that has just passed the check above. On a first download that
  check alone proves nothing (anyone can sign a list with the certificate they put
  in it); it binds the listing's plain fields to the certificates' holder.
* Nothing is written to disk: the certificates live in the channel's key store.

When: before the first operation; again when the last download is older than
``REFRESH_SECONDS``, or when no certificate held stays valid beyond
``EXPIRY_MARGIN_SECONDS`` (WeChat Pay issues the next one ten days before the old
one expires, and signs with it from five days before); and at once when an answer
names a serial the store does not hold (a rotation). One serial is looked for at
most once per ``MIN_INTERVAL_SECONDS``, so that a flood of answers naming it cannot
turn into a flood of downloads.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable

import httpx
import msgspec

import gongji.jsonwire as jsonwire
from gongji.errors import ConfigError, GongjiError, SignatureError, Unavailable
from gongji.gateways.exchange import Flow
from gongji.signing._common import Clock, lower_keys
from gongji.signing.keys import Certificate, load_certificate
from gongji.signing.wechatpay import (
    SERIAL,
    SIGNATURE,
    decrypt_resource,
    verify_platform_signature,
)
from gongji.signing.wechatpay_keys import PlatformKeyStore

CERTIFICATES_PATH = "/v3/certificates"
REFRESH_SECONDS = 12 * 3600
EXPIRY_MARGIN_SECONDS = 10 * 24 * 3600
MIN_INTERVAL_SECONDS = 60
ASSOCIATED_DATA = "certificate"


class _Sealed(msgspec.Struct, frozen=True):
    algorithm: str
    nonce: str
    ciphertext: str
    associated_data: str = ""


class _Listed(msgspec.Struct, frozen=True):
    serial_no: str
    encrypt_certificate: _Sealed


class _Listing(msgspec.Struct, frozen=True):
    data: list[_Listed]


def _utc(seconds: float) -> datetime.datetime:  # float-ok: unix seconds
    return datetime.datetime.fromtimestamp(seconds, datetime.UTC)


class PlatformCertificateDownloads:
    """Keeps ``store`` filled with the platform certificates WeChat Pay lists."""

    __slots__ = ("_apiv3_key", "_clock", "_last_download", "_looked_for", "_stale", "_url", "store")

    def __init__(
        self, store: PlatformKeyStore, apiv3_key: str | bytes, *, base_url: str, clock: Clock
    ) -> None:
        self.store = store
        self._apiv3_key = apiv3_key
        self._url = base_url.rstrip("/") + CERTIFICATES_PATH
        self._clock = clock
        self._last_download: float | None = None  # float-ok: unix seconds, a time not money
        self._stale = False
        self._looked_for: dict[str, float] = {}  # float-ok: unknown serial -> when (unix seconds)

    def due(self) -> bool:
        """Whether the next operation downloads first (see the module's "When")."""
        now = self._clock()
        if self._last_download is None:
            return True
        if now - self._last_download < MIN_INTERVAL_SECONDS:
            return False
        if self._stale or now - self._last_download >= REFRESH_SECONDS:
            return True
        horizon = _utc(now + EXPIRY_MARGIN_SECONDS)
        return not any(cert.valid_at(horizon) for cert in self.store.certificates)

    def mark_stale(self) -> None:
        """A callback named an unknown serial: download before the next operation."""
        self._stale = True

    def names_unknown_serial(self, response: httpx.Response) -> bool:
        """The answer is signed under a serial the store does not hold (and may download)."""
        serial = response.headers.get(SERIAL)
        if serial is None or SIGNATURE not in response.headers or self.store.holds(serial):
            return False
        now = self._clock()
        recent = {s: t for s, t in self._looked_for.items() if now - t < MIN_INTERVAL_SECONDS}
        if serial[:64] in recent:
            return False
        self._looked_for = {**recent, serial[:64]: now}
        return True

    def refresh(self, sign: Callable[[httpx.Request], None], headers: dict[str, str]) -> Flow[None]:
        """Download the list, keep every certificate that passes, check the answer's signature."""
        request = httpx.Request("GET", self._url, headers=headers)
        sign(request)
        response: httpx.Response = yield request
        self._last_download = self._clock()
        if response.status_code != 200:
            raise Unavailable(
                f"WeChat Pay did not hand out its platform certificates (HTTP "
                f"{response.status_code}); its answers cannot be verified without them.",
                next_step=(
                    "Try again; if it persists, check the merchant API key and serial (a 401), "
                    "or configure the platform public key instead (public-key mode)."
                ),
                gateway="wechatpay",
            )
        found = self._decrypted(response.content)
        candidates = PlatformKeyStore(certificates=(*self.store.certificates, *found))
        verify_platform_signature(
            lower_keys(response.headers),
            response.content,
            candidates,
            at=_utc(self._clock()),
            what="The platform certificate download",
        )
        for cert in found:
            self.store.add_certificate(cert)
        self._stale = False

    def _decrypted(self, body: bytes) -> list[Certificate]:
        try:
            listing = jsonwire.decode(body, type=_Listing)
        except msgspec.DecodeError as exc:
            raise SignatureError(
                f"The platform certificate download cannot be read ({exc}); nothing was trusted."
            ) from None
        now = _utc(self._clock())
        trusted: list[Certificate] = []
        for listed in listing.data:
            sealed = listed.encrypt_certificate
            if sealed.associated_data != ASSOCIATED_DATA:
                continue
            try:
                pem = decrypt_resource(
                    self._apiv3_key,
                    ciphertext=sealed.ciphertext,
                    nonce=sealed.nonce,
                    associated_data=sealed.associated_data,
                    algorithm=sealed.algorithm,
                )
                cert = load_certificate(pem)
            except (GongjiError, ValueError):
                continue  # not sealed under our APIv3 key, or not a certificate: not trusted
            if cert.serial_number != _serial_number(listed.serial_no) or not cert.valid_at(now):
                continue
            trusted.append(cert)
        if not trusted:
            raise ConfigError(
                "None of the platform certificates WeChat Pay listed decrypted with the "
                "configured APIv3 key into a certificate valid now; none was trusted.",
                next_step=(
                    "Check the APIv3 key (merchant platform, API security: the APIv3 key, not "
                    "the v2 API key) and this machine's clock."
                ),
                gateway="wechatpay",
            )
        return trusted

    def __repr__(self) -> str:
        return f"PlatformCertificateDownloads({self.store!r}, apiv3_key=<hidden>)"


def _serial_number(serial: str) -> int | None:
    try:
        return int(serial, 16)
    except ValueError:
        return None
