"""The WeChat Pay platform keys a merchant trusts, by the serial WeChat Pay names them with.

WeChat Pay signs responses and callbacks with either a platform certificate
(serial: the certificate's serial number in hex) or, since 2024, a platform
public key (serial: ``PUB_KEY_ID_...``). During a rotation both the old and the
new certificate sign, so the store holds every one it is given and picks by
the ``Wechatpay-Serial`` header; a certificate outside its validity is refused.
"""

from __future__ import annotations

import datetime
import threading

from gongji.errors import ConfigError, SignatureError
from gongji.signing.keys import Certificate, RsaPublicKey, load_certificate, load_public_key

PUBLIC_KEY_ID_PREFIX = "PUB_KEY_ID_"


def _serial_number(serial: str) -> int | None:
    try:
        return int(serial, 16)
    except ValueError:
        return None


class PlatformKeyStore:
    """Platform certificates (certificate mode) and platform public keys (public-key mode)."""

    __slots__ = ("_certificates", "_lock", "_public_keys")

    def __init__(
        self,
        *,
        certificates: tuple[Certificate | str | bytes, ...] = (),
        public_keys: dict[str, RsaPublicKey | str | bytes] | None = None,
    ) -> None:
        self._certificates: dict[int, Certificate] = {}
        self._public_keys: dict[str, RsaPublicKey] = {}
        self._lock = threading.Lock()
        for cert in certificates:
            self.add_certificate(cert)
        for key_id, key in (public_keys or {}).items():
            self.add_public_key(key_id, key)

    def add_certificate(self, certificate: Certificate | str | bytes) -> str:
        """Trust a platform certificate; returns its serial as WeChat Pay writes it."""
        cert = (
            certificate if isinstance(certificate, Certificate) else load_certificate(certificate)
        )
        with self._lock:
            self._certificates = {**self._certificates, cert.serial_number: cert}
        return cert.serial_hex

    def add_public_key(self, key_id: str, key: RsaPublicKey | str | bytes) -> None:
        """Trust a platform public key under its ID (``PUB_KEY_ID_...``)."""
        if not key_id.startswith(PUBLIC_KEY_ID_PREFIX):
            raise ConfigError(
                f"A WeChat Pay public key ID starts with {PUBLIC_KEY_ID_PREFIX!r}; got {key_id[:40]!r}.",
                next_step="Copy the ID from the merchant platform's API security page.",
            )
        loaded = key if isinstance(key, RsaPublicKey) else load_public_key(key)
        with self._lock:
            self._public_keys = {**self._public_keys, key_id: loaded}

    @property
    def serials(self) -> list[str]:
        """Every serial and key ID held, public-key IDs first."""
        return [*self._public_keys, *(cert.serial_hex for cert in self._certificates.values())]

    @property
    def certificates(self) -> tuple[Certificate, ...]:
        """The platform certificates held (certificate mode), valid or not."""
        return tuple(self._certificates.values())

    def holds(self, serial: str) -> bool:
        """Whether ``serial`` (a public key ID or a certificate serial) is in the store."""
        if serial.startswith(PUBLIC_KEY_ID_PREFIX):
            return serial in self._public_keys
        number = _serial_number(serial)
        return number is not None and number in self._certificates

    @property
    def public_key_id(self) -> str | None:
        """The public key ID in public-key mode (the ``Wechatpay-Serial`` requests carry), else None."""
        return next(iter(self._public_keys), None)

    def key_for(
        self, serial: str, *, at: datetime.datetime, what: str = "A WeChat Pay message"
    ) -> RsaPublicKey:
        """The key named by ``serial``, valid at ``at``; ``SignatureError`` otherwise."""
        if serial.startswith(PUBLIC_KEY_ID_PREFIX):
            key = self._public_keys.get(serial)
            if key is not None:
                return key
        else:
            number = _serial_number(serial)
            cert = None if number is None else self._certificates.get(number)
            if cert is not None:
                if not cert.valid_at(at):
                    raise SignatureError(
                        f"{what} names platform certificate serial {cert.serial_hex}, which is not valid at "
                        f"{at:%Y-%m-%d %H:%M} UTC (valid {cert.not_before:%Y-%m-%d} to "
                        f"{cert.not_after:%Y-%m-%d}).",
                        next_step="Download the current platform certificates (GET /v3/certificates) or switch to the platform public key.",
                    )
                return cert.public_key
        known = ", ".join(self.serials) or "none"
        raise SignatureError(
            f"{what} names platform key serial {serial[:64]!r}, which is not in the "
            f"platform key store (known: {known}).",
            next_step="Add the platform certificate or public key with that serial; the message was not trusted.",
        )

    def encryption_key(self, *, at: datetime.datetime) -> tuple[str, RsaPublicKey]:
        """The serial and key to encrypt sensitive fields with: the public key, else the newest valid certificate."""
        key_id = self.public_key_id
        if key_id is not None:
            return key_id, self._public_keys[key_id]
        valid = [cert for cert in self._certificates.values() if cert.valid_at(at)]
        if not valid:
            raise ConfigError(
                "No valid WeChat Pay platform certificate or public key is configured to encrypt with.",
                next_step="Configure the platform public key (recommended) or a current platform certificate.",
            )
        newest = max(valid, key=lambda cert: cert.not_before)
        return newest.serial_hex, newest.public_key

    def __repr__(self) -> str:
        return f"PlatformKeyStore(serials={self.serials})"
