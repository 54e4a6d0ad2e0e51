"""The packs that ship with gongji, registered like any plugin's."""

from __future__ import annotations

from collections.abc import Callable
from importlib.resources import files

from gongji.hookspecs import hookimpl
from gongji.policy.loader import PackSource
from gongji.policy.pack import PolicyPack

BUILTIN_PACKS = (
    "national-2025",
    "legacy-2021",
    "liaoning-dalian-2025",
    "liaoning-benxi-2025",
    # Made-up numbers for the mock's demo dataset; marked illustrative in the file.
    "demo-dalian",
)


@hookimpl
def gongji_register_policies(register: Callable[[PackSource | PolicyPack], None]) -> None:
    packs = files("gongji.policy") / "packs"
    for pack_id in BUILTIN_PACKS:
        register(packs / f"{pack_id}.toml")
