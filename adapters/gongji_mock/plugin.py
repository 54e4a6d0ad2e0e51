"""The mock's hooks: the ``mock`` profile, and the ``gongji demo`` and ``gongji mock``
commands. Entry point ``mock = "gongji_mock.plugin"`` (group ``gongji``).

The core never imports the mock (DESIGN.md: an arrow only points down); this is how
``SettlementClient.from_profile("mock")`` and those commands reach it. Each hook imports
what it registers only when it is called, so that loading the plugin (every ``gongji``
command does) costs nothing. The pytest plugin is ``gongji_mock.testing`` (entry point
group ``pytest11``).
"""

from __future__ import annotations

from collections.abc import Callable

from gongji.hookspecs import hookimpl


@hookimpl
def gongji_register_profiles(register: Callable[..., None]) -> None:
    from gongji_mock.profile import mock_profile

    register("mock", mock_profile)


@hookimpl
def gongji_register_commands(register: Callable[..., None]) -> None:
    from gongji_mock import cli

    register("demo", add=cli.add_demo, run=cli.run_demo)
    register("mock", add=cli.add_mock, run=cli.run_mock)
