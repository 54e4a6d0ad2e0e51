"""Region policy packs: the rules of a region and year as versioned data, not code."""

from __future__ import annotations

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


__all__ = [
    "Catalogue",
    "FundRule",
    "MutualAid",
    "Plausibility",
    "PolicyPack",
    "PolicyRegistry",
    "Premium",
    "Use",
    "get_policy",
    "policies",
]
