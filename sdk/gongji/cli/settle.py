"""``gongji preview`` and ``gongji settle``: one purchase, from a file or flags, against a profile.

``--profile mock`` (the default) is the in-process demo mock: a rehearsal whose state
is lost when the command ends. ``--mock-url URL`` settles against ``gongji mock serve``
over HTTP; ``--config FILE --profile NAME`` against a configured gateway.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gongji.cli.output import json_option
from gongji.cli.purchase_arguments import add_arguments as add_purchase_arguments
from gongji.errors import ConfigError

if TYPE_CHECKING:
    from gongji.client import SettlementClient
    from gongji.model import Cash

__all__ = ["add_commands", "client_for", "run"]


REHEARSAL = (
    "Against --profile mock this is a rehearsal: the in-process mock's state is lost when "
    "the command ends unless --mock-url names a served mock (`gongji mock serve`)."
)


def add_commands(commands: Any) -> None:
    """Add ``preview`` and ``settle`` to the ``gongji`` command's subparsers."""
    where = argparse.ArgumentParser(add_help=False, parents=[json_option()])
    where.add_argument(
        "--profile",
        metavar="NAME",
        default="mock",
        help="the profile: 'mock' (default, the in-process demo mock) or a [profiles.NAME] "
        "of --config",
    )
    where.add_argument(
        "--config",
        metavar="FILE",
        default=os.environ.get("GONGJI_CONFIG", "gongji.toml"),
        help="the configuration file for a profile other than mock (default: $GONGJI_CONFIG, "
        "else ./gongji.toml)",
    )
    where.add_argument(
        "--mock-url",
        metavar="URL",
        help="a mock served by `gongji mock serve` at URL, over HTTP, instead of the in-process one",
    )
    preview = commands.add_parser(
        "preview",
        parents=[where],
        help="who would pay what for a purchase; nothing is charged",
        description="Preview a purchase: the fund's share, each account's leg, the refusals "
        f"and what is cash only. Nothing is charged. {REHEARSAL}",
    )
    add_purchase_arguments(preview)
    settle = commands.add_parser(
        "settle",
        parents=[where],
        help="settle a purchase and print the receipt",
        description=f"Settle a purchase once per --key and print the receipt. {REHEARSAL} "
        "A payment code is a one-time credential: it is never printed.",
    )
    add_purchase_arguments(settle)
    settle.add_argument(
        "--key",
        required=True,
        help="the sale's idempotency key: a retry with the same key never charges twice",
    )
    cash = settle.add_argument_group("how the cash share is collected (one is required)")
    how = cash.add_mutually_exclusive_group(required=True)
    how.add_argument("--wechat", metavar="CODE", help="a WeChat Pay payment code (18 digits)")
    how.add_argument("--alipay", metavar="CODE", help="an Alipay payment code (16-24 digits)")
    how.add_argument(
        "--counter", action="store_true", help="paid at the till (cash, bank card): nothing sent"
    )


def run(args: argparse.Namespace, client_options: Mapping[str, Any]) -> int:
    """Run ``preview`` or ``settle``; errors propagate (the caller prints them)."""
    from gongji.cli.output import Output, quote_json, receipt_json
    from gongji.cli.purchase import purchase_from_args

    out = Output(args.json)
    purchase = purchase_from_args(args)  # a bad purchase is refused before any client is built
    cash = _cash(args) if args.command == "settle" else None
    with client_for(args, client_options) as client:
        if args.command == "preview":
            quote = client.preview(purchase)
            if out.as_json:
                out.json({"quote": quote_json(quote)})
            else:
                out.quote(quote)
            return 0
        receipt = client.settle(purchase, key=args.key, cash=cash)
    if out.as_json:
        out.json({"receipt": receipt_json(receipt), "rehearsal": _rehearsal(args)})
    else:
        out.receipt(receipt)
        if _rehearsal(args):
            out.line("A rehearsal against the in-process mock: nothing is kept after this command.")
    return 0


def _cash(args: argparse.Namespace) -> Cash:
    from gongji.model import Cash

    if args.wechat is not None:
        return Cash.wechat(args.wechat)
    if args.alipay is not None:
        return Cash.alipay(args.alipay)
    return Cash.counter()


def _rehearsal(args: argparse.Namespace) -> bool:
    return bool(args.profile == "mock" and args.mock_url is None)


def client_for(args: argparse.Namespace, options: Mapping[str, Any]) -> SettlementClient:
    """The client of ``--profile`` / ``--config`` / ``--mock-url``."""
    from gongji.cli.profile_args import configured_client
    from gongji.client import SettlementClient

    if args.mock_url is not None:
        if args.profile != "mock":
            raise ConfigError(
                f"--mock-url goes with the mock profile, not {args.profile!r}.",
                next_step="Drop --profile, or drop --mock-url to use the configured profile.",
            )
        return SettlementClient.from_profile("mock", url=args.mock_url, **options)
    if args.profile == "mock":
        return SettlementClient.from_profile("mock", **options)
    return configured_client(Path(args.config), args.profile, options)
