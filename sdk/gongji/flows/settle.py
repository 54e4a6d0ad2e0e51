"""Preview and settle, written once.

The saga: resolve the credential (1101) -> R1 -> bindings -> pre-settle (2101) ->
R2-R9 and the plan -> journal -> settle at the centre (2102) -> collect the cash
share the *centre* computed through the channel -> receipt. Every write's ids are
journaled before it is sent. A write whose answer is lost is never blindly sent
again: the centre's is reversed (2601), the channel's is queried first and repeated
with the same ``out_trade_no`` only when the channel never saw it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

import attrs
import httpx
from attrs import frozen

from gongji.basket import Basket, split
from gongji.errors import (
    Declined,
    GatewayError,
    GongjiError,
    InvalidInput,
    OutcomeUnknown,
    SettlementTaken,
    Unavailable,
    UntrustedAnswer,
)
from gongji.flows.chronic import chronic_gateway, disease_for
from gongji.flows.premium import refuse_premium_as_sale
from gongji.flows.recover import resolve
from gongji.flows.risk import Refused, journal_refusal, screen
from gongji.flows.setup import SettlementEvent, Setup
from gongji.flows.steps import (
    MSGID_REFUSED,
    MSGID_RENEWALS,
    SETTLE_INFNO,
    cancel_at_centre,
    check_key,
    check_paid_amount,
    holding,
    in_doubt,
    load,
    new_msgid,
    query,
    read,
    record,
    record_settled,
    resolve_holder,
    reverse_at_centre,
    sale_uploads,
    send_uploads,
    settle_pending,
)
from gongji.gateways import (
    Capability,
    CashOrder,
    CentreSettlement,
    ChannelPayment,
    Holder,
    PaymentChannel,
    PaymentState,
    RiskStage,
    SettlementRequest,
)
from gongji.gateways.exchange import Flow
from gongji.identity import scrub_ids as scrub
from gongji.journal import Entry, EntryState
from gongji.model import Cash, Leg, Purchase, Receipt, Setting
from gongji.money import ZERO, Fen
from gongji.rules.assess import assess
from gongji.rules.context import CheckContext
from gongji.rules.quote import Quote
from gongji.traceability import check_codes


@frozen
class Prepared:
    """A purchase made ready: who the patient is, what the centre is asked, the local plan."""

    holder: Holder
    request: SettlementRequest
    quote: Quote  # the local plan, on the centre's fund share
    pre: CentreSettlement  # the centre's own pre-settlement (2101 / 2206)
    basket: Basket


def prepare(setup: Setup, purchase: Purchase, *, refused: Refused | None = None) -> Flow[Prepared]:
    """Everything up to the plan; nothing is charged. ``refused``: what a sale does when
    the centre's rule check refuses it (``gongji.flows.risk``)."""
    gateway = setup.gateway
    refuse_premium_as_sale(purchase)
    purchase = _visit_checked(purchase)
    today = setup.today()
    policy = setup.policy_on(today)
    basket = split(purchase, policy)  # refused before anything is sent, like missing codes
    check_codes(basket.insured, purchase.setting, policy, today)
    if purchase.chronic_disease:
        chronic_gateway(setup)  # an adapter without chronic diseases: refused, nothing sent
    credential, holder = yield from resolve_holder(setup, purchase.credential)
    context = CheckContext(
        purchase=purchase, holder=holder.person, policy=setup.policy_on(today), today=today
    )
    # R1 (and anything else that refuses the whole purchase) before another question is asked.
    assess(context, setup.plugins)
    disease = None
    if purchase.chronic_disease:  # 5301 only for the sale that asks: never for an ordinary one
        disease = yield from disease_for(setup, holder, purchase.chronic_disease, today)
    if Capability.BINDINGS in gateway.capabilities:
        bindings, owners = yield from read(
            setup, "Reading the mutual-aid bindings", lambda: gateway.bindings(holder)
        )
        context = attrs.evolve(context, bindings=bindings, owners=owners)
    request = SettlementRequest(
        psn_no=holder.psn_no,
        patient=holder.person,
        credential=credential,
        items=basket.insured,  # the cash part never reaches the centre
        purpose=purchase.purpose,
        setting=purchase.setting,
        agent_id=purchase.agent_id,
        visit_id=purchase.visit.visit_id if purchase.visit is not None else "",
        use_mutual_aid=purchase.use_mutual_aid,
        charge_batch=purchase.visit.batch if purchase.visit is not None else "",
        disease=disease,
    )
    checked = yield from screen(setup, RiskStage.PRE_EVENT, request, refused=refused)
    pre = yield from read(setup, "The pre-settlement", lambda: gateway.pre_settle(request))
    if pre.total != basket.insured_total:
        raise InvalidInput(
            f"The centre priced the purchase at {pre.total}, the till at {basket.insured_total}.",
            next_step="Check the line prices (a resident premium is priced by the centre); nothing was charged.",
        )
    checked += yield from screen(setup, RiskStage.IN_EVENT, request, pre, refused=refused)
    quote = attrs.evolve(
        assess(attrs.evolve(context, fund=pre.fund), setup.plugins), disease=disease
    )
    if checked:  # the centre's findings are shown with the rules' warnings
        quote = attrs.evolve(quote, warnings=(*quote.warnings, *checked))
    return Prepared(holder=holder, request=request, quote=quote, pre=pre, basket=basket)


