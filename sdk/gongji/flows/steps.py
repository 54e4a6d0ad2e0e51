"""The steps every flow shares: reads repeated on a transport failure, the journal's
writes, the channel's polling, and undoing a settlement at the centre.

Settle, undo, recover, visit and reconcile are built from these; none of those
imports another to borrow a step.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import TypeVar, cast

import attrs
import httpx

from gongji.errors import (
    Declined,
    GongjiError,
    InvalidInput,
    OutcomeUnknown,
    SignatureError,
    Unavailable,
    UntrustedAnswer,
)
from gongji.flows.setup import SettlementEvent, Setup
from gongji.gateways import (
    Capability,
    CentreSettlement,
    ChannelPayment,
    Holder,
    PaymentChannel,
    PaymentState,
    ReversalState,
    SettlementRequest,
)
from gongji.gateways.exchange import Flow, Later, Pause, blocking, unheard
from gongji.gateways.uploads import SALE_UPLOAD, TraceabilityGateway, Upload
from gongji.identity import Credential
from gongji.journal import Entry, EntryState, MsgidOwner
from gongji.journal.entry import WritesLater
from gongji.model import Receipt, Setting
from gongji.money import Fen

T = TypeVar("T")

#: Declined.code of a message refused for its msgid alone, unprocessed (the national
#: gateway's ``MSGID_REFUSED``): it may go again under a new msgid.
MSGID_REFUSED = "msgid_refused"

#: A write that ended in one of these may or may not have committed.
UNKNOWN_OUTCOME = (httpx.HTTPError, Unavailable, SignatureError, UntrustedAnswer)


_KEY = re.compile(r"[A-Za-z0-9._:-]{1,64}")


def check_key(key: str) -> None:
    """Refuse, before anything else, an idempotency key the journal cannot hold."""
    if not isinstance(key, str) or not _KEY.fullmatch(key):
        raise InvalidInput(
            "The idempotency key must be 1-64 letters, digits or . _ : -",
            next_step="Use one key per sale, e.g. 'POS01-20261123-0001', and reuse it only to retry that sale.",
        )


def read(setup: Setup, what: str, make: Callable[[], Flow[T]]) -> Flow[T]:
    """A read, repeated on a transport failure (a repeat of a read is always safe)."""
    tries = setup.polling.read_retries + 1
    for attempt in range(1, tries + 1):
        try:
            return (yield from make())
        except (httpx.HTTPError, Unavailable) as error:
            if attempt == tries:
                raise Unavailable(
                    f"{what} failed {tries} times ({type(error).__name__}).",
                    next_step="Check the network to the gateway, then try again (a sale with the same key).",
                ) from error
    raise AssertionError("unreachable")  # pragma: no cover


def ready_credential(setup: Setup, credential: Credential) -> Flow[Credential]:
    """The credential as the centre takes it: an e-voucher's scanned QR text decoded into
    its token (the profile's decoder), any other credential as it is."""
    if credential.ready:
        return credential
    decoder = setup.voucher_decoder()  # refused before anything is sent when there is none
    decoded = yield from read(
        setup, "Decoding the e-voucher", lambda: decoder.decode(credential.value)
    )
    return decoded.credential()


def resolve_holder(setup: Setup, credential: Credential) -> Flow[tuple[Credential, Holder]]:
    """Whom the credential names at the centre (1101), and the credential as it was sent."""
    ready = yield from ready_credential(setup, credential)
    holder = yield from read(setup, "Resolving the credential", lambda: setup.gateway.person(ready))
    return ready, holder


def sale_uploads(
    setup: Setup, request: SettlementRequest, settlement: CentreSettlement, key: str
) -> Flow[tuple[Upload, ...]]:
    """The uploads a settled sale owes the centre (3505, its packs' codes); () when the
    gateway has none or no line carries packs."""
    gateway = setup.gateway
    if Capability.TRACE_UPLOAD not in gateway.capabilities or not isinstance(
        gateway, TraceabilityGateway
    ):
        return ()
    return (yield from gateway.sale_uploads(request, settlement, key, setup.clock()))


def return_uploads(setup: Setup, entry: Entry) -> Flow[tuple[Upload, ...]]:
    """The entry's uploads with the returns of its sold packs added (3506), once."""
    gateway = setup.gateway
    if not entry.uploads or not isinstance(gateway, TraceabilityGateway):
        return entry.uploads
    sold = tuple(u for u in entry.uploads if u.infno == SALE_UPLOAD)
    if len(sold) != len(entry.uploads):  # the returns are journaled already
        return entry.uploads
    returned = yield from gateway.return_uploads(sold, entry.key, setup.clock())
    return entry.uploads + returned


def send_uploads(setup: Setup, entry: Entry) -> Flow[Entry]:
    """Send what the entry still owes the centre, in order. The money has moved: an
    upload never undoes a sale. One not answered stays pending for ``recover()``; one the
    centre refuses is announced (``upload_refused``) for a person, and not sent again."""
    gateway = setup.gateway
    if not entry.uploads_pending or not isinstance(gateway, TraceabilityGateway):
        return entry
    sent: list[Upload] = []
    stopped = False
    for upload in entry.uploads:
        if upload.done or stopped:
            sent.append(upload)
            continue
        try:
            yield from read(setup, f"The {upload.infno} upload", lambda u=upload: gateway.upload(u))  # type: ignore[misc]
        except Declined as refused:
            setup.announce(
                SettlementEvent("upload_refused", entry.key, detail=refused.message[:200])
            )
        except (GongjiError, httpx.HTTPError) as error:
            setup.announce(
                SettlementEvent("upload_pending", entry.key, detail=type(error).__name__)
            )
            stopped, upload = True, attrs.evolve(upload, done=False)
            sent.append(upload)
            continue
        sent.append(attrs.evolve(upload, done=True))
    # Not fsynced: lost with the power, the uploads go again with their msgids, answered
    # by the centre as the first time.
    return (yield from record(setup, attrs.evolve(entry, uploads=tuple(sent)), durable=False))


def journaled(setup: Setup, call: Callable[[], T], later: Later | None = None) -> Flow[T]:
    """A call on the journal, as a step of the flow: the async driver runs it off its event
    loop, or hands it over as ``later`` (a journal in memory blocks nothing and is called
    at once)."""
    return (yield from blocking(call, blocks=setup.journal.blocks, later=later))


def _writes_later(setup: Setup) -> WritesLater | None:
    """The journal, when its writes can be handed over without waiting (``WritesLater``)."""
    journal = setup.journal
    return cast(WritesLater, journal) if _hands_over(type(journal)) else None


@functools.cache
def _hands_over(kind: type) -> bool:
    # Once a journal class: a runtime protocol's isinstance looks up every method, at
    # every write of every sale.
    return issubclass(kind, WritesLater)


def load(setup: Setup, key: str) -> Flow[Entry | None]:
    journal, writes = setup.journal, _writes_later(setup)
    if writes is not None:
        try:  # read with the lease just taken: no wait
            return writes.held_entry(key)
        except KeyError:
            pass
    return (yield from journaled(setup, lambda: journal.get(key)))


def record(setup: Setup, entry: Entry, *, durable: bool = True) -> Flow[Entry]:
    """Journal ``entry`` as it stands now; ``durable=False`` only where a lost write is
    found again by ``recover()``. Only while the flow holds the key's lease (every
    keyed flow writes inside ``holding``): ``LeaseLost`` when it ran out and another flow
    took the sale over, whose state is then left as that flow made it."""
    entry = attrs.evolve(entry, updated_at=setup.clock())
    journal = setup.journal
    setup.boundary(f"before journal {entry.state.value}")
    writes = _writes_later(setup)
    later = (
        None
        if writes is None
        else (
            lambda tell, soon: writes.put_later(entry, tell, durable=durable, held=True, soon=soon)
        )
    )
    yield from journaled(setup, lambda: journal.put(entry, durable=durable, held=True), later)
    setup.boundary(f"after journal {entry.state.value}")
    return entry


def holding(setup: Setup, key: str, body: Callable[[], Flow[T]]) -> Flow[tuple[bool, T | None]]:
    """Run ``body`` holding ``key``'s lease: (False, None) when another flow holds it, so no
    two flows (a retry, recover(), another till) ever act on one sale at once."""
    journal, writes = setup.journal, _writes_later(setup)
    acquire = None if writes is None else (lambda tell, soon: writes.acquire_later(key, tell, soon))
    if not (yield from journaled(setup, lambda: journal.acquire(key), acquire)):
        return False, None
    release = None if writes is None else (lambda tell, soon: writes.release_later(key, tell, soon))
    try:
        result = yield from body()
    except GeneratorExit:
        # Abandoned by its driver, or collected: no step can be asked for any more. The
        # release is queued, not waited for: collected inside a commit this very thread
        # leads, a release that waited would wait on itself.
        if writes is not None:
            writes.release_later(key, unheard)
        else:
            journal.release(key)
        raise
    except BaseException:
        yield from journaled(setup, lambda: journal.release(key), release)
        raise
    yield from journaled(setup, lambda: journal.release(key), release)
    return True, result


def new_msgid(setup: Setup, key: str, purpose: str, *, durable: bool = True) -> Flow[str]:
    """A msgid from the journal, recorded as this sale's message ``purpose`` (an infno)."""
    return (yield from setup.gateway.new_msgid(key=key, purpose=purpose, durable=durable))


def in_doubt(setup: Setup, entry: Entry, what: str) -> OutcomeUnknown:
    """The error for a sale left in doubt (its entry stays for ``recover()``), announced."""
    setup.announce(SettlementEvent("in_doubt", entry.key, detail=what))
    return OutcomeUnknown(
        f"The sale with key {entry.key!r} is in doubt: {what}.",
        key=entry.key,
    )


def record_settled(
    setup: Setup, entry: Entry, receipt: Receipt, *, durable: bool = True
) -> Flow[Entry]:
    """Journal the sale as settled with ``receipt``, and tell the observers (a divergence too)."""
    entry = yield from record(
        setup, attrs.evolve(entry, state=EntryState.SETTLED, receipt=receipt), durable=durable
    )
    setup.announce(SettlementEvent("settled", entry.key, receipt.settlement_id))
    if receipt.divergence:
        setup.announce(
            SettlementEvent(
                "divergence", entry.key, receipt.settlement_id, "; ".join(receipt.divergence)
            )
        )
    return entry


def needs_person(setup: Setup, entry: Entry, why: str) -> Flow[Entry]:
    """End the sale in ``needs_attention``: what no retry can change and only a person can
    settle. ``recover()`` leaves it alone from then on; ``why`` is kept (no secret)."""
    setup.announce(SettlementEvent("needs_attention", entry.key, detail=why[:300]))
    return (
        yield from record(
            setup, attrs.evolve(entry, state=EntryState.NEEDS_ATTENTION, reason=why[:300])
        )
    )


def query(setup: Setup, channel: PaymentChannel, out_trade_no: str) -> Flow[ChannelPayment]:
    return (yield from read(setup, f"Querying {channel.name}", lambda: channel.query(out_trade_no)))


def settle_pending(
    setup: Setup, channel: PaymentChannel, payment: ChannelPayment
) -> Flow[ChannelPayment]:
    """Poll a payment waiting for the payer, within bounds; reverse what is not paid by then."""
    polls = 0
    while payment.state is PaymentState.PENDING and polls < setup.polling.attempts:
        yield Pause(setup.polling.interval_ms)
        polls += 1
        payment = yield from query(setup, channel, payment.out_trade_no)
    if payment.state in (PaymentState.PENDING, PaymentState.NOT_FOUND):
        closed = yield from channel.reverse(payment.out_trade_no)
        reason = (
            "the payer did not confirm in time"
            if payment.state is PaymentState.PENDING
            else "the payment never arrived"
        )
        return attrs.evolve(closed, reason=reason)
    return payment


def check_paid_amount(payment: ChannelPayment, expected: Fen) -> None:
    if payment.state is PaymentState.PAID and payment.amount != expected:
        raise UntrustedAnswer(
            f"The channel reports {payment.amount} paid for a charge of {expected}.",
            next_step="The sale is left in doubt; check the trade with the channel before recover().",
        )


#: The centre's settlement and cancellation messages, per setting (what a msgid is for).
SETTLE_INFNO = {Setting.PHARMACY: "2102", Setting.OUTPATIENT: "2207"}
CANCEL_INFNO = {Setting.PHARMACY: "2103", Setting.OUTPATIENT: "2208"}
#: How often a message the centre refused for its msgid alone goes again under a new one.
MSGID_RENEWALS = 3


def reverse_at_centre(setup: Setup, entry: Entry) -> Flow[Entry]:
    """2601 for a settlement whose answer was lost. Idempotent at the centre, so it may
    repeat; sent only for a msgid this journal gave to this sale's settlement, since the
    centre reverses whatever message had the id."""
    journal = setup.journal
    owner = yield from journaled(setup, lambda: journal.msgid_owner(entry.msgid))
    if owner != MsgidOwner(key=entry.key, purpose=SETTLE_INFNO[entry.setting]):
        return (
            yield from needs_person(
                setup,
                entry,
                f"The settlement's message id {entry.msgid[:30]} was not given to this sale by "
                "this journal, so reversing it could undo another sale; nothing was reversed. "
                "Ask the centre (3202) whether this sale's settlement stands.",
            )
        )
    gateway = setup.gateway
    for renewal in range(MSGID_RENEWALS + 1):
        msgid = yield from new_msgid(setup, entry.key, "2601")
        try:
            state = yield from read(
                setup,
                "The reversal",
                lambda msgid=msgid: gateway.reverse(  # type: ignore[misc]
                    entry.msgid, entry.psn_no, msgid, entry.setting, insured_in=entry.insured_in
                ),
            )
            break
        except Declined as refused:
            if refused.code == MSGID_REFUSED and renewal < MSGID_RENEWALS:
                continue  # the 2601 itself was refused unprocessed: again, under a new msgid
            return (
                yield from needs_person(
                    setup,
                    entry,
                    "The centre refused to reverse the settlement whose answer was lost "
                    f"({(refused.err_msg or refused.message)[:200]}); it may stand.",
                )
            )
        except (GongjiError, httpx.HTTPError) as error:
            raise in_doubt(setup, entry, "the centre could not reverse the settlement") from error
    setup.announce(SettlementEvent("reversed", entry.key, detail=state))
    return (
        yield from record(
            setup, attrs.evolve(entry, state=EntryState.FAILED, reason=REVERSED_WHY[state])
        )
    )


#: Why a sale whose answer was lost ended unsettled, as the cashier can say it.
REVERSED_WHY: dict[ReversalState, str] = {
    "reversed": "The centre reversed the settlement whose answer was lost; nothing was charged.",
    "original_refused": "The centre had refused the settlement; nothing was charged.",
    "original_not_received": "The centre never received the settlement; nothing was charged.",
}


def cancel_settlement(setup: Setup, entry: Entry) -> Flow[Entry]:
    """2103/2208 for the entry's settlement, under the entry's journaled ``undo_msgid`` (one
    is journaled first when there is none). Idempotent at the centre by that msgid, so it
    repeats like a read; a msgid refused as taken is journaled anew. ``Declined`` when the
    centre refuses the cancellation itself; in doubt when it cannot be reached."""
    settlement = entry.settlement
    assert settlement is not None
    gateway = setup.gateway
    purpose = CANCEL_INFNO[entry.setting]
    for renewal in range(MSGID_RENEWALS + 1):
        if not entry.undo_msgid or renewal:
            msgid = yield from new_msgid(setup, entry.key, purpose, durable=False)
            entry = yield from record(setup, attrs.evolve(entry, undo_msgid=msgid))
        try:
            yield from read(
                setup,
                "The cancellation at the centre",
                lambda current=entry: gateway.cancel(  # type: ignore[misc]
                    settlement,
                    current.psn_no,
                    current.undo_msgid,
                    current.setting,
                    insured_in=current.insured_in,
                ),
            )
            return entry
        except Declined as taken:
            if taken.code != MSGID_REFUSED or renewal == MSGID_RENEWALS:
                raise
        except UNKNOWN_OUTCOME as error:
            raise in_doubt(setup, entry, "the centre did not confirm the cancellation") from error
    raise AssertionError("unreachable")  # pragma: no cover


def cancel_at_centre(setup: Setup, entry: Entry, reason: str) -> Flow[Entry]:
    """2103/2208 for a settlement whose cash share was not collected."""
    if entry.settlement is None:
        return (yield from reverse_at_centre(setup, entry))
    try:
        entry = yield from cancel_settlement(setup, entry)
    except Declined as refused:
        return (
            yield from needs_person(
                setup,
                entry,
                "The cash share was not collected and the centre refused to cancel the "
                f"settlement ({(refused.err_msg or refused.message)[:200]}); it stands unpaid.",
            )
        )
    settlement_id = entry.settlement.setl_id if entry.settlement else ""
    setup.announce(SettlementEvent("cancelled", entry.key, settlement_id, reason[:200]))
    return (
        yield from record(setup, attrs.evolve(entry, state=EntryState.FAILED, reason=reason[:200]))
    )
