"""A premium paid on behalf of a relative, written once (``gongji.premium``).

The saga: the gateway must offer ``Capability.PREMIUM`` (refused before anything is
sent) -> resolve the payer's credential (1101) and the insured relative (1101 by ID
number) -> the relative's bindings, where the gateway has them -> the rules
(``gongji.rules.premium``) -> journal -> pay at the premium channel -> receipt. Like a
sale, the payment's msgid is journaled before it is sent, one key pays at most once,
and a payment whose answer is lost is never sent again: it is reversed by its msgid,
and ``recover()`` does the same for one a crash left in doubt.

A premium is never a pharmacy sale: a ``Purchase`` with a premium's purpose is refused
(``refuse_premium_as_sale``), and a paid premium is not refunded at the till.
"""

from __future__ import annotations

import hmac
from hashlib import sha256

import attrs
import httpx
from attrs import frozen

from gongji.errors import (
    ConfigError,
    Declined,
    GongjiError,
    InvalidInput,
    OwnCardViolation,
    SettlementTaken,
    Unavailable,
    UntrustedAnswer,
)
from gongji.flows.setup import SettlementEvent, Setup
from gongji.flows.steps import (
    check_key,
    holding,
    in_doubt,
    load,
    new_msgid,
    read,
    record,
    record_settled,
    resolve_holder,
)
from gongji.gateways import (
    Capability,
    CentreSettlement,
    Holder,
    MutualAidShare,
    ReversalState,
)
from gongji.gateways.exchange import Flow
from gongji.gateways.premium import PremiumGateway, PremiumPaid, PremiumRequest
from gongji.identity import Credential, CredentialKind
from gongji.journal import Entry, EntryState
from gongji.model import Leg, Purchase, Receipt, Relation, Setting
from gongji.money import ZERO
from gongji.premium import PremiumPayment, PremiumReceipt, is_premium
from gongji.rules.assess import assess
from gongji.rules.explain import purpose_words
from gongji.rules.premium import assess_premium, premium_context
from gongji.rules.quote import Quote

__all__ = [
    "pay_premium",
    "premium_receipt",
    "preview_premium",
    "refuse_premium_as_sale",
    "refuse_premium_undo",
    "resolve_premium",
]

#: What the journal records a premium's msgids as (``Journal.msgid_owner``): the payment,
#: and its reversal by msgid at the premium channel.
PREMIUM_PURPOSE = "premium"
PREMIUM_REVERSAL = "premium-reversal"


def refuse_premium_as_sale(purchase: Purchase) -> None:
    """A premium is not a pharmacy sale line (NATIONAL.md §15): refused before anything is sent."""
    if is_premium(purchase.purpose):
        raise InvalidInput(
            f"A purchase cannot pay {purpose_words(purchase.purpose)}: the national interface "
            "has no premium payment, and a premium goes to the collector, not into a pharmacy sale.",
            next_step="Pay it with client.pay_premium(gongji.PremiumPayment(...), key=...) where the "
            "region has a premium channel; nothing was sent.",
        )


def refuse_premium_undo(entry: Entry) -> None:
    """A premium paid is the collector's: the till neither refunds nor cancels it."""
    if is_premium(entry.purpose):
        raise InvalidInput(
            f"Payment {entry.receipt.settlement_id if entry.receipt else entry.key!r} paid "
            f"{purpose_words(entry.purpose)}, which the till does not refund or cancel.",
            next_step="Ask the collector (the insurer or the tax office, 12393) to refund a premium; "
            "nothing was sent.",
        )


@frozen
class PreparedPremium:
    """A premium made ready: who pays, for whom, what the channel is asked, the rules' quote."""

    payer: Holder
    request: PremiumRequest
    quote: Quote
    relation: Relation | None


def premium_gateway(setup: Setup) -> PremiumGateway:
    """The client's gateway, if it pays premiums; refused before anything is sent otherwise."""
    gateway = setup.gateway
    if Capability.PREMIUM not in gateway.capabilities or not isinstance(gateway, PremiumGateway):
        raise ConfigError(
            f"The {gateway.name} gateway has no premium channel, so it cannot pay a premium on behalf.",
            next_step="No real centre is known to take premiums at the till: the collector (the tax "
            "app or the insurer) takes them. Where a region runs a channel, name it in the gateway's "
            "premium_url (docs/how-to/pay-a-premium.md); nothing was sent.",
        )
    return gateway