def _visit_checked(purchase: Purchase) -> Purchase:
    """An outpatient purchase settles a registered visit, and its patient is the visit's."""
    if purchase.setting is Setting.OUTPATIENT and purchase.visit is None:
        raise InvalidInput(
            "An outpatient settlement settles a registered visit, and this purchase has none.",
            next_step="Register the visit with client.register_visit(...), diagnose it with "
            "client.diagnose(...), upload its fees with client.upload_fees(...), then settle "
            "gongji.Purchase.for_visit(visit, credential); nothing was sent.",
        )
    if purchase.visit is not None and not purchase.visit.batch:
        raise InvalidInput(
            f"Visit {purchase.visit.visit_id} names no charge batch (chrg_bchno), so the "
            "centre cannot tell which uploaded lines to settle.",
            next_step="Settle the Visit client.upload_fees(...) returned, or keep its batch "
            "with its other fields; nothing was sent.",
        )
    if purchase.visit is not None and purchase.patient_id is None:
        # The visit names its patient: a credential that is not his is then R1.
        return attrs.evolve(purchase, patient_id=purchase.visit.patient_id)
    return purchase


def preview(setup: Setup, purchase: Purchase) -> Flow[Quote]:
    """The centre's pre-settlement split (2101 / 2206), explained by the local plan: the
    amounts are the centre's; the refusals, warnings and cash-only lines are the plan's,
    and ``Quote.plan`` is the whole plan."""
    prepared = yield from prepare(setup, purchase)
    return centre_quote(prepared.pre, prepared.quote, prepared.basket.cash_part_total)


def centre_quote(pre: CentreSettlement, plan: Quote, cash_part: Fen = ZERO) -> Quote:
    """The centre's split as a quote, with the local plan as its explanation, and the
    cash part (goods no insurance pays, never sent to the centre) in the total and cash."""
    try:
        return Quote(
            total=pre.total + cash_part,
            fund=pre.fund,
            legs=centre_legs(pre, plan),
            cash=pre.cash + cash_part,
            refusals=plan.refusals,
            cash_only=plan.cash_only,
            warnings=plan.warnings,
            plan=plan,
            disease=plan.disease,
        )
    except InvalidInput as error:
        raise UntrustedAnswer(
            f"The centre's pre-settlement does not add up: {error.message}",
            next_step="Nothing was charged; report the answer to the centre.",
        ) from error


def settle(setup: Setup, purchase: Purchase, key: str, cash: Cash) -> Flow[Receipt]:
    check_key(key)
    refuse_premium_as_sale(purchase)
    if purchase.total <= 0:
        raise InvalidInput(
            "The purchase costs nothing: there is nothing to settle with the centre.",
            next_step="Check the line prices; hand over free goods without a settlement. "
            "Nothing was sent.",
        )
    # While this flow runs, no other flow (a second settle, recover()) may touch the key.
    held, receipt = yield from holding(
        setup, key, lambda: _settle_owned(setup, purchase, key, cash)
    )
    if not held or receipt is None:
        raise InvalidInput(
            f"The sale with key {key!r} is being settled right now.",
            next_step="Wait for that call to end; then settling again with the key returns its receipt.",
        )
    return receipt


