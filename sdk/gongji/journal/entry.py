"""A journal entry and the protocol every journal implements."""

from __future__ import annotations

import datetime
import enum
from typing import TYPE_CHECKING, Literal, Protocol, runtime_checkable

from attrs import frozen

from gongji import clock as beijing
from gongji.errors import SettlementTaken
from gongji.gateways import CentreSettlement
from gongji.gateways.uploads import Upload
from gongji.journal.msgids import MsgidOwner
from gongji.model import CashKind, Purpose, Receipt, Setting

if TYPE_CHECKING:
    from gongji.gateways.exchange import Soon, Tell


class EntryState(enum.StrEnum):
    CENTRE_PENDING = "centre_pending"  # the settlement message is (about to be) sent
    CENTRE_SETTLED = "centre_settled"  # the centre settled; the cash share is not collected yet
    CASH_PENDING = "cash_pending"  # the payment-code charge is (about to be) sent
    SETTLED = "settled"  # done: the receipt is in the entry
    FAILED = "failed"  # nothing is charged (refused, or undone); the key may be used again
    UNDOING = "undoing"  # a refund or cancellation is under way
    REFUNDED = "refunded"
    CANCELLED = "cancelled"
    #: Only a person can settle it (a reversal the centre refuses for good, say): not in
    #: doubt, so ``recover()`` leaves it alone; ``reason`` says what is wrong (no secret).
    NEEDS_ATTENTION = "needs_attention"

    @property
    def in_doubt(self) -> bool:
        """A step was started and its outcome is not recorded: ``recover()`` resolves it."""
        return self in _IN_DOUBT


_IN_DOUBT = frozenset(
    {
        EntryState.CENTRE_PENDING,
        EntryState.CENTRE_SETTLED,
        EntryState.CASH_PENDING,
        EntryState.UNDOING,
    }
)

UndoKind = Literal["refund", "cancel"]


@frozen
class Entry:
    """Everything needed to finish or undo one settlement.

    No payment code or e-voucher token is kept, and the purchase is only a keyed
    ``fingerprint``. Full ID numbers do sit in ``settlement`` and ``receipt`` (the
    patient, the accounts' owners, the agent), masked in every repr: the durable
    journals store each one sealed with the journal key, beside its masked form
    (``gongji.journal.codec``), never as plain columns.
    """

    key: str
    fingerprint: str
    state: EntryState
    attempt: int
    setting: Setting
    purpose: Purpose
    psn_no: str
    msgid: str  # the centre's settlement message
    cash_kind: CashKind
    out_trade_no: str = ""
    settlement: CentreSettlement | None = None
    receipt: Receipt | None = None
    undo: UndoKind | None = None
    undo_msgid: str = ""
    out_refund_no: str = ""
    reason: str = ""  # why it failed or needs a person, in the gateway's words (no secret)
    updated_at: datetime.datetime | None = None
    #: A keyed digest of the e-voucher token the sale was made with ("" for other
    #: credentials): a retry showing the same, now spent, token is the same patient.
    voucher: str = ""
    #: What the centre is to be told after the money moved (3505 sales, 3506 returns),
    #: journaled in the same write as the state they follow; ``done`` once answered.
    uploads: tuple[Upload, ...] = ()
    #: The patient's region of insurance (``insuplc_admdvs``, from 1101): a cancellation or
    #: reversal sent by another process, after a restart, names it as the sale did.
    insured_in: str = ""

    @property
    def uploads_pending(self) -> bool:
        return any(not upload.done for upload in self.uploads)


