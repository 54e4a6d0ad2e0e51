"""Signers for every gateway, as ``httpx.Auth``: each signs the exact bytes sent and verifies
the exact bytes received before anything is parsed.

* ``TifAuth`` / ``CsbAuth``: city insurance gateways (tif.py, csb.py).
* ``WechatPayAuth``, ``WechatPayNotifications``: WeChat Pay APIv3 (wechatpay.py),
  platform keys by serial (wechatpay_keys.py), med-ins sensitive fields (wechatpay_medins.py).
* ``AlipayAuth``, ``AlipaySigner``, ``AlipayVerifier``: Alipay OpenAPI RSA2 (alipay.py, alipay_certs.py).
* ``MobilePayAuth``: the medical-insurance mobile-payment channel, SM2/SM3/SM4 (mobilepay.py, sm.py;
  SM2 needs the optional extra ``gm``).
* keys.py: RSA keys and certificates, loaded once per process; reprs show kind and fingerprint only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gongji.lazy import exports

# Imported on first use: a gateway that needs one signer does not load every other
# (a preview's start-up, bench/bench_startup.py).
if TYPE_CHECKING:
    from gongji.signing._common import MemoryNonceCache, NonceCache
    from gongji.signing.alipay import AlipayAuth, AlipaySigner, AlipayVerifier
    from gongji.signing.alipay_certs import AlipayPublicKeys, alipay_cert_sn, alipay_root_cert_sn
    from gongji.signing.csb import CsbAuth, CsbSigner, verify_csb_request
    from gongji.signing.keys import (
        Certificate,
        RsaPrivateKey,
        RsaPublicKey,
        load_certificate,
        load_private_key,
        load_public_key,
    )
    from gongji.signing.mobilepay import MobilePayAuth, MobilePayChannel, derive_data_key
    from gongji.signing.sm import Sm2PrivateKey, Sm2PublicKey, sm3, sm4_ecb_decrypt, sm4_ecb_encrypt
    from gongji.signing.tif import TifAuth, TifSigner, verify_tif_headers
    from gongji.signing.wechatpay import (
        WechatPayAuth,
        WechatPayMerchant,
        WechatPayNotification,
        WechatPayNotifications,
        verify_authorization,
    )
    from gongji.signing.wechatpay_keys import PlatformKeyStore
    from gongji.signing.wechatpay_medins import SensitiveFields, encrypt_med_ins_fields, id_digest

__all__ = [
    "AlipayAuth",
    "AlipayPublicKeys",
    "AlipaySigner",
    "AlipayVerifier",
    "Certificate",
    "CsbAuth",
    "CsbSigner",
    "MemoryNonceCache",
    "MobilePayAuth",
    "MobilePayChannel",
    "NonceCache",
    "PlatformKeyStore",
    "RsaPrivateKey",
    "RsaPublicKey",
    "SensitiveFields",
    "Sm2PrivateKey",
    "Sm2PublicKey",
    "TifAuth",
    "TifSigner",
    "WechatPayAuth",
    "WechatPayMerchant",
    "WechatPayNotification",
    "WechatPayNotifications",
    "alipay_cert_sn",
    "alipay_root_cert_sn",
    "derive_data_key",
    "encrypt_med_ins_fields",
    "id_digest",
    "load_certificate",
    "load_private_key",
    "load_public_key",
    "sm3",
    "sm4_ecb_decrypt",
    "sm4_ecb_encrypt",
    "verify_authorization",
    "verify_csb_request",
    "verify_tif_headers",
]

_HOMES: dict[str, str] = {
    "AlipayAuth": "gongji.signing.alipay",
    "AlipayPublicKeys": "gongji.signing.alipay_certs",
    "AlipaySigner": "gongji.signing.alipay",
    "AlipayVerifier": "gongji.signing.alipay",
    "Certificate": "gongji.signing.keys",
    "CsbAuth": "gongji.signing.csb",
    "CsbSigner": "gongji.signing.csb",
    "MemoryNonceCache": "gongji.signing._common",
    "MobilePayAuth": "gongji.signing.mobilepay",
    "MobilePayChannel": "gongji.signing.mobilepay",
    "NonceCache": "gongji.signing._common",
    "PlatformKeyStore": "gongji.signing.wechatpay_keys",
    "RsaPrivateKey": "gongji.signing.keys",
    "RsaPublicKey": "gongji.signing.keys",
    "SensitiveFields": "gongji.signing.wechatpay_medins",
    "Sm2PrivateKey": "gongji.signing.sm",
    "Sm2PublicKey": "gongji.signing.sm",
    "TifAuth": "gongji.signing.tif",
    "TifSigner": "gongji.signing.tif",
    "WechatPayAuth": "gongji.signing.wechatpay",
    "WechatPayMerchant": "gongji.signing.wechatpay",
    "WechatPayNotification": "gongji.signing.wechatpay",
    "WechatPayNotifications": "gongji.signing.wechatpay",
    "alipay_cert_sn": "gongji.signing.alipay_certs",
    "alipay_root_cert_sn": "gongji.signing.alipay_certs",
    "derive_data_key": "gongji.signing.mobilepay",
    "encrypt_med_ins_fields": "gongji.signing.wechatpay_medins",
    "id_digest": "gongji.signing.wechatpay_medins",
    "load_certificate": "gongji.signing.keys",
    "load_private_key": "gongji.signing.keys",
    "load_public_key": "gongji.signing.keys",
    "sm3": "gongji.signing.sm",
    "sm4_ecb_decrypt": "gongji.signing.sm",
    "sm4_ecb_encrypt": "gongji.signing.sm",
    "verify_authorization": "gongji.signing.wechatpay",
    "verify_csb_request": "gongji.signing.csb",
    "verify_tif_headers": "gongji.signing.tif",
}

__getattr__, __dir__ = exports(__name__, _HOMES)
