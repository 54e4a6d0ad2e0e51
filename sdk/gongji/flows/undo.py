"""Refund and cancel a settled sale: the insurance leg at the centre, the cash leg at the channel.

``refund`` gives the cash back with the channel's refund; ``cancel`` reverses the
payment-code payment itself (the same day, before the channel closes it). Both
cancel the settlement at the centre first (2103 / 2208). Every step is idempotent
at its gateway (the centre cancels once however often asked; the refund carries
its ``out_refund_no``), so an interrupted undo is finished by asking again.
"""

from __future__ import annotations

import attrs

from gongji.errors import Declined, InvalidInput
from gongji.flows.premium import refuse_premium_undo
from gongji.flows.setup import SettlementEvent, Setup
from gongji.flows.steps import (
    UNKNOWN_OUTCOME,
    in_doubt,
    read,
    record,
    return_uploads,
    send_uploads,
)
from gongji.gateways import PaymentChannel, PaymentState
from gongji.gateways.exchange import Flow
from gongji.journal import Entry, EntryState
from gongji.journal.entry import UndoKind
from gongji.model import Receipt

#: Declined.code of a message refused for its msgid alone (gongji_cityins.gateway.MSGID_REFUSED).
MSGID_REFUSED = "msgid_refused"
_MSGID_RENEWALS = 3


def undo(setup: Setup, settlement_id: str, how: UndoKind) -> Flow[Receipt]:
    entry = setup.journal.by_settlement(settlement_id)
    if entry is None or entry.receipt is None:
        raise InvalidInput(
            f"This client's journal has no settlement {settlement_id[:40]!r}.",
            next_step="Refund from the till that settled it (its journal), or check the settlement id.",
        )
    refuse_premium_undo(entry)
    # Like a sale, an undo holds its key: two tills cannot refund one sale at once.
    if not setup.journal.acquire(entry.key):
        raise InvalidInput(
            f"The sale {settlement_id[:40]!r} is being settled or undone right now.",
            next_step="Wait for that call to end, then ask again.",
        )
    try:
        return (yield from _undo_held(setup, settlement_id, how))
    finally:
        setup.journal.release(entry.key)


def _undo_held(setup: Setup, settlement_id: str, how: UndoKind) -> Flow[Receipt]:
    entry = setup.journal.by_settlement(settlement_id)  # read again under the lease
    if entry is None or entry.receipt is None:
        raise InvalidInput(f"The settlement {settlement_id[:40]!r} is gone from the journal.")
    done = EntryState.REFUNDED if how == "refund" else EntryState.CANCELLED
    if entry.state is done:
        return entry.receipt
    _cash_channel(setup, entry.receipt)  # refused before anything is recorded or sent
    if entry.state is EntryState.SETTLED:
        entry = record(
            setup,
            attrs.evolve(
                entry,
                state=EntryState.UNDOING,
                undo=how,
                undo_msgid=setup.gateway.new_msgid(),
                out_refund_no=f"{entry.out_trade_no}-R" if entry.out_trade_no else "",
            ),
        )
    elif entry.state is EntryState.UNDOING and entry.undo != how:
        # A cancellation whose channel reversal is no longer possible may become a refund:
        # the centre's cancel is idempotent by its msgid, the refund keyed by out_refund_no.
        entry = record(setup, attrs.evolve(entry, undo=how))
    elif entry.state is not EntryState.UNDOING:
        raise InvalidInput(
            f"The settlement {settlement_id[:40]!r} is {entry.state.value}; it cannot be {how}ed now.",
            next_step="Check the sale's state with the journal; nothing was sent.",
        )
    entry = yield from finish_undo(setup, entry)
    assert entry.receipt is not None
    return entry.receipt


def finish_undo(setup: Setup, entry: Entry) -> Flow[Entry]:
    settlement = entry.settlement
    receipt = entry.receipt
    if settlement is None or receipt is None:
        raise InvalidInput("Only a settled sale can be refunded or cancelled.")
    gateway = setup.gateway
    # A cash share paid through a channel goes back through it: the channel must be here
    # before anything is undone at the centre.
    channel = _cash_channel(setup, receipt)
    # Both gateways make these writes idempotent (the same msgid, the same out_refund_no),
    # which is what makes repeating them like reads safe.
    for renewals in range(_MSGID_RENEWALS + 1):
        try:
            yield from read(
                setup,
                "The cancellation at the centre",
                lambda current=entry: gateway.cancel(  # type: ignore[misc]
                    settlement, current.psn_no, current.undo_msgid, current.setting
                ),
            )
            break
        except Declined as taken:
            # The centre refused the journaled msgid itself, unprocessed (another message
            # had it): journal a new one and ask again, or the sale stays undoing for good.
            if taken.code != MSGID_REFUSED or renewals == _MSGID_RENEWALS:
                raise
            entry = record(setup, attrs.evolve(entry, undo_msgid=gateway.new_msgid()))
        except UNKNOWN_OUTCOME as error:
            raise in_doubt(setup, entry, "the centre did not confirm the cancellation") from error
    if channel is not None:
        try:
            if entry.undo == "refund":
                refund = yield from read(
                    setup,
                    f"The {channel.name} refund",
                    lambda: channel.refund(
                        entry.out_trade_no, entry.out_refund_no, receipt.cash, receipt.cash
                    ),
                )
                refused = refund.state == "failed"
                reason = refund.reason
            else:
                closed = yield from read(
                    setup,
                    f"The {channel.name} reversal",
                    lambda: channel.reverse(entry.out_trade_no),
                )
                refused = closed.state not in (PaymentState.CLOSED, PaymentState.REFUNDED)
                reason = closed.reason
        except UNKNOWN_OUTCOME as error:
            raise in_doubt(
                setup, entry, f"the {channel.name} did not confirm giving the cash back"
            ) from error
        if refused:
            raise Declined(
                f"{channel.name} refused to give back the cash share ({reason[:200]}); "
                "the insurance share was given back.",
                next_step="Give the cash back at the till, or ask again later with the same settlement id.",
                gateway=channel.name,
            )
    kind = "refunded" if entry.undo == "refund" else "cancelled"
    setup.announce(SettlementEvent(kind, entry.key, receipt.settlement_id))
    entry = record(
        setup,
        attrs.evolve(
            entry,
            state=EntryState.REFUNDED if entry.undo == "refund" else EntryState.CANCELLED,
            uploads=return_uploads(setup, entry),  # the packs come back: 3506, journaled
        ),
    )
    return (yield from send_uploads(setup, entry))


def _cash_channel(setup: Setup, receipt: Receipt) -> PaymentChannel | None:
    """The channel the cash share went through, which must give it back; None for the till."""
    if receipt.cash > 0 and receipt.cash_channel not in ("", "counter"):
        return setup.channel(receipt.cash_channel)
    return None
