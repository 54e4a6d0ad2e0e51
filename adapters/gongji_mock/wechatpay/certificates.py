"""The mock's WeChat Pay platform certificates (certificate mode) and ``GET /v3/certificates``.

Merchants signed up before 2024 verify WeChat Pay with *platform certificates*
(serial: the certificate's serial number, 40 hex digits) which they download from
``GET /v3/certificates``: each certificate PEM is sealed with AEAD_AES_256_GCM
under the merchant's APIv3 key (``associated_data`` ``"certificate"``), next to its
``serial_no``, ``effective_time`` and ``expire_time`` (RFC 3339, Beijing time).

A rotation, as WeChat Pay does it: a new certificate is issued while the old one
is still valid; from then on the listing holds both, answers and callbacks are
signed with the new one, and sensitive fields a merchant encrypted under the old
one are still accepted until it is retired (``retire``) or expires.

The certificates are self-signed test certificates (the mock moves no real money);
their keys are generated in this process.
"""

from __future__ import annotations

import datetime
import hashlib
import threading
from collections.abc import Callable

import attrs
import msgspec
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from gongji.signing.keys import Certificate, RsaPrivateKey
from gongji.signing.wechatpay import encrypt_resource

CERTIFICATES_PATH = "/v3/certificates"
#: WeChat Pay issues platform certificates for five years.
VALIDITY = datetime.timedelta(days=5 * 365)
_BEIJING = datetime.timezone(datetime.timedelta(hours=8), "Asia/Shanghai")

Clock = Callable[[], float]


@attrs.frozen
class PlatformCertificate:
    """One platform certificate and the private key the mock signs with under it."""

    certificate: Certificate
    private_key: RsaPrivateKey = attrs.field(repr=False)

    @property
    def serial(self) -> str:
        return self.certificate.serial_hex

    def pem(self) -> str:
        return self.certificate.x509().public_bytes(serialization.Encoding.PEM).decode("ascii")


class _Sealed(msgspec.Struct, frozen=True, kw_only=True):
    algorithm: str
    nonce: str
    associated_data: str
    ciphertext: str


class _Listed(msgspec.Struct, frozen=True, kw_only=True):
    serial_no: str
    effective_time: str
    expire_time: str
    encrypt_certificate: _Sealed


class CertificateListing(msgspec.Struct, frozen=True, kw_only=True):
    """The body of ``GET /v3/certificates``."""

    data: list[_Listed]


def issue(
    private_key: RsaPrivateKey, *, not_before: datetime.datetime, generation: int
) -> PlatformCertificate:
    """A self-signed platform certificate for ``private_key``, valid five years from ``not_before``.

    The serial is derived from the key and the generation, so one key always gives
    the same serial (a restart of the mock keeps the serials of the keys it keeps).
    """
    seed = f"{private_key.fingerprint}/{generation}".encode()
    serial = int.from_bytes(hashlib.sha256(seed).digest()[:20], "big") >> 1 or 1
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "gongji mock"),
            x509.NameAttribute(NameOID.COMMON_NAME, f"WeChat Pay platform (mock) #{generation}"),
        ]
    )
    key = private_key_of(private_key)
    built = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(not_before)
        .not_valid_after(not_before + VALIDITY)
        .sign(key, hashes.SHA256())
    )
    return PlatformCertificate(Certificate(built), private_key)


def private_key_of(key: RsaPrivateKey) -> rsa.RSAPrivateKey:
    """The ``cryptography`` key inside (the mock issues certificates with it; never logged)."""
    # The mock's own test key, reached inside to sign the mock's own certificate; never logged.
    return key._key


class PlatformCertificates:
    """The platform certificates the mock lists, newest last; the newest signs."""

    def __init__(self, first_key: RsaPrivateKey, *, clock: Clock) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._issued: list[PlatformCertificate] = []
        self._issue(first_key)

    def _now(self) -> datetime.datetime:
        return datetime.datetime.fromtimestamp(int(self._clock()), datetime.UTC)

    def _issue(self, key: RsaPrivateKey) -> PlatformCertificate:
        # A day in the past: a POS whose clock runs a little behind still finds it valid.
        issued = issue(
            key,
            not_before=self._now() - datetime.timedelta(days=1),
            generation=len(self._issued) + 1,
        )
        with self._lock:
            self._issued = [*self._issued, issued]
        return issued

    @property
    def current(self) -> PlatformCertificate:
        """The certificate answers and callbacks are signed with: the newest."""
        return self._issued[-1]

    @property
    def serials(self) -> list[str]:
        return [issued.serial for issued in self._issued]

    def listed(self) -> tuple[Certificate, ...]:
        """The listed certificates, oldest first (what a merchant could configure by hand)."""
        return tuple(issued.certificate for issued in self._issued)

    def rotate(self, key: RsaPrivateKey | None = None) -> str:
        """Issue a new certificate (a new key unless given one); the old ones stay listed and
        accepted. Returns the new serial."""
        fresh = key or RsaPrivateKey(rsa.generate_private_key(public_exponent=65537, key_size=2048))
        return self._issue(fresh).serial

    def retire(self, serial: str) -> None:
        """Stop listing and accepting the certificate ``serial`` (the end of a rotation)."""
        with self._lock:
            kept = [issued for issued in self._issued if issued.serial != serial.upper()]
            if not kept or len(kept) == len(self._issued):
                raise ValueError(f"{serial[:64]!r} is not a retirable platform certificate serial.")
            self._issued = kept

    def find(self, serial: str) -> PlatformCertificate | None:
        """The listed certificate with ``serial`` that is valid now (sensitive fields under it
        are accepted), else None."""
        now = self._now()
        return next(
            (
                issued
                for issued in self._issued
                if issued.serial == serial.upper() and issued.certificate.valid_at(now)
            ),
            None,
        )

    def listing(self, apiv3_key: str) -> CertificateListing:
        """``GET /v3/certificates``: every listed certificate, sealed under ``apiv3_key``."""
        return CertificateListing(
            data=[
                _Listed(
                    serial_no=issued.serial,
                    effective_time=_rfc3339(issued.certificate.not_before),
                    expire_time=_rfc3339(issued.certificate.not_after),
                    encrypt_certificate=_Sealed(
                        **encrypt_resource(
                            apiv3_key, issued.pem().encode(), associated_data="certificate"
                        )
                    ),
                )
                for issued in self._issued
            ]
        )

    def __repr__(self) -> str:
        return f"PlatformCertificates(serials={self.serials})"


def _rfc3339(moment: datetime.datetime) -> str:
    return moment.astimezone(_BEIJING).isoformat(timespec="seconds")
