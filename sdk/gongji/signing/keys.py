"""RSA keys and X.509 certificates: loaded once per process, shown only by kind and fingerprint.

Gateways hand keys out in three shapes: PEM PKCS#8 (``BEGIN PRIVATE KEY``), PEM
PKCS#1 (``BEGIN RSA PRIVATE KEY``) and the one-line base64 of the DER that the
Alipay and WeChat consoles print. All three load here.

Loading an RSA-2048 private key validates it, which costs tens of milliseconds:
never per request. Every loader caches by the SHA-256 of the key material, so a
second load of the same content (or of the same file, unchanged) returns the very
same object. A key object's ``repr`` names its kind and the first 16 hex digits of
the SHA-256 of its public key (DER SubjectPublicKeyInfo), never material; key
objects refuse to be pickled so that one cannot slip into a journal row.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import hashlib
import os
import threading
from collections.abc import Callable
from typing import NoReturn, TypeVar

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from gongji.errors import ConfigError, SignatureError

_PKCS1V15 = padding.PKCS1v15()
_SHA256 = hashes.SHA256()
# WeChat Pay's sensitive-field encryption: RSA/ECB/OAEPWithSHA-1AndMGF1Padding.
_OAEP_SHA1 = padding.OAEP(mgf=padding.MGF1(hashes.SHA1()), algorithm=hashes.SHA1(), label=None)  # noqa: S303

_Source = str | bytes | os.PathLike[str]
_T = TypeVar("_T")
_cache: dict[tuple[str, bytes], object] = {}
_cache_lock = threading.Lock()


def _fingerprint(public_key: rsa.RSAPublicKey) -> str:
    der = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(der).hexdigest()[:16]


class _NoPickle:
    __slots__ = ()

    def __reduce__(self) -> NoReturn:
        raise TypeError(f"{type(self).__name__} holds key material and is never pickled.")


class RsaPublicKey(_NoPickle):
    """An RSA public key: verifies SHA256withRSA and encrypts with RSA-OAEP (SHA-1)."""

    __slots__ = ("_key", "bits", "fingerprint")

    def __init__(self, key: rsa.RSAPublicKey) -> None:
        self._key = key
        self.bits: int = key.key_size
        self.fingerprint: str = _fingerprint(key)

    @property
    def kind(self) -> str:
        return f"RSA-{self.bits} public key"

    def verify_sha256(self, message: bytes, signature: bytes) -> bool:
        """True when ``signature`` is a PKCS#1 v1.5 SHA-256 signature of ``message``."""
        try:
            self._key.verify(signature, message, _PKCS1V15, _SHA256)
        except InvalidSignature:
            return False
        return True

    def encrypt_oaep_sha1(self, plaintext: bytes) -> bytes:
        """RSA-OAEP with SHA-1 and MGF1-SHA-1, as WeChat Pay requires for sensitive fields."""
        return self._key.encrypt(plaintext, _OAEP_SHA1)

    def cryptography_key(self) -> rsa.RSAPublicKey:
        """The underlying ``cryptography`` object, for interop (tests, certificates)."""
        return self._key

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RsaPublicKey) and other.fingerprint == self.fingerprint

    def __hash__(self) -> int:
        return hash(self.fingerprint)

    def __repr__(self) -> str:
        return f"RsaPublicKey({self.kind}, sha256:{self.fingerprint})"


class RsaPrivateKey(_NoPickle):
    """An RSA private key: signs SHA256withRSA (PKCS#1 v1.5) and decrypts RSA-OAEP (SHA-1)."""

    __slots__ = ("_key", "bits", "fingerprint", "public_key")

    def __init__(self, key: rsa.RSAPrivateKey) -> None:
        self._key = key
        self.public_key: RsaPublicKey = RsaPublicKey(key.public_key())
        self.bits: int = key.key_size
        self.fingerprint: str = self.public_key.fingerprint

    @property
    def kind(self) -> str:
        return f"RSA-{self.bits} private key"

    def sign_sha256(self, message: bytes) -> bytes:
        """PKCS#1 v1.5 over SHA-256: deterministic, so equal inputs give equal signatures."""
        return self._key.sign(message, _PKCS1V15, _SHA256)

    def decrypt_oaep_sha1(self, ciphertext: bytes) -> bytes:
        """Undo ``RsaPublicKey.encrypt_oaep_sha1`` (the mock gateway's side of it)."""
        return self._key.decrypt(ciphertext, _OAEP_SHA1)

    def __repr__(self) -> str:
        return f"RsaPrivateKey({self.kind}, sha256:{self.fingerprint})"


class Certificate(_NoPickle):
    """An X.509 certificate with the few facts the gateways key on."""

    __slots__ = ("_cert", "fingerprint", "public_key", "serial_hex")

    def __init__(self, cert: x509.Certificate) -> None:
        self._cert = cert
        key = cert.public_key()
        if not isinstance(key, rsa.RSAPublicKey):
            raise ConfigError(
                "The certificate does not hold an RSA public key.",
                next_step="Configure the gateway's RSA certificate (SM2 certificates are not used here).",
            )
        self.public_key: RsaPublicKey = RsaPublicKey(key)
        self.fingerprint: str = self.public_key.fingerprint
        # Upper-case hex, as WeChat Pay writes serials (look-ups compare the number, not the text).
        self.serial_hex: str = format(cert.serial_number, "X")

    @property
    def serial_number(self) -> int:
        return self._cert.serial_number

    @property
    def not_before(self) -> datetime.datetime:
        return self._cert.not_valid_before_utc

    @property
    def not_after(self) -> datetime.datetime:
        return self._cert.not_valid_after_utc

    def valid_at(self, moment: datetime.datetime) -> bool:
        return self.not_before <= moment <= self.not_after

    @property
    def issuer_rfc4514(self) -> str:
        return self._cert.issuer.rfc4514_string()

    def x509(self) -> x509.Certificate:
        """The underlying ``cryptography`` certificate (public data)."""
        return self._cert

    def __repr__(self) -> str:
        return (
            f"Certificate(serial {self.serial_hex}, {self.public_key.kind}, "
            f"sha256:{self.fingerprint}, until {self.not_after:%Y-%m-%d})"
        )


