"""What every ``gongji`` command prints, in one place: the error line, JSON, tables, and
the cashier's view of a quote and a receipt.

Tables use ``rich`` when the ``cli`` extra is installed, plain aligned lines otherwise.
Nothing here prints a full ID number: owners are shown masked (``210202********0036``),
and free text from a gateway goes through ``scrub`` first.
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from gongji.errors import GongjiError

# Every command imports this module to build its arguments: what only printing needs
# is imported when printed, so that `gongji --help` stays quick.
if TYPE_CHECKING:
    from gongji.identity import IdNumber
    from gongji.model import ChronicDisease, Leg, Receipt, Refusal, RuleWarning
    from gongji.rules.quote import Quote

__all__ = [
    "Output",
    "error_label",
    "leg_json",
    "print_error",
    "quote_json",
    "receipt_json",
    "scrub",
]

#: The cashier's labels, English then Chinese, as on a Chinese pharmacy's receipt.
FUND = "pooled fund 统筹基金"
OWN_ACCOUNT = "own account 个人账户"
MUTUAL_AID = "mutual aid 共济"
CASH = "cash 现金"
TOTAL = "total 合计"


def scrub(text: str) -> str:
    """Free text (a gateway's words) without a full ID number in it."""
    from gongji.identity import scrub_ids

    return scrub_ids(text)


# ---------------------------------------------------------------- errors


def error_label(error: GongjiError) -> str:
    """What names an error first on its line: the rule (R1..R9), the centre's infcode, or the code."""
    return (
        getattr(error, "rule", None)
        or (f"infcode {error.infcode}" if getattr(error, "infcode", None) else "")  # type: ignore[attr-defined]
        or error.code
    )


def print_error(error: GongjiError, as_json: bool) -> None:
    """The error in one line on stderr, ``gongji: <label>: <message and next step>``; with
    ``as_json`` a JSON object on stdout instead, so a program reads one document either way."""
    label = error_label(error)
    text = " ".join(scrub(str(error)).split())  # one line, whatever the message held
    if text.startswith(f"{label}: "):  # an EligibilityError already names its rule
        text = text[len(label) + 2 :]
    if as_json:
        print(
            json.dumps(
                {"error": error.code, "rule": getattr(error, "rule", None), "message": text},
                ensure_ascii=False,
            )
        )
    else:
        print(f"gongji: {label}: {text}", file=sys.stderr)


# ---------------------------------------------------------------- JSON shapes (amounts in fen)


def _masked(number: IdNumber | None) -> str | None:
    return number.masked if number is not None else None


def leg_json(leg: Leg) -> dict[str, Any]:
    return {
        "source": leg.source,
        "payer": _masked(leg.payer_id),
        "relation": leg.relation.value if leg.relation else None,
        "amount": int(leg.amount),
        "named_by": leg.named_by,
    }


def refusal_json(refusal: Refusal | RuleWarning) -> dict[str, Any]:
    return {
        "rule": refusal.rule,
        "owner": _masked(refusal.owner_id),
        "reason": scrub(refusal.reason),
    }


def quote_json(quote: Quote) -> dict[str, Any]:
    return {
        "total": int(quote.total),
        "fund": int(quote.fund),
        "legs": [leg_json(leg) for leg in quote.legs],
        "cash": int(quote.cash),
        "refusals": [refusal_json(r) for r in quote.refusals],
        "warnings": [refusal_json(w) for w in quote.warnings],
        "cash_only": [
            {"code": item.code, "name": item.name, "category": item.category.value}
            for item in quote.cash_only
        ],
        "explain": [scrub(line) for line in quote.explain()],
        "chronic_disease": disease_json(quote.disease),
    }


def receipt_json(receipt: Receipt) -> dict[str, Any]:
    return {
        "settlement_id": receipt.settlement_id,
        "key": receipt.key,
        "total": int(receipt.total),
        "fund": int(receipt.fund),
        "legs": [leg_json(leg) for leg in receipt.legs],
        "cash": int(receipt.cash),
        "cash_channel": receipt.cash_channel,
        "transaction_id": receipt.transaction_id,
        "agent": _masked(receipt.agent_id),
        "purpose": receipt.purpose.value,
        "refusals": [refusal_json(r) for r in receipt.refusals],
        "warnings": [refusal_json(w) for w in receipt.warnings],
        "divergence": [scrub(line) for line in receipt.divergence],
        "chronic_disease": disease_json(receipt.disease),
    }


def disease_json(disease: ChronicDisease | None) -> dict[str, Any] | None:
    """The registered chronic or special disease a sale is settled under (med_type 14)."""
    if disease is None:
        return None
    return {
        "code": disease.code,
        "name": disease.name,
        "begins": disease.begins.isoformat() if disease.begins else None,
        "ends": disease.ends.isoformat() if disease.ends else None,
    }


def error_json(error: GongjiError) -> dict[str, Any]:
    return {
        "code": error.code,
        "rule": getattr(error, "rule", None),
        "message": " ".join(scrub(str(error)).split()),
    }


# ---------------------------------------------------------------- the terminal


def _who(leg: Leg) -> str:
    from gongji.rules.explain import OWNER_NOT_REPORTED, owner_label

    if leg.source == "own_account":
        return f"{OWN_ACCOUNT} {_masked(leg.payer_id)}"
    if leg.payer_id is None:
        return f"{MUTUAL_AID}: {OWNER_NOT_REPORTED['en']} {OWNER_NOT_REPORTED['zh']}"
    owner = owner_label(leg.payer_id, leg.relation)
    return f"{MUTUAL_AID}: {owner}" + (
        " (the local plan's attribution)" if leg.named_by == "plan" else ""
    )


_CHANNELS = {
    "wechatpay": "WeChat Pay 微信支付",
    "alipay": "Alipay 支付宝",
    "counter": "at the till 柜台",
}


class Output:
    """Rich tables when the ``cli`` extra is installed, plain lines otherwise; JSON with --json."""

    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json
        self.console: Any = None
        if as_json:
            return
        try:
            from rich.console import Console
        except ImportError:  # the cli extra is not installed
            return
        console = Console()
        # A file or a pipe gets whole lines: an id folded over two lines cannot be searched.
        self.console = console if console.is_terminal else Console(width=200)

    def json(self, document: Any) -> None:
        print(json.dumps(document, ensure_ascii=False, indent=2))

    def line(self, text: str, style: str = "") -> None:
        if self.as_json:
            return
        if self.console is not None:
            self.console.print(text, markup=False, highlight=False, style=style or None)
        else:
            print(text)

    def table(
        self, title: str, columns: Sequence[str], rows: Sequence[Sequence[str]], right: int = 0
    ) -> None:
        """``right``: how many of the last columns are amounts (right-aligned)."""
        if self.as_json:
            return
        if self.console is None:
            self.line(title)
            widths = [max([len(c), *(len(r[i]) for r in rows)]) for i, c in enumerate(columns)]
            first_amount = len(columns) - right
            for row in [list(columns), *rows]:
                cells = [
                    cell.rjust(width) if number >= first_amount else cell.ljust(width)
                    for number, (cell, width) in enumerate(zip(row, widths, strict=True))
                ]
                self.line("  ".join(cells).rstrip())
            return
        from rich.markup import escape
        from rich.table import Table

        # At least as wide as its title, so that a settlement id is never folded.
        table = Table(
            title=title, title_justify="left", header_style="bold", min_width=len(title) + 2
        )
        for number, column in enumerate(columns):
            amount = number >= len(columns) - right
            table.add_column(column, justify="right" if amount else "left", overflow="fold")
        for row in rows:
            table.add_row(*(escape(cell) for cell in row))
        self.console.print(table)

    # ------------------------------------------------------------ the cashier's view

    def quote(self, quote: Quote, title: str = "Quote 预结算") -> None:
        """Who would pay what, then why an account was refused and what is cash only."""
        self.table(title, ["who pays 付款方", "yuan 元"], _payer_rows([quote]), right=1)
        self._notes(quote, None)

    def receipt(self, receipt: Receipt, title: str = "") -> None:
        """The settlement as the centre booked it, and how the cash share was collected."""
        self.table(
            title or f"Receipt {receipt.settlement_id} 结算单 (key {receipt.key})",
            ["who paid 付款方", "yuan 元"],
            _payer_rows([receipt]),
            right=1,
        )
        self._notes(None, receipt)

    def settlement(self, quote: Quote, receipt: Receipt | None, title: str) -> None:
        """The quote and, beside it, the receipt it became: one row per payer, so that a
        cashier sees at a glance that the centre booked what was quoted."""
        if receipt is None:
            self.quote(quote, title)
            return
        self.table(
            f"{title}: receipt {receipt.settlement_id}, key {receipt.key}",
            ["who pays 付款方", "quote 预结算", "receipt 结算"],
            _payer_rows([quote, receipt]),
            right=2,
        )
        self._notes(quote, receipt)

    def _notes(self, quote: Quote | None, receipt: Receipt | None) -> None:
        """Under the table: the agent, the refusals, the warnings, the cash-only items, any divergence."""
        if receipt is not None and receipt.agent_id is not None:
            self.line(f"  presented by an agent 代购人 {receipt.agent_id.masked}")
        answer = receipt or quote
        disease = answer.disease if answer is not None else None
        if disease is not None:
            self.line(f"  chronic or special disease 门诊慢特病 (med_type 14): {disease.label}")
        for refusal in answer.refusals if answer is not None else ():
            self.line(f"  {refusal.rule}: {scrub(refusal.reason)}", "yellow")
        for warning in answer.warnings if answer is not None else ():
            self.line(f"  {warning.rule} warning 提示: {scrub(warning.reason)}", "yellow")
        for item in quote.cash_only if quote is not None else ():
            self.line(f"  {item.name} ({item.category.value}) is cash only 自费.", "yellow")
        for line in receipt.divergence if receipt is not None else ():
            self.line(f"  divergence: {scrub(line)}", "yellow")


def _payer_rows(answers: Sequence[Quote | Receipt]) -> list[list[str]]:
    """Fund, each account, cash and total: one amount column per quote or receipt."""
    from gongji.model import Receipt

    amounts = [{_who(leg): leg.amount.to_yuan() for leg in answer.legs} for answer in answers]
    payers = dict.fromkeys(who for column in amounts for who in column)  # in order, once
    receipt = next((a for a in answers if isinstance(a, Receipt)), None)
    channel = (
        _CHANNELS.get(receipt.cash_channel, "") if receipt is not None and receipt.cash else ""
    )
    return [
        [FUND, *(answer.fund.to_yuan() for answer in answers)],
        *([who, *(column.get(who, "-") for column in amounts)] for who in payers),
        [f"{CASH} ({channel})" if channel else CASH, *(a.cash.to_yuan() for a in answers)],
        [TOTAL, *(answer.total.to_yuan() for answer in answers)],
    ]


def json_option() -> Any:
    """A parent parser giving a subcommand ``--json`` too, so that ``gongji demo --json``
    means ``gongji --json demo`` (SUPPRESS: the top-level flag's value stands when absent)."""
    import argparse

    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument(
        "--json", action="store_true", default=argparse.SUPPRESS, help="machine-readable output"
    )
    return parent


@contextlib.contextmanager
def progress(total: int, what: str, *, show: bool) -> Iterator[Callable[[], None]]:
    """A progress bar on stderr while long work runs, when ``show`` and stderr is a terminal
    with ``rich`` installed; otherwise silent. Yields the function that counts one step."""
    if show and sys.stderr.isatty():
        try:
            from rich.console import Console
            from rich.progress import Progress
        except ImportError:  # the cli extra is not installed
            pass
        else:
            with Progress(console=Console(stderr=True), transient=True) as bar:
                task = bar.add_task(what, total=total)
                yield lambda: bar.advance(task)
            return
    yield lambda: None


@contextlib.contextmanager
def steps(what: str, *, show: bool) -> Iterator[Callable[[str, int, int], None]]:
    """A progress bar on stderr for work that tells its own steps (``step, done, total``),
    when ``show`` and stderr is a terminal with ``rich`` installed; otherwise silent."""
    if show and sys.stderr.isatty():
        try:
            from rich.console import Console
            from rich.progress import Progress
        except ImportError:  # the cli extra is not installed
            pass
        else:
            with Progress(console=Console(stderr=True), transient=True) as bar:
                task = bar.add_task(what, total=None)

                def tell(step: str, done: int, total: int) -> None:
                    bar.update(task, description=f"{what}: {step}", completed=done, total=total)

                yield tell
            return
    yield lambda step, done, total: None
