"""What an adapter is: the contract between the flows and the gateways they talk to.

Two kinds, both sans-I/O (every operation is a flow: it builds and signs requests,
yields them, and parses the verified responses; see ``gongji.gateways.exchange``):

* an ``InsuranceGateway`` speaks to a city insurance centre (person information,
  mutual-aid bindings, pre-settlement, settlement, cancellation, reversal,
  reconciliation); an ``OutpatientGateway`` also registers outpatient visits and
  uploads their fee lines; a ``SessionGateway`` also ends its sign-in at close;
* a ``PaymentChannel`` collects the cash share (payment-code payment, query,
  reverse, refund, notifications).

Each declares its ``capabilities``; ``require()`` refuses an operation the adapter
does not have before anything is sent (hyperswitch's connectors do the same).
Adapters register factories through the ``gongji_register_adapters`` hook
(``gongji.gateways.registry``).
"""

from __future__ import annotations

import datetime
import enum
import functools
from collections.abc import Mapping, Sequence
from typing import Literal, Protocol, runtime_checkable

from attrs import field, frozen

from gongji.errors import ConfigError
from gongji.gateways.exchange import Flow, Soon, Tell
from gongji.gateways.statement import CentreDifference, Clearing, StatementLine, TotalsVerdict
from gongji.identity import Credential, IdNumber
from gongji.model import (
    Binding,
    ChronicDisease,
    Diagnosis,
    LineItem,
    Person,
    Purpose,
    Refusal,
    Relation,
    Setting,
    Visit,
)
from gongji.money import ZERO, Fen

__all__ = [
    "Capability",
    "CashOrder",
    "CentreSettlement",
    "ChannelNotification",
    "ChannelPayment",
    "ChannelRefund",
    "ChronicDiseaseGateway",
    "DayTotals",
    "Holder",
    "InsuranceGateway",
    "MsgidJournal",
    "MutualAidShare",
    "OutpatientGateway",
    "PaymentChannel",
    "PaymentState",
    "Registration",
    "ReversalState",
    "RiskFinding",
    "RiskGateway",
    "RiskStage",
    "SessionGateway",
    "SettlementRequest",
    "require",
]


class Capability(enum.StrEnum):
    # insurance gateways
    PERSON_INFO = "person_info"
    BINDINGS = "bindings"
    PRE_SETTLE = "pre_settle"
    SETTLE = "settle"
    CANCEL = "cancel"
    REVERSE = "reverse"
    RECONCILE = "reconcile"
    REGISTER = "register"  # outpatient registration (2201)
    UPLOAD_FEES = "upload_fees"  # outpatient fee lines (2204)
    CATALOGUE = "catalogue"  # the national catalogue (1312) and SKU mappings (3301)
    PREMIUM = "premium"  # a premium paid on behalf (gongji.gateways.premium); off unless configured
    TRACE_UPLOAD = "trace_upload"  # the packs sold and returned, with their codes (3505/3506)
    DIAGNOSE = "diagnose"  # an outpatient visit's diagnoses (2203)
    WITHDRAW_FEES = "withdraw_fees"  # an outpatient visit's unsettled fee lines withdrawn (2205)
    CANCEL_REGISTRATION = "cancel_registration"  # an outpatient registration cancelled (2202)
    # payment channels (REVERSE too)
    CODE_PAYMENT = "code_payment"
    QUERY = "query"
    REFUND = "refund"
    NOTIFY = "notify"
    MED_INS_ORDER = "med_ins_order"
    # insurance gateways, added later (appended: the values above keep their order)
    SIGN_OUT = "sign_out"  # the centre's sign-in ends at close (9002): ``SessionGateway``
    #: The patient's registered chronic or special diseases (5301), and settling under one
    #: (med_type 14 with its dise_codg); without it such a sale is refused before anything is sent.
    CHRONIC_DISEASES = "chronic_diseases"
    RISK_CHECKS = (
        "risk_checks"  # the centre's rule checks before (3101) and during (3102) settlement
    )


def require(adapter: InsuranceGateway | PaymentChannel, capability: Capability) -> None:
    """Refuse, before the network, an operation ``adapter`` does not declare."""
    if capability not in adapter.capabilities:
        raise ConfigError(
            f"The {adapter.name} adapter does not offer {capability.value!r}.",
            next_step=(
                "Configure an adapter that declares this capability (`gongji plugins` lists "
                "them), or leave the operation out; nothing was sent."
            ),
        )


# ---------------------------------------------------------------- insurance centre


@frozen
class Holder:
    """Who a credential resolves to (1101): the centre's person number and the person."""

    psn_no: str
    person: Person


