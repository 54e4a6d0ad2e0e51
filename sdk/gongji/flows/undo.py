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
    CANCEL_INFNO,
    UNKNOWN_OUTCOME,
    cancel_settlement,
    holding,
    in_doubt,
    journaled,
    needs_person,
    new_msgid,
    query,
    read,
    record,
    return_uploads,
    send_uploads,
)
from gongji.gateways import ChannelPayment, PaymentChannel, PaymentState
from gongji.gateways.exchange import Flow
from gongji.journal import Entry, EntryState
from gongji.journal.entry import UndoKind
from gongji.model import Receipt


def undo(setup: Setup, settlement_id: str, how: UndoKind) -> Flow[Receipt]:
    journal = setup.journal
    entry = yield from journaled(setup, lambda: journal.by_settlement(settlement_id))
    if entry is None or entry.receipt is None:
        raise InvalidInput(
            f"This client's journal has no settlement {settlement_id[:40]!r}.",
            next_step="Refund from the till that settled it (its journal), or check the settlement id.",
        )
    refuse_premium_undo(entry)
    # Like a sale, an undo holds its key: two tills cannot refund one sale at once.
    held, receipt = yield from holding(
        setup, entry.key, lambda: _undo_held(setup, settlement_id, how)
    )
    if not held or receipt is None:
        raise InvalidInput(
            f"The sale {settlement_id[:40]!r} is being settled or undone right now.",
            next_step="Wait for that call to end, then ask again.",
        )
    return receipt


def _undo_held(setup: Setup, settlement_id: str, how: UndoKind) -> Flow[Receipt]:
    journal = setup.journal
    entry = yield from journaled(setup, lambda: journal.by_settlement(settlement_id))  # again
    if entry is None or entry.receipt is None:
        raise InvalidInput(f"The settlement {settlement_id[:40]!r} is gone from the journal.")
    done = EntryState.REFUNDED if how == "refund" else EntryState.CANCELLED
    if entry.state is done:
        return entry.receipt
    _cash_channel(setup, entry.receipt)  # refused before anything is recorded or sent
    if entry.state is EntryState.SETTLED:
        msgid = yield from new_msgid(setup, entry.key, CANCEL_INFNO[entry.setting], durable=False)
        entry = yield from record(
            setup,
            attrs.evolve(
                entry,
                state=EntryState.UNDOING,
                undo=how,
                undo_msgid=msgid,
                out_refund_no=f"{entry.out_trade_no}-R" if entry.out_trade_no else "",
            ),
        )
    elif entry.state is EntryState.UNDOING and entry.undo != how:
        # A cancellation whose channel reversal is no longer possible may become a refund:
        # the centre's cancel is idempotent by its msgid, the refund keyed by out_refund_no.
        entry = yield from record(setup, attrs.evolve(entry, undo=how))
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
    # A cash share paid through a channel goes back through it: the channel must be here
    # before anything is undone at the centre.
    channel = _cash_channel(setup, receipt)
    try:
        entry = yield from cancel_settlement(setup, entry)
    except Declined as refused:
        # The centre keeps the settlement: nothing was undone anywhere, the sale stands.
        yield from record(setup, attrs.evolve(entry, state=EntryState.SETTLED, undo=None))
        raise Declined(
            f"The insurance centre refused to cancel the settlement "
            f"({(refused.err_msg or refused.message)[:200]}); nothing was given back, "
            "and the sale stands.",
            next_step="Ask the insurance centre why; nothing was charged or given back.",
            gateway=refused.gateway,
        ) from refused
    if channel is not None:
        entry = yield from _give_back_cash(setup, channel, entry, receipt)
    kind = "refunded" if entry.undo == "refund" else "cancelled"
    setup.announce(SettlementEvent(kind, entry.key, receipt.settlement_id))
    returned = yield from return_uploads(setup, entry)  # the packs come back: 3506, journaled
    entry = yield from record(
        setup,
        attrs.evolve(
            entry,
            state=EntryState.REFUNDED if entry.undo == "refund" else EntryState.CANCELLED,
            uploads=returned,
        ),
    )
    return (yield from send_uploads(setup, entry))


#: A trade in one of these states holds no money of the customer's any more.
_MONEY_BACK = (PaymentState.CLOSED, PaymentState.REFUNDED)


def _give_back_cash(
    setup: Setup, channel: PaymentChannel, entry: Entry, receipt: Receipt
) -> Flow[Entry]:
    """The cash share back through ``channel``: a cancel reverses the payment, a refund
    refunds it. A lost answer, or a refusal, is settled by the trade's own state: a
    trade reversed, closed or refunded already (an earlier cancel whose answer was lost)
    means the money is back, never a refusal. Returns the entry (a cancel the channel
    can no longer reverse becomes a refund); ``Declined`` only when the channel keeps
    the money for good, and then the sale needs a person."""
    what = f"the {channel.name} did not confirm giving the cash back"
    for _ in range(2):  # a cancel the channel refuses to reverse goes once more, as a refund
        try:
            if entry.undo == "refund":
                refund = yield from read(
                    setup,
                    f"The {channel.name} refund",
                    lambda current=entry: channel.refund(  # type: ignore[misc]
                        current.out_trade_no, current.out_refund_no, receipt.cash, receipt.cash
                    ),
                )
                if refund.state != "failed":
                    return entry
                reason = refund.reason
            else:
                closed = yield from read(
                    setup,
                    f"The {channel.name} reversal",
                    lambda current=entry: channel.reverse(current.out_trade_no),  # type: ignore[misc]
                )
                if closed.state in _MONEY_BACK:
                    return entry
                reason = closed.reason
        except UNKNOWN_OUTCOME as error:
            trade = yield from _trade_or_in_doubt(setup, channel, entry, what, error)
            if trade.state in _MONEY_BACK:
                return entry
            raise in_doubt(setup, entry, what) from error
        # Refused: the money may be back already (a reversal whose answer was lost).
        trade = yield from _trade_or_in_doubt(setup, channel, entry, what, None)
        if trade.state in _MONEY_BACK:
            return entry
        if trade.state is not PaymentState.PAID:
            raise in_doubt(setup, entry, f"the {channel.name} trade is {trade.state.value}")
        if entry.undo == "refund":
            break
        # Too late to reverse the payment: the customer asked for the money back, so refund.
        entry = yield from record(setup, attrs.evolve(entry, undo="refund"))
    why = (
        f"{channel.name} refused to give back the cash share ({reason[:200]}) and still "
        "holds it; the insurance share was given back."
    )
    yield from needs_person(setup, entry, why)
    raise Declined(
        why,
        next_step="Give the cash share back once, at the till or from the channel's merchant "
        "console; gongji will not ask the channel again.",
        gateway=channel.name,
    )


def _trade_or_in_doubt(
    setup: Setup,
    channel: PaymentChannel,
    entry: Entry,
    what: str,
    error: BaseException | None,
) -> Flow[ChannelPayment]:
    try:
        return (yield from query(setup, channel, entry.out_trade_no))
    except UNKNOWN_OUTCOME as lost:
        raise in_doubt(setup, entry, what) from (error or lost)


def _cash_channel(setup: Setup, receipt: Receipt) -> PaymentChannel | None:
    """The channel the cash share went through, which must give it back; None for the till."""
    if receipt.cash > 0 and receipt.cash_channel not in ("", "counter"):
        return setup.channel(receipt.cash_channel)
    return None
