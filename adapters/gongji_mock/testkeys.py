"""The mock's own keys: generated once per process, never written to disk.

Test keys for a mock that moves no real money; a key object's repr shows only its
kind and fingerprint.
"""

from __future__ import annotations

import functools
import secrets

from cryptography.hazmat.primitives.asymmetric import rsa

from gongji.signing.keys import RsaPrivateKey


@functools.cache
def test_rsa_key(role: str) -> RsaPrivateKey:
    """An RSA-2048 key per role, generated once per process (about 100 ms each); never on disk."""
    del role  # the role only keys the cache: one distinct key per role
    return RsaPrivateKey(rsa.generate_private_key(public_exponent=65537, key_size=2048))


@functools.cache
def test_apiv3_key() -> str:
    """The mock's APIv3 key (32 characters), random per process."""
    return secrets.token_hex(16)