def _settle_owned(setup: Setup, purchase: Purchase, key: str, cash: Cash) -> Flow[Receipt]:
    fingerprint = setup.fingerprint(purchase)
    attempt = 1
    found = yield from load(setup, key)
    if found is not None:
        if found.fingerprint != fingerprint:
            raise InvalidInput(
                f"The key {key!r} was used for a different purchase.",
                next_step="Use a new key for a new sale; nothing was charged.",
            )
        voucher = setup.voucher(purchase.credential)
        if voucher and voucher != found.voucher:
            # The fingerprint leaves the (changing) token out: a new token must be the same
            # patient's. The sale's own token is spent at the centre: no look-up for it.
            _, holder = yield from resolve_holder(setup, purchase.credential)
            if holder.psn_no != found.psn_no:
                raise InvalidInput(
                    f"The key {key!r} was used for another patient's purchase.",
                    next_step="Use a new key for a new sale; nothing was charged.",
                )
        if found.state.in_doubt:
            found = yield from resolve(setup, found)
        if found.state is EntryState.SETTLED and found.receipt is not None:
            return found.receipt
        if found.state is EntryState.NEEDS_ATTENTION:
            raise InvalidInput(
                f"The sale with key {key!r} needs a person: {scrub(found.reason)}",
                next_step="Settle it as docs/how-to/recover-after-a-crash.md says, then use a "
                "new key for a new sale.",
            )
        if found.state is not EntryState.FAILED:
            raise InvalidInput(
                f"The sale with key {key!r} was {found.state.value}.",
                next_step="Use a new key for a new sale.",
            )
        attempt = found.attempt + 1  # the earlier attempt charged nothing: go again
    channel = None if cash.kind == "counter" else setup.channel(cash.kind)  # before any I/O
    refused = journal_refusal(setup, key, fingerprint, attempt, purchase, cash.kind)
    prepared = yield from prepare(setup, purchase, refused=refused)
    entry = Entry(
        key=key,
        fingerprint=fingerprint,
        state=EntryState.CENTRE_PENDING,
        attempt=attempt,
        setting=purchase.setting,
        purpose=purchase.purpose,
        psn_no=prepared.holder.psn_no,
        msgid="",
        cash_kind=cash.kind,
        updated_at=setup.clock(),
        voucher=setup.voucher(purchase.credential),
        insured_in=prepared.holder.person.insurance.region,
    )
    settlement = receipt = None
    for renewal in range(MSGID_RENEWALS + 1):
        # The msgid is the journal's, and the order number derives from it: each is this
        # attempt's alone, whatever key any till or journal used.
        msgid = yield from new_msgid(setup, key, SETTLE_INFNO[entry.setting], durable=False)
        entry = yield from record(
            setup,
            attrs.evolve(
                entry,
                msgid=msgid,
                out_trade_no=_out_trade_no(setup, msgid) if channel is not None else "",
            ),
        )
        # From here on money may move: every way out is a receipt, a definitive refusal with
        # nothing charged, ``needs_attention``, or OutcomeUnknown with the entry left for recover().
        try:
            settlement = yield from setup.gateway.settle(prepared.request, entry.msgid)
            _check_answer_is_for(settlement, prepared.request)
            receipt = _receipt(entry, settlement, prepared, purchase)
            break
        except Declined as refused:
            if refused.code == MSGID_REFUSED and renewal < MSGID_RENEWALS:
                continue  # refused unprocessed, for its msgid alone: again under a new one
            yield from record(
                setup, attrs.evolve(entry, state=EntryState.FAILED, reason=refused.message[:200])
            )
            setup.announce(SettlementEvent("failed", key, detail=refused.message[:200]))
            raise
        except Exception as error:  # a lost, unreadable or untrusted answer: undo, never resend
            raise (yield from _undone(setup, entry, error)) from error
    assert settlement is not None
    assert receipt is not None
    # The packs sold are told to the centre after the money moved, journaled with it.
    uploads = yield from sale_uploads(setup, prepared.request, settlement, key)
    pending = entry
    collecting = channel is not None and receipt.cash > 0
    entry = attrs.evolve(entry, settlement=settlement, receipt=receipt, uploads=uploads)
    try:
        if not collecting:
            # Nothing to collect: the settled sale is written at once, durably (a counter
            # sale's cash is already in the till, so recovery must never undo it).
            entry = yield from record_settled(setup, entry, receipt, durable=True)
        else:
            # The cash share's out_trade_no and the receipt, durably before the charge.
            entry = yield from record(setup, attrs.evolve(entry, state=EntryState.CASH_PENDING))
    except SettlementTaken as replayed:  # the journal gives a settlement to one sale only
        raise (yield from _undone(setup, pending, replayed)) from replayed
    if not collecting:
        yield from send_uploads(setup, entry)
        return receipt
    assert channel is not None
    # One payment for the centre's cash share and the cash part together.
    order = CashOrder(
        out_trade_no=entry.out_trade_no, amount=receipt.cash, auth_code=cash.auth_code
    )
    try:
        payment = yield from collect(setup, channel, order)
    except Exception as error:
        raise in_doubt(
            setup, entry, f"the {channel.name} payment could not be confirmed"
        ) from error
    if payment.state is not PaymentState.PAID:
        entry = yield from cancel_at_centre(setup, entry, payment.reason or payment.state.value)
        if entry.state is EntryState.NEEDS_ATTENTION:
            raise Declined(
                f"The {channel.name} payment of {settlement.cash} was not made, and the "
                f"insurance settlement could not be cancelled: {scrub(entry.reason)}",
                next_step="The sale needs a person (gongji journal list --attention).",
                gateway=channel.name,
            )
        raise Declined(
            f"The {channel.name} payment of {receipt.cash} was not made "
            f"({payment.reason or payment.state.value}); the insurance settlement was cancelled "
            "and nothing was charged.",
            next_step="Ask for a new payment code, or take the cash at the till, and settle again with the same key.",
            gateway=channel.name,
        )
    receipt = attrs.evolve(receipt, transaction_id=payment.transaction_id)
    # Not fsynced: lost with the power, the entry is cash_pending again and recovery finds
    # the payment made.
    entry = yield from record_settled(setup, entry, receipt, durable=False)
    yield from send_uploads(setup, entry)
    return receipt


