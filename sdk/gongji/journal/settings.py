"""A profile's ``[journal]`` table, made into a journal (docs/reference/journal.md).

```toml
[profiles.dalian.journal]              # absent: SQLite at the per-user default path
kind = "sqlite"                        # sqlite | postgres | memory
path = "/var/lib/gongji/journal.sqlite3"   # relative paths are relative to this file
key_file = "/var/lib/gongji/journal.key"   # default: <path>.key, created on first use
synchronous = "FULL"                   # or "NORMAL"

[profiles.chain.journal]
kind = "postgres"
dsn_env = "GONGJI_JOURNAL_DSN"         # or dsn_file, or dsn (without a password)
key_file = "/etc/gongji/journal.key"   # or key_env = "GONGJI_JOURNAL_KEY": the chain's key
schema = "gongji"
```
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gongji.errors import ConfigError
from gongji.journal.entry import Journal
from gongji.journal.lease import DEFAULT_LEASE_SECONDS
from gongji.journal.memory import MemoryJournal

__all__ = ["journal_from_settings"]

_ACCEPTED = {
    "sqlite": {"kind", "path", "key_file", "key_env", "synchronous", "lease_seconds"},
    "postgres": {
        "kind",
        "dsn",
        "dsn_env",
        "dsn_file",
        "key_file",
        "key_env",
        "schema",
        "lease_seconds",
        "connect_timeout",
    },
    "memory": {"kind"},
}


def journal_from_settings(
    settings: Mapping[str, Any],
    where: str,
    *,
    base: Path | None = None,
    create: bool = True,
) -> Journal:
    """The journal a ``[journal]`` table describes; ``where`` names the table in errors,
    ``base`` is the directory relative paths start from (the configuration file's)."""
    kind = str(settings.get("kind", "sqlite"))
    if kind not in _ACCEPTED:
        raise ConfigError(
            f"{where}.kind {kind[:20]!r} is not a journal kind.",
            next_step="Use 'sqlite' (a till's own file), 'postgres' (a chain's shared "
            "journal) or 'memory' (a demo: lost when the process ends).",
        )
    unknown = sorted(set(settings) - _ACCEPTED[kind])
    if unknown:
        raise ConfigError(
            f"{where} has settings a {kind} journal does not take: {', '.join(unknown)}.",
            next_step=f"Use only: {', '.join(sorted(_ACCEPTED[kind]))}.",
        )
    if kind == "memory":
        return MemoryJournal()
    lease = _seconds(settings, "lease_seconds", DEFAULT_LEASE_SECONDS, where)
    key_file = _path(settings, "key_file", base)
    key_env = _text(settings, "key_env", where)
    if kind == "sqlite":
        from gongji.journal.sqlite import SqliteJournal

        synchronous = str(settings.get("synchronous", "FULL")).upper()
        if synchronous not in ("FULL", "NORMAL"):
            raise ConfigError(
                f"{where}.synchronous must be 'FULL' or 'NORMAL'.",
                next_step="FULL (the default) loses nothing to a power cut; NORMAL may lose the last sales' writes.",
            )
        return SqliteJournal(
            _path(settings, "path", base),
            key_file=key_file,
            key_env=key_env,
            synchronous="FULL" if synchronous == "FULL" else "NORMAL",
            lease_seconds=lease,
            create=create,
        )
    from gongji.journal.postgres import PostgresJournal

    if key_file is None and key_env is None:
        raise ConfigError(
            f"{where} names no journal key for the PostgreSQL journal.",
            next_step="Add key_file (a file every till has) or key_env (a variable holding "
            "the key); the key never goes into the database.",
        )
    timeout = _seconds(settings, "connect_timeout", 5, where)
    return PostgresJournal(
        _dsn(settings, where),
        key_file=key_file,
        key_env=key_env,
        schema=str(settings.get("schema", "gongji")),
        lease_seconds=lease,
        connect_timeout=max(1, int(timeout)),
        create=create,
    )


def _dsn(settings: Mapping[str, Any], where: str) -> str:
    given = [name for name in ("dsn", "dsn_env", "dsn_file") if name in settings]
    if len(given) != 1:
        raise ConfigError(
            f"{where} needs exactly one of dsn, dsn_env and dsn_file.",
            next_step="Use dsn_env = 'GONGJI_JOURNAL_DSN' (a variable holding the connection "
            "string), or dsn without a password (libpq reads ~/.pgpass).",
        )
    name = given[0]
    value = str(settings[name])
    if name == "dsn_env":
        if value not in os.environ:
            raise ConfigError(
                f"{where}.dsn_env: the environment variable {value} is not set.",
                next_step=f"Export {value} before starting the till.",
            )
        return os.environ[value]
    if name == "dsn_file":
        try:
            return Path(value).expanduser().read_text(encoding="utf-8").strip()
        except (OSError, ValueError) as error:  # ValueError: a NUL in the path, or not UTF-8
            reason = (
                error.strerror if isinstance(error, OSError) else "a NUL in its name or not UTF-8"
            )
            raise ConfigError(
                f"{where}.dsn_file: the file {value!r} cannot be read ({reason}).",
                next_step="Check the path and the file's permissions.",
            ) from None
    from gongji.journal.postgres import dsn_has_password

    if dsn_has_password(value):
        raise ConfigError(
            f"{where}.dsn holds a password; a password never goes into the configuration file.",
            next_step="Move the connection string to dsn_env or dsn_file, or the password to ~/.pgpass.",
        )
    return value


def _path(settings: Mapping[str, Any], name: str, base: Path | None) -> Path | None:
    value = settings.get(name)
    if value is None:
        return None
    path = Path(str(value)).expanduser()
    return path if path.is_absolute() or base is None else base / path


def _text(settings: Mapping[str, Any], name: str, where: str) -> str | None:
    value = settings.get(name)
    if value is not None and (not isinstance(value, str) or not value):
        raise ConfigError(f"{where}.{name} must be a name.", next_step="Fix the setting.")
    return value


def _seconds(
    settings: Mapping[str, Any],
    name: str,
    default: float,  # float-ok: seconds
    where: str,
) -> float:  # float-ok: seconds
    value = settings.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 86_400:
        raise ConfigError(
            f"{where}.{name} must be a number of seconds.", next_step="Fix the setting."
        )
    return float(value)  # float-ok: seconds