def _read(source: _Source) -> bytes:
    if isinstance(source, os.PathLike):
        try:
            with open(source, "rb") as handle:
                return handle.read()
        except OSError as exc:
            raise ConfigError(
                f"The key file {os.fspath(source)!r} could not be read ({exc.strerror}).",
                next_step="Check the path and its permissions in the gateway configuration.",
            ) from None
    return source.encode("ascii", "replace") if isinstance(source, str) else source


def _cached(kind: str, material: bytes, build: Callable[[bytes], _T]) -> _T:
    """One object per distinct material per process; keyed by a digest, never by the material."""
    slot = (kind, hashlib.sha256(material).digest())
    with _cache_lock:
        found = _cache.get(slot)
    if found is not None:
        return found  # type: ignore[return-value]
    built = build(material)
    with _cache_lock:
        return _cache.setdefault(slot, built)  # type: ignore[return-value]


def _one_line_der(material: bytes) -> bytes | None:
    """The DER inside a one-line (or wrapped) base64 key without PEM armour, if it is one."""
    compact = b"".join(material.split())
    if not compact or compact.startswith(b"-----"):
        return None
    try:
        return base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        return None


def _refuse(what: str) -> NoReturn:
    raise ConfigError(
        f"The {what} could not be loaded: it is neither PEM (PKCS#1 or PKCS#8) nor the "
        "one-line base64 of its DER, or it is encrypted, or it is not RSA.",
        next_step=f"Export the {what} unencrypted, as PEM or one-line base64, and configure it again.",
    )


def _build_private(material: bytes) -> RsaPrivateKey:
    der = _one_line_der(material)
    try:
        if der is None:
            key = serialization.load_pem_private_key(material, password=None)
        else:
            key = serialization.load_der_private_key(der, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        _refuse("private key")
    if not isinstance(key, rsa.RSAPrivateKey):
        _refuse("private key")
    return RsaPrivateKey(key)


def _build_public(material: bytes) -> RsaPublicKey:
    if b"-----BEGIN CERTIFICATE-----" in material:
        return _build_certificate(material).public_key
    der = _one_line_der(material)
    key: object
    try:
        if der is None:
            key = serialization.load_pem_public_key(material)
        else:
            try:
                key = serialization.load_der_public_key(der)
            except ValueError:
                # A bare PKCS#1 RSAPublicKey, as some consoles print it.
                key = serialization.load_pem_public_key(
                    b"-----BEGIN RSA PUBLIC KEY-----\n"
                    + base64.encodebytes(der)
                    + b"-----END RSA PUBLIC KEY-----\n"
                )
    except (ValueError, TypeError, UnsupportedAlgorithm):
        _refuse("public key")
    if not isinstance(key, rsa.RSAPublicKey):
        _refuse("public key")
    return RsaPublicKey(key)


def _build_certificate(material: bytes) -> Certificate:
    try:
        if b"-----BEGIN" in material:
            cert = x509.load_pem_x509_certificate(material)
        else:
            der = _one_line_der(material)
            cert = x509.load_der_x509_certificate(der if der is not None else material)
    except ValueError:
        raise ConfigError(
            "The certificate could not be loaded: it is neither PEM nor DER.",
            next_step="Download the certificate again and configure the PEM file.",
        ) from None
    return Certificate(cert)


def load_private_key(source: _Source) -> RsaPrivateKey:
    """An RSA private key from PEM (PKCS#1 or PKCS#8), one-line base64 DER, or a file path.

    ``str``/``bytes`` are the key itself; an ``os.PathLike`` is a file holding it.
    Cached per process by content: the same key is validated once.
    """
    return _cached("rsa-private", _read(source), _build_private)


def load_public_key(source: _Source) -> RsaPublicKey:
    """An RSA public key from PEM (SPKI or PKCS#1), one-line base64 DER, a certificate, or a path."""
    return _cached("rsa-public", _read(source), _build_public)


def load_certificate(source: _Source) -> Certificate:
    """An X.509 certificate (PEM or DER, or a path to one). Cached per process."""
    return _cached("x509", _read(source), _build_certificate)


def load_certificate_chain(source: _Source) -> list[x509.Certificate]:
    """Every certificate in a PEM bundle, in file order, whatever their key types."""
    material = _read(source)
    try:
        return x509.load_pem_x509_certificates(material)
    except ValueError:
        raise ConfigError(
            "The certificate chain could not be loaded as PEM.",
            next_step="Configure the root certificate file exactly as the gateway published it.",
        ) from None


def decode_rsa_signature(
    encoded: str, key: RsaPublicKey, what: str, field: str = "signature"
) -> bytes:
    """A base64 RSA signature as bytes of the key's size; ``SignatureError`` if malformed or short."""
    try:
        raw = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != key.bits // 8:
        raise SignatureError(
            f"{what} {field} is malformed or truncated ({len(encoded)} base64 characters, "
            f"expected {key.bits // 8} bytes)."
        )
    return raw