def prepare_premium(setup: Setup, payment: PremiumPayment) -> Flow[PreparedPremium]:
    """Everything up to the payment; nothing is charged."""
    gateway = premium_gateway(setup)
    # An e-voucher is decoded first (NATIONAL.md §5): 1101 takes its token, not the QR text.
    credential, payer = yield from resolve_holder(setup, payment.credential)
    _check_own_credential(payment, payer)
    if payer.person.id == payment.insured_id:
        raise InvalidInput(
            "The credential shown is the insured person's own: a premium on behalf is paid from a relative's account.",
            next_step="Ask the relative who pays to show his own e-voucher or card; nothing was charged.",
        )
    insured = yield from read(
        setup,
        "Looking up the insured relative",
        lambda: gateway.person(Credential.id_card(payment.insured_id.number)),
    )
    today = setup.today()
    context = premium_context(
        payer=payer.person,
        insured=insured.person,
        kind=payment.kind,
        amount=payment.amount,
        bindings=(),
        policy=setup.policy_on(today),
        today=today,
    )
    if Capability.BINDINGS in gateway.capabilities:
        bindings, _owners = yield from read(
            setup, "Reading the mutual-aid bindings", lambda: gateway.bindings(insured)
        )
        context = attrs.evolve(
            context, bindings=tuple(b for b in bindings if b.owner == payer.person.id)
        )
        quote = assess_premium(context, setup.plugins)
        relation = context.bindings[0].relation
    else:
        # The bindings are the channel's to know: only what refuses the premium as a whole
        # (R6: a premium for insurance the relative is not on) is checked here.
        assess(context, setup.plugins)
        quote = Quote(
            total=payment.amount,
            fund=ZERO,
            legs=(Leg(source="mutual_aid", payer_id=payer.person.id, amount=payment.amount),),
            cash=ZERO,
        )
        relation = None
    request = PremiumRequest(
        payer_psn_no=payer.psn_no,
        payer=payer.person,
        credential=credential,
        insured=insured.person,
        kind=payment.kind,
        amount=payment.amount,
    )
    return PreparedPremium(payer=payer, request=request, quote=quote, relation=relation)


def _check_own_credential(payment: PremiumPayment, payer: Holder) -> None:
    """R1 for the payer: the account that pays is the one whose own credential is shown."""
    resolved = payer.person.id
    for named in (payment.credential.id_number, payment.payer_id):
        if named is not None and named != resolved:
            raise OwnCardViolation(
                f"The credential shown belongs to {resolved.masked}, not to the payer "
                f"{named.masked}. A premium is paid from the account of the person whose own "
                "credential is shown; using another person's is impersonation (冒名).",
            )


def preview_premium(setup: Setup, payment: PremiumPayment) -> Flow[Quote]:
    """Who would pay what; nothing is charged."""
    prepared = yield from prepare_premium(setup, payment)
    return prepared.quote


def pay_premium(setup: Setup, payment: PremiumPayment, key: str) -> Flow[PremiumReceipt]:
    check_key(key)
    premium_gateway(setup)  # before the journal is read or anything sent
    # While this flow runs, no other flow (a second payment, recover()) may touch the key.
    held, receipt = yield from holding(setup, key, lambda: _pay_owned(setup, payment, key))
    if not held or receipt is None:
        raise InvalidInput(
            f"The payment with key {key!r} is being made right now.",
            next_step="Wait for that call to end; then paying again with the key returns its receipt.",
        )
    return receipt


