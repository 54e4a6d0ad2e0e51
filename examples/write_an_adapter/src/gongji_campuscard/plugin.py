"""Registers the campus card channel with gongji.

gongji loads this module through the entry point in pyproject.toml
(``[project.entry-points.gongji] campuscard = "gongji_campuscard.plugin"``) and calls
every ``gongji_register_adapters`` it finds. A hook decides and registers; it does no
I/O: the factory builds the channel later, from a profile's ``[channels.campuscard]``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gongji.hookspecs import hookimpl

# The registry's type only: loading a plugin (every `gongji` command does) imports no gateway.
if TYPE_CHECKING:
    from gongji.gateways.registry import RegisterAdapter

from gongji_campuscard.gateway import CAPABILITIES, CampusCardChannel


@hookimpl
def gongji_register_adapters(register: RegisterAdapter) -> None:
    register(
        CampusCardChannel.name,
        CampusCardChannel.from_settings,
        kind="channel",
        capabilities=CAPABILITIES,
    )