def collect(setup: Setup, channel: PaymentChannel, order: CashOrder) -> Flow[ChannelPayment]:
    """Charge the payment code; whatever happens, end with PAID or with nothing charged."""
    # A definitive refusal (insufficient funds, an expired code) is a FAILED payment, not an
    # exception: whatever a charge raises, its outcome is unknown, and the channel is asked.
    try:
        payment = yield from channel.charge(order)
    except (httpx.HTTPError, GatewayError):
        payment = yield from query(setup, channel, order.out_trade_no)
        if payment.state is PaymentState.NOT_FOUND:
            # The channel never saw it: the same out_trade_no may go again, once.
            try:
                payment = yield from channel.charge(order)
            except (httpx.HTTPError, GatewayError):
                payment = yield from query(setup, channel, order.out_trade_no)
    payment = yield from settle_pending(setup, channel, payment)
    check_paid_amount(payment, order.amount)
    return payment


# ---------------------------------------------------------------- the receipt


def _receipt(
    entry: Entry, settlement: CentreSettlement, prepared: Prepared, purchase: Purchase
) -> Receipt:
    """The receipt as the centre settled it, with the cash part beside it: made (and
    checked) before any cash is asked for."""
    plan, basket = prepared.quote, prepared.basket
    if settlement.total != basket.insured_total:
        raise UntrustedAnswer(
            f"The centre settled {settlement.total} for a purchase of {basket.insured_total}."
        )
    legs = centre_legs(settlement, plan)
    cash_part = basket.cash_part_total
    return Receipt(
        settlement_id=settlement.setl_id,
        key=entry.key,
        total=settlement.total + cash_part,
        fund=settlement.fund,
        legs=legs,
        cash=settlement.cash + cash_part,
        cash_part=cash_part,
        refusals=plan.refusals,
        warnings=plan.warnings,
        agent_id=purchase.agent_id,
        divergence=_divergence(plan, settlement, legs, cash_part),
        purpose=entry.purpose,
        cash_channel=entry.cash_kind if settlement.cash + cash_part > 0 else "",
        disease=prepared.request.disease,
    )


def _check_answer_is_for(settlement: CentreSettlement, request: SettlementRequest) -> None:
    """The national envelope's answers carry no signature of their own: an answer to
    another message, replayed in place of this one's, is refused. Here when it names
    another patient; when it names a settlement another sale holds, by the journal, in
    the write that would give it to this sale (``SettlementTaken``). Either way the
    sale's settlement is reversed by its own msgid, which the journal gave no other
    message: what the centre did under it is this sale's, never the sale the answer names."""
    if settlement.patient_id is not None and settlement.patient_id != request.patient.id:
        raise UntrustedAnswer(
            f"The centre's settlement answer names patient {settlement.patient_id.masked}, "
            f"not {request.patient.id.masked}: an answer to another message."
        )


