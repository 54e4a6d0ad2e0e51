"""A WeChat Pay configuration profile: keys by file path, secrets from files or the environment.

The settings are a flat mapping (a ``gongji.toml`` profile's channel table, say):

====================================  =========================================================
key                                   what
====================================  =========================================================
``mchid``                             merchant id (required)
``appid``                             the AppID bound to the merchant (required)
``merchant_serial_no``                serial number of the merchant API certificate (required)
``merchant_private_key_path``         ``apiclient_key.pem`` (required)
``platform_public_key_id``            ``PUB_KEY_ID_...`` (public-key mode, recommended) ...
``platform_public_key_path``          ... and the platform public key PEM, together
``platform_certificate_paths``        platform certificate PEM file(s) (certificate mode) ...
``download_platform_certificates``    ... or ``true``: download them (``GET /v3/certificates``)
``apiv3_key_path``                    a file holding the 32-byte APIv3 key ...
``apiv3_key_env``                     ... or the name of an environment variable holding it
``base_url``                          default ``https://api.mch.weixin.qq.com``
``store_id``                          ``scene_info.store_info.out_id`` of payment-code payments
``device_ip``                         ``scene_info.device_ip`` of payment-code payments
``refund_notify_url``                 where WeChat Pay posts refund results
``callback_tolerance_seconds``        callback time window, default 300
====================================  =========================================================

Relative paths are read from ``config_dir`` (the configuration file's folder), and
the APIv3 key is read through ``gongji.gateways.secrets``, as every adapter's secrets
are. A secret written into the settings themselves is refused: a configuration file
is copied, committed and printed far more often than a key file. Errors name the
key, the file or the variable, never the secret.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from attrs import field, frozen

from gongji.errors import ConfigError
from gongji.gateways.secrets import read_secret, resolve_path
from gongji.signing.keys import load_certificate, load_private_key, load_public_key
from gongji.signing.wechatpay import CALLBACK_TOLERANCE_SECONDS, WechatPayMerchant
from gongji.signing.wechatpay_keys import PlatformKeyStore

DEFAULT_BASE_URL = "https://api.mch.weixin.qq.com"

#: Every key the settings may hold, with what it is (shown when one is misspelt).
KEYS: dict[str, str] = {
    "mchid": "merchant id",
    "appid": "AppID bound to the merchant",
    "merchant_serial_no": "merchant API certificate serial number",
    "merchant_private_key_path": "merchant API private key file (apiclient_key.pem)",
    "platform_public_key_id": "platform public key ID (PUB_KEY_ID_...)",
    "platform_public_key_path": "platform public key file",
    "platform_certificate_paths": "platform certificate file(s)",
    "download_platform_certificates": "download the platform certificates (true or false)",
    "apiv3_key_path": "file holding the APIv3 key",
    "apiv3_key_env": "environment variable holding the APIv3 key",
    "base_url": "API base URL",
    "store_id": "store id sent with payment-code payments",
    "device_ip": "till IP sent with payment-code payments",
    "refund_notify_url": "refund callback URL",
    "callback_tolerance_seconds": "callback time window in seconds",
}
#: Keys a profile loader may leave in the table (which adapter it is for); ignored here.
IGNORED = frozenset({"adapter", "kind", "name"})
#: Secrets that must not be written inline.
INLINE_SECRETS = frozenset(
    {"apiv3_key", "api_v3_key", "private_key", "merchant_private_key", "api_key", "key"}
)


@frozen
class WechatPaySettings:
    merchant: WechatPayMerchant
    platform: PlatformKeyStore
    apiv3_key: str = field(repr=False)
    appid: str
    base_url: str = DEFAULT_BASE_URL
    store_id: str | None = None
    device_ip: str | None = None
    refund_notify_url: str | None = None
    callback_tolerance_seconds: int = CALLBACK_TOLERANCE_SECONDS
    download_platform_certificates: bool = False


def _text(settings: Mapping[str, Any], key: str, *, required: bool = False) -> str | None:
    value = settings.get(key)
    if value is None or value == "":
        if required:
            raise ConfigError(
                f"The WeChat Pay settings have no {key!r} ({KEYS[key]}).",
                next_step=f"Add {key} to the channel's settings.",
            )
        return None
    if not isinstance(value, str):
        raise ConfigError(
            f"The WeChat Pay setting {key!r} must be a string, not {type(value).__name__}.",
            next_step=f"Write {key} as a quoted string.",
        )
    return value


def _required(settings: Mapping[str, Any], key: str) -> str:
    value = _text(settings, key, required=True)
    assert value is not None  # _text raised otherwise
    return value


def _apiv3_key(
    settings: Mapping[str, Any], config_dir: Path | None, environ: Mapping[str, str] | None
) -> str:
    key = read_secret(
        settings,
        "apiv3_key",
        where="wechatpay",
        config_dir=config_dir,
        file_suffix="_path",
        environ=environ,
    )
    assert key is not None  # required: read_secret raised otherwise
    return key


def _download(settings: Mapping[str, Any]) -> bool:
    value = settings.get("download_platform_certificates", False)
    if type(value) is not bool:
        raise ConfigError(
            "The WeChat Pay setting 'download_platform_certificates' must be true or false.",
            next_step="Write download_platform_certificates = true (without quotes).",
        )
    return value


def _platform(settings: Mapping[str, Any], config_dir: Path | None) -> PlatformKeyStore:
    key_id = _text(settings, "platform_public_key_id")
    key_path = _text(settings, "platform_public_key_path")
    if (key_id is None) != (key_path is None):
        raise ConfigError(
            "The WeChat Pay platform public key needs both 'platform_public_key_id' and "
            "'platform_public_key_path'.",
            next_step="Copy the ID (PUB_KEY_ID_...) and download the key from the API security page.",
        )
    raw = settings.get("platform_certificate_paths") or []
    cert_paths = [raw] if isinstance(raw, str) else raw
    if not isinstance(cert_paths, list | tuple) or not all(
        isinstance(item, str) for item in cert_paths
    ):
        raise ConfigError(
            "The WeChat Pay setting 'platform_certificate_paths' must be a path or a list of paths.",
            next_step='Write it as ["wechatpay_cert.pem"].',
        )
    downloaded = _download(settings)
    if key_id is not None and downloaded:
        raise ConfigError(
            "The WeChat Pay settings name a platform public key and also ask to download "
            "platform certificates; a merchant uses one mode.",
            next_step="Keep the public key (recommended) or download_platform_certificates.",
        )
    if key_id is None and not cert_paths and not downloaded:
        raise ConfigError(
            "The WeChat Pay settings name no platform key to verify WeChat Pay's answers with.",
            next_step=(
                "Add platform_public_key_id and platform_public_key_path (recommended), or "
                "download_platform_certificates = true (certificate mode), or "
                "platform_certificate_paths."
            ),
        )
    store = PlatformKeyStore()
    if key_id is not None and key_path is not None:
        store.add_public_key(key_id, load_public_key(resolve_path(key_path, config_dir)))
    for cert in cert_paths:
        store.add_certificate(load_certificate(resolve_path(cert, config_dir)))
    return store


def load_settings(
    settings: Mapping[str, Any],
    config_dir: Path | None = None,
    *,
    environ: Mapping[str, str] | None = None,
) -> WechatPaySettings:
    """Check the settings, read the key files and the APIv3 key; ``ConfigError`` naming
    what is wrong. Relative paths are read from ``config_dir`` (as given when None)."""
    inline = sorted(INLINE_SECRETS & set(settings))
    if inline:
        raise ConfigError(
            f"The WeChat Pay settings hold a secret inline ({', '.join(inline)}); it was not used.",
            next_step=(
                "Remove it from the configuration (and rotate it if the file was shared); name a "
                "file with apiv3_key_path / merchant_private_key_path, or apiv3_key_env."
            ),
        )
    unknown = sorted(set(settings) - set(KEYS) - IGNORED)
    if unknown:
        raise ConfigError(
            f"The WeChat Pay settings have unknown keys: {', '.join(map(str, unknown))}.",
            next_step=f"Use only: {', '.join(KEYS)}.",
        )
    merchant = WechatPayMerchant(
        mchid=_required(settings, "mchid"),
        serial_no=_required(settings, "merchant_serial_no"),
        private_key=load_private_key(
            resolve_path(_required(settings, "merchant_private_key_path"), config_dir)
        ),
    )
    appid = _required(settings, "appid")
    tolerance = settings.get("callback_tolerance_seconds", CALLBACK_TOLERANCE_SECONDS)
    if type(tolerance) is not int or not 1 <= tolerance <= 3600:
        raise ConfigError(
            "The WeChat Pay setting 'callback_tolerance_seconds' must be a whole number of "
            "seconds between 1 and 3600.",
            next_step="Leave it out for 300.",
        )
    return WechatPaySettings(
        merchant=merchant,
        platform=_platform(settings, config_dir),
        apiv3_key=_apiv3_key(settings, config_dir, environ),
        appid=appid,
        base_url=_text(settings, "base_url") or DEFAULT_BASE_URL,
        store_id=_text(settings, "store_id"),
        device_ip=_text(settings, "device_ip"),
        refund_notify_url=_text(settings, "refund_notify_url"),
        callback_tolerance_seconds=tolerance,
        download_platform_certificates=_download(settings),
    )
