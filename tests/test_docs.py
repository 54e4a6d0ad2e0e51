"""Every hook is documented with its exact arguments (as datasette does)."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from gongji import hookspecs

DOCS = Path(__file__).resolve().parent.parent / "docs"
HOOKS = sorted(name for name in dir(hookspecs) if name.startswith("gongji_"))


def test_hookspecs_exist() -> None:
    assert len(HOOKS) >= 5


@pytest.mark.parametrize("hook", HOOKS)
def test_plugin_hooks_are_documented(hook: str) -> None:
    text = (DOCS / "reference" / "hooks.md").read_text(encoding="utf-8")
    arguments = ", ".join(inspect.signature(getattr(hookspecs, hook)).parameters)
    assert re.search(rf"^### `{hook}\({re.escape(arguments)}\)`$", text, re.MULTILINE), (
        f"docs/reference/hooks.md has no heading ### `{hook}({arguments})`"
    )


def test_every_rule_is_in_the_rules_explanation() -> None:
    text = (DOCS / "explanation" / "rules.md").read_text(encoding="utf-8")
    for number in range(1, 10):
        assert f"| R{number} " in text


def _error_classes() -> list[type]:
    import gongji.errors

    return [
        value
        for value in vars(gongji.errors).values()
        if isinstance(value, type) and issubclass(value, gongji.errors.GongjiError)
    ]


@pytest.mark.parametrize("error", _error_classes(), ids=lambda e: e.__name__)
def test_every_error_class_is_in_the_reference_with_its_code(error: type) -> None:
    text = (DOCS / "reference" / "errors.md").read_text(encoding="utf-8")
    assert f"### `{error.__name__}`" in text
    assert f"`{error.code}`" in text  # type: ignore[attr-defined]


def _cli_commands() -> list[str]:
    """Every ``gongji`` command and subcommand, as the argument parser knows them."""
    import argparse

    from gongji.cli import argument_parser

    found: list[str] = []

    def walk(parser: argparse.ArgumentParser, prefix: str) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    found.append(f"{prefix} {name}")
                    walk(sub, f"{prefix} {name}")

    walk(argument_parser(), "gongji")
    return found


@pytest.mark.parametrize("command", _cli_commands())
def test_every_cli_command_is_in_the_cli_reference(command: str) -> None:
    text = (DOCS / "reference" / "cli.md").read_text(encoding="utf-8")
    assert f"`{command}" in text, f"docs/reference/cli.md does not mention `{command}`"
