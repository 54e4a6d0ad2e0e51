"""Reconciliation as the centre does it (3201 totals per clearing group, 3202 details by
file through 9101 and 9102) against the journal, through both drivers: each injected
discrepancy is found and named, and a clean day reports nothing, however many faults,
reversals and refunds it had."""

from __future__ import annotations

import datetime
import json
from importlib.resources import files
from typing import Any

import attrs
import httpx
import msgspec
import pytest

from gongji import Cash, Declined, Fen, OutcomeUnknown, SettlementClient, Unavailable
from gongji.client import drive
from gongji.flows import reconcile as reconcile_flows
from gongji.gateways import CentreSettlement
from gongji.journal import EntryState
from gongji.reconciliation import ReconciliationReport
from gongji_mock import MockGateway
from gongji_mock.centre.dataset import parse_dataset
from tests.client.conftest import (
    ALIPAY_PAID,
    DAUGHTER,
    FAST_POLLING,
    FATHER,
    GRANDMOTHER,
    MOTHER,
    SISTER,
    SON,
    WECHAT_NEVER,
    WECHAT_PAID,
    WIFE,
    Till,
    drug,
    purchase,
)


def centre_day(mock: MockGateway) -> datetime.date:
    """The centre's business day (its settlements' ``setl_time``)."""
    return mock.centre.clock().date()


def a_days_sales(till: Till) -> list[str]:
    """Three sales: mutual aid with WeChat cash, an own account, fund and mutual aid with Alipay."""
    return [
        till.settle(purchase(MOTHER), key="DAY-0001", cash=Cash.wechat(WECHAT_PAID)).settlement_id,
        till.settle(purchase(SON, drug(9_000)), key="DAY-0002").settlement_id,
        till.settle(
            purchase(MOTHER, drug(9_000)), key="DAY-0003", cash=Cash.alipay(ALIPAY_PAID)
        ).settlement_id,
    ]


def assert_totals_match(report: ReconciliationReport) -> None:
    """The centre's totals, as its answers show them, are the journal's; the centre states
    no mutual-aid or cash total."""
    ours, theirs = report.journal, report.centre
    assert (theirs.mutual_aid, theirs.cash) == (None, None)
    assert attrs.evolve(ours, agreed=None, mutual_aid=None, cash=None) == attrs.evolve(
        theirs, agreed=None
    )


# ---------------------------------------------------------------- clean days


def test_a_clean_day_reports_nothing(till: Till, mock: MockGateway) -> None:
    sold = a_days_sales(till)
    report = till.reconcile(centre_day(mock))
    assert report.clean and report.agreed is True
    assert report.discrepancies == () and report.unresolved == ()
    assert report.journal.count == len(sold) == report.matched == 3
    assert_totals_match(report)


def test_a_day_without_sales_is_clean(till: Till, mock: MockGateway) -> None:
    report = till.reconcile(centre_day(mock))
    # No clearing group had a sale, so no totals went to 3201; the empty file did to 3202.
    assert report.clean and report.agreed is None and report.statements == ()
    assert (report.journal.count, report.centre.count) == (0, 0)


def test_a_day_with_faults_reversals_and_refunds_comes_out_clean(
    till: Till, mock: MockGateway
) -> None:
    # A lost answer at the centre: reversed, then settled again under the same key.
    mock.faults.add("drop_after_commit", target="national", code="2102", times=1)
    with pytest.raises(Unavailable, match="reversed"):
        till.settle(purchase(MOTHER), key="FLT-0001", cash=Cash.wechat(WECHAT_PAID))
    till.settle(purchase(MOTHER), key="FLT-0001", cash=Cash.wechat(WECHAT_PAID))
    # A payer who never confirms: the centre's settlement is cancelled.
    with pytest.raises(Declined, match="nothing was charged"):
        till.settle(purchase(MOTHER), key="FLT-0002", cash=Cash.wechat(WECHAT_NEVER))
    # A lost answer whose reversal is lost too: in doubt until recover() reverses it.
    mock.faults.add("drop_after_commit", target="national", code="2102", times=1)
    mock.faults.add("timeout_before_commit", target="national", code="2601", times=3)
    with pytest.raises(OutcomeUnknown):
        till.settle(purchase(SON, drug(3_000)), key="FLT-0003")
    mock.faults.clear()
    till.recover()
    # A refund and a cancellation.
    refunded = till.settle(purchase(WIFE, drug(12_000)), key="FLT-0004")
    till.refund(refunded.settlement_id)
    cancelled = till.settle(
        purchase(MOTHER, drug(9_000)), key="FLT-0005", cash=Cash.alipay(ALIPAY_PAID)
    )
    till.cancel(cancelled.settlement_id)
    kept = till.settle(purchase(SON, drug(9_000)), key="FLT-0006")

    journal = till.client.journal
    states = {key: journal.get(key).state for key in (f"FLT-000{n}" for n in range(1, 7))}  # type: ignore[union-attr]
    assert list(states.values()) == [
        EntryState.SETTLED,
        EntryState.FAILED,
        EntryState.FAILED,
        EntryState.REFUNDED,
        EntryState.CANCELLED,
        EntryState.SETTLED,
    ]

    report = till.reconcile(centre_day(mock))
    assert report.clean, report.discrepancies
    assert report.unresolved == ()
    assert report.journal.count == 2
    assert report.journal.own_account == kept.legs[0].amount
    assert_totals_match(report)
    assert mock.check() == []


