"""``gongji policy list|show``: the region policy packs the plugins registered."""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gongji.cli.output import json_option

__all__ = ["add_commands", "run"]


def add_commands(commands: Any) -> None:
    """Add ``policy list`` and ``policy show`` to the ``gongji`` command's subparsers."""
    policy = commands.add_parser("policy", help="region policy packs")
    policy_commands = policy.add_subparsers(dest="policy_command", required=True)
    policy_commands.add_parser("list", parents=[json_option()], help="list the registered packs")
    show = policy_commands.add_parser(
        "show",
        parents=[json_option()],
        help="show one pack, with what it extends resolved: each value and its source",
    )
    show.add_argument("pack", help="a pack id, or the path of a pack file")


def run(args: argparse.Namespace, client_options: Mapping[str, Any]) -> int:
    from gongji.policy import policies
    from gongji.policy.loader import pack_table, setting_keys

    registry = policies()
    if args.policy_command == "list":
        ids = registry.ids()
        print(json.dumps(ids) if args.json else "\n".join(ids))
        return 0
    path = Path(args.pack)
    pack = registry.load_file(path) if path.suffix == ".toml" else registry.get(args.pack)
    table = pack_table(pack)
    if args.json:
        print(json.dumps(table, ensure_ascii=False, indent=2, default=str))
        return 0
    # Each value with its source, so that a reader can check the pack against the sources.
    print(f"{pack.id}: {pack.name}")
    if pack.illustrative:
        print("ILLUSTRATIVE: made-up values for demonstrations and tests, never for a real till")
    print(
        f"line {pack.line_name}, in force from {pack.effective} to {pack.until or 'a later pack'}"
    )
    for key in setting_keys(table):
        value: Any = table
        for part in key.split("."):
            value = value[part]
        shown = json.dumps(
            sorted(value) if isinstance(value, list) else value, ensure_ascii=False, default=str
        )
        print(f"{key} = {shown}\n    source: {pack.source_of(key)}")
    return 0
