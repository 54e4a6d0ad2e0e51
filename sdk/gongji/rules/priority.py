"""The built-in payer order (R9): the owner-set priority (顺位), as a ``trylast`` plugin.

Kept apart from ``gongji.rules.planner``: the hooks' contract (``gongji.hookspecs``)
names the planner's ``PayerCandidate``, so the planner must not import the hooks back.
``trylast``, so a region's own ``gongji_order_payers`` is asked first.
"""

from __future__ import annotations

from collections.abc import Sequence

from gongji.hookspecs import hookimpl
from gongji.rules.planner import PayerCandidate


@hookimpl(trylast=True)
def gongji_order_payers(candidates: Sequence[PayerCandidate]) -> list[PayerCandidate]:
    """The built-in order: the owner-set priority (顺位), ties broken by owner for determinism."""
    return sorted(candidates, key=lambda c: (c.binding.priority, c.binding.owner.number))
