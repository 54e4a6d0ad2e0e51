"""The mock's own keys: generated once per process; on disk only in a state file (``--state``).

Test keys for a mock that moves no real money; a key object's repr shows only its
kind and fingerprint, and ``MockKeys`` (the set as PEM, what a state file keeps and
``GET /gongji-admin/keys`` hands to a POS) shows nothing.
"""

from __future__ import annotations

import functools
import secrets

import msgspec
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from gongji.signing.keys import RsaPrivateKey


@functools.cache
def test_rsa_key(role: str) -> RsaPrivateKey:
    """An RSA-2048 key per role, generated once per process (about 100 ms each)."""
    return RsaPrivateKey(_generated(role))


def test_rsa_key_pem(role: str) -> str:
    """The PEM (PKCS#8) of ``test_rsa_key(role)``: what a state file keeps (``--state``)."""
    return (
        _generated(role)
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode("ascii")
    )


@functools.cache
def _generated(role: str) -> rsa.RSAPrivateKey:
    del role  # the role only keys the cache: one distinct key per role
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@functools.cache
def test_apiv3_key() -> str:
    """The mock's APIv3 key (32 characters), random per process."""
    return secrets.token_hex(16)


class MockKeys(msgspec.Struct, frozen=True, kw_only=True):
    """The mock's channel keys as PEM (PKCS#8) and the APIv3 key: what a state file keeps, so
    that a POS configured with them keeps working, and what the admin endpoint hands out."""

    wechatpay_platform: str
    wechatpay_merchant: str
    wechatpay_apiv3: str
    alipay_platform: str
    alipay_app: str

    @classmethod
    def of_this_process(cls) -> MockKeys:
        """The keys this process generated (``test_rsa_key``, ``test_apiv3_key``)."""
        return cls(
            wechatpay_platform=test_rsa_key_pem("wechatpay-platform"),
            wechatpay_merchant=test_rsa_key_pem("wechatpay-merchant"),
            wechatpay_apiv3=test_apiv3_key(),
            alipay_platform=test_rsa_key_pem("alipay-platform"),
            alipay_app=test_rsa_key_pem("alipay-app"),
        )

    def __repr__(self) -> str:
        return "MockKeys(<hidden>)"
