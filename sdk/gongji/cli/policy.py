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
        "show", parents=[json_option()], help="show one pack, with what it extends resolved (JSON)"
    )
    show.add_argument("pack", help="a pack id, or the path of a pack file")


def run(args: argparse.Namespace, client_options: Mapping[str, Any]) -> int:
    from gongji.policy import policies
    from gongji.policy.loader import pack_table

    registry = policies()
    if args.policy_command == "list":
        ids = registry.ids()
        print(json.dumps(ids) if args.json else "\n".join(ids))
        return 0
    path = Path(args.pack)
    pack = registry.load_file(path) if path.suffix == ".toml" else registry.get(args.pack)
    print(json.dumps(pack_table(pack), ensure_ascii=False, indent=2, default=str))
    return 0
