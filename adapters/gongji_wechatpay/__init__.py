"""The WeChat Pay APIv3 payment channel for gongji.

``WechatPayChannel`` collects the cash share with the payer's payment code (付款码),
queries, reverses and refunds it, places medical-insurance orders, and opens
WeChat Pay's callbacks; every operation is a sans-I/O flow. Modules: ``wire``
(msgspec wire formats), ``transform`` (domain <-> wire, integer fen), ``gateway``
(requests and responses), ``medins`` (the med-ins order), ``settings`` (a
configuration profile), ``plugin`` (registration).
"""

from typing import TYPE_CHECKING

from gongji.lazy import exports

# Imported on first use: loading the plugin (every `gongji` command does) costs nothing.
if TYPE_CHECKING:
    from gongji_wechatpay.gateway import DEFAULT_BASE_URL, WechatPayChannel
    from gongji_wechatpay.medins import (
        CashAdd,
        CashAddType,
        CashReduce,
        CashReduceType,
        MedInsOrder,
        MedInsOrderResult,
        MixPayType,
    )

__all__ = [
    "DEFAULT_BASE_URL",
    "CashAdd",
    "CashAddType",
    "CashReduce",
    "CashReduceType",
    "MedInsOrder",
    "MedInsOrderResult",
    "MixPayType",
    "WechatPayChannel",
]

__getattr__, __dir__ = exports(
    __name__,
    {
        "DEFAULT_BASE_URL": "gongji_wechatpay.gateway",
        "WechatPayChannel": "gongji_wechatpay.gateway",
        "CashAdd": "gongji_wechatpay.medins",
        "CashAddType": "gongji_wechatpay.medins",
        "CashReduce": "gongji_wechatpay.medins",
        "CashReduceType": "gongji_wechatpay.medins",
        "MedInsOrder": "gongji_wechatpay.medins",
        "MedInsOrderResult": "gongji_wechatpay.medins",
        "MixPayType": "gongji_wechatpay.medins",
    },
)
