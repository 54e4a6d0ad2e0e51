"""The centre's rule checks in a sale: 3101 before the pre-settlement, 3102 between it and
the settlement (NATIONAL.md §12), where the region turns them on.

What they find is said to the cashier as warnings on the quote and the receipt. A finding
the region counts as blocking stops the sale there, before anything is charged: a
``Declined`` with code ``risk_refused``, whose message is the cashier's sentence. Only a
gateway that declares ``Capability.RISK_CHECKS`` is asked; any other sale pays nothing for
this step.
"""

from __future__ import annotations

from collections.abc import Callable

from gongji.errors import Declined
from gongji.flows.setup import SettlementEvent, Setup
from gongji.flows.steps import read, record
from gongji.gateways import (
    Capability,
    CentreSettlement,
    RiskFinding,
    RiskGateway,
    RiskStage,
    SettlementRequest,
)
from gongji.gateways.exchange import Flow
from gongji.identity import scrub_ids
from gongji.journal import Entry, EntryState
from gongji.model import Purchase, RuleWarning

__all__ = ["RISK_REFUSED", "Refused", "journal_refusal", "refusal", "screen", "warning"]

#: What a sale does when the centre's check refuses it, before the refusal is raised.
Refused = Callable[[SettlementRequest, Declined], Flow[None]]

#: ``Declined.code`` of a sale the centre's rule check refused.
RISK_REFUSED = "risk_refused"

#: What each check is called before the cashier.
_CHECK = {
    RiskStage.PRE_EVENT: ("check before settlement", "事前审核"),
    RiskStage.IN_EVENT: ("check during settlement", "事中审核"),
}
_CONTENT_CHARS = 300  # vola_cont is at most 500 characters; a till's line holds less


def screen(
    setup: Setup,
    stage: RiskStage,
    request: SettlementRequest,
    pre: CentreSettlement | None = None,
    *,
    refused: Refused | None = None,
) -> Flow[tuple[RuleWarning, ...]]:
    """The centre's check at ``stage`` for ``request``: its findings as the cashier's
    warnings; ``Declined`` (``risk_refused``) when one of them blocks the sale, after
    ``refused`` (a sale journals itself refused) has run."""
    gateway = setup.gateway
    if Capability.RISK_CHECKS not in gateway.capabilities or not isinstance(gateway, RiskGateway):
        return ()
    what = f"The centre's {_CHECK[stage][0]} ({stage.value})"
    findings = yield from read(setup, what, lambda: gateway.risk_check(stage, request, pre))
    blocking = [finding for finding in findings if finding.blocking]
    if blocking:
        error = refusal(blocking, gateway.name)
        if refused is not None:
            yield from refused(request, error)
        raise error
    return tuple(warning(finding) for finding in findings)


def journal_refusal(
    setup: Setup, key: str, fingerprint: str, attempt: int, purchase: Purchase, cash_kind: str
) -> Refused:
    """What a sale under ``key`` does when the centre's check refuses it: the journal shows
    the sale failed, nothing charged (no settlement was sent: no msgid), and says why, so
    the key may be used again for this purchase, as after any refusal."""

    def refused(request: SettlementRequest, error: Declined) -> Flow[None]:
        entry = Entry(
            key=key,
            fingerprint=fingerprint,
            state=EntryState.FAILED,
            attempt=attempt,
            setting=purchase.setting,
            purpose=purchase.purpose,
            psn_no=request.psn_no,
            msgid="",
            cash_kind=cash_kind,
            reason=error.message[:200],
            voucher=setup.voucher(purchase.credential),
            insured_in=request.patient.insurance.region,
        )
        yield from record(setup, entry)
        setup.announce(SettlementEvent("failed", key, detail=error.message[:200]))

    return refused


def warning(finding: RiskFinding) -> RuleWarning:
    """A finding as the cashier reads it, in English and Chinese (rule: the check's code)."""
    check, check_zh = _CHECK[finding.stage]
    amount = f" Amount concerned: {finding.amount}." if finding.amount else ""
    amount_zh = f"涉及金额 {finding.amount}。" if finding.amount else ""
    return RuleWarning(
        rule=finding.stage.value,
        reason=f"The insurance centre's {check} ({finding.stage.value}) flags "
        f"{_rule(finding)}: {_content(finding)}{amount}",
        reason_zh=f"医保中心{check_zh}({finding.stage.value})提示{_rule_zh(finding)}："
        f"{_content(finding, zh=True)}{amount_zh}",
    )


def refusal(blocking: list[RiskFinding], gateway: str) -> Declined:
    """The sale refused by the blocking findings (one sentence for the first, a count of
    the rest): nothing was charged, and the cashier is told what to do next."""
    first = blocking[0]
    check, check_zh = _CHECK[first.stage]
    others = len(blocking) - 1
    more = (
        f" {others} more finding{'s block' if others > 1 else ' blocks'} it too." if others else ""
    )
    more_zh = f"另有 {others} 项审核结果同样拒绝。" if others else ""
    return Declined(
        f"The insurance centre's {check} ({first.stage.value}) refuses this sale under "
        f"{_rule(first)}: {_content(first)}{more} Nothing was charged.",
        next_step="Change the purchase as the finding says (a quantity, a drug) and settle it "
        "under a new key, or ask the insurance centre to review the finding.",
        err_msg=f"医保中心{check_zh}({first.stage.value})依据{_rule_zh(first)}拒绝本次结算："
        f"{_content(first, zh=True)}{more_zh}未收取任何费用。",
        code=RISK_REFUSED,
        gateway=gateway,
    )


def _rule(finding: RiskFinding) -> str:
    """``配伍禁忌 (rule R01, severity 2)``, whatever of it the centre named."""
    named = bool(finding.rule_name)
    details = [f"rule {finding.rule_id}"] if named and finding.rule_id else []
    details += [f"severity {finding.severity}"] if finding.severity else []
    name = finding.rule_name or (f"rule {finding.rule_id}" if finding.rule_id else "a rule")
    return f"{name} ({', '.join(details)})" if details else name


def _rule_zh(finding: RiskFinding) -> str:
    named = bool(finding.rule_name)
    details = [f"规则 {finding.rule_id}"] if named and finding.rule_id else []
    details += [f"严重程度 {finding.severity}"] if finding.severity else []
    name = finding.rule_name or (f"规则 {finding.rule_id}" if finding.rule_id else "未注明的规则")
    return f"{name}({'，'.join(details)})" if details else name


def _content(finding: RiskFinding, *, zh: bool = False) -> str:
    """The centre's words, on one line, without a full ID number, ending as a sentence ends."""
    text = " ".join(scrub_ids(finding.content).split())[:_CONTENT_CHARS]
    if not text:
        return "医保中心未说明详情。" if zh else "The centre gave no detail."
    if text.endswith((".", "。", "!", "！", "?", "？")):
        return text
    return f"{text}。" if zh else f"{text}."
