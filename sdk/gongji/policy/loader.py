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


#: Keys that describe a pack rather than set a rule: they need no source.
META_KEYS = frozenset(
    {"id", "name", "version", "sources", "extends", "region", "line", "illustrative", "cite"}
)
#: Keys a pack does not take from the pack it extends: they say where and when it applies.
_NOT_INHERITED = frozenset({"region", "line", "until", "cite"})
#: A source is a seed and its line ("seed 000 l.51"), or a public document ("public: ...").
_CITATION = re.compile(r"seed 00[0-9] l\.[0-9]+|^public: ")


def setting_keys(table: Mapping[str, Any], prefix: str = "") -> list[str]:
    """The dotted keys of the values a pack table sets (tables opened, lists whole)."""
    keys: list[str] = []
    for key, value in table.items():
        if (not prefix and key in META_KEYS) or value is None:
            continue
        path = f"{prefix}{key}"
        if isinstance(value, Mapping):
            keys += setting_keys(value, f"{path}.")
        else:
            keys.append(path)
    return keys


def _own_citations(
    table: Mapping[str, Any], source_name: str, illustrative: bool
) -> dict[str, str]:
    """Each value this file sets, with the source its ``[cite]`` table gives it.

    A cite key covers the value of that key and everything under it; the longest
    matching key wins. Resolved per file, so a value a pack overrides never keeps
    the source of the value it replaced.
    """
    cite = table.get("cite", {})
    if not isinstance(cite, Mapping):
        raise ConfigError(
            f"Policy pack {source_name}: key 'cite' must be a table of sources.",
            next_step='Write [cite] with lines such as "premium.adult" = "seed 000 l.51".',
        )
    keys = setting_keys(table)
    for cited, source in cite.items():
        if not isinstance(source, str) or not _CITATION.search(source):
            raise ConfigError(
                f"Policy pack {source_name}: cite {cited!r} does not name a source.",
                next_step='Name a seed and its line ("seed 000 l.51: ...") or a public document '
                '("public: ...").',
            )
        if not any(key == cited or key.startswith(f"{cited}.") for key in keys):
            raise ConfigError(
                f"Policy pack {source_name}: cite {cited!r} names no value this pack sets.",
                next_step="Correct the key (dotted, as in premium.adult) or remove the cite.",
            )
    citations: dict[str, str] = {}
    for key in keys:
        parts = key.split(".")
        covering = (".".join(parts[:n]) for n in range(len(parts), 0, -1))
        source = next((cite[c] for c in covering if c in cite), None)
        if source is not None:
            citations[key] = source
        elif not illustrative:
            raise ConfigError(
                f"Policy pack {source_name}: key {key!r} has no source.",
                next_step=f'Add "{key}" = "seed 00N l.N: ..." under [cite], or mark a pack of '
                "made-up values illustrative = true (for demonstrations and tests only).",
            )
    return citations


def resolve_table(
    table: Mapping[str, Any],
    source_name: str,
    parent_table: Callable[[str], Mapping[str, Any]],
) -> dict[str, Any]:
    """The table with ``extends`` applied and ``cite`` resolved to one source per value."""
    parent_id = table.get("extends")
    parent: Mapping[str, Any] = {}
    if parent_id is not None:
        if not isinstance(parent_id, str):
            raise ConfigError(
                f"Policy pack {source_name}: key 'extends' must be a pack id string.",
                next_step='Write extends = "national-2025" or remove the key.',
            )
        parent = parent_table(parent_id)
    inherited_illustrative = parent.get("illustrative") is True
    illustrative = table.get("illustrative", inherited_illustrative)
    if inherited_illustrative and illustrative is not True:
        raise ConfigError(
            f"Policy pack {source_name} extends the illustrative pack {parent_id!r}, "
            "so its values are made up too.",
            next_step="Mark it illustrative = true, or extend a pack whose values have sources.",
        )
    own = _own_citations(table, source_name, illustrative is True)
    merged = merge(
        {k: v for k, v in parent.items() if k not in _NOT_INHERITED},
        {k: v for k, v in table.items() if k != "cite"},
    )
    # A value this file sets never keeps the source of the value it replaced.
    replaced = set(setting_keys(table))
    inherited = {k: v for k, v in parent.get("cite", {}).items() if k not in replaced}
    merged["cite"] = {**inherited, **own}
    return merged


def decode_pack(resolved: Mapping[str, Any], source_name: str) -> PolicyPack:
    """A resolved table (``resolve_table``) as a ``PolicyPack``; errors name the key."""
    try:
        pack = msgspec.convert(resolved, type=PolicyPack, dec_hook=_decode_custom)
    except msgspec.ValidationError as exc:
        message = str(exc)
        key = _PATH_IN_ERROR.search(message)
        where = f"key '{key.group(1).lstrip('.')}'" if key else "the pack"
        detail = _PATH_IN_ERROR.sub("", message).rstrip(".")
        raise ConfigError(
            f"Policy pack {source_name}: {where}: {detail}.",
            next_step="Correct that key; see docs/explanation/rules.md for the pack format.",
        ) from None
    if pack.until is not None and pack.until < pack.effective:
        raise ConfigError(
            f"Policy pack {source_name}: 'until' ({pack.until}) is before 'effective' ({pack.effective}).",
            next_step="Give the last day the pack is in force, on or after its first.",
        )
    return pack


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
