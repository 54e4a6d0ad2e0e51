"""The ``gongji`` command: its arguments and where each command goes.

Errors print one line (the rule, infcode or code first) and exit non-zero; ``--json``
gives machine output. The commands live in their own modules: ``cli_demo``,
``cli_settle`` (preview, settle) with ``cli_purchase`` (the purchase file and flags),
``cli_keys``, ``cli_journal`` (reconcile, journal); what they print, in ``cli_output``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from gongji.cli_output import json_option, print_error
from gongji.errors import ConfigError, EligibilityError, GongjiError


def argument_parser() -> argparse.ArgumentParser:
    """The ``gongji`` command's arguments, every command and subcommand."""
    from gongji import cli_journal, cli_keys, cli_settle

    parser = argparse.ArgumentParser(
        prog="gongji", description="Medical-insurance settlement at the point of sale."
    )
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    commands = parser.add_subparsers(dest="command", required=True)
    as_json = json_option()
    commands.add_parser(
        "demo",
        parents=[as_json],
        help="settle the built-in Zhang-family stories end to end against the in-process mock",
        description="Each story is previewed, settled (and one refunded) through "
        "SettlementClient.from_profile('mock') against one fresh in-process mock; a story ends "
        "as scripted when its outcome and the mock's ledger both match. Exit 0 when all do.",
    )
    policy = commands.add_parser("policy", help="region policy packs")
    policy_commands = policy.add_subparsers(dest="policy_command", required=True)
    policy_commands.add_parser("list", parents=[as_json], help="list the registered packs")
    show = policy_commands.add_parser(
        "show",
        parents=[as_json],
        help="show one pack, with what it extends resolved: each value and its source",
    )
    show.add_argument("pack", help="a pack id, or the path of a pack file")
    commands.add_parser(
        "plugins", parents=[as_json], help="list the loaded plugins and where they come from"
    )
    cli_settle.add_commands(commands)
    cli_keys.add_commands(commands)
    mock = commands.add_parser(
        "mock", help="the mock gateway: an insurance centre, WeChat Pay and Alipay"
    )
    mock_commands = mock.add_subparsers(dest="mock_command", required=True)
    serve = mock_commands.add_parser(
        "serve",
        parents=[as_json],
        help="serve the mock over HTTP (extra: mock)",
        description=(
            "Serve the mock gateway over HTTP. WeChat Pay callbacks and Alipay notifications "
            "are POSTed in the background to each trade's own http(s) notify_url "
            "(WeChat med-ins: callback_url), or all to --notify-url; each is retried up to 3 "
            "times (after 1, 2 and 4 s) until the receiver answers 2xx (Alipay: the body "
            "'success'). GET /gongji-admin/callbacks shows every attempt."
        ),
    )
    serve.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)"
    )
    serve.add_argument(
        "--port", type=_port, default=8930, help="port (default 8930; 0 picks a free one)"
    )
    serve.add_argument(
        "--data", help="a dataset file (docs/reference/dataset.md); default: the demo family"
    )
    serve.add_argument(
        "--state",
        metavar="FILE",
        help="keep the mock's state in this SQLite file across restarts, created if missing "
        "(docs/reference/mock-state.md); default: in memory, lost when the mock stops",
    )
    serve.add_argument("--faults", help="a faults file (docs/reference/mock-faults.md)")
    serve.add_argument(
        "--notify-url",
        metavar="URL",
        help="deliver every callback and notification to this http(s) URL instead of the "
        "trade's own (docs/reference/mock-channels.md)",
    )
    cli_journal.add_commands(commands)
    return parser


def main(
    argv: Sequence[str] | None = None, *, client_options: Mapping[str, Any] | None = None
) -> int:
    """The ``gongji`` command. ``client_options`` go to the client that ``reconcile``,
    ``journal``, ``preview`` and ``settle`` build from the profile (``journal=``,
    ``transport=``, for the mock profile ``mock=``, ...): for a program that embeds the
    command, and for tests."""
    args = argument_parser().parse_args(argv)
    try:
        return _run(args, client_options or {})
    except GongjiError as error:
        print_error(error, args.json)
        books = args.command in ("reconcile", "journal")
        return 2 if books or isinstance(error, EligibilityError) else 1
    except BrokenPipeError:
        # The reader stopped early (`gongji policy show X | head`): nothing more to say,
        # and Python must not complain again when it flushes stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except OSError as error:  # the machine's answer (a port in use, a full disk): one line too
        what = error.strerror or str(error)
        print_error(
            ConfigError(
                f"The system refused: {what}{f' ({error.filename})' if error.filename else ''}.",
                next_step="Fix that on this machine (a free port, a writable path) and run again.",
                code="os_error",
            ),
            args.json,
        )
        return 1
    except KeyboardInterrupt:
        print("gongji: interrupted", file=sys.stderr)
        return 130


