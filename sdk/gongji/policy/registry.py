"""Which policy packs exist: collected from plugins through ``gongji_register_policies``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gongji.errors import ConfigError
from gongji.policy.loader import PackSource, build_pack, merge, pack_table, read_pack_table
from gongji.policy.pack import PolicyPack


class PolicyRegistry:
    """Pack ids to packs. Files are read when registered and decoded on first use."""

    def __init__(self) -> None:
        self._tables: dict[str, tuple[str, Mapping[str, Any]]] = {}
        self._packs: dict[str, PolicyPack] = {}

    def register(self, source: PackSource | PolicyPack) -> None:
        """Add a pack: a TOML file (path or package resource) or a ready ``PolicyPack``."""
        if isinstance(source, PolicyPack):
            self._claim(source.id, source.id)
            self._packs[source.id] = source
            # Kept as a table too, so that other packs can extend it.
            self._tables[source.id] = (source.id, pack_table(source))
            return
        table = read_pack_table(source)
        pack_id = table.get("id")
        if not isinstance(pack_id, str) or not pack_id:
            raise ConfigError(
                f"Policy pack {source.name}: key 'id' is missing or not a string.",
                next_step='Give the pack an id such as id = "liaoning-dalian-2025".',
            )
        self._claim(pack_id, source.name)
        self._tables[pack_id] = (source.name, table)

    def _claim(self, pack_id: str, source_name: str) -> None:
        if pack_id in self._tables or pack_id in self._packs:
            raise ConfigError(
                f"Policy pack id {pack_id!r} ({source_name}) is registered twice.",
                next_step="Give the new pack its own id, or disable the plugin that registers the other.",
            )

    def ids(self) -> list[str]:
        return sorted(self._tables)

    def get(self, pack_id: str) -> PolicyPack:
        """The pack with this id; ``ConfigError`` listing the known ids if there is none."""
        pack = self._packs.get(pack_id)
        if pack is None:
            pack = self._build(pack_id, chain=())
        return pack

    def load_file(self, source: PackSource) -> PolicyPack:
        """Decode a pack file that is not registered (its ``extends`` may name registered ones)."""
        return build_pack(read_pack_table(source), source.name, self._parent_table)

    def _build(self, pack_id: str, chain: tuple[str, ...]) -> PolicyPack:
        if pack_id not in self._tables:
            known = ", ".join(self.ids()) or "none"
            raise ConfigError(
                f"Unknown policy pack {pack_id!r}.",
                next_step=f"Use one of: {known}; or register a pack file through a gongji plugin.",
            )
        source_name, table = self._tables[pack_id]
        pack = build_pack(table, source_name, self._parent_table)
        if pack.id != pack_id:  # pragma: no cover - register() keyed it by this id
            raise ConfigError(f"Policy pack {source_name}: id changed while loading.")
        self._packs[pack_id] = pack
        return pack

    def _parent_table(self, parent_id: str, _depth: int = 0) -> Mapping[str, Any]:
        if parent_id not in self._tables:
            known = ", ".join(self.ids()) or "none"
            raise ConfigError(
                f"Policy pack extends unknown pack {parent_id!r}.",
                next_step=f"Extend one of: {known}.",
            )
        source_name, table = self._tables[parent_id]
        grandparent = table.get("extends")
        if grandparent is None:
            return table
        if _depth > 8:
            raise ConfigError(
                f"Policy pack {source_name}: 'extends' goes round in a circle.",
                next_step="Make the chain of extends end at a pack without one.",
            )
        base = self._parent_table(grandparent, _depth + 1)
        return merge({k: v for k, v in base.items() if k != "region"}, table)
