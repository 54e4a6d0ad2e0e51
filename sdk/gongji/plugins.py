"""The plugin manager: built-in plugins registered like any other, then entry points.

``GONGJI_DISABLE_PLUGINS`` (comma-separated names) blocks plugins by name,
built-in rules included, for an operator who must switch one off.
"""

from __future__ import annotations

import functools
import importlib
import os
from collections.abc import Iterable
from typing import TYPE_CHECKING

import pluggy

import gongji.hookspecs as hookspecs
from gongji.hookspecs import NAME, hookimpl

if TYPE_CHECKING:
    from gongji.gateways.registry import AdapterRegistry

__all__ = [
    "DEFAULT_PLUGINS",
    "NAME",
    "adapter_registry",
    "get_plugin_manager",
    "hookimpl",
    "make_plugin_manager",
]

#: Modules whose ``PLUGINS`` (name -> object) or module object are registered first.
DEFAULT_PLUGINS: tuple[str, ...] = (
    "gongji.rules.own_card",
    "gongji.rules.kinship",
    "gongji.rules.use",
    "gongji.rules.region",
    "gongji.rules.limits",
    "gongji.rules.chain",
    "gongji.rules.priority",
    "gongji.policy.builtin",
)


def _disabled_names() -> set[str]:
    return {n.strip() for n in os.environ.get("GONGJI_DISABLE_PLUGINS", "").split(",") if n.strip()}


def make_plugin_manager(
    *,
    load_entry_points: bool = True,
    disabled: Iterable[str] | None = None,
    built_in: bool = True,
) -> pluggy.PluginManager:
    """A fresh plugin manager with the built-in plugins and, by default, installed ones.
    ``built_in=False`` leaves the built-in rules out: what the command line needs to
    find the plugins' commands, without importing the rule engine."""
    pm = pluggy.PluginManager(NAME)
    pm.add_hookspecs(hookspecs)
    for name in _disabled_names() if disabled is None else set(disabled):
        pm.set_blocked(name)
    for module_name in DEFAULT_PLUGINS if built_in else ():
        module = importlib.import_module(module_name)
        named = getattr(module, "PLUGINS", None)
        if named is None:
            pm.register(module, name=module_name)
            continue
        for name, plugin in named.items():
            pm.register(plugin, name=name)
    if load_entry_points:
        pm.load_setuptools_entrypoints(NAME)
    pm.check_pending()
    return pm


@functools.cache
def get_plugin_manager() -> pluggy.PluginManager:
    """The process-wide plugin manager (built once; tests make their own)."""
    return make_plugin_manager()


def adapter_registry(plugins: pluggy.PluginManager | None = None) -> AdapterRegistry:
    """Every adapter registered through ``gongji_register_adapters``, with the plugin it came from."""
    from gongji.gateways.registry import AdapterRegistry

    registry = AdapterRegistry()
    for impl in (plugins or get_plugin_manager()).hook.gongji_register_adapters.get_hookimpls():
        # Each plugin's hook is called with its own ``register``, which records the
        # plugin's name: `gongji plugins` lists an adapter under the plugin it came from.
        impl.function(register=registry.registrar(impl.plugin_name))
    return registry