@frozen
class SettlementRequest:
    """What the centre is asked to (pre-)settle. ``credential`` is the one presented."""

    psn_no: str
    patient: Person
    credential: Credential
    items: tuple[LineItem, ...]
    purpose: Purpose = Purpose.MEDICAL
    setting: Setting = Setting.PHARMACY
    agent_id: IdNumber | None = None
    #: The outpatient visit settled (its ``mdtrt_id``): the centre settles the lines
    #: uploaded for it, and ``items`` are the same lines.
    visit_id: str = ""
    #: The patient asked to draw on relatives' accounts (``Purchase.use_mutual_aid``).
    use_mutual_aid: bool = False
    #: The visit's charge batch (``chrg_bchno``) whose uploaded lines are settled.
    charge_batch: str = ""
    #: The registered chronic or special disease to settle under (med_type 14); None: ordinary.
    disease: ChronicDisease | None = None


@frozen
class Registration:
    """What the centre is asked to register as an outpatient visit (2201)."""

    psn_no: str
    patient: Person
    credential: Credential  # the one presented: the patient's own
    department: str = ""
    doctor: str = ""
    department_code: str = ""
    doctor_code: str = ""
    outpatient_no: str = ""
    begins_at: datetime.datetime | None = None
    department_category: str = ""  # caty, the national 科别 code


@frozen
class MutualAidShare:
    """What relatives' accounts paid. ``owner_id`` None: the centre reported the amount
    only (``acct_mulaid_pay``), as a real centre does; gongji's extension names owners."""

    owner_id: IdNumber | None
    amount: Fen
    relation: Relation | None = None


@frozen
class CentreSettlement:
    """The centre's split of one (pre-)settlement, in fen; ``setl_id`` empty for a pre-settlement."""

    setl_id: str
    mdtrt_id: str
    msgid: str
    total: Fen
    fund: Fen
    own_account: Fen
    mutual_aid: tuple[MutualAidShare, ...]
    cash: Fen
    balance: Fen = ZERO  # the patient's own account after it
    patient_id: IdNumber | None = None  # whom the centre settled (its certno)
    refusals: tuple[Refusal, ...] = ()
    settled_at: datetime.datetime | None = None
    #: What the centre clears it under (3201 groups by it); None in entries journaled before.
    clearing: Clearing | None = None

    @property
    def mutual_aid_total(self) -> Fen:
        return sum((share.amount for share in self.mutual_aid), ZERO)


ReversalState = Literal["reversed", "original_refused", "original_not_received"]


@frozen
class DayTotals:
    """A day's standing settlements summed. The centre's side names no mutual-aid or
    cash total (None): 3201 and 3202 reconcile the total, the fund and the accounts."""

    count: int
    total: Fen
    fund: Fen
    own_account: Fen
    mutual_aid: Fen | None
    cash: Fen | None
    agreed: bool | None = None  # None: the centre was not asked to compare


class MsgidJournal(Protocol):
    """What a gateway needs of the client's journal (``gongji.journal.Journal``): message
    ids allocated durably, unique per institution across tills, processes and restarts."""

    blocks: bool

    def allocate_msgid(
        self,
        institution: str,
        at: datetime.datetime,
        till: int | None = None,
        *,
        key: str = "",
        purpose: str = "read",
        durable: bool = True,
    ) -> str: ...

    def reserved_msgid(
        self,
        institution: str,
        at: datetime.datetime,
        till: int | None = None,
        *,
        key: str = "",
        purpose: str = "read",
    ) -> str | None:
        """An id as ``allocate_msgid(..., durable=False)`` gives, when the journal can give
        it without waiting (from a block it reserved already); else None."""
        ...


@runtime_checkable
class MsgidsLater(Protocol):
    """A journal that allocates a msgid without waiting (a durable one): the async
    driver's loop hands the allocation over and is told the id once a reserved block
    holds it, so a sale never waits on a reservation's flush in a thread."""

    def allocate_later(
        self,
        institution: str,
        at: datetime.datetime,
        till: int | None = None,
        *,
        key: str = "",
        purpose: str = "read",
        durable: bool = True,
        tell: Tell,
        soon: Soon | None = None,
    ) -> None: ...


@functools.cache
def allocates_later(kind: type) -> bool:
    """Whether a journal class is ``MsgidsLater`` (asked once a class: a runtime protocol's
    isinstance looks up every method, at every msgid)."""
    return issubclass(kind, MsgidsLater)


