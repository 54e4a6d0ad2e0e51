"""``gongji demo``: the Zhang family's stories, end to end against a fresh in-process mock,
shown as the cashier sees them (or as JSON with masked IDs only)."""

from __future__ import annotations

from typing import Any

from gongji.cli_output import Output, error_json, quote_json, receipt_json
from gongji.demo import Told, stories, tell
from gongji.money import Fen

__all__ = ["run"]


def run(as_json: bool) -> int:
    """Tell every story; exit 0 only when each ended as scripted and the ledger is sound."""
    from gongji_mock import MockGateway

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
    verdict = "as scripted" if told.problem is None else f"NOT as scripted: {told.problem}"
    out.line("")
    out.line(
        f"{number}. {told.story.title}  [{verdict}]", "bold" if told.problem is None else "bold red"
    )
    if told.refused is not None:
        out.line(
            f"  refused, nothing charged 拒绝: {error_json(told.refused)['message']}", "yellow"
        )
        return
    if told.quote is not None:
        out.settlement(told.quote, told.receipt, f"Story {number}")
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
    return {
        "story": told.story.title,
        "ok": told.problem is None,
        "problem": told.problem,
        "quote": quote_json(told.quote) if told.quote is not None else None,
        "receipt": receipt_json(told.receipt) if told.receipt is not None else None,
        "refused": error_json(told.refused) if told.refused is not None else None,
        "refund": receipt_json(told.refund) if told.refund is not None else None,
    }
