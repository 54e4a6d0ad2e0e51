"""The ``gongji`` command.

Errors print one line (the rule or code first) and exit non-zero; ``--json``
gives machine output. Tables use ``rich`` when the ``cli`` extra is installed.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from gongji.errors import EligibilityError, GongjiError
from gongji.model import Quote


def argument_parser() -> argparse.ArgumentParser:
    """The ``gongji`` command's arguments, every command and subcommand."""
    from gongji import cli_journal

    parser = argparse.ArgumentParser(
        prog="gongji", description="Medical-insurance settlement at the point of sale."
    )
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser(
        "demo", help="run the built-in Zhang-family stories and show the cashier's view"
    )
    policy = commands.add_parser("policy", help="region policy packs")
    policy_commands = policy.add_subparsers(dest="policy_command", required=True)
    policy_commands.add_parser("list", help="list the registered packs")
    show = policy_commands.add_parser("show", help="show one pack, with what it extends resolved")
    show.add_argument("pack", help="a pack id, or the path of a pack file")
    commands.add_parser("plugins", help="list the loaded plugins and where they come from")
    mock = commands.add_parser(
        "mock", help="the mock gateway: an insurance centre, WeChat Pay and Alipay"
    )
    mock_commands = mock.add_subparsers(dest="mock_command", required=True)
    serve = mock_commands.add_parser(
        "serve",
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
        "--port", type=int, default=8930, help="port (default 8930; 0 picks a free one)"
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
    """The ``gongji`` command. ``client_options`` go to the client that ``reconcile`` and
    ``journal`` build from the profile (``journal=``, ``transport=``, ...): for a program
    that embeds the command, and for tests."""
    from gongji import cli_journal

    args = argument_parser().parse_args(argv)
    books = args.command in ("reconcile", "journal")
    try:
        if books:
            return cli_journal.run(args, client_options or {})
        if args.command == "demo":
            return _demo(args.json)
        if args.command == "policy":
            return _policy(args.policy_command, getattr(args, "pack", None), args.json)
        if args.command == "mock":
            return _mock_serve(
                args.host, args.port, args.data, args.state, args.faults, args.notify_url, args.json
            )
        return _plugins(args.json)
    except GongjiError as exc:
        label = getattr(exc, "rule", "") or exc.code
        if args.json:
            print(
                json.dumps(
                    {"error": exc.code, "rule": getattr(exc, "rule", None), "message": str(exc)},
                    ensure_ascii=False,
                )
            )
        else:
            print(f"gongji: {label}: {exc}", file=sys.stderr)
        return 2 if books or isinstance(exc, EligibilityError) else 1


def _demo(as_json: bool) -> int:
    from gongji.demo import run_story, stories
    from gongji.policy import get_policy

    policy = get_policy("liaoning-dalian-2025")
    today = datetime.date.today()
    results: list[dict[str, Any]] = []
    failures = 0
    out = _Output(as_json)
    for number, story in enumerate(stories(), 1):
        outcome = run_story(story, today)
        problem = story.expect(outcome)
        failures += problem is not None
        results.append(
            {
                "story": story.title,
                "ok": problem is None,
                "problem": problem,
                **_outcome_json(outcome),
            }
        )
        out.story(number, story.title, outcome, problem)
    if as_json:
        print(
            json.dumps(
                {"policy": policy.id, "stories": results, "ok": failures == 0},
                ensure_ascii=False,
                indent=2,
            )
        )
    else:
        out.line(
            f"{len(results) - failures} of {len(results)} stories ended as scripted."
            + ("" if not failures else "  Some did not: see above.")
        )
    return 0 if failures == 0 else 1


def _outcome_json(outcome: Quote | GongjiError) -> dict[str, Any]:
    if isinstance(outcome, GongjiError):
        return {
            "refused": {
                "code": outcome.code,
                "rule": getattr(outcome, "rule", None),
                "message": str(outcome),
            }
        }
    return {
        "quote": {
            "total": int(outcome.total),
            "fund": int(outcome.fund),
            "legs": [
                {
                    "source": leg.source,
                    "payer": leg.payer_id.masked,
                    "relation": leg.relation.value if leg.relation else None,
                    "amount": int(leg.amount),
                }
                for leg in outcome.legs
            ],
            "cash": int(outcome.cash),
            "refusals": [
                {
                    "rule": r.rule,
                    "owner": r.owner_id.masked if r.owner_id else None,
                    "reason": r.reason,
                }
                for r in outcome.refusals
            ],
            "explain": outcome.explain(),
        }
    }


class _Output:
    """The cashier's view, as rich tables when rich is installed, else plain lines."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        try:
            from rich.console import Console

            self.console: Any = Console()
        except ImportError:  # the cli extra is not installed
            self.console = None

    def line(self, text: str) -> None:
        if self.quiet:
            return
        if self.console is not None:
            self.console.print(text)
        else:
            print(text)

    def story(
        self, number: int, title: str, outcome: Quote | GongjiError, problem: str | None
    ) -> None:
        if self.quiet:
            return
        verdict = "as scripted" if problem is None else f"NOT as scripted: {problem}"
        self.line(f"\n{number}. {title}  [{verdict}]")
        if isinstance(outcome, GongjiError):
            self.line(f"   refused: {outcome}")
            return
        if self.console is None:
            for sentence in outcome.explain():
                print(f"   {sentence}")
            return
        from rich.table import Table

        from gongji.explain import owner_label

        table = Table(show_header=True, header_style="bold")
        table.add_column("who pays")
        table.add_column("amount", justify="right")
        table.add_row("pooled fund 统筹基金", outcome.fund.to_yuan())
        for leg in outcome.legs:
            if leg.source == "own_account":
                who = "own account 个人账户"
            else:
                who = f"mutual aid 共济: {owner_label(leg.payer_id, leg.relation)}"
            table.add_row(who, leg.amount.to_yuan())
        table.add_row("cash 现金", outcome.cash.to_yuan())
        table.add_row("[bold]total 合计[/bold]", f"[bold]{outcome.total.to_yuan()}[/bold]")
        self.console.print(table)
        for refusal in outcome.refusals:
            self.console.print(f"   [yellow]{refusal.rule}: {refusal.reason}[/yellow]")
        for item in outcome.cash_only:
            self.console.print(
                f"   [yellow]{item.name} ({item.category.value}) is cash only.[/yellow]"
            )


def _policy(command: str, pack_ref: str | None, as_json: bool) -> int:
    from pathlib import Path

    from gongji.policy import policies
    from gongji.policy.loader import pack_table

    registry = policies()
    if command == "list":
        ids = registry.ids()
        print(json.dumps(ids) if as_json else "\n".join(ids))
        return 0
    assert pack_ref is not None
    path = Path(pack_ref)
    pack = registry.load_file(path) if path.suffix == ".toml" else registry.get(pack_ref)
    print(json.dumps(pack_table(pack), ensure_ascii=False, indent=2, default=str))
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
