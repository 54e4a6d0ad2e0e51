"""Which policy packs exist: collected from plugins through ``gongji_register_policies``."""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

from gongji.errors import ConfigError
from gongji.policy.loader import (
    PackSource,
    decode_pack,
    pack_table,
    read_pack_table,
    resolve_table,
)
from gongji.policy.pack import PolicyPack


class PolicyRegistry:
    """Pack ids to packs. Files are read when registered and decoded on first use."""

    def __init__(self) -> None:
        self._tables: dict[str, tuple[str, Mapping[str, Any]]] = {}
        self._resolved: dict[str, Mapping[str, Any]] = {}
        self._packs: dict[str, PolicyPack] = {}

    def register(self, source: PackSource | PolicyPack) -> None:
        """Add a pack: a TOML file (path or package resource) or a ready ``PolicyPack``."""
        if isinstance(source, PolicyPack):
            self._claim(source.id, source.id)
            self._packs[source.id] = source
            # Kept as a table too, so that other packs can extend it.
            table = pack_table(source)
            self._tables[source.id] = (source.id, table)
            self._resolved[source.id] = table
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
            if pack_id not in self._tables:
                known = ", ".join(self.ids()) or "none"
                raise ConfigError(
                    f"Unknown policy pack {pack_id!r}.",
                    next_step=f"Use one of: {known}; or register a pack file through a gongji plugin.",
                )
            pack = decode_pack(self._resolve(pack_id, ()), self._tables[pack_id][0])
            self._packs[pack_id] = pack
        return pack

    def in_force(self, pack_id: str, day: datetime.date) -> PolicyPack:
        """The pack of ``pack_id``'s line that is in force on ``day`` (the sale's Beijing date).

        A line's packs follow each other in time (``effective`` to ``until``), so a till
        configured with one of them settles each sale under the pack of its day. Where
        two are in force, the one that took effect later wins.
        """
        line = self.get(pack_id).line_name
        packs = [pack for pack in map(self.get, self.ids()) if pack.line_name == line]
        found = [pack for pack in packs if pack.in_force(day)]
        # A later pack supersedes an open-ended earlier one: a region's new notice ships as
        # a pack of the same line, without editing the pack it replaces.
        latest = max((pack.effective for pack in found), default=None)
        found = [pack for pack in found if pack.effective == latest]
        if len(found) == 1:
            return found[0]
        dates = "; ".join(
            f"{pack.id} from {pack.effective} to {pack.until or 'open'}"
            for pack in sorted(packs, key=lambda p: p.effective)
        )
        if not found:
            raise ConfigError(
                f"No policy pack of the line {line!r} is in force on {day} ({dates}).",
                next_step="Check the till's date, or register a pack in force on that day; nothing was charged.",
            )
        raise ConfigError(
            f"{len(found)} policy packs of the line {line!r} are in force on {day} ({dates}).",
            next_step="Give each pack of a line its own 'effective' date.",
        )

    def load_file(self, source: PackSource) -> PolicyPack:
        """Decode a pack file that is not registered (its ``extends`` may name registered ones)."""
        table = read_pack_table(source)
        return decode_pack(
            resolve_table(table, source.name, lambda parent: self._parent(parent, ())),
            source.name,
        )

    def _resolve(self, pack_id: str, chain: tuple[str, ...]) -> Mapping[str, Any]:
        resolved = self._resolved.get(pack_id)
        if resolved is None:
            source_name, table = self._tables[pack_id]
            if pack_id in chain or len(chain) > 8:
                raise ConfigError(
                    f"Policy pack {source_name}: 'extends' goes round in a circle.",
                    next_step="Make the chain of extends end at a pack without one.",
                )
            resolved = resolve_table(
                table, source_name, lambda parent: self._parent(parent, (*chain, pack_id))
            )
            self._resolved[pack_id] = resolved
        return resolved

    def _parent(self, parent_id: str, chain: tuple[str, ...]) -> Mapping[str, Any]:
        if parent_id not in self._tables:
            known = ", ".join(self.ids()) or "none"
            raise ConfigError(
                f"Policy pack extends unknown pack {parent_id!r}.",
                next_step=f"Extend one of: {known}.",
            )
        return self._resolve(parent_id, chain)
