"""Alipay's keys: one public key, or public-key certificates named by their SN.

Certificate mode names certificates by an SN that Alipay defines as the MD5 (hex)
of the issuer's distinguished name (RFC 2253/4514 form, as Java's
``X500Principal.getName()`` writes it) followed by the decimal serial number.
The root SN joins the SNs of the RSA-signed certificates in Alipay's root bundle
with ``_``; the bundle's SM2 certificates are left out.
"""

from __future__ import annotations

import datetime
import hashlib

from cryptography import x509
from cryptography.x509.oid import ObjectIdentifier, SignatureAlgorithmOID

from gongji.errors import ConfigError, SignatureError
from gongji.signing.keys import (
    Certificate,
    RsaPublicKey,
    load_certificate,
    load_certificate_chain,
    load_public_key,
)

_RSA_SIGNATURES = {
    ObjectIdentifier("1.2.840.113549.1.1.1"),  # rsaEncryption, as some roots declare it
    ObjectIdentifier("1.2.840.113549.1.1.2"),  # md2WithRSAEncryption
    SignatureAlgorithmOID.RSA_WITH_MD5,
    SignatureAlgorithmOID.RSA_WITH_SHA1,
    SignatureAlgorithmOID.RSA_WITH_SHA256,
    SignatureAlgorithmOID.RSA_WITH_SHA384,
    SignatureAlgorithmOID.RSA_WITH_SHA512,
}


def alipay_cert_sn(certificate: Certificate | x509.Certificate) -> str:
    """``md5(issuer DN + decimal serial)``: the SN Alipay names a certificate by."""
    cert = certificate.x509() if isinstance(certificate, Certificate) else certificate
    text = cert.issuer.rfc4514_string() + str(cert.serial_number)
    return hashlib.md5(text.encode()).hexdigest()  # noqa: S324 - Alipay's identifier, not a security boundary


def alipay_root_cert_sn(bundle: str | bytes) -> str:
    """The ``alipay_root_cert_sn`` of Alipay's root certificate bundle (PEM)."""
    certs = load_certificate_chain(bundle)
    sns = [
        alipay_cert_sn(cert) for cert in certs if cert.signature_algorithm_oid in _RSA_SIGNATURES
    ]
    if not sns:
        raise ConfigError(
            "The Alipay root certificate bundle holds no RSA-signed certificate.",
            next_step="Configure alipayRootCert.crt exactly as downloaded from the Alipay console.",
        )
    return "_".join(sns)


class AlipayPublicKeys:
    """Alipay's public key (public-key mode) and/or its public-key certificates by SN."""

    __slots__ = ("_certificates", "_public_key")

    def __init__(
        self,
        *,
        public_key: RsaPublicKey | str | bytes | None = None,
        certificates: tuple[Certificate | str | bytes, ...] = (),
    ) -> None:
        self._public_key = (
            public_key
            if isinstance(public_key, RsaPublicKey) or public_key is None
            else load_public_key(public_key)
        )
        self._certificates: dict[str, Certificate] = {}
        for cert in certificates:
            loaded = cert if isinstance(cert, Certificate) else load_certificate(cert)
            self._certificates[alipay_cert_sn(loaded)] = loaded
        if self._public_key is None and not self._certificates:
            raise ConfigError(
                "No Alipay public key or Alipay public-key certificate is configured.",
                next_step="Configure alipay_public_key (public-key mode) or alipayCertPublicKey_RSA2.crt (certificate mode).",
            )

    def keys_for(
        self, cert_sn: str | None, *, at: datetime.datetime, what: str
    ) -> list[RsaPublicKey]:
        """The keys that may have signed a message naming ``cert_sn`` (or none), valid at ``at``."""
        if cert_sn:
            cert = self._certificates.get(cert_sn)
            if cert is None:
                if self._public_key is not None and not self._certificates:
                    return [self._public_key]
                raise SignatureError(
                    f"{what} names alipay_cert_sn {cert_sn[:40]!r}, which is not configured "
                    f"(known: {', '.join(self._certificates) or 'none'}).",
                    next_step="Download the Alipay public-key certificate with that SN (alipay.open.app.alipaycert.download).",
                )
            if not cert.valid_at(at):
                raise SignatureError(
                    f"{what} names Alipay certificate {cert_sn}, which expired on {cert.not_after:%Y-%m-%d}."
                )
            return [cert.public_key]
        keys = [cert.public_key for cert in self._certificates.values() if cert.valid_at(at)]
        if self._public_key is not None:
            keys.insert(0, self._public_key)
        if not keys:
            raise SignatureError(
                f"{what} cannot be verified: no configured Alipay key is valid now."
            )
        return keys

    def __repr__(self) -> str:
        parts = []
        if self._public_key is not None:
            parts.append(f"public_key={self._public_key!r}")
        if self._certificates:
            parts.append(f"cert_sns={list(self._certificates)}")
        return f"AlipayPublicKeys({', '.join(parts)})"