def test_a_read_lost_on_the_way_is_asked_again(till: Till, mock: MockGateway) -> None:
    a_days_sales(till)
    mock.faults.add("error_5xx", target="national", code="3201", times=1)
    mock.faults.add("timeout_before_commit", target="national", code="3202", times=1)
    assert till.reconcile(centre_day(mock)).clean


def test_an_unreachable_centre_is_unavailable_saying_what_failed(
    till: Till, mock: MockGateway
) -> None:
    mock.faults.add("error_5xx", target="national", code="3202", times=5)
    with pytest.raises(Unavailable, match=r"day's details \(3202\) failed 3 times"):
        till.reconcile(centre_day(mock))


# ---------------------------------------------------------------- injected discrepancies


def test_a_settlement_the_journal_lacks_is_centre_only(till: Till, mock: MockGateway) -> None:
    a_days_sales(till)
    # Another till of the same pharmacy, with a journal of its own, settles against the centre.
    with SettlementClient.from_profile(
        "mock", mock=mock, polling=FAST_POLLING, till=1
    ) as other:  # its own journal: a till number of its own
        elsewhere = other.settle(purchase(WIFE, drug(12_000)), key="OTHER-0001")
    report = till.reconcile(centre_day(mock))
    assert not report.clean and report.agreed is False
    [found] = report.discrepancies
    assert found.kind == "centre_only" and found.setl_id == elsewhere.settlement_id
    assert found.key == "" and found.journal is None and found.psn_no == mock.psn_no(WIFE)
    assert report.matched == 3
    assert found.centre is not None and found.centre.own_account == Fen(12_000)
    assert report.centre.count == report.journal.count + 1


def test_a_settlement_the_centre_lacks_is_journal_only(till: Till, mock: MockGateway) -> None:
    sold = a_days_sales(till)
    # Cancelled at the centre behind the journal's back.
    mock.centre.cancel(sold[1])
    report = till.reconcile(centre_day(mock))
    assert not report.clean and report.agreed is False
    [found] = report.discrepancies
    assert (found.kind, found.setl_id, found.key) == ("journal_only", sold[1], "DAY-0002")
    assert found.journal_state is EntryState.SETTLED and found.centre is None
    assert found.journal is not None and found.journal.total == Fen(9_000)
    assert "check with the centre" in found.next_step


def share_changed(settlement: CentreSettlement, field: str) -> CentreSettlement:
    """The journal's copy of the centre's settlement with one share moved by one fen."""
    if field == "mutual_aid":
        first, *rest = settlement.mutual_aid
        moved = attrs.evolve(first, amount=first.amount + 1)
        return attrs.evolve(settlement, mutual_aid=(moved, *rest))
    changed: CentreSettlement = attrs.evolve(settlement, **{field: getattr(settlement, field) + 1})
    return changed


@pytest.mark.parametrize("field", ["total", "fund", "own_account"])
def test_an_amount_changed_in_the_journal_is_named(
    till: Till, mock: MockGateway, field: str
) -> None:
    sold = a_days_sales(till)
    journal = till.client.journal
    entry = journal.get("DAY-0003")
    assert entry is not None and entry.settlement is not None
    journal.put(attrs.evolve(entry, settlement=share_changed(entry.settlement, field)))
    report = till.reconcile(centre_day(mock))
    assert not report.clean and report.agreed is False  # 3201 judges these three
    [found] = report.discrepancies
    assert (found.kind, found.setl_id, found.key) == ("amount_differs", sold[2], "DAY-0003")
    assert found.fields == (field,)
    assert found.journal is not None and found.centre is not None
    assert getattr(found.journal, field) == getattr(found.centre, field) + 1
    assert "金额不符" in found.memo  # the centre's own remark, from its result file


