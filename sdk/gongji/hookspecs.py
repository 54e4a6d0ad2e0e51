"""The hooks of gongji (pluggy project and entry-point group ``gongji``).

Hooks decide; they do no I/O. Every hook here is documented in
docs/reference/hooks.md, and a test fails when one is not.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from gongji.gateways.registry import RegisterAdapter
    from gongji.model import Refusal, RuleWarning
    from gongji.policy.loader import PackSource
    from gongji.policy.pack import PolicyPack
    from gongji.rules.context import CheckContext
    from gongji.rules.planner import PayerCandidate

NAME = "gongji"

hookspec = pluggy.HookspecMarker(NAME)
hookimpl = pluggy.HookimplMarker(NAME)


@hookspec
def gongji_register_adapters(register: RegisterAdapter) -> None:
    """Register gateway and payment-channel factories by name.

    Call ``register(name, factory, kind=..., capabilities=...)`` once per adapter; the
    factory is called with the adapter's settings and the configuration file's folder.
    Collected from every plugin.
    """


@hookspec
def gongji_register_profiles(register: Callable[..., None]) -> None:
    """Register profiles that need no configuration file: ``register(name, factory)``.

    ``factory(**options)`` gets what ``from_profile(name, mock=..., url=..., till=...)``
    was given (only the options given) and returns the client's constructor arguments
    (``gateway``, ``channels``, ``transport``, ``journal``, ...). Collected from every plugin.
    """


@hookspec
def gongji_register_commands(register: Callable[..., None]) -> None:
    """Register command groups of the ``gongji`` command: ``register(name, add=..., run=...)``.

    ``add(commands)`` adds the parser ``name`` (and its subcommands) to the ``gongji``
    command's subparsers; ``run(args, client_options)`` runs it and returns the exit
    code. Keep the module that holds ``add`` light: ``gongji --help`` imports it.
    """


@hookspec
def gongji_register_policies(register: Callable[[PackSource | PolicyPack], None]) -> None:
    """Register region policy packs: ``register(path_or_resource)`` or ``register(PolicyPack)``."""


@hookspec
def gongji_check(context: CheckContext) -> Sequence[Refusal | RuleWarning] | None:
    """Check a purchase against one rule; return the refusals and warnings, or None.

    Every implementation runs. A ``RuleWarning`` refuses nothing: the cashier sees it
    and the receipt keeps it. A refusal with ``rule == "R1"`` stops the purchase
    (``OwnCardViolation``); any other refusal names the account (``owner_id``) that
    will not pay, and the payer chain goes on without it.
    """


@hookspec(firstresult=True)
def gongji_order_payers(
    candidates: Sequence[PayerCandidate], context: CheckContext
) -> Sequence[PayerCandidate] | None:
    """Order the mutual-aid accounts that may pay, first drawn first; None to pass.

    The built-in implementation (``trylast``) orders by the owner-set priority.
    Returning anything but a permutation of ``candidates`` is refused.
    """


@hookspec
def gongji_settlement_event(event: Any) -> None:
    """Observe a settlement event (audit log, metrics, receipt printers). Return values are ignored."""
