"""Region policy packs: the rules of a region and year as versioned data, not code."""

from __future__ import annotations

import datetime
import functools
from typing import TYPE_CHECKING

from gongji.policy.pack import (
    Catalogue,
    FundRule,
    MutualAid,
    Plausibility,
    PolicyPack,
    Premium,
    Use,
    Widening,
)
from gongji.policy.registry import PolicyRegistry

if TYPE_CHECKING:
    import pluggy


def policies(plugins: pluggy.PluginManager | None = None) -> PolicyRegistry:
    """The packs registered through ``gongji_register_policies`` (cached for the default plugins)."""
    if plugins is None:
        return _default_policies()
    registry = PolicyRegistry()
    plugins.hook.gongji_register_policies(register=registry.register)
    return registry


@functools.cache
def _default_policies() -> PolicyRegistry:
    from gongji.plugins import get_plugin_manager

    return policies(get_plugin_manager())


def get_policy(pack_id: str) -> PolicyPack:
    """A registered pack by id, e.g. ``get_policy("liaoning-dalian-2025")``."""
    return policies().get(pack_id)


#: Beijing time, in which every sale is dated (no daylight saving since 1991).
BEIJING = datetime.timezone(datetime.timedelta(hours=8), "Asia/Shanghai")


def beijing_date(moment: datetime.datetime) -> datetime.date:
    """The Beijing calendar day of ``moment`` (a naive moment is taken as the machine's time)."""
    return moment.astimezone(BEIJING).date()


def policy_on(pack: PolicyPack, day: datetime.date) -> PolicyPack:
    """The pack of ``pack``'s line in force on ``day``, the sale's Beijing date.

    A pack that is not registered (made in code, or read from a file) is a line of its
    own: it is used as it is.
    """
    registry = policies()
    if pack.id not in registry.ids() or registry.get(pack.id) != pack:
        return pack
    return registry.in_force(pack.id, day)


__all__ = [
    "BEIJING",
    "Catalogue",
    "FundRule",
    "MutualAid",
    "Plausibility",
    "PolicyPack",
    "PolicyRegistry",
    "Premium",
    "Use",
    "Widening",
    "beijing_date",
    "get_policy",
    "policies",
    "policy_on",
]
