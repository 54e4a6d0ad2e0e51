"""``--config FILE --profile NAME``: the commands that work on a configured till
(``journal``, ``reconcile``, ``catalogue``) take them alike, and open its client alike."""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gongji.cli.output import json_option
from gongji.errors import ConfigError

if TYPE_CHECKING:
    from gongji.client import SettlementClient

__all__ = ["configured_client", "profile_client", "profile_option"]


def profile_option(profile_help: str = "the profile in it") -> argparse.ArgumentParser:
    """A parent parser: ``--json``, ``--config`` and ``--profile``, with their defaults
    from ``GONGJI_CONFIG`` and ``GONGJI_PROFILE``."""
    parent = argparse.ArgumentParser(add_help=False, parents=[json_option()])
    parent.add_argument(
        "--config",
        metavar="FILE",
        default=os.environ.get("GONGJI_CONFIG", "gongji.toml"),
        help="the configuration file (default: $GONGJI_CONFIG, else ./gongji.toml)",
    )
    parent.add_argument(
        "--profile",
        metavar="NAME",
        default=os.environ.get("GONGJI_PROFILE"),
        help=f"{profile_help} (default: $GONGJI_PROFILE)",
    )
    return parent


def profile_client(args: argparse.Namespace, options: Mapping[str, Any]) -> SettlementClient:
    """The client of ``--profile`` in ``--config``; no profile is a one-line ``ConfigError``."""
    if not args.profile:
        raise ConfigError(
            "No profile was given.",
            next_step="Pass --profile NAME (a [profiles.NAME] of the configuration file) or set "
            "GONGJI_PROFILE.",
        )
    return configured_client(Path(args.config), args.profile, options)


def configured_client(path: Path, profile: str, options: Mapping[str, Any]) -> SettlementClient:
    """``SettlementClient.from_config``, with an unreadable file said in one line."""
    from gongji.client import SettlementClient

    try:
        client = SettlementClient.from_config(path, profile=profile, **options)
    except OSError as error:  # a directory, or a file this user may not read
        raise ConfigError(
            f"The configuration file {path} cannot be read ({error.strerror}).",
            next_step="Pass a readable configuration file with --config FILE.",
        ) from None
    return client
