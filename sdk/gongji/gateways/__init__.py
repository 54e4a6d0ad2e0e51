"""What an adapter is: the protocols the flows drive, the exchange of one request, the
registry adapters enter through ``gongji_register_adapters``, and where their secrets
come from.

* ``gongji.gateways.protocols``: ``InsuranceGateway``, ``OutpatientGateway``,
  ``PaymentChannel``, their capabilities and the values they exchange;
* ``gongji.gateways.premium``: ``PremiumGateway``, the optional premium channel;
* ``gongji.gateways.exchange``: ``Flow`` and ``exchange(request, auth)``;
* ``gongji.gateways.statement``: what a day's reconciliation exchanges (3201, 3202);
* ``gongji.gateways.registry``: adapter factories by name;
* ``gongji.gateways.voucher``: ``VoucherDecoder``, which turns an e-voucher's QR text
  into the token the centre takes;
* ``gongji.gateways.secrets``: secrets and key files, the same way for every adapter.
"""

from gongji.gateways.premium import PremiumGateway, PremiumPaid, PremiumRequest
from gongji.gateways.protocols import (
    Capability,
    CashOrder,
    CentreSettlement,
    ChannelNotification,
    ChannelPayment,
    ChannelRefund,
    ChronicDiseaseGateway,
    DayTotals,
    Holder,
    InsuranceGateway,
    MsgidJournal,
    MsgidsLater,
    MutualAidShare,
    OutpatientGateway,
    PaymentChannel,
    PaymentState,
    Registration,
    ReversalState,
    RiskFinding,
    RiskGateway,
    RiskStage,
    SessionGateway,
    SettlementRequest,
    require,
)
from gongji.gateways.registry import (
    AdapterFactory,
    AdapterKind,
    AdapterRegistry,
    ChannelFactory,
    DecoderFactory,
    GatewayFactory,
    RegisterAdapter,
    RegisteredAdapter,
)
from gongji.gateways.statement import CentreDifference, Clearing, StatementLine, TotalsVerdict
from gongji.gateways.voucher import DecodedVoucher, VoucherDecoder

__all__ = [
    "AdapterFactory",
    "AdapterKind",
    "AdapterRegistry",
    "Capability",
    "CashOrder",
    "CentreDifference",
    "CentreSettlement",
    "ChannelFactory",
    "ChannelNotification",
    "ChannelPayment",
    "ChannelRefund",
    "ChronicDiseaseGateway",
    "Clearing",
    "DayTotals",
    "DecodedVoucher",
    "DecoderFactory",
    "GatewayFactory",
    "Holder",
    "InsuranceGateway",
    "MsgidJournal",
    "MsgidsLater",
    "MutualAidShare",
    "OutpatientGateway",
    "PaymentChannel",
    "PaymentState",
    "PremiumGateway",
    "PremiumPaid",
    "PremiumRequest",
    "RegisterAdapter",
    "RegisteredAdapter",
    "Registration",
    "ReversalState",
    "RiskFinding",
    "RiskGateway",
    "RiskStage",
    "SessionGateway",
    "SettlementRequest",
    "StatementLine",
    "TotalsVerdict",
    "VoucherDecoder",
    "require",
]