def _pay_owned(setup: Setup, payment: PremiumPayment, key: str) -> Flow[PremiumReceipt]:
    fingerprint = premium_fingerprint(setup, payment)
    voucher = setup.voucher(payment.credential)
    attempt = 1
    found = yield from load(setup, key)
    if found is not None:
        if found.fingerprint != fingerprint:
            raise InvalidInput(
                f"The key {key!r} was used for a different sale or premium.",
                next_step="Use a new key for a new payment; nothing was charged.",
            )
        if voucher and voucher != found.voucher:
            # A new e-voucher token must be the same payer's (the fingerprint leaves tokens out).
            _, holder = yield from resolve_holder(setup, payment.credential)
            if holder.psn_no != found.psn_no:
                raise InvalidInput(
                    f"The key {key!r} was used for another payer's premium.",
                    next_step="Use a new key for a new payment; nothing was charged.",
                )
        if found.state.in_doubt:
            found = yield from resolve_premium(setup, found)
        if found.state is EntryState.SETTLED and found.receipt is not None:
            return premium_receipt(found)
        if found.state is not EntryState.FAILED:
            raise InvalidInput(
                f"The payment with key {key!r} was {found.state.value}.",
                next_step="Use a new key for a new payment.",
            )
        attempt = found.attempt + 1  # the earlier attempt charged nothing: go again
    prepared = yield from prepare_premium(setup, payment)
    gateway = premium_gateway(setup)
    # The msgid is the journal's, recorded as this payment's: durable with the entry below.
    msgid = yield from new_msgid(setup, key, PREMIUM_PURPOSE, durable=False)
    entry = yield from record(
        setup,
        Entry(
            key=key,
            fingerprint=fingerprint,
            state=EntryState.CENTRE_PENDING,
            attempt=attempt,
            setting=Setting.PHARMACY,
            purpose=payment.kind,
            psn_no=prepared.payer.psn_no,
            msgid=msgid,
            cash_kind="",  # a premium is paid whole from the account: no cash share
            updated_at=setup.clock(),
            voucher=voucher,
        ),
    )
    # From here on money may move: every way out is a receipt, a definitive refusal with
    # nothing charged, or OutcomeUnknown with the entry left for recover().
    try:
        paid = yield from gateway.pay_premium(prepared.request, entry.msgid)
        _check_answer_is_for(paid, prepared.request)
    except Declined as refused:
        yield from record(
            setup, attrs.evolve(entry, state=EntryState.FAILED, reason=refused.message[:200])
        )
        setup.announce(SettlementEvent("failed", key, detail=refused.message[:200]))
        raise
    except Exception as error:  # a lost, unreadable or untrusted answer: undo, never resend
        raise (yield from _undone(setup, entry, error, gateway.name)) from error
    settlement, receipt = _booked(entry, paid, prepared)
    try:
        settled = yield from record_settled(
            setup, attrs.evolve(entry, settlement=settlement), receipt, durable=True
        )
    except SettlementTaken as replayed:  # another payment's answer: the journal refused it
        raise (yield from _undone(setup, entry, replayed, gateway.name)) from replayed
    return premium_receipt(settled)


def _undone(setup: Setup, entry: Entry, error: Exception, gateway: str) -> Flow[Unavailable]:
    """Reverse a payment whose answer was lost or not trusted: what the caller is told."""
    yield from _reverse_at_channel(setup, entry)
    return Unavailable(
        f"The premium channel's answer was lost or not trusted ({type(error).__name__}); "
        "the payment was reversed, and nothing was charged.",
        next_step="Pay again with the same key.",
        gateway=gateway,
    )


def premium_fingerprint(setup: Setup, payment: PremiumPayment) -> str:
    """A keyed digest of the payment asked for, so one key never pays two premiums."""
    credential = payment.credential
    # An e-voucher's token changes each time it is shown: a retry may bring a new one.
    shown = "" if credential.kind is CredentialKind.E_VOUCHER else credential.value
    parts = [
        "premium",
        payment.kind.value,
        credential.kind.value,
        shown,  # joined as the full value: IdNumber is a str (its str() is masked)
        credential.card_sn or "",
        payment.payer_id.number if payment.payer_id else "",
        payment.insured_id.number,
        str(int(payment.amount)),
    ]
    return hmac.new(setup.journal.salt, "\x1f".join(parts).encode(), sha256).hexdigest()


