"""The ``gongji`` command: its arguments and where each command goes.

Errors print one line (the rule, infcode or code first) and exit non-zero; ``--json``
gives machine output. The core's command groups are the modules of this package
(``settle``: preview and settle, with ``purchase``, the purchase file and flags;
``journal``: reconcile and journal; ``catalogue``; ``keys``; ``policy``; ``plugins``); what they
print is ``output``'s. Plugins add theirs through ``gongji_register_commands``
(``gongji demo`` and ``gongji mock serve`` are ``gongji_mock``'s).

Start-up matters to a POS shell script that runs one command per sale: nothing here
imports the client, the flows or an adapter until the command that needs it runs
(bench/bench_startup.py measures it).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Mapping, Sequence
from types import ModuleType
from typing import Any

from gongji.cli.output import print_error
from gongji.errors import ConfigError, EligibilityError, GongjiError

__all__ = ["BUILT_IN", "argument_parser", "main"]

#: The core's commands, by the module of ``gongji.cli`` that adds and runs each.
BUILT_IN: dict[str, str] = {
    "preview": "settle",
    "settle": "settle",
    "reconcile": "journal",
    "journal": "journal",
    "catalogue": "catalogue",
    "keys": "keys",
    "policy": "policy",
    "plugins": "plugins",
}


def _module(name: str) -> ModuleType:
    return importlib.import_module(f"gongji.cli.{name}")


def argument_parser() -> argparse.ArgumentParser:
    """The ``gongji`` command's arguments, every command and subcommand, the plugins' too."""
    from gongji.cli.commands import command_registry

    parser = argparse.ArgumentParser(
        prog="gongji", description="Medical-insurance settlement at the point of sale."
    )
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    commands = parser.add_subparsers(dest="command", required=True)
    for module in dict.fromkeys(BUILT_IN.values()):  # in order, each module once
        _module(module).add_commands(commands)
    for group in command_registry():
        if group.name in commands.choices:
            raise ConfigError(
                f"The plugin {group.origin} registers the command `gongji {group.name}`, "
                "which gongji has already.",
                next_step="Uninstall that plugin or block it with GONGJI_DISABLE_PLUGINS.",
            )
        group.add(commands)
        if group.name not in commands.choices:
            raise ConfigError(
                f"The plugin {group.origin} registers the command `gongji {group.name}` "
                "but adds no parser of that name.",
                next_step="Fix the plugin's add function, or block it with GONGJI_DISABLE_PLUGINS.",
            )
    return parser


def main(
    argv: Sequence[str] | None = None, *, client_options: Mapping[str, Any] | None = None
) -> int:
    """The ``gongji`` command. ``client_options`` go to the client that ``reconcile``,
    ``journal``, ``preview`` and ``settle`` build from the profile (``journal=``,
    ``transport=``, for the mock profile ``mock=``, ...), and to a plugin's commands:
    for a program that embeds the command, and for tests."""
    as_json = "--json" in (sys.argv[1:] if argv is None else argv)
    try:
        parser = argument_parser()
    except GongjiError as error:  # a plugin's command cannot be added: say which, in one line
        print_error(error, as_json)
        return 1
    args = parser.parse_args(argv)
    try:
        return _run(args, client_options or {})
    except GongjiError as error:
        print_error(error, args.json)
        books = args.command in ("reconcile", "journal")
        return 2 if books or isinstance(error, EligibilityError) else 1
    except BrokenPipeError:
        # The reader stopped early (`gongji policy show X | head`): nothing more to say,
        # and Python must not complain again when it flushes stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except OSError as error:  # the machine's answer (a port in use, a full disk): one line too
        what = error.strerror or str(error)
        print_error(
            ConfigError(
                f"The system refused: {what}{f' ({error.filename})' if error.filename else ''}.",
                next_step="Fix that on this machine (a free port, a writable path) and run again.",
                code="os_error",
            ),
            args.json,
        )
        return 1
    except KeyboardInterrupt:
        print("gongji: interrupted", file=sys.stderr)
        return 130


def _run(args: argparse.Namespace, client_options: Mapping[str, Any]) -> int:
    if args.command in BUILT_IN:
        code: int = _module(BUILT_IN[args.command]).run(args, client_options)
        return code
    from gongji.cli.commands import command_registry

    group = command_registry().get(args.command)
    assert group is not None  # argparse accepted it: argument_parser() added it
    return group.run(args, client_options)