@pytest.mark.parametrize("field", ["mutual_aid", "cash"])
def test_a_mutual_aid_or_cash_share_alone_is_not_the_centres_to_reconcile(
    till: Till, mock: MockGateway, field: str
) -> None:
    # 3201 and 3202 carry the total, the fund and the accounts (acct_pay): a centre cannot
    # see how the rest was split between relatives' accounts and cash (the cash is the
    # payment channel's statement's to reconcile).
    a_days_sales(till)
    journal = till.client.journal
    entry = journal.get("DAY-0003")
    assert entry is not None and entry.settlement is not None
    journal.put(attrs.evolve(entry, settlement=share_changed(entry.settlement, field)))
    report = till.reconcile(centre_day(mock))
    assert report.clean and report.discrepancies == ()
    assert getattr(report.centre, field) is None and getattr(report.journal, field) is not None


def test_a_split_changed_in_the_journal_names_each_share_the_centre_states(
    till: Till, mock: MockGateway
) -> None:
    a_days_sales(till)
    journal = till.client.journal
    entry = journal.get("DAY-0001")
    assert entry is not None and entry.settlement is not None
    changed = attrs.evolve(
        entry.settlement,
        fund=entry.settlement.fund + 500,
        own_account=entry.settlement.own_account + 300,
        cash=entry.settlement.cash - 800,
    )
    journal.put(attrs.evolve(entry, settlement=changed))
    [found] = till.reconcile(centre_day(mock)).discrepancies
    assert found.kind == "amount_differs" and found.fields == ("fund", "own_account")
    assert "fund, own_account" in found.next_step


def test_a_refund_the_centre_never_saw_is_state_differs(till: Till, mock: MockGateway) -> None:
    sold = a_days_sales(till)
    journal = till.client.journal
    entry = journal.get("DAY-0002")
    assert entry is not None
    journal.put(attrs.evolve(entry, state=EntryState.REFUNDED))
    report = till.reconcile(centre_day(mock))
    assert not report.clean
    [found] = report.discrepancies
    assert (found.kind, found.setl_id, found.key) == ("state_differs", sold[1], "DAY-0002")
    assert found.journal_state is EntryState.REFUNDED
    assert "refund it again" in found.next_step


def test_a_sale_whose_answer_was_lost_is_matched_by_its_msgid_and_resolved_by_recover(
    till: Till, mock: MockGateway
) -> None:
    mock.faults.add("drop_after_commit", target="national", code="2102", times=1)
    mock.faults.add("timeout_before_commit", target="national", code="2601", times=3)
    with pytest.raises(OutcomeUnknown):
        till.settle(purchase(MOTHER), key="LOST-0001", cash=Cash.wechat(WECHAT_PAID))
    mock.faults.clear()
    entry = till.client.journal.get("LOST-0001")
    assert entry is not None and entry.settlement is None  # the journal never learned its setl_id
    report = till.reconcile(centre_day(mock))
    [found] = report.discrepancies
    assert (found.kind, found.key, found.msgid) == ("state_differs", "LOST-0001", entry.msgid)
    assert found.journal_state is EntryState.CENTRE_PENDING and found.setl_id
    assert report.unresolved == ("LOST-0001",)
    assert "gongji journal recover" in found.next_step
    till.recover()
    after = till.reconcile(centre_day(mock))
    assert after.clean and after.unresolved == ()


def test_every_kind_at_once_in_a_stable_order(till: Till, mock: MockGateway) -> None:
    sold = a_days_sales(till)
    with SettlementClient.from_profile(
        "mock", mock=mock, polling=FAST_POLLING, till=1
    ) as other:  # its own journal: a till number of its own
        other.settle(purchase(WIFE, drug(12_000)), key="OTHER-0001")
    mock.centre.cancel(sold[0])
    journal = till.client.journal
    entry = journal.get("DAY-0003")
    assert entry is not None and entry.settlement is not None
    journal.put(attrs.evolve(entry, settlement=share_changed(entry.settlement, "fund")))
    report = till.reconcile(centre_day(mock))
    kinds = [d.kind for d in report.discrepancies]
    assert kinds == ["amount_differs", "centre_only", "journal_only"]
    assert [d.kind for d in report.of_kind("centre_only")] == ["centre_only"]


# ---------------------------------------------------------------- what is sent and shown


