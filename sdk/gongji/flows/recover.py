"""Resolve what a timeout or a crash left in doubt: finish it, or undo it.

A sale caught between the centre and the channel is reversed, cancelled or found
paid; an undo caught half-way is finished (``gongji.flows.undo``). ``recover`` walks
the journal's entries in doubt that no running flow holds.
"""

from __future__ import annotations

import functools

import attrs
import httpx

from gongji.errors import GongjiError
from gongji.flows.premium import resolve_premium
from gongji.flows.setup import Setup
from gongji.flows.steps import (
    cancel_at_centre,
    check_paid_amount,
    holding,
    in_doubt,
    journaled,
    load,
    query,
    record_settled,
    reverse_at_centre,
    send_uploads,
    settle_pending,
)
from gongji.flows.undo import finish_undo
from gongji.gateways import PaymentState
from gongji.gateways.exchange import Flow
from gongji.journal import Entry, EntryState
from gongji.premium import is_premium


def recover(setup: Setup) -> Flow[list[Entry]]:
    """Resolve every entry left in doubt that no running flow holds; one that cannot be
    resolved yet stays in doubt (and is returned as it is) while the others go on. One
    that ends in ``needs_attention`` is returned too, and never retried again."""
    journal = setup.journal
    ended = []
    listed = yield from journaled(setup, journal.in_doubt)
    for stale in listed:
        held, entry = yield from holding(
            setup, stale.key, functools.partial(_resolve_held, setup, stale.key)
        )
        if held and entry is not None:
            ended.append(entry)
    yield from drain_uploads(setup)
    return ended


def _resolve_held(setup: Setup, key: str) -> Flow[Entry | None]:
    # Read again under the lease: the listed copy may be stale (a retry with the key may
    # have settled it since), and acting on it would write over a newer state.
    entry = yield from load(setup, key)
    if entry is None or not entry.state.in_doubt:
        return None
    try:
        return (yield from resolve(setup, entry))
    except (GongjiError, httpx.HTTPError):
        return (yield from load(setup, key)) or entry


def drain_uploads(setup: Setup) -> Flow[None]:
    """Send what settled and undone sales still owe the centre (3505/3506): the uploads a
    crash or a lost answer left pending. A sale in flight is left to its own flow."""
    journal = setup.journal
    listed = yield from journaled(setup, journal.entries)
    for stale in listed:
        if stale.uploads_pending and not stale.state.in_doubt:
            yield from holding(setup, stale.key, functools.partial(_drain_held, setup, stale.key))


def _drain_held(setup: Setup, key: str) -> Flow[Entry | None]:
    found = yield from load(setup, key)  # read again under the lease
    if found is None or not found.uploads_pending or found.state.in_doubt:
        return found
    return (yield from send_uploads(setup, found))


def resolve(setup: Setup, entry: Entry) -> Flow[Entry]:
    """Finish or undo a settlement a timeout or a crash left in doubt (its key held)."""
    if is_premium(entry.purpose):
        return (yield from resolve_premium(setup, entry))
    if entry.state is EntryState.CENTRE_PENDING:
        return (yield from reverse_at_centre(setup, entry))
    if entry.state is EntryState.CENTRE_SETTLED:
        # The cash share was never asked for; the customer may be gone: give the money back.
        return (yield from cancel_at_centre(setup, entry, "interrupted before the cash share"))
    if entry.state is EntryState.CASH_PENDING and entry.receipt is not None:
        receipt = entry.receipt
        channel = setup.channel(entry.cash_kind)
        try:
            payment = yield from query(setup, channel, entry.out_trade_no)
            payment = yield from settle_pending(setup, channel, payment)
            check_paid_amount(payment, receipt.cash)
        except Exception as error:
            raise in_doubt(
                setup, entry, f"the {channel.name} payment could not be confirmed"
            ) from error
        if payment.state is PaymentState.PAID:
            return (
                yield from record_settled(
                    setup, entry, attrs.evolve(receipt, transaction_id=payment.transaction_id)
                )
            )
        return (yield from cancel_at_centre(setup, entry, payment.reason or payment.state.value))
    if entry.state is EntryState.UNDOING:
        return (yield from finish_undo(setup, entry))
    return entry
