"""The mock's commands, added to ``gongji`` through ``gongji_register_commands``
(``plugin.py``): ``gongji demo`` and ``gongji mock serve``.

``add_*`` only build arguments (``gongji --help`` imports this module, so it imports
argparse and the core's output options only); ``run_*`` import the mock when they run.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from gongji.cli.output import json_option

if TYPE_CHECKING:
    from gongji.cli.output import Output
    from gongji.premium import PremiumReceipt
    from gongji_mock.demo import Told

__all__ = ["add_demo", "add_mock", "run_demo", "run_mock"]


# ---------------------------------------------------------------- gongji demo


def add_demo(commands: Any) -> None:
    commands.add_parser(
        "demo",
        parents=[json_option()],
        help="settle the built-in Zhang-family stories end to end against the in-process mock",
        description="Each story is previewed, settled (and one refunded) through "
        "SettlementClient.from_profile('mock') against one fresh in-process mock; a story ends "
        "as scripted when its outcome and the mock's ledger both match. Exit 0 when all do.",
    )


def run_demo(args: argparse.Namespace, client_options: Mapping[str, Any]) -> int:
    """Tell every story, shown as the cashier sees them (or as JSON with masked IDs only);
    exit 0 only when each ended as scripted and the ledger is sound."""
    from gongji.cli.output import Output
    from gongji_mock.demo import stories, tell
    from gongji_mock.gateway import MockGateway

    as_json: bool = args.json
    mock = MockGateway.demo()  # one fresh mock for the whole run
    out = Output(as_json)
    told, violations = tell(stories(), mock)
    for number, story in enumerate(told, 1):
        _show(out, number, story)
    failures = sum(story.problem is not None for story in told)
    ok = failures == 0 and not violations
    if as_json:
        out.json(
            {
                "policy": mock.centre.dataset.policy.id,
                # The demo rehearses against the interface a real centre speaks.
                "national": "extensions" if mock.extensions else "strict",
                "stories": [_json(story) for story in told],
                "ledger": {"violations": violations},
                "ok": ok,
            }
        )
        return 0 if ok else 1
    out.line("")
    out.line(
        f"{len(told) - failures} of {len(told)} stories ended as scripted"
        + ("." if not failures else "; some did not: see above."),
        "bold" if not failures else "bold red",
    )
    if violations:
        out.line(f"The mock's ledger is NOT sound: {'; '.join(violations)}", "bold red")
    else:
        out.line(
            "The mock's ledger is sound (mock.check() found nothing), and every account moved as its receipt says."
        )
    return 0 if ok else 1


def _show(out: Output, number: int, told: Told) -> None:
    from gongji.money import Fen

    verdict = "as scripted" if told.problem is None else f"NOT as scripted: {told.problem}"
    out.line("")
    out.line(
        f"{number}. {told.story.title}  [{verdict}]", "bold" if told.problem is None else "bold red"
    )
    if told.refused is not None:
        from gongji.cli.output import error_json

        out.line(
            f"  refused, nothing charged 拒绝: {error_json(told.refused)['message']}", "yellow"
        )
        return
    if told.quote is not None:
        out.settlement(told.quote, told.receipt, f"Story {number}")
    if told.premium is not None:
        paid = told.premium
        out.line(
            f"  premium paid 代缴成功: {paid.payment_id}, {paid.amount.to_yuan()} yuan from the "
            f"account of {paid.payer_id.masked} for {paid.insured_id.masked}, through the premium "
            "channel (not a sale).",
            "green",
        )
    if told.refund is not None:
        out.line(
            f"  refunded 已退款: {told.refund.settlement_id}, {told.refund.total.to_yuan()} yuan: "
            f"the accounts got their {sum((leg.amount for leg in told.refund.legs), Fen(0)).to_yuan()} back"
            + (
                f", {told.refund.cash_channel} its {told.refund.cash.to_yuan()}"
                if told.refund.cash
                else ""
            )
            + ".",
            "green",
        )


def _json(told: Told) -> dict[str, Any]:
    from gongji.cli.output import error_json, quote_json, receipt_json

    return {
        "story": told.story.title,
        "ok": told.problem is None,
        "problem": told.problem,
        "quote": quote_json(told.quote) if told.quote is not None else None,
        "receipt": receipt_json(told.receipt) if told.receipt is not None else None,
        "refused": error_json(told.refused) if told.refused is not None else None,
        "refund": receipt_json(told.refund) if told.refund is not None else None,
        "premium": _premium_json(told.premium) if told.premium is not None else None,
    }


def _premium_json(paid: PremiumReceipt) -> dict[str, Any]:
    """A premium receipt as the demo's JSON shows it: amounts in fen, ID numbers masked."""
    return {
        "payment_id": paid.payment_id,
        "key": paid.key,
        "kind": paid.kind.value,
        "amount": int(paid.amount),
        "payer_id": paid.payer_id.masked,
        "insured_id": paid.insured_id.masked,
        "relation": paid.relation.value if paid.relation else None,
        "balance": int(paid.balance),
    }