def test_the_journals_totals_go_to_3201_once_per_clearing_group(
    till: Till, mock: MockGateway
) -> None:
    a_days_sales(till)  # the mother is insured as a resident (390), the son as an employee (310)
    sent: dict[str, list[dict[str, Any]]] = {}
    uploaded: list[str] = []
    transport = mock.transport()

    def watch(request: httpx.Request) -> httpx.Response:
        envelope = msgspec.json.decode(request.content)
        sent.setdefault(envelope["infno"], []).append(envelope["input"])
        response = transport.handle_request(request)
        if envelope["infno"] == "9101":
            uploaded.append(json.loads(response.read())["output"]["file_qury_no"])
        return response

    day = centre_day(mock)
    with httpx.Client(transport=httpx.MockTransport(watch)) as http:
        report = drive(reconcile_flows.reconcile(till.client.setup, day), http)
    journal = till.client.journal
    by_insutype: dict[str, list[CentreSettlement]] = {"310": [], "390": []}
    for key in ("DAY-0001", "DAY-0002", "DAY-0003"):
        entry = journal.get(key)
        assert entry is not None and entry.settlement is not None
        assert entry.settlement.clearing is not None
        by_insutype[entry.settlement.clearing.insutype].append(entry.settlement)
    assert [len(by_insutype["310"]), len(by_insutype["390"])] == [1, 2]
    assert sent["3201"] == [
        {
            "data": {
                "insutype": insutype,
                "clr_type": "41",
                "setl_optins": "210200",
                "stmt_begndate": day.isoformat(),
                "stmt_enddate": day.isoformat(),
                "medfee_sumamt": sum((s.total for s in settled), Fen(0)).to_yuan(),
                "fund_pay_sumamt": sum((s.fund for s in settled), Fen(0)).to_yuan(),
                "acct_pay": sum((s.own_account for s in settled), Fen(0)).to_yuan(),
                "fixmedins_setl_cnt": len(settled),
                "refd_setl_flag": "0",
            }
        }
        for insutype, settled in sorted(by_insutype.items())
    ]
    assert [v.agreed for v in report.statements] == [True, True]
    # Then the file: up (9101), compared (3202), the centre's result down (9102).
    assert [len(sent[infno]) for infno in ("9101", "3202", "9102")] == [1, 1, 1]
    details = sent["3202"][0]["data"]
    assert details["file_qury_no"] == uploaded[0]
    assert sent["9102"][0]["fsDownloadIn"]["file_qury_no"] != uploaded[0]  # the result's own
    assert details["fixmedins_setl_cnt"] == 3 and details["setl_optins"] == "210200"


def test_the_report_shows_no_full_id_number(till: Till, mock: MockGateway) -> None:
    sold = a_days_sales(till)
    with SettlementClient.from_profile(
        "mock", mock=mock, polling=FAST_POLLING, till=1
    ) as other:  # its own journal: a till number of its own
        other.settle(purchase(WIFE, drug(12_000)), key="OTHER-0001")
    mock.centre.cancel(sold[0])
    report = till.reconcile(centre_day(mock))
    assert len(report.discrepancies) == 2
    shown = repr(report) + json.dumps(report.as_dict(), ensure_ascii=False)
    for number in (SON, MOTHER, FATHER, DAUGHTER, SISTER, GRANDMOTHER, WIFE):
        assert number not in shown
    assert mock.psn_no(WIFE) in shown  # the centre's person number is what identifies a sale


def test_the_report_as_json_carries_fen_and_each_sides_totals(
    till: Till, mock: MockGateway
) -> None:
    a_days_sales(till)
    report = json.loads(json.dumps(till.reconcile(centre_day(mock)).as_dict()))
    assert report["clean"] is True and report["agreed"] is True and report["discrepancies"] == []
    assert report["centre"] == report["journal"] | {"mutual_aid": None, "cash": None}
    assert report["journal"]["count"] == 3 and isinstance(report["journal"]["total"], int)
    assert [s["insutype"] for s in report["statements"]] == ["310", "390"]


def test_a_patient_without_insurance_is_cleared_under_the_insutype_the_till_sent() -> None:
    """The centre clears a settlement under the ``insutype`` the message named when the
    patient has no insurance of his own (a relative's mutual aid, or cash): the journal
    files it there too, so the day's 3201 totals balance (the soak found a day of one
    till whose totals never did: the mock answered ``insutype`` "" and gongji filed the
    settlement under the resident code it had sent)."""
    text = (files("gongji_mock.centre") / "datasets" / "zhang-family.toml").read_text(
        encoding="utf-8"
    )
    uninsured = '\n[[person]]\nid_number = "210202199001010010"\nname = "无保"\ninsurance = "none"\nregion = "210202"\n'
    mock = MockGateway(parse_dataset(text + uninsured, "zhang-family+uninsured.toml"))
    with SettlementClient.from_profile("mock", mock=mock, polling=FAST_POLLING) as client:
        client.settle(
            purchase("210202199001010010", drug(1_000), use_mutual_aid=False), key="NONE-0001"
        )
        report = client.reconcile(centre_day(mock))
    assert [v.clearing.insutype for v in report.statements] == ["390"]
    assert report.clean and report.agreed is True
