"""What an adapter is: the protocols the flows drive, the exchange of one request, the
registry adapters enter through ``gongji_register_adapters``, and where their secrets
come from.

* ``gongji.gateways.protocols``: ``InsuranceGateway``, ``OutpatientGateway``,
  ``PaymentChannel``, their capabilities and the values they exchange;
* ``gongji.gateways.exchange``: ``Flow`` and ``exchange(request, auth)``;
* ``gongji.gateways.registry``: adapter factories by name;
* ``gongji.gateways.secrets``: secrets and key files, the same way for every adapter.
"""

from gongji.gateways.protocols import (
    Capability,
    CashOrder,
    CentreDetail,
    CentreSettlement,
    ChannelNotification,
    ChannelPayment,
    ChannelRefund,
    DayTotals,
    Holder,
    InsuranceGateway,
    MsgidJournal,
    MutualAidShare,
    OutpatientGateway,
    PaymentChannel,
    PaymentState,
    Registration,
    ReversalState,
    SettlementRequest,
    require,
)
from gongji.gateways.registry import (
    AdapterFactory,
    AdapterKind,
    AdapterRegistry,
    ChannelFactory,
    GatewayFactory,
    RegisterAdapter,
    RegisteredAdapter,
)

__all__ = [
    "AdapterFactory",
    "AdapterKind",
    "AdapterRegistry",
    "Capability",
    "CashOrder",
    "CentreDetail",
    "CentreSettlement",
    "ChannelFactory",
    "ChannelNotification",
    "ChannelPayment",
    "ChannelRefund",
    "DayTotals",
    "GatewayFactory",
    "Holder",
    "InsuranceGateway",
    "MsgidJournal",
    "MutualAidShare",
    "OutpatientGateway",
    "PaymentChannel",
    "PaymentState",
    "RegisterAdapter",
    "RegisteredAdapter",
    "Registration",
    "ReversalState",
    "SettlementRequest",
    "require",
]
