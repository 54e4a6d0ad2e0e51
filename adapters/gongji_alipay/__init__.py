"""The Alipay OpenAPI payment channel for gongji: ``alipay.trade.pay`` with the buyer's
payment code, ``.query``, ``.cancel``, ``.refund``, and verified asynchronous notifications.

``AlipayChannel(signer=..., verifier=...)``, ``AlipayChannel.from_settings(settings)``,
``AlipayChannel.for_mock(mock.alipay)``; see docs/reference/adapter-alipay.md.
"""

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
