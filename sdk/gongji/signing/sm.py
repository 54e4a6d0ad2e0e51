"""SM3, SM4 and SM2 (GB/T 32905, 32907, 32918) for the medical-insurance mobile-payment channel.

SM3 and SM4 come from ``cryptography`` (OpenSSL). ``cryptography`` has no SM2,
so SM2 signing and verification use ``gmssl_pyx`` (optional extra ``gm``): a C
extension over GmSSL, the reference SM2/SM3/SM4 library of the Chinese
cryptography community, linked statically into the wheel. GmSSL draws the
signing nonce from the operating system's CSPRNG (``/dev/urandom``). The
pure-Python ``gmssl`` package was not chosen: it draws the nonce with
``random`` (predictable, and a repeated or predictable nonce reveals the
private key) and takes about 10 ms a signature. See docs/explanation/signing.md.

Signatures are SM2-with-SM3 with the standard distinguishing ID
``1234567812345678`` (GB/T 35276), written as raw ``r || s`` (64 bytes), which
the channel then base64-encodes. The message digest ``e = SM3(Z || M)`` is
computed here with ``Z`` cached per key, and only the digest is handed to
GmSSL: its whole-message call recomputes a table per call and is six times
slower.

Keys load from hex or base64 of the raw values (private: the 32-byte scalar,
optionally with a leading zero byte; public: ``04 || x || y`` or ``x || y``) -
the form the channel's console hands out - and from PEM/DER (PKCS#8,
SEC 1 ``EC PRIVATE KEY``, SubjectPublicKeyInfo), the form ``openssl`` writes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import importlib
from types import ModuleType
from typing import NoReturn

from cryptography.hazmat.primitives import hashes, padding
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from gongji.errors import ConfigError

DEFAULT_ID = b"1234567812345678"

# The SM2 recommended curve (GB/T 32918.5).
P = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFF
A = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFC
B = 0x28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93
N = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123
GX = 0x32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7
GY = 0xBC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0

_SM2_OID = bytes.fromhex("2a811ccf5501822d")  # 1.2.156.10197.1.301
_EC_PUBLIC_KEY_OID = bytes.fromhex("2a8648ce3d0201")  # 1.2.840.10045.2.1
_CURVE_BYTES = b"".join(value.to_bytes(32, "big") for value in (A, B, GX, GY))


def sm3(data: bytes) -> bytes:
    """The SM3 digest (32 bytes) of ``data``."""
    digest = hashes.Hash(hashes.SM3())
    digest.update(data)
    return digest.finalize()


def sm4_ecb_encrypt(key: bytes, plaintext: bytes) -> bytes:
    """SM4-ECB with PKCS#7 padding (the channel's payload encryption)."""
    _check_sm4_key(key)
    padder = padding.PKCS7(128).padder()
    padded = padder.update(plaintext) + padder.finalize()
    encryptor = Cipher(algorithms.SM4(key), modes.ECB()).encryptor()  # noqa: S305 - the channel's mode
    return encryptor.update(padded) + encryptor.finalize()


def sm4_ecb_decrypt(key: bytes, ciphertext: bytes) -> bytes:
    """Undo ``sm4_ecb_encrypt``; ``ValueError`` when the length or the padding is wrong."""
    _check_sm4_key(key)
    if not ciphertext or len(ciphertext) % 16:
        raise ValueError("SM4 ciphertext is not a whole number of 16-byte blocks")
    decryptor = Cipher(algorithms.SM4(key), modes.ECB()).decryptor()  # noqa: S305
    padded = decryptor.update(ciphertext) + decryptor.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    return unpadder.update(padded) + unpadder.finalize()


def _check_sm4_key(key: bytes) -> None:
    if len(key) != 16:
        raise ConfigError(f"An SM4 key is 16 bytes; this one has {len(key)}.")


def _gmssl() -> ModuleType:
    """``gmssl_pyx``, or a ``ConfigError`` that names the extra to install."""
    try:
        return importlib.import_module("gmssl_pyx")
    except ImportError:
        raise ConfigError(
            "SM2 signatures need the optional extra 'gm' (gmssl_pyx), which is not installed.",
            next_step="Install it with: pip install 'gongji[gm]'",
        ) from None


# --- Minimal DER, enough for SM2 keys written by openssl ------------------------------------------


def _der_items(data: bytes) -> list[tuple[int, bytes]]:
    """The (tag, content) TLVs directly inside ``data``."""
    items = []
    at = 0
    while at < len(data):
        if at + 2 > len(data):
            raise ValueError("truncated DER")
        tag, length = data[at], data[at + 1]
        at += 2
        if length & 0x80:
            count = length & 0x7F
            if count == 0 or count > 3 or at + count > len(data):
                raise ValueError("bad DER length")
            length = int.from_bytes(data[at : at + count], "big")
            at += count
        if at + length > len(data):
            raise ValueError("truncated DER")
        items.append((tag, data[at : at + length]))
        at += length
    return items