def _port(text: str) -> int:
    """A TCP port for ``--port``: argparse says so in its usage line when it is not one."""
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{text[:10]!r} is not a port from 0 to 65535")
    return port


def _run(args: argparse.Namespace, client_options: Mapping[str, Any]) -> int:
    from gongji import cli_demo, cli_journal, cli_keys, cli_settle

    if args.command in ("reconcile", "journal"):
        return cli_journal.run(args, client_options)
    if args.command in ("preview", "settle"):
        return cli_settle.run(args, client_options)
    if args.command == "keys":
        return cli_keys.run(args)
    if args.command == "demo":
        return cli_demo.run(args.json)
    if args.command == "policy":
        return _policy(args.policy_command, getattr(args, "pack", None), args.json)
    if args.command == "mock":
        return _mock_serve(
            args.host, args.port, args.data, args.state, args.faults, args.notify_url, args.json
        )
    return _plugins(args.json)


def _policy(command: str, pack_ref: str | None, as_json: bool) -> int:
    from pathlib import Path

    from gongji.policy import policies
    from gongji.policy.loader import pack_table, setting_keys

    registry = policies()
    if command == "list":
        ids = registry.ids()
        print(json.dumps(ids) if as_json else "\n".join(ids))
        return 0
    assert pack_ref is not None
    path = Path(pack_ref)
    pack = registry.load_file(path) if path.suffix == ".toml" else registry.get(pack_ref)
    table = pack_table(pack)
    if as_json:
        print(json.dumps(table, ensure_ascii=False, indent=2, default=str))
        return 0
    # Each value with its source, so that a reader can check the pack against the sources.
    print(f"{pack.id}: {pack.name}")
    if pack.illustrative:
        print("ILLUSTRATIVE: made-up values for demonstrations and tests, never for a real till")
    print(
        f"line {pack.line_name}, in force from {pack.effective} to {pack.until or 'a later pack'}"
    )
    for key in setting_keys(table):
        value: Any = table
        for part in key.split("."):
            value = value[part]
        shown = json.dumps(
            sorted(value) if isinstance(value, list) else value, ensure_ascii=False, default=str
        )
        print(f"{key} = {shown}\n    source: {pack.source_of(key)}")
    return 0


def _mock_serve(
    host: str,
    port: int,
    data: str | None,
    state: str | None,
    faults: str | None,
    notify_url: str | None,
    as_json: bool,
) -> int:
    from gongji_mock import MockGateway
    from gongji_mock.asgi import bind, make_server
    from gongji_mock.dataset import demo_dataset, load_dataset
    from gongji_mock.delivery import CallbackDelivery
    from gongji_mock.faults import Faults
    from gongji_mock.gateway import DEFAULT_PAASID

    dataset = load_dataset(data) if data else demo_dataset()
    rules = Faults.load(faults) if faults else None
    delivery = CallbackDelivery(notify_url=notify_url)
    mock = MockGateway(dataset, faults=rules, delivery=delivery, state=state)
    server = make_server(mock, bind(host, port))
    callbacks = notify_url or "each trade's notify_url"
    # The first line says where the mock listens (with --port 0, the port the system chose).
    if as_json:
        print(
            json.dumps(
                {
                    "url": server.url,
                    "paasid": DEFAULT_PAASID,
                    "keys": f"{server.url}/gongji-admin/keys",
                    "dashboard": f"{server.url}/",
                    "callbacks": callbacks,
                    "state": state,
                }
            ),
            flush=True,
        )
    else:
        print(
            f"gongji mock: serving {mock!r} on {server.url} (TIF paasid {DEFAULT_PAASID!r}; "
            f"test keys at {server.url}/gongji-admin/keys; dashboard at {server.url}/; "
            f"callbacks to {callbacks}; test data, no real money"
            f"{f'; state in {state}' if state else ''})",
            flush=True,
        )
    try:
        server.run()  # uvicorn stops cleanly on Ctrl-C and SIGTERM
    finally:
        delivery.close()
    return 0


def _plugins(as_json: bool) -> int:
    from gongji.plugins import adapter_registry, get_plugin_manager

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
            {"name": name, "from": dist, "hooks": hooks, "adapters": adapters.get(name, [])}
        )
    if as_json:
        print(json.dumps(rows, indent=2))
    else:
        for row in rows:
            print(f"{row['name']:<28} {row['from']:<22} {', '.join(row['hooks'])}")
            for adapter in adapters.get(str(row["name"]), []):
                capabilities = ", ".join(adapter["capabilities"])
                print(f"{'':<28} adapter {adapter['name']} ({adapter['kind']}): {capabilities}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