@runtime_checkable
class InsuranceGateway(Protocol):
    """A city insurance centre. Operations are flows; writes carry the caller's ``msgid``."""

    name: str
    capabilities: frozenset[Capability]
    region: str  # the 6-digit insurance region the gateway serves, e.g. "210200"
    #: The id of the policy pack the centre settles by (``gongji.policy``), e.g.
    #: "liaoning-dalian-2025"; a client without its own ``policy=`` uses this one.
    policy: str

    def with_journal(self, journal: MsgidJournal) -> InsuranceGateway:
        """This gateway (a copy), numbering every message from ``journal``: the client
        binds its own journal once, so no process numbers messages on its own."""
        ...

    def new_msgid(self, *, key: str = "", purpose: str = "read", durable: bool = True) -> Flow[str]:
        """A message id the journal has given no other message, recorded as for sale ``key``'s
        message ``purpose`` (an ``infno``, or ``"read"``). A flow: the id is a journal
        write, which the async driver runs off its loop. ``durable=False`` only when a
        durable journal write carrying the id follows before it is sent."""
        ...

    def person(self, credential: Credential) -> Flow[Holder]: ...

    def bindings(
        self, beneficiary: Holder
    ) -> Flow[tuple[tuple[Binding, ...], dict[IdNumber, Person]]]:
        """Mutual-aid bindings with ``beneficiary`` as beneficiary, and their owners."""
        ...

    def pre_settle(self, request: SettlementRequest) -> Flow[CentreSettlement]: ...

    def settle(self, request: SettlementRequest, msgid: str) -> Flow[CentreSettlement]: ...

    def cancel(
        self,
        settlement: CentreSettlement,
        psn_no: str,
        msgid: str,
        setting: Setting = Setting.PHARMACY,
        *,
        insured_in: str = "",
    ) -> Flow[CentreSettlement]:
        """Undo a standing settlement (2103 / 2208). Idempotent at the centre.
        ``insured_in``: the patient's region of insurance, as 1101 gave it ("" unknown)."""
        ...

    def reverse(
        self,
        original_msgid: str,
        psn_no: str,
        msgid: str,
        setting: Setting = Setting.PHARMACY,
        *,
        insured_in: str = "",
    ) -> Flow[ReversalState]:
        """Reverse a settlement whose outcome is unknown (2601), by its message id."""
        ...

    def day_totals(
        self, day: datetime.date, clearing: Clearing, lines: Sequence[StatementLine]
    ) -> Flow[TotalsVerdict]:
        """3201: the totals of ``lines`` (the day's settlements under ``clearing``), and the
        centre's verdict on them."""
        ...

    def day_details(
        self, day: datetime.date, setl_optins: str, lines: Sequence[StatementLine]
    ) -> Flow[tuple[CentreDifference, ...]]:
        """3202: ``lines`` (every standing settlement of the day cleared by ``setl_optins``)
        compared by the centre with its own; the settlements on which they differ."""
        ...


@runtime_checkable
class OutpatientGateway(InsuranceGateway, Protocol):
    """An insurance gateway that also registers outpatient visits and takes their fees.

    Optional: a gateway that declares ``Capability.REGISTER``, ``Capability.DIAGNOSE``,
    ``Capability.UPLOAD_FEES``, ``Capability.WITHDRAW_FEES`` and
    ``Capability.CANCEL_REGISTRATION`` implements these; the client refuses each with any
    other before anything is sent. Every one is a write, idempotent by its ``msgid``.
    """

    def register(self, registration: Registration, msgid: str) -> Flow[str]:
        """Register the visit (2201); the centre's visit id (``mdtrt_id``). Idempotent by ``msgid``."""
        ...

    def diagnose(self, visit: Visit, diagnoses: tuple[Diagnosis, ...], msgid: str) -> Flow[None]:
        """Upload the visit's diagnoses (2203), the first the main one."""
        ...

    def upload_fees(self, visit: Visit, items: tuple[LineItem, ...], msgid: str) -> Flow[Fen]:
        """Upload ``items`` for ``visit`` (2204) in its charge batch (``visit.batch``),
        numbered on from the lines ever uploaded for it (``feedetl_sn`` =
        ``visit.uploaded`` + 1, + 2, ...); the centre's sum of the lines it accepted."""
        ...

    def withdraw_fees(self, visit: Visit, msgid: str) -> Flow[None]:
        """Withdraw the visit's unsettled lines of its charge batch (2205)."""
        ...

    def cancel_registration(self, visit: Visit, msgid: str) -> Flow[None]:
        """Cancel the visit's registration (2202)."""
        ...


@runtime_checkable
class SessionGateway(InsuranceGateway, Protocol):
    """An insurance gateway whose centre keeps a sign-in: the gateway signs in by itself
    (9001) before its first message of each day, and is asked to sign out at close.

    Optional: a gateway that declares ``Capability.SIGN_OUT`` implements it; the client's
    ``close()`` asks no other.
    """

    def sign_out(self) -> Flow[bool]:
        """End the gateway's sign-in (9002); False, with nothing sent, when it has none.
        The sign-in is forgotten whatever the answer: the next message signs in anew."""
        ...