def _sequence(data: bytes) -> list[tuple[int, bytes]]:
    (tag, content), *rest = _der_items(data)
    if tag != 0x30 or rest:
        raise ValueError("expected one SEQUENCE")
    return _der_items(content)


def _check_sm2_algorithm(algorithm: tuple[int, bytes]) -> None:
    """``algorithm`` is the AlgorithmIdentifier TLV: id-ecPublicKey with the SM2 curve."""
    tag, content = algorithm
    oids = [value for inner, value in _der_items(content) if inner == 0x06] if tag == 0x30 else []
    if _EC_PUBLIC_KEY_OID not in oids or _SM2_OID not in oids:
        raise ValueError("not an SM2 key")


def _point_from_bit_string(content: bytes) -> bytes:
    if not content or content[0] != 0:
        raise ValueError("bad BIT STRING")
    return content[1:]


def _pem_body(material: bytes) -> bytes:
    lines = [line.strip() for line in material.splitlines()]
    body = b"".join(line for line in lines if line and not line.startswith(b"-----"))
    return base64.b64decode(body, validate=True)


def _unarmour(material: bytes) -> bytes:
    """Raw bytes from hex, base64 or PEM text (or the bytes themselves if already raw)."""
    text = material.strip()
    if text.startswith(b"-----"):
        return _pem_body(text)
    compact = b"".join(text.split())
    if (
        compact
        and all(chr(byte) in "0123456789abcdefABCDEF" for byte in compact)
        and len(compact) % 2 == 0
    ):
        return bytes.fromhex(compact.decode())
    try:
        return base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        return material


# --- Point arithmetic, only to derive a public key once at load time ------------------------------


def _jacobian_double(x: int, y: int, z: int) -> tuple[int, int, int]:
    if y == 0:
        return 0, 1, 0
    ysq = y * y % P
    s = 4 * x * ysq % P
    z2 = z * z % P
    m = (3 * x * x + A * z2 * z2) % P
    nx = (m * m - 2 * s) % P
    return nx, (m * (s - nx) - 8 * ysq * ysq) % P, 2 * y * z % P


def _jacobian_add(p1: tuple[int, int, int], p2: tuple[int, int, int]) -> tuple[int, int, int]:
    x1, y1, z1 = p1
    x2, y2, z2 = p2
    if z1 == 0:
        return p2
    if z2 == 0:
        return p1
    z1s, z2s = z1 * z1 % P, z2 * z2 % P
    u1, u2 = x1 * z2s % P, x2 * z1s % P
    s1, s2 = y1 * z2s * z2 % P, y2 * z1s * z1 % P
    if u1 == u2:
        return _jacobian_double(x1, y1, z1) if s1 == s2 else (0, 1, 0)
    h, r = (u2 - u1) % P, (s2 - s1) % P
    h2 = h * h % P
    h3 = h * h2 % P
    nx = (r * r - h3 - 2 * u1 * h2) % P
    return nx, (r * (u1 * h2 - nx) - s1 * h3) % P, h * z1 * z2 % P


def _public_point(scalar: int) -> bytes:
    result = (0, 1, 0)
    addend = (GX, GY, 1)
    while scalar:
        if scalar & 1:
            result = _jacobian_add(result, addend)
        addend = _jacobian_double(*addend)
        scalar >>= 1
    x, y, z = result
    zinv = pow(z, -1, P)
    zinv2 = zinv * zinv % P
    return (x * zinv2 % P).to_bytes(32, "big") + (y * zinv2 * zinv % P).to_bytes(32, "big")


def _on_curve(point: bytes) -> bool:
    x, y = int.from_bytes(point[:32], "big"), int.from_bytes(point[32:], "big")
    return x < P and y < P and (y * y - x * x * x - A * x - B) % P == 0


# --- Keys -----------------------------------------------------------------------------------------


def _refuse(what: str) -> NoReturn:
    raise ConfigError(
        f"The SM2 {what} could not be loaded: expected hex or base64 of the raw key, or PEM/DER "
        "(PKCS#8, EC PRIVATE KEY, or PUBLIC KEY) of an SM2 key.",
        next_step=f"Configure the SM2 {what} as issued by the channel or written by openssl.",
    )


