"""The Alipay OpenAPI payment channel for gongji: ``alipay.trade.pay`` with the buyer's
payment code, ``.query``, ``.cancel``, ``.refund``, and verified asynchronous notifications.

``AlipayChannel(signer=..., verifier=...)``, ``AlipayChannel.from_settings(settings)``,
``AlipayChannel.for_mock(mock.alipay)``; see docs/reference/adapter-alipay.md.
"""

from typing import TYPE_CHECKING

from gongji.lazy import exports

# Imported on first use: loading the plugin (every `gongji` command does) costs nothing.
if TYPE_CHECKING:
    from gongji_alipay.gateway import (
        CAPABILITIES,
        DEFAULT_BASE_URL,
        NOTIFY_MAX_AGE_SECONDS,
        SETTINGS_KEYS,
        AlipayChannel,
    )

__all__ = [
    "CAPABILITIES",
    "DEFAULT_BASE_URL",
    "NOTIFY_MAX_AGE_SECONDS",
    "SETTINGS_KEYS",
    "AlipayChannel",
]

__getattr__, __dir__ = exports(
    __name__,
    {
        "CAPABILITIES": "gongji_alipay.gateway",
        "DEFAULT_BASE_URL": "gongji_alipay.gateway",
        "NOTIFY_MAX_AGE_SECONDS": "gongji_alipay.gateway",
        "SETTINGS_KEYS": "gongji_alipay.gateway",
        "AlipayChannel": "gongji_alipay.gateway",
    },
)