class Journal(Protocol):
    """Where a settlement's progress is written before each step that can charge.

    ``put`` must be durable when it returns (the durable journals commit); entries are
    replaced whole. ``salt`` keys the purchase fingerprints, so a fingerprint says
    nothing about the purchase to someone without the journal (the durable journals
    derive it from the journal key). ``acquire`` / ``release`` keep two flows (two calls
    with one key, or recover() and a sale in flight) off one entry; the durable journals
    hold a lease row there, so the tills sharing a journal keep off each other's sales.
    ``blocks``: a call may wait on a disk or a database, so the flows ask for it as a step
    (``gongji.gateways.exchange.Blocking``) that the async driver runs off its event loop.
    """

    blocks: bool

    @property
    def salt(self) -> bytes: ...

    def get(self, key: str) -> Entry | None: ...

    def put(self, entry: Entry, *, durable: bool = True, held: bool = False) -> None:
        """Store ``entry``, replacing the one with its key. ``durable=False`` may be lost in
        a power cut (never in a crash of the process): only for a write that recovery can
        make again from the durable one before it. ``held``: compare-and-set on the lease,
        in the write's own transaction: ``LeaseLost`` and nothing written unless this
        journal (object) still holds ``acquire(entry.key)``, so a flow whose lease expired
        and was taken over (``recover()``, a retry, another till) never writes over what
        the flow that took it did. A settlement is one sale's: an entry whose receipt
        names a settlement that another key's entry holds is refused in the same
        transaction, ``SettlementTaken`` (``settlement_taken``), and nothing written."""
        ...

    def by_settlement(self, settlement_id: str) -> Entry | None: ...

    def in_doubt(self) -> list[Entry]: ...

    def entries(self, *, day: datetime.date | None = None) -> list[Entry]:
        """Every entry, or those of ``day``: the centre's settlement day when the entry
        has a settlement, else the day of its last write (``updated_at``)."""
        ...

    def acquire(self, key: str) -> bool:
        """Claim ``key`` for one running flow; False when another flow holds it."""
        ...

    def release(self, key: str) -> None: ...

    def allocate_msgid(
        self,
        institution: str,
        at: datetime.datetime,
        till: int | None = None,
        *,
        key: str = "",
        purpose: str = "read",
        durable: bool = True,
    ) -> str:
        """A new centre msgid: ``institution`` (12) + ``at`` as Beijing-time
        ``yyyyMMddHHmmss`` + 4 digits, never handed out before by this journal, whatever
        the processes, restarts or tills (``gongji.journal.msgids``). ``at`` is passed in,
        never read, so a virtual clock can drive it. ``till`` (0-99) keeps the tills of one
        institution apart where each has its own journal. ``key`` and ``purpose`` (the
        ``infno``, or ``"read"``) record what the id is for (``msgid_owner``).
        ``durable=False``, as for ``put``: only for an id that a durable ``put`` carries
        before the message is sent (a sale's 2102, an undo's 2103)."""
        ...

    def reserved_msgid(
        self,
        institution: str,
        at: datetime.datetime,
        till: int | None = None,
        *,
        key: str = "",
        purpose: str = "read",
    ) -> str | None:
        """``allocate_msgid(..., durable=False)`` when it can give an id without waiting
        on a disk, a database or a lock (from a block reserved already); else None."""
        ...

    def msgid_owner(self, msgid: str) -> MsgidOwner | None:
        """What ``allocate_msgid`` gave ``msgid`` to; None for an id it never gave out."""
        ...


@runtime_checkable
class WritesLater(Protocol):
    """A journal whose writes can be handed over without waiting for their commit (the
    durable ones): the async driver's event loop hands each over and is told once it is
    durable, so the loop never waits on a flush or a lock, and the writes of its sales
    still share a commit. Each is its ``Journal`` call's twin, told what that call would
    return or raise; one refused before anything is handed over raises at once."""

    def put_later(
        self,
        entry: Entry,
        tell: Tell,
        *,
        durable: bool = True,
        held: bool = False,
        soon: Soon | None = None,
    ) -> None:
        """``soon``: the caller's loop, where the journal may run its quick part."""
        ...

    def acquire_later(self, key: str, tell: Tell, soon: Soon | None = None) -> None: ...

    def release_later(self, key: str, tell: Tell, soon: Soon | None = None) -> None: ...

    def held_entry(self, key: str) -> Entry | None:
        """The entry as it stood when this journal object took ``key``'s lease (read in
        that commit), once, until the key is written: the flow's first read under the
        lease, without waiting. ``KeyError`` when it is not at hand: ``get`` it."""
        ...


def settlement_taken(settlement_id: str, holder: str) -> SettlementTaken:
    """The refusal of a write naming settlement ``settlement_id``, which sale ``holder``'s
    entry holds: an answer replayed from that sale's message."""
    return SettlementTaken(
        f"The answer names settlement {settlement_id[:40]!r}, which is sale {holder!r}'s: "
        "a replayed answer; nothing was written.",
        key=holder,
    )


def entry_day(entry: Entry) -> datetime.date | None:
    """The day an entry belongs to: the centre's settlement day, else its last write's."""
    settlement = entry.settlement
    when = settlement.settled_at if settlement is not None else None
    when = when or entry.updated_at
    return beijing.day(when) if when is not None else None
