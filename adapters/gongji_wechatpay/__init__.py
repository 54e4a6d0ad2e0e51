"""The WeChat Pay APIv3 payment channel for gongji.

``WechatPayChannel`` collects the cash share with the payer's payment code (付款码),
queries, reverses and refunds it, places medical-insurance orders, and opens
WeChat Pay's callbacks; every operation is a sans-I/O flow. Modules: ``wire``
(msgspec wire formats), ``transform`` (domain <-> wire, integer fen), ``gateway``
(requests and responses), ``medins`` (the med-ins order), ``settings`` (a
configuration profile), ``plugin`` (registration).
"""

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
