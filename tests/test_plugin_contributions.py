"""What plugins contribute besides adapters and rules: profiles that need no file
(``gongji_register_profiles``) and command groups of ``gongji``
(``gongji_register_commands``). The mock's profile and commands come this way."""

from __future__ import annotations

import argparse
import inspect
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pytest

from gongji import (
    AsyncSettlementClient,
    ConfigError,
    Credential,
    Fen,
    LineItem,
    Purchase,
    SettlementClient,
)
from gongji.cli import argument_parser, main
from gongji.cli.commands import command_registry
from gongji.config import client_arguments
from gongji.hookspecs import hookimpl
from gongji.plugins import get_plugin_manager, make_plugin_manager
from gongji.profiles import profile_registry
from gongji_mock import MockGateway


class Rehearsal:
    """A third-party plugin: a profile and a command."""

    def __init__(self) -> None:
        self.profile_options: list[dict[str, Any]] = []
        self.ran: list[argparse.Namespace] = []

    def arguments(self, *, till: int | None = None) -> dict[str, Any]:
        self.profile_options.append({"till": till})
        return client_arguments("mock")  # the mock's, under another name

    @hookimpl
    def gongji_register_profiles(self, register: Callable[..., None]) -> None:
        register("rehearsal", self.arguments)

    @hookimpl
    def gongji_register_commands(self, register: Callable[..., None]) -> None:
        def add(commands: Any) -> None:
            commands.add_parser("rehearse").add_argument("--times", type=int, default=1)

        def run(args: argparse.Namespace, client_options: Mapping[str, Any]) -> int:
            self.ran.append(args)
            return 7

        register("rehearse", add=add, run=run)


@pytest.fixture
def rehearsal() -> Iterator[Rehearsal]:
    """The plugin, registered in the process-wide plugin manager and in the command
    line's, and unregistered after the test."""
    from gongji.cli import commands

    plugin = Rehearsal()
    managers = [get_plugin_manager(), commands._installed_plugins()]
    for pm in managers:
        pm.register(plugin, name="rehearsal")
    yield plugin
    for pm in managers:
        pm.unregister(name="rehearsal")


# ---------------------------------------------------------------- profiles


def test_the_mock_profile_is_registered_by_the_mock_plugin_not_the_core() -> None:
    profiles = {profile.name: profile for profile in profile_registry()}
    assert profiles["mock"].origin == "mock"  # the entry point mock = "gongji_mock.plugin"
    assert profiles["mock"].factory.__module__ == "gongji_mock.profile"


def test_from_profile_mock_with_a_mock_settles_against_that_mock() -> None:
    mock = MockGateway.demo()
    son = "210202198503170036"
    before = mock.balance(son)
    purchase = Purchase(
        credential=Credential.e_voucher("demo-token-zhangwei"),
        items=[LineItem(code="X01", name="感冒灵颗粒", unit_price=Fen(1_250), quantity=2)],
    )
    with SettlementClient.from_profile("mock", mock=mock) as client:
        receipt = client.settle(purchase, key="PROFILE-1")
    assert [leg.source for leg in receipt.legs] == ["own_account"]
    assert mock.balance(son) == before - receipt.legs[0].amount


def test_the_mock_profile_refuses_a_mock_that_is_not_one() -> None:
    with pytest.raises(ConfigError, match=r"not a gongji_mock\.MockGateway"):
        SettlementClient.from_profile("mock", mock=object())


def test_a_plugins_profile_gets_only_the_options_given(rehearsal: Rehearsal) -> None:
    with SettlementClient.from_profile("rehearsal", till=3) as client:
        assert client.setup.gateway is not None
    with SettlementClient.from_profile("rehearsal"):
        pass
    assert rehearsal.profile_options == [{"till": 3}, {"till": None}]


def test_an_option_a_profile_does_not_take_is_a_config_error(rehearsal: Rehearsal) -> None:
    with pytest.raises(ConfigError, match=r"'rehearsal' does not take url="):
        SettlementClient.from_profile("rehearsal", url="http://127.0.0.1:9")


def test_a_profile_no_plugin_registered_points_at_the_config_file() -> None:
    with pytest.raises(ConfigError, match="needs a configuration file") as raised:
        SettlementClient.from_profile("dalian")
    assert "from_config" in (raised.value.next_step or "")
    assert "mock" in (raised.value.next_step or "")


def test_two_plugins_registering_one_profile_are_refused() -> None:
    class Impostor:
        @hookimpl
        def gongji_register_profiles(self, register: Callable[..., None]) -> None:
            register("mock", lambda **_: {})

    pm = make_plugin_manager()
    pm.register(Impostor(), name="impostor")
    with pytest.raises(ConfigError, match="Two plugins register the profile 'mock'"):
        profile_registry(pm)


@pytest.mark.parametrize("kind", [SettlementClient, AsyncSettlementClient])
@pytest.mark.parametrize("factory", ["from_profile", "from_config"])
def test_the_factories_spell_out_their_options_and_return_their_class(
    kind: type, factory: str
) -> None:
    signature = inspect.signature(getattr(kind, factory))
    assert not [p for p in signature.parameters.values() if p.kind is p.VAR_KEYWORD]
    assert signature.return_annotation == "Self"
    constructor = {"journal", "policy", "plugins", "polling", "clock", "checkpoint"}
    assert constructor | {"http", "transport", "timeout", "verify"} <= set(signature.parameters)


# ---------------------------------------------------------------- commands


def _commands(parser: argparse.ArgumentParser) -> set[str]:
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return set(subparsers.choices)


def test_gongji_demo_and_mock_are_the_mock_plugins_commands() -> None:
    groups = {group.name: group for group in command_registry()}
    assert {"demo", "mock"} <= set(groups)
    assert {groups["demo"].origin, groups["mock"].origin} == {"mock"}
    assert {"demo", "mock", "preview", "settle", "journal"} <= _commands(argument_parser())


def test_a_plugins_command_is_added_and_run(rehearsal: Rehearsal) -> None:
    assert "rehearse" in _commands(argument_parser())
    assert main(["rehearse", "--times", "2"]) == 7
    assert [args.times for args in rehearsal.ran] == [2]


def test_a_plugin_taking_a_core_command_is_one_line_naming_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from gongji.cli import commands

    class Usurper:
        @hookimpl
        def gongji_register_commands(self, register: Callable[..., None]) -> None:
            register("settle", add=lambda c: c.add_parser("settle"), run=lambda a, o: 0)

    pm = commands._installed_plugins()
    pm.register(Usurper(), name="usurper")
    try:
        assert main(["plugins"]) == 1
    finally:
        pm.unregister(name="usurper")
    error = capsys.readouterr().err
    assert error.count("\n") == 1
    assert "usurper registers the command `gongji settle`" in error
    assert "GONGJI_DISABLE_PLUGINS" in error


def test_two_plugins_registering_one_command_are_refused() -> None:
    class Twin:
        @hookimpl
        def gongji_register_commands(self, register: Callable[..., None]) -> None:
            register("demo", add=lambda c: None, run=lambda a, o: 0)

    pm = make_plugin_manager(built_in=False)
    pm.register(Twin(), name="twin")
    with pytest.raises(ConfigError, match="Two plugins register the command `gongji demo`"):
        command_registry(pm)


def test_the_command_line_loads_no_built_in_rule() -> None:
    from gongji.cli import commands

    names = {name for name, _ in commands._installed_plugins().list_name_plugin()}
    assert "mock" in names
    assert not {name for name in names if name.startswith("gongji.rules")}
