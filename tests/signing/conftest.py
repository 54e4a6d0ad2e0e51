"""Keys, certificates and the openssl command for the signing tests, made once per session.

No private key is committed: every key is generated here.
"""

from __future__ import annotations

import datetime
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from gongji.signing.keys import RsaPrivateKey, load_private_key

NOW = 1_795_000_000  # 2026-11-18, a fixed "now" for every clock in these tests
NOW_UTC = datetime.datetime.fromtimestamp(NOW, datetime.UTC)


def _pem_pkcs8(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


@pytest.fixture(scope="session")
def rsa_keys() -> dict[str, rsa.RSAPrivateKey]:
    """Distinct RSA-2048 keys by role."""
    roles = ("merchant", "platform", "platform_next", "app", "alipay", "stranger")
    return {role: rsa.generate_private_key(public_exponent=65537, key_size=2048) for role in roles}


@pytest.fixture(scope="session")
def pem(rsa_keys: dict[str, rsa.RSAPrivateKey]) -> dict[str, str]:
    """PKCS#8 PEM of each role's private key."""
    return {role: _pem_pkcs8(key) for role, key in rsa_keys.items()}


@pytest.fixture(scope="session")
def keys(pem: dict[str, str]) -> dict[str, RsaPrivateKey]:
    """Our key objects for each role."""
    return {role: load_private_key(text) for role, text in pem.items()}


@pytest.fixture(scope="session")
def public_pem(rsa_keys: dict[str, rsa.RSAPrivateKey]) -> dict[str, str]:
    return {
        role: key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
        for role, key in rsa_keys.items()
    }


CertFactory = Callable[..., str]


@pytest.fixture(scope="session")
def make_cert() -> CertFactory:
    """A PEM certificate for ``key``, issued by ``issuer_key`` (self-signed by default)."""

    def build(
        key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey,
        *,
        serial: int,
        not_before: datetime.datetime = NOW_UTC - datetime.timedelta(days=30),
        not_after: datetime.datetime = NOW_UTC + datetime.timedelta(days=365),
        issuer_cn: str = "Test Certification Authority Class 2 R1",
        subject_cn: str = "gongji test",
        issuer_key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | None = None,
    ) -> str:
        issuer = x509.Name(
            [
                x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Test Financial"),
                x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "Certification Authority"),
                x509.NameAttribute(NameOID.COMMON_NAME, issuer_cn),
            ]
        )
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject_cn)])
        cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer)
            .public_key(key.public_key())
            .serial_number(serial)
            .not_valid_before(not_before)
            .not_valid_after(not_after)
            .sign(issuer_key or key, hashes.SHA256())
        )
        return cert.public_bytes(serialization.Encoding.PEM).decode()

    return build


@pytest.fixture(scope="session")
def openssl() -> Callable[..., bytes]:
    """Run the openssl command line (the independent party); fails loudly without SM2 support."""
    binary = shutil.which("openssl")
    if binary is None:
        pytest.fail(
            "openssl is not on PATH; the SM2/SM3/SM4 interop tests need it (Debian: apt-get install openssl)."
        )
    listed = subprocess.run(
        [binary, "list", "-signature-algorithms"], capture_output=True, check=True
    ).stdout
    if b"SM2" not in listed:
        pytest.fail(f"{binary} has no SM2 support; the SM2 interop tests need OpenSSL 3 with SM2.")

    def run(*args: str | Path, stdin: bytes = b"") -> bytes:
        done = subprocess.run(
            [binary, *map(str, args)], input=stdin, capture_output=True, check=False
        )
        if done.returncode != 0:
            raise AssertionError(
                f"openssl {' '.join(map(str, args))} failed: {done.stderr.decode()}"
            )
        return done.stdout

    return run


class FixedClock:
    """A clock that stands still unless moved."""

    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()