# ---------------------------------------------------------------- gongji mock serve


def add_mock(commands: Any) -> None:
    mock = commands.add_parser(
        "mock", help="the mock gateway: an insurance centre, WeChat Pay and Alipay"
    )
    mock_commands = mock.add_subparsers(dest="mock_command", required=True)
    serve = mock_commands.add_parser(
        "serve",
        parents=[json_option()],
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
        "--extensions",
        action="store_true",
        help="also read gongji's extensions on the national endpoint (gongji_* fields, X101); "
        "without it (or the dataset's extensions = true) the mock is strict, as a real centre "
        "(docs/reference/mock-national.md)",
    )
    serve.add_argument(
        "--notify-url",
        metavar="URL",
        help="deliver every callback and notification to this http(s) URL instead of the "
        "trade's own (docs/reference/mock-channels.md)",
    )


def _port(text: str) -> int:
    """A TCP port for ``--port``: argparse says so in its usage line when it is not one."""
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{text[:10]!r} is not a port from 0 to 65535")
    return port


def run_mock(args: argparse.Namespace, client_options: Mapping[str, Any]) -> int:
    """``gongji mock serve``: the mock over HTTP until Ctrl-C or SIGTERM."""
    from gongji_mock.centre.dataset import demo_dataset, load_dataset
    from gongji_mock.faults import Faults
    from gongji_mock.gateway import DEFAULT_PAASID, MockGateway
    from gongji_mock.server.asgi import bind, make_server
    from gongji_mock.server.delivery import CallbackDelivery

    dataset = load_dataset(args.data) if args.data else demo_dataset()
    rules = Faults.load(args.faults) if args.faults else None
    delivery = CallbackDelivery(notify_url=args.notify_url)
    mock = MockGateway(
        dataset,
        faults=rules,
        delivery=delivery,
        state=args.state,
        extensions=True if args.extensions else None,
    )
    server = make_server(mock, bind(args.host, args.port))
    callbacks = args.notify_url or "each trade's notify_url"
    # Say which interface the national endpoint speaks: a rehearsal must know it is strict.
    national = "extensions" if mock.extensions else "strict"
    interface = (
        "national endpoint with gongji's extensions (gongji_* fields, X101): not a real "
        "centre's interface"
        if mock.extensions
        else "national endpoint strict, as a real centre (NATIONAL.md only; --extensions "
        "reads gongji's own fields)"
    )
    # The first line says where the mock listens (with --port 0, the port the system chose).
    if args.json:
        print(
            json.dumps(
                {
                    "url": server.url,
                    "paasid": DEFAULT_PAASID,
                    "keys": f"{server.url}/gongji-admin/keys",
                    "dashboard": f"{server.url}/",
                    "callbacks": callbacks,
                    "state": args.state,
                    "national": national,
                }
            ),
            flush=True,
        )
    else:
        print(
            f"gongji mock: serving {mock!r} on {server.url} (TIF paasid {DEFAULT_PAASID!r}; "
            f"test keys at {server.url}/gongji-admin/keys; dashboard at {server.url}/; "
            f"callbacks to {callbacks}; {interface}; test data, no real money"
            f"{f'; state in {args.state}' if args.state else ''})",
            flush=True,
        )
    try:
        server.run()  # uvicorn stops cleanly on Ctrl-C and SIGTERM
    finally:
        delivery.close()
    return 0
