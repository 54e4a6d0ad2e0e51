"""Reading policy packs from TOML, with ``extends`` and errors that name the file and key."""

from __future__ import annotations

import datetime
import re
import tomllib
from collections.abc import Callable, Mapping
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import msgspec

from gongji.errors import ConfigError, InvalidInput
from gongji.money import Fen
from gongji.policy.pack import PolicyPack

PackSource = Path | Traversable

_PATH_IN_ERROR = re.compile(r" - at `\$(.*)`$")


def read_pack_table(source: PackSource) -> dict[str, Any]:
    """The raw TOML table of a pack file; syntax errors name the file and line."""
    try:
        return tomllib.loads(source.read_text(encoding="utf-8"))
    # A TOMLDecodeError, invalid UTF-8, or an integer past 4300 digits (a plain ValueError).
    except (ValueError, RecursionError) as exc:
        raise ConfigError(
            f"Policy pack {source.name}: TOML syntax error: {exc}.",
            next_step="Fix the TOML at the line shown.",
        ) from None
    except OSError as exc:
        raise ConfigError(
            f"Policy pack {source.name} cannot be read ({exc.strerror}).",
            next_step="Check the path and permissions of the pack file.",
        ) from None


def merge(base: Mapping[str, Any], overlay: Mapping[str, Any]) -> dict[str, Any]:
    """``overlay`` over ``base``: tables merge key by key; any other value replaces."""
    merged = dict(base)
    for key, value in overlay.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def build_pack(
    table: Mapping[str, Any],
    source_name: str,
    parent_table: Callable[[str], Mapping[str, Any]],
) -> PolicyPack:
    """Decode a pack table (resolving ``extends`` through ``parent_table``) into a ``PolicyPack``."""
    parent_id = table.get("extends")
    if parent_id is not None:
        if not isinstance(parent_id, str):
            raise ConfigError(
                f"Policy pack {source_name}: key 'extends' must be a pack id string.",
                next_step='Write extends = "national-2024" or remove the key.',
            )
        table = merge({k: v for k, v in parent_table(parent_id).items() if k != "region"}, table)
    try:
        return msgspec.convert(table, type=PolicyPack, dec_hook=_decode_custom)
    except msgspec.ValidationError as exc:
        message = str(exc)
        key = _PATH_IN_ERROR.search(message)
        where = f"key '{key.group(1).lstrip('.')}'" if key else "the pack"
        detail = _PATH_IN_ERROR.sub("", message).rstrip(".")
        raise ConfigError(
            f"Policy pack {source_name}: {where}: {detail}.",
            next_step="Correct that key; see docs/explanation/rules.md for the pack format.",
        ) from None


def pack_table(pack: PolicyPack) -> dict[str, Any]:
    """A decoded pack back as the table it came from (amounts as yuan strings)."""
    table: dict[str, Any] = msgspec.to_builtins(
        pack, enc_hook=_encode_custom, builtin_types=(datetime.date,), order="deterministic"
    )
    return table


def _encode_custom(value: object) -> object:
    if isinstance(value, Fen):
        return value.to_yuan()
    raise NotImplementedError(type(value))


def _decode_custom(kind: type, value: object) -> object:
    if kind is Fen:
        if not isinstance(value, str):
            # ValueError, not ValidationError: msgspec then appends the key's path.
            raise ValueError(
                f'amounts are yuan strings such as "380.00", got {type(value).__name__}'
            )
        try:
            return Fen.from_yuan(value)
        except InvalidInput as exc:
            raise ValueError(exc.message.rstrip(".")) from None
    raise NotImplementedError(kind)
