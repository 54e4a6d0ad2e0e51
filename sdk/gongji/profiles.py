"""Profiles that need no configuration file, contributed by plugins.

A plugin registers a profile through ``gongji_register_profiles``: a name and a
factory that turns the profile's options (``mock=``, ``url=``, ``till=``: whatever
it documents) into the client's constructor arguments. ``gongji_mock`` registers
``mock`` this way, so the core never names the mock (DESIGN.md: an arrow only
points down). Profiles read from a ``gongji.toml`` are ``gongji.config``'s.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from attrs import frozen

from gongji.errors import ConfigError

if TYPE_CHECKING:
    import pluggy

__all__ = ["Profile", "ProfileFactory", "ProfileRegistry", "profile_registry"]

#: The profile's options in (keywords), the client's constructor arguments out.
ProfileFactory = Callable[..., Mapping[str, Any]]


@frozen
class Profile:
    name: str
    factory: ProfileFactory
    #: The plugin that registered it (``gongji plugins`` shows it).
    origin: str = ""

    def arguments(self, options: Mapping[str, Any]) -> dict[str, Any]:
        """The constructor arguments for ``options``; an option the profile does not
        take is a ``ConfigError``, not a ``TypeError`` from deep inside."""
        try:
            return dict(self.factory(**options))
        except TypeError as error:
            if "unexpected keyword argument" not in str(error):
                raise
            raise ConfigError(
                f"The profile {self.name!r} does not take "
                f"{', '.join(f'{name}=' for name in sorted(options))}.",
                next_step=f"See the documentation of the plugin {self.origin or 'that registers it'} "
                "for the options it takes.",
            ) from None


class ProfileRegistry:
    """Profiles by name, filled through ``gongji_register_profiles``."""

    def __init__(self) -> None:
        self._profiles: dict[str, Profile] = {}

    def register(self, name: str, factory: ProfileFactory, *, origin: str = "") -> None:
        if name in self._profiles:
            raise ConfigError(
                f"Two plugins register the profile {name!r} "
                f"({self._profiles[name].origin or 'built in'} and {origin or 'built in'}).",
                next_step="Uninstall one of them or block it with GONGJI_DISABLE_PLUGINS.",
            )
        self._profiles[name] = Profile(name=name, factory=factory, origin=origin)

    def get(self, name: str) -> Profile:
        found = self._profiles.get(name)
        if found is None:
            known = ", ".join(sorted(self._profiles))
            raise ConfigError(
                f"The profile {name!r} needs a configuration file.",
                next_step="Use SettlementClient.from_config('gongji.toml', profile=...)"
                + (f", or one of the profiles plugins give: {known}." if known else "."),
            )
        return found

    def __iter__(self) -> Iterator[Profile]:
        return iter(sorted(self._profiles.values(), key=lambda p: p.name))


def profile_registry(plugins: pluggy.PluginManager | None = None) -> ProfileRegistry:
    """Every profile registered through ``gongji_register_profiles``, with its plugin."""
    from gongji.plugins import get_plugin_manager

    registry = ProfileRegistry()
    for impl in (plugins or get_plugin_manager()).hook.gongji_register_profiles.get_hookimpls():
        impl.function(register=functools.partial(registry.register, origin=impl.plugin_name))
    return registry
