"""Command groups that plugins add to ``gongji`` through ``gongji_register_commands``.

``gongji_mock`` adds ``gongji demo`` and ``gongji mock serve`` this way, so the core's
command line never names the mock. A plugin's group is added after the core's own
commands; a name already taken is refused, naming both.
"""

from __future__ import annotations

import argparse
import functools
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from attrs import frozen

from gongji.errors import ConfigError

if TYPE_CHECKING:
    import pluggy

__all__ = ["AddCommand", "CommandGroup", "CommandRegistry", "RunCommand", "command_registry"]

#: Adds the group's parser (and its subcommands) to the ``gongji`` command's subparsers
#: (argparse's ``_SubParsersAction``, private to argparse, hence ``Any``).
AddCommand = Callable[[Any], None]
#: Runs the group: the parsed arguments and the client options of ``main()``; the exit code.
RunCommand = Callable[[argparse.Namespace, Mapping[str, Any]], int]


@frozen
class CommandGroup:
    name: str
    add: AddCommand
    run: RunCommand
    #: The plugin that registered it (``gongji plugins`` shows it).
    origin: str = ""


class CommandRegistry:
    """Command groups by name, filled through ``gongji_register_commands``."""

    def __init__(self) -> None:
        self._groups: dict[str, CommandGroup] = {}

    def register(self, name: str, *, add: AddCommand, run: RunCommand, origin: str = "") -> None:
        if name in self._groups:
            raise ConfigError(
                f"Two plugins register the command `gongji {name}` "
                f"({self._groups[name].origin or 'built in'} and {origin or 'built in'}).",
                next_step="Uninstall one of them or block it with GONGJI_DISABLE_PLUGINS.",
            )
        self._groups[name] = CommandGroup(name=name, add=add, run=run, origin=origin)

    def get(self, name: str) -> CommandGroup | None:
        return self._groups.get(name)

    def __iter__(self) -> Iterator[CommandGroup]:
        return iter(sorted(self._groups.values(), key=lambda group: group.name))


@functools.cache
def _installed_plugins() -> pluggy.PluginManager:
    """The installed plugins without the built-in rules (they add no command): every
    ``gongji`` command, ``--help`` included, loads these, and only these."""
    from gongji.plugins import make_plugin_manager

    return make_plugin_manager(built_in=False)


def command_registry(plugins: pluggy.PluginManager | None = None) -> CommandRegistry:
    """Every command group registered through ``gongji_register_commands``."""
    registry = CommandRegistry()
    for impl in (plugins or _installed_plugins()).hook.gongji_register_commands.get_hookimpls():
        impl.function(register=functools.partial(registry.register, origin=impl.plugin_name))
    return registry