def _check_answer_is_for(paid: PremiumPaid, request: PremiumRequest) -> None:
    """The channel's answer must be this payment's: payer, insured, kind and amount (one
    naming another payment's id is refused by the journal: ``SettlementTaken``)."""
    asked = (request.payer.id, request.insured.id, request.kind, request.amount)
    answered = (paid.payer_id, paid.insured_id, paid.kind, paid.amount)
    if asked != answered or not paid.payment_id:
        raise UntrustedAnswer(
            "The premium channel's answer is not for this payment (payer, insured, kind or amount differ)."
        )


def _booked(
    entry: Entry, paid: PremiumPaid, prepared: PreparedPremium
) -> tuple[CentreSettlement, Receipt]:
    """The payment in the journal's shapes: one mutual-aid share, the insured as patient."""
    share = MutualAidShare(owner_id=paid.payer_id, amount=paid.amount, relation=prepared.relation)
    settlement = CentreSettlement(
        setl_id=paid.payment_id,
        mdtrt_id="",
        msgid=entry.msgid,
        total=paid.amount,
        fund=ZERO,
        own_account=ZERO,
        mutual_aid=(share,),
        cash=ZERO,
        balance=paid.balance,
        patient_id=paid.insured_id,
        settled_at=paid.paid_at,
    )
    receipt = Receipt(
        settlement_id=paid.payment_id,
        key=entry.key,
        total=paid.amount,
        fund=ZERO,
        legs=(
            Leg(
                source="mutual_aid",
                payer_id=paid.payer_id,
                amount=paid.amount,
                relation=prepared.relation,
            ),
        ),
        cash=ZERO,
        warnings=prepared.quote.warnings,
        purpose=paid.kind,
    )
    return settlement, receipt


def premium_receipt(entry: Entry) -> PremiumReceipt:
    """The receipt of a premium, from its journal entry."""
    settlement, receipt = entry.settlement, entry.receipt
    if settlement is None or receipt is None or settlement.patient_id is None:
        raise InvalidInput(f"The journal entry {entry.key!r} holds no paid premium.")
    share = settlement.mutual_aid[0]
    if share.owner_id is None:  # the premium channel always names its payer
        raise InvalidInput(f"The journal entry {entry.key!r} holds a premium without its payer.")
    return PremiumReceipt(
        payment_id=settlement.setl_id,
        key=entry.key,
        kind=entry.purpose,
        amount=settlement.total,
        payer_id=share.owner_id,
        insured_id=settlement.patient_id,
        relation=share.relation,
        balance=settlement.balance,
        paid_at=settlement.settled_at,
        warnings=receipt.warnings,
    )


# ---------------------------------------------------------------- in doubt

#: Why a premium whose answer was lost ended unpaid, as the cashier can say it.
REVERSED_WHY: dict[ReversalState, str] = {
    "reversed": "The premium channel reversed the payment whose answer was lost; nothing was charged.",
    "original_refused": "The premium channel had refused the payment; nothing was charged.",
    "original_not_received": "The premium channel never received the payment; nothing was charged.",
}


def resolve_premium(setup: Setup, entry: Entry) -> Flow[Entry]:
    """Undo a premium payment a timeout or a crash left in doubt (it has no later step)."""
    if entry.state is not EntryState.CENTRE_PENDING:
        return entry
    return (yield from _reverse_at_channel(setup, entry))


def _reverse_at_channel(setup: Setup, entry: Entry) -> Flow[Entry]:
    """Reverse the payment by its msgid. Idempotent at the channel, so it may repeat."""
    try:
        gateway = premium_gateway(setup)
        msgid = yield from new_msgid(setup, entry.key, PREMIUM_REVERSAL)
        state = yield from read(
            setup,
            "The premium's reversal",
            lambda: gateway.reverse_premium(entry.msgid, entry.psn_no, msgid),
        )
    except (GongjiError, httpx.HTTPError) as error:
        raise in_doubt(setup, entry, "the premium channel could not reverse the payment") from error
    setup.announce(SettlementEvent("reversed", entry.key, detail=state))
    return (
        yield from record(
            setup, attrs.evolve(entry, state=EntryState.FAILED, reason=REVERSED_WHY[state])
        )
    )
