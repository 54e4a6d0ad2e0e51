"""``gongji plugins``: every loaded plugin, where it comes from, its hooks, and what it
contributes (adapters with their capabilities, profiles, command groups)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from typing import Any

from gongji.cli.output import json_option

__all__ = ["add_commands", "run"]


def add_commands(commands: Any) -> None:
    commands.add_parser(
        "plugins", parents=[json_option()], help="list the loaded plugins and where they come from"
    )


def run(args: argparse.Namespace, client_options: Mapping[str, Any]) -> int:
    from gongji.cli.commands import command_registry
    from gongji.plugins import adapter_registry, get_plugin_manager
    from gongji.profiles import profile_registry

    pm = get_plugin_manager()
    adapters: dict[str, list[dict[str, Any]]] = {}
    for adapter in adapter_registry(pm):
        adapters.setdefault(adapter.origin, []).append(
            {
                "name": adapter.name,
                "kind": adapter.kind,
                "capabilities": sorted(c.value for c in adapter.capabilities),
            }
        )
    profiles: dict[str, list[str]] = {}
    for profile in profile_registry(pm):
        profiles.setdefault(profile.origin, []).append(profile.name)
    commands: dict[str, list[str]] = {}
    for group in command_registry(pm):
        commands.setdefault(group.origin, []).append(group.name)
    rows: list[dict[str, Any]] = []
    for name, plugin in pm.list_name_plugin():
        if plugin is None:  # blocked through GONGJI_DISABLE_PLUGINS
            rows.append({"name": name, "from": "blocked", "hooks": []})
            continue
        dist = next(
            (d.project_name for p, d in pm.list_plugin_distinfo() if p is plugin),
            "gongji (built in)",
        )
        hooks = sorted(h.name for h in pm.get_hookcallers(plugin) or [])
        rows.append(
            {
                "name": name,
                "from": dist,
                "hooks": hooks,
                "adapters": adapters.get(name, []),
                "profiles": profiles.get(name, []),
                "commands": commands.get(name, []),
            }
        )
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    for row in rows:
        print(f"{row['name']:<28} {row['from']:<22} {', '.join(row['hooks'])}")
        for adapter in row.get("adapters", []):
            capabilities = ", ".join(adapter["capabilities"])
            print(f"{'':<28} adapter {adapter['name']} ({adapter['kind']}): {capabilities}")
        for profile in row.get("profiles", []):
            print(f"{'':<28} profile {profile}")
        for command in row.get("commands", []):
            print(f"{'':<28} command gongji {command}")
    return 0
