"""Assessing a purchase: rules R1-R8 through ``gongji_check``, then the payer chain R9.

Pure: given what the gateways said (who the credential belongs to, the bindings,
the balances, the fund's share), it decides who pays what and why not. The flows
call it between I/O steps; the mock gateway calls it as the centre's authority.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NoReturn

import attrs
import pluggy

from gongji.errors import (
    ConfigError,
    EligibilityError,
    GongjiError,
    KinshipViolation,
    LimitExceeded,
    OwnCardViolation,
    RegionViolation,
    UseViolation,
)
from gongji.model import Refusal, RuleWarning
from gongji.money import Fen
from gongji.rules.context import CheckContext
from gongji.rules.planner import PayerCandidate, plan_payer_chain
from gongji.rules.quote import Quote

__all__ = ["assess", "raise_refusal"]


_RAISES: dict[str, type[EligibilityError]] = {
    "R1": OwnCardViolation,
    "R2": KinshipViolation,
    "R3": KinshipViolation,
    "R4": KinshipViolation,
    "R5": KinshipViolation,
    "R6": UseViolation,
    "R7": RegionViolation,
    "R8": LimitExceeded,
}


def assess(context: CheckContext, plugins: pluggy.PluginManager | None = None) -> Quote:
    """Run the rules and the payer chain; return the quote or raise for a refused purchase.

    A refusal without ``owner_id`` refuses the purchase as a whole (R1 impersonation
    above all) and is raised; a refusal of one account removes that account from the
    chain, and the next one, or cash, takes its share.
    """
    if plugins is None:
        from gongji.plugins import get_plugin_manager

        plugins = get_plugin_manager()
    if context.fund < 0 or context.fund > context.purchase.total:
        raise ConfigError(
            f"The fund share {context.fund} is outside 0..{context.purchase.total}.",
            next_step="The gateway's pre-settlement is inconsistent; do not settle, and report it.",
        )
    if not context.purchase.use_mutual_aid and context.bindings:
        # The patient did not ask for mutual aid (seed 002 l.19): no relative's account is
        # drawn, and none is judged either, so no refusal speaks of a binding not asked for.
        context = attrs.evolve(context, bindings=(), owners={})
    findings = _collect_findings(context, plugins)
    refusals = tuple(found for found in findings if isinstance(found, Refusal))
    warnings = tuple(found for found in findings if isinstance(found, RuleWarning))
    for refusal in refusals:
        if refusal.owner_id is None:
            raise_refusal(refusal)

    refused = {refusal.owner_id for refusal in refusals}
    patient = context.patient
    own_account = None if patient.id in refused else patient.account
    candidates = [
        PayerCandidate(binding=binding, owner=context.owners[binding.owner])
        for binding in context.bindings
        if binding.owner not in refused and binding.owner in context.owners
    ]
    ordered = _order(candidates, context, plugins)
    legs = plan_payer_chain(context.account_payable, patient.id, own_account, ordered)
    total = context.purchase.total
    return Quote(
        total=total,
        fund=context.fund,
        legs=legs,
        cash=total - context.fund - sum((leg.amount for leg in legs), Fen(0)),
        refusals=refusals,
        cash_only=context.cash_only,
        warnings=warnings,
    )


def raise_refusal(refusal: Refusal) -> NoReturn:
    """Raise ``refusal`` as the error of its rule (R1 ``OwnCardViolation``, R6 ``UseViolation``...)."""
    raise _RAISES.get(refusal.rule, EligibilityError)(
        refusal.reason, rule=refusal.rule, reason_zh=refusal.reason_zh
    )


def _collect_findings(
    context: CheckContext, plugins: pluggy.PluginManager
) -> tuple[Refusal | RuleWarning, ...]:
    try:
        results = plugins.hook.gongji_check(context=context)
    except GongjiError:
        raise
    except Exception as exc:
        # A broken plugin must fail the purchase safely, before anything is charged.
        raise ConfigError(
            f"A gongji plugin failed while checking the purchase ({type(exc).__name__}); nothing was charged.",
            next_step="Fix or disable the plugin (GONGJI_DISABLE_PLUGINS=name) and try again.",
        ) from exc
    return tuple(found for result in reversed(results) if result for found in result)


def _order(
    candidates: Sequence[PayerCandidate], context: CheckContext, plugins: pluggy.PluginManager
) -> Sequence[PayerCandidate]:
    try:
        ordered: Sequence[PayerCandidate] | None = plugins.hook.gongji_order_payers(
            candidates=tuple(candidates), context=context
        )
    except GongjiError:
        raise
    except Exception as exc:
        raise ConfigError(
            f"A gongji plugin failed while ordering the payers ({type(exc).__name__}); nothing was charged.",
            next_step="Fix or disable the plugin (GONGJI_DISABLE_PLUGINS=name) and try again.",
        ) from exc
    if ordered is None or sorted(map(id, ordered)) != sorted(map(id, candidates)):
        # An ordering plugin may reorder, never add a payer or drop one.
        raise ConfigError(
            "A gongji_order_payers plugin returned something other than a reordering of the candidates.",
            next_step="Return the same candidates in a new order, or None to leave the decision to others.",
        )
    return ordered
