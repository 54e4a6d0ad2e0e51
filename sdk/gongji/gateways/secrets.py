"""Where adapters' secrets and key files come from: one set of rules for every adapter.

A secret called ``x`` in an adapter's settings comes from exactly one of

* ``x_file`` (``x_path`` for the adapters whose settings name files ``*_path``): a file
  holding it, surrounding whitespace dropped;
* ``x_env``: the name of an environment variable holding it;
* ``x`` itself, only where the adapter's reference allows it (a configuration file is
  copied, committed and printed far more often than a key file).

A relative path, a secret file's or a key file's, is read from the configuration
file's folder (``config_dir``): a till started from another directory finds the same
files. Errors name the setting, the file or the variable, never the secret.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gongji.errors import ConfigError

__all__ = ["read_secret", "resolve_path", "secret_source", "setting_path", "setting_paths"]


def resolve_path(value: str | os.PathLike[str], config_dir: Path | None) -> Path:
    """``value`` as a path; relative ones from ``config_dir`` (as given when it is None)."""
    path = Path(os.fspath(value)).expanduser()
    return path if path.is_absolute() or config_dir is None else config_dir / path


def setting_path(
    settings: Mapping[str, Any], key: str, *, where: str, config_dir: Path | None
) -> Path | None:
    """The file named by ``settings[key]``, or None when the key is absent or empty."""
    value = settings.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str | os.PathLike):
        raise ConfigError(
            f"{where}.{key} must be a path, not {type(value).__name__}.",
            next_step=f"Write {key} as a quoted path.",
        )
    return resolve_path(value, config_dir)


def setting_paths(
    settings: Mapping[str, Any], key: str, *, where: str, config_dir: Path | None
) -> list[Path]:
    """The files named by ``settings[key]``: one path or a list of them."""
    value = settings.get(key)
    if value is None or value == "":
        return []
    items = value if isinstance(value, list | tuple) else [value]
    paths = [setting_path({key: item}, key, where=where, config_dir=config_dir) for item in items]
    return [path for path in paths if path is not None]


def read_secret(
    settings: Mapping[str, Any],
    name: str,
    *,
    where: str,
    config_dir: Path | None,
    file_suffix: str = "_file",
    inline: bool = False,
    required: bool = True,
    environ: Mapping[str, str] | None = None,
) -> str | None:
    """The secret ``name`` from its file, its environment variable or, where ``inline``
    is allowed, the settings themselves; None when none is given and it is not ``required``."""
    source = secret_source(
        settings,
        name,
        where=where,
        config_dir=config_dir,
        file_suffix=file_suffix,
        inline=inline,
        required=required,
        environ=environ,
    )
    if isinstance(source, Path):
        return _read_file(source, f"{where}.{name}{file_suffix}")
    return source


def secret_source(
    settings: Mapping[str, Any],
    name: str,
    *,
    where: str,
    config_dir: Path | None,
    file_suffix: str = "_file",
    inline: bool = False,
    required: bool = True,
    environ: Mapping[str, str] | None = None,
) -> Path | str | None:
    """Like ``read_secret``, but a file is returned as its path, not read: a key loader
    takes a key file's bytes (DER included) and names the file in its own errors."""
    file_key, env_key = name + file_suffix, name + "_env"
    ways = [file_key, env_key, name] if inline else [file_key, env_key]
    quoted = [f"{key!r}" for key in ways]
    choices = ", ".join(quoted[:-1]) + " and " + quoted[-1]
    given = [key for key in (file_key, env_key, name) if settings.get(key) not in (None, "")]
    if name in given and not inline:
        raise ConfigError(
            f"{where}.{name} holds a secret inline, in the settings themselves; it was not used.",
            next_step=f"Remove it (and rotate it if the file was shared); name a file with "
            f"{file_key} or an environment variable with {env_key}.",
        )
    if len(given) > 1:
        raise ConfigError(
            f"{where}: exactly one of {choices} is needed for the {name}; "
            f"{' and '.join(given)} are both set.",
            next_step="Keep one of them.",
        )
    if not given and required:
        raise ConfigError(
            f"{where}: exactly one of {choices} is needed for the {name}.",
            next_step=f"Name a file holding it with {file_key} (a relative path is read from "
            f"the configuration file's folder) or an environment variable with {env_key}.",
        )
    if not given:
        return None
    [key] = given
    value = settings[key]
    if not isinstance(value, str | os.PathLike):
        raise ConfigError(
            f"{where}.{key} must be a string, not {type(value).__name__}.",
            next_step=f"Write {key} as a quoted string.",
        )
    if key == file_key:
        return resolve_path(value, config_dir)
    if key == env_key:
        return _read_variable(str(value), f"{where}.{key}", environ)
    return str(value)


def _read_file(path: Path, setting: str) -> str:
    try:
        return path.read_text(encoding="utf-8").strip()
    except ValueError as error:  # a NUL in the path (UnicodeDecodeError is a ValueError too)
        reason = "not UTF-8 text" if isinstance(error, UnicodeDecodeError) else "a NUL in its name"
        raise ConfigError(
            f"{setting}: the file {str(path)!r} cannot be read ({reason}).",
            next_step="Check the path (a relative one is read from the configuration file's "
            "folder) and the file's contents.",
        ) from None
    except OSError as error:
        reason = error.strerror or "unreadable"
        raise ConfigError(
            f"{setting}: the file {path} cannot be read ({reason}).",
            next_step="Check the path (a relative one is read from the configuration file's "
            "folder) and the file's permissions.",
        ) from None


def _read_variable(variable: str, setting: str, environ: Mapping[str, str] | None) -> str:
    value = (os.environ if environ is None else environ).get(variable, "").strip()
    if not value:
        raise ConfigError(
            f"{setting}: the environment variable {variable} is not set.",
            next_step=f"Export {variable} before starting the till.",
        )
    return value