def _undone(setup: Setup, entry: Entry, error: Exception) -> Flow[GongjiError]:
    """Reverse a settlement whose answer was lost or not trusted (by the sale's own
    msgid; ``entry`` as journaled before it was sent): what the caller is then told."""
    ended = yield from reverse_at_centre(setup, entry)
    if ended.state is EntryState.NEEDS_ATTENTION:
        return OutcomeUnknown(
            f"The centre's answer to the settlement was lost, and it could not be "
            f"reversed: {scrub(ended.reason)}",
            key=entry.key,
            next_step="The sale needs a person (gongji journal list --attention); "
            "do not settle it again with this key.",
        )
    return Unavailable(
        f"The centre's answer to the settlement was lost or not trusted ({type(error).__name__}); "
        "it was reversed, and nothing was charged.",
        next_step="Settle again with the same key.",
        gateway=setup.gateway.name,
    )


def centre_legs(settlement: CentreSettlement, plan: Quote | None = None) -> tuple[Leg, ...]:
    """The accounts' legs as the centre settled them: the patient's own, then mutual aid.

    A real centre reports mutual aid as one amount without owners (``acct_mulaid_pay``):
    it becomes one leg whose owner is not reported, unless the local ``plan`` (bindings
    known outside the interface) drew the same amount from relatives: then the plan's
    attribution is shown, each leg labelled as the plan's (``named_by="plan"``).
    """
    legs = []
    if settlement.own_account > 0:
        if settlement.patient_id is None:
            raise UntrustedAnswer(
                "The centre charged the patient's account without naming the patient."
            )
        legs.append(
            Leg(source="own_account", payer_id=settlement.patient_id, amount=settlement.own_account)
        )
    named = [share for share in settlement.mutual_aid if share.amount > 0]
    if any(share.owner_id is None for share in named):
        planned = [leg for leg in plan.legs if leg.source == "mutual_aid"] if plan else []
        if planned and sum((leg.amount for leg in planned), ZERO) == settlement.mutual_aid_total:
            legs.extend(attrs.evolve(leg, named_by="plan") for leg in planned)
        else:
            legs.append(Leg(source="mutual_aid", payer_id=None, amount=settlement.mutual_aid_total))
        return tuple(legs)
    legs.extend(
        Leg(
            source="mutual_aid",
            payer_id=share.owner_id,
            amount=share.amount,
            relation=share.relation,
        )
        for share in named
    )
    return tuple(legs)


def _divergence(
    plan: Quote, settlement: CentreSettlement, legs: tuple[Leg, ...], cash_part: Fen
) -> tuple[str, ...]:
    """How the centre's split differs from the local plan, line by line (masked IDs only).

    Where the centre named no owner, mutual aid is compared as one amount."""
    found: list[str] = []

    def differ(what: str, planned: Fen, settled: Fen) -> None:
        if planned != settled:
            found.append(f"{what}: planned {planned.to_yuan()}, centre {settled.to_yuan()}")

    differ("fund", plan.fund, settlement.fund)
    plan_legs = plan.legs
    if any(leg.payer_id is None for leg in legs):
        plan_legs = tuple(
            attrs.evolve(leg, payer_id=None, relation=None) if leg.source == "mutual_aid" else leg
            for leg in plan_legs
        )
    planned = _by_payer(plan_legs)
    settled = _by_payer(legs)
    for payer in sorted(set(planned) | set(settled), key=_payer_order):
        source, owner = payer
        who = owner.masked if owner is not None else "owners not reported by the centre"
        differ(
            f"{source.replace('_', ' ')} of {who}",
            planned.get(payer, ZERO),
            settled.get(payer, ZERO),
        )
    differ("cash", plan.cash, settlement.cash + cash_part)
    return tuple(found)


def _payer_order(payer: tuple[str, Any]) -> tuple[str, str]:
    source, owner = payer
    return source, owner.masked if owner is not None else ""


def _by_payer(legs: tuple[Leg, ...]) -> dict[tuple[str, Any], Fen]:
    totals: dict[tuple[str, Any], Fen] = {}
    for leg in legs:
        totals[(leg.source, leg.payer_id)] = (
            totals.get((leg.source, leg.payer_id), ZERO) + leg.amount
        )
    return totals


def _out_trade_no(setup: Setup, msgid: str) -> str:
    return order_number(setup.journal.salt, msgid)


def order_number(salt: bytes, msgid: str) -> str:
    """The channel's order number (``out_trade_no``) for the attempt settled under ``msgid``:
    a digest of the msgid keyed by the journal's ``salt``. The journal gave the msgid to no
    other message, another journal's salt gives another number for an equal msgid (two
    tills, each with its own file), and no idempotency key, however crafted, takes part.
    27 characters, in every channel's alphabet."""
    digest = hmac.new(salt, b"out_trade_no\x1f" + msgid.encode(), hashlib.sha256).digest()
    return "G" + base64.b32encode(digest).decode("ascii")[:26]