class Sm2PublicKey:
    """An SM2 public key: verifies SM2-with-SM3 signatures (raw ``r || s``)."""

    __slots__ = ("_point", "_z_by_id", "fingerprint")

    def __init__(self, point: bytes) -> None:
        if len(point) == 65 and point[0] == 4:
            point = point[1:]
        if len(point) != 64 or not _on_curve(point):
            _refuse("public key")
        self._point = point
        self.fingerprint: str = hashlib.sha256(b"\x04" + point).hexdigest()[:16]
        self._z_by_id: dict[bytes, bytes] = {}

    @classmethod
    def load(cls, source: str | bytes) -> Sm2PublicKey:
        """From hex/base64 of ``04||x||y`` or ``x||y``, or a PEM/DER SubjectPublicKeyInfo."""
        material = source.encode() if isinstance(source, str) else source
        raw = _unarmour(material)
        if len(raw) in (64, 65):
            return cls(raw)
        try:
            algorithm, bit_string = _sequence(raw)
            _check_sm2_algorithm(algorithm)
            if bit_string[0] != 0x03:
                raise ValueError("expected a BIT STRING")
            return cls(_point_from_bit_string(bit_string[1]))
        except (ValueError, IndexError):
            _refuse("public key")

    @property
    def point(self) -> bytes:
        """``04 || x || y``: public, safe to publish."""
        return b"\x04" + self._point

    def z(self, signer_id: bytes = DEFAULT_ID) -> bytes:
        """``Z = SM3(ENTL || ID || a || b || xG || yG || xA || yA)``, cached per ID."""
        found = self._z_by_id.get(signer_id)
        if found is None:
            entl = (len(signer_id) * 8).to_bytes(2, "big")
            found = sm3(entl + signer_id + _CURVE_BYTES + self._point)
            self._z_by_id[signer_id] = found
        return found

    def verify(self, message: bytes, signature: bytes, *, signer_id: bytes = DEFAULT_ID) -> bool:
        """True when ``signature`` (raw 64-byte ``r || s``) signs ``message`` under ``signer_id``."""
        if len(signature) != 64:
            return False
        r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
        if not (0 < r < N and 0 < s < N):
            return False
        gm = _gmssl()
        digest = sm3(self.z(signer_id) + message)
        try:
            return bool(gm.sm2_verify_sm3_digest(self._point, digest, encode_dss_signature(r, s)))
        except gm.GmsslInnerError:
            return False

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sm2PublicKey) and other._point == self._point

    def __hash__(self) -> int:
        return hash(self._point)

    def __reduce__(self) -> tuple[type[Sm2PublicKey], tuple[bytes]]:
        return (Sm2PublicKey, (self._point,))

    def __repr__(self) -> str:
        return f"Sm2PublicKey(SM2 public key, sha256:{self.fingerprint})"


class Sm2PrivateKey:
    """An SM2 private key: signs SM2-with-SM3 with a CSPRNG nonce (GmSSL), raw ``r || s``."""

    __slots__ = ("_scalar", "fingerprint", "public_key")

    def __init__(self, scalar: bytes, public_key: Sm2PublicKey | None = None) -> None:
        if len(scalar) == 33 and scalar[0] == 0:
            scalar = scalar[1:]
        value = int.from_bytes(scalar, "big")
        if len(scalar) != 32 or not 1 <= value <= N - 2:
            _refuse("private key")
        derived = Sm2PublicKey(_public_point(value))
        if public_key is not None and public_key != derived:
            raise ConfigError(
                "The SM2 public key configured does not belong to the SM2 private key.",
                next_step="Configure the key pair the channel registered; they must match.",
            )
        self._scalar = scalar
        self.public_key: Sm2PublicKey = derived
        self.fingerprint: str = derived.fingerprint

    @classmethod
    def load(cls, source: str | bytes, *, public_key: Sm2PublicKey | None = None) -> Sm2PrivateKey:
        """From hex/base64 of the 32-byte scalar, or PEM/DER PKCS#8 or SEC 1 (``EC PRIVATE KEY``)."""
        material = source.encode() if isinstance(source, str) else source
        raw = _unarmour(material)
        if len(raw) in (32, 33):
            return cls(raw, public_key)
        try:
            items = _sequence(raw)
            if items[0] == (0x02, b"\x00"):  # PKCS#8: version 0, algorithm, OCTET STRING(SEC 1)
                _check_sm2_algorithm(items[1])
                items = _sequence(items[2][1])
            if items[0] != (0x02, b"\x01") or items[1][0] != 0x04:
                raise ValueError("not an EC private key")
            return cls(items[1][1], public_key)
        except (ValueError, IndexError):
            _refuse("private key")

    def sign(self, message: bytes, *, signer_id: bytes = DEFAULT_ID) -> bytes:
        """SM2-with-SM3 signature of ``message``: 64 bytes ``r || s``; a fresh CSPRNG nonce each time."""
        gm = _gmssl()
        digest = sm3(self.public_key.z(signer_id) + message)
        r, s = decode_dss_signature(gm.sm2_sign_sm3_digest(self._scalar, digest))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")

    def __reduce__(self) -> NoReturn:
        raise TypeError("Sm2PrivateKey holds key material and is never pickled.")

    def __repr__(self) -> str:
        return f"Sm2PrivateKey(SM2 private key, sha256:{self.fingerprint})"