@runtime_checkable
class ChronicDiseaseGateway(InsuranceGateway, Protocol):
    """An insurance gateway that knows patients' chronic or special diseases (门诊慢特病).

    Optional: a gateway that declares ``Capability.CHRONIC_DISEASES`` implements this and
    settles a ``SettlementRequest`` whose ``disease`` is set under it (med_type 14); the
    client refuses such a sale with any other gateway before anything is sent.
    """

    def chronic_diseases(self, holder: Holder) -> Flow[tuple[ChronicDisease, ...]]:
        """The diseases the centre registered for ``holder`` (5301), with their dates; a read."""
        ...


# ---------------------------------------------------------------- payment channels


class PaymentState(enum.StrEnum):
    PAID = "paid"
    PENDING = "pending"  # waiting for the payer (a password); poll, then reverse
    FAILED = "failed"  # definitively not charged (insufficient funds, expired code)
    CLOSED = "closed"  # reversed, cancelled or closed: nothing charged (or given back)
    NOT_FOUND = "not_found"  # the channel has no such trade: it never arrived
    REFUNDED = "refunded"


@frozen
class CashOrder:
    """The cash share to collect with a payment code scanned at the till."""

    out_trade_no: str
    amount: Fen
    auth_code: str = field(repr=False)  # a bearer credential for one payment: never shown
    description: str = "药品"
    notify_url: str | None = None


@frozen
class ChannelPayment:
    """A channel's answer about one trade."""

    out_trade_no: str
    state: PaymentState
    amount: Fen = ZERO
    transaction_id: str = ""
    reason: str = ""  # the channel's own words, when it refused


@frozen
class ChannelRefund:
    out_trade_no: str
    out_refund_no: str
    amount: Fen
    state: Literal["success", "processing", "failed"]
    refund_id: str = ""
    reason: str = ""


@frozen
class ChannelNotification:
    """A verified, decoded callback: which trade, and what state it is now in."""

    out_trade_no: str
    state: PaymentState
    amount: Fen
    transaction_id: str = ""
    event_id: str = ""


@runtime_checkable
class PaymentChannel(Protocol):
    """A payment channel (WeChat Pay, Alipay). Operations are flows, keyed by ``out_trade_no``."""

    name: str
    capabilities: frozenset[Capability]

    def charge(self, order: CashOrder) -> Flow[ChannelPayment]: ...

    def query(self, out_trade_no: str) -> Flow[ChannelPayment]: ...

    def reverse(self, out_trade_no: str) -> Flow[ChannelPayment]:
        """Undo a code payment whose outcome is unknown or which the payer never confirmed."""
        ...

    def refund(
        self, out_trade_no: str, out_refund_no: str, amount: Fen, total: Fen
    ) -> Flow[ChannelRefund]: ...

    def notification(self, headers: Mapping[str, str], body: bytes) -> ChannelNotification:
        """Verify (before decoding) and decode a callback; ``SignatureError`` when it is not genuine."""
        ...


# ---------------------------------------------------------------- the centre's rule checks


class RiskStage(enum.StrEnum):
    """When the centre's rule check runs: before the (pre-)settlement (3101, 事前) or
    between the pre-settlement and the settlement (3102, 事中)."""

    PRE_EVENT = "3101"
    IN_EVENT = "3102"


@frozen
class RiskFinding:
    """One violation a centre's rule check found (an entry of 3101/3102's ``result``).

    ``content`` is the centre's words (``vola_cont``) with any full ID number masked;
    ``severity`` its ``sev_deg`` as sent; ``blocking`` whether the region's blocking
    levels make it stop the sale (the adapter decides: the codes are the region's)."""

    stage: RiskStage
    rule_id: str
    rule_name: str
    content: str
    amount: Fen = ZERO  # vola_amt: the money the finding concerns
    severity: str = ""
    blocking: bool = False


@runtime_checkable
class RiskGateway(InsuranceGateway, Protocol):
    """An insurance gateway that asks the centre's rule checks (3101 / 3102).

    Optional: a gateway that declares ``Capability.RISK_CHECKS`` implements this; the
    flows ask it before the pre-settlement and between it and the settlement."""

    def risk_check(
        self,
        stage: RiskStage,
        request: SettlementRequest,
        pre: CentreSettlement | None = None,
    ) -> Flow[tuple[RiskFinding, ...]]:
        """What the centre's check at ``stage`` finds in the sale ``request`` (``pre``: the
        centre's pre-settlement, for 3102); () when it finds nothing. A read: nothing moves."""
        ...
