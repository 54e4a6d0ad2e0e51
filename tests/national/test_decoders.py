"""gongji_cityins' decoders fed the real-shaped answers of ``answers/`` through the gateway
itself (the envelope, ``infcode``, the output's decoding and the domain reading): several
``insuinfo`` entries in any order with a 330 first, ``""`` and ``null`` amounts, ``infcode``
as a string, mutual aid without owners, 2101/2103/2208/2601 in their real shapes."""

from __future__ import annotations

import datetime
import itertools
import json
from typing import Any

import pytest

from gongji import Cash, Credential, Declined, Fen, LineItem, Purchase, SettlementClient
from gongji.clock import BEIJING
from gongji.gateways import CentreSettlement, SettlementRequest
from gongji.model import InsuranceKind, InsuranceStatus, Person, Setting
from gongji_mock import MockGateway
from gongji_mock.centre.dataset import parse_dataset
from tests.national.centre import Centre, gateway, run
from tests.national.messages import answer, answer_bytes

SISTER = "210502198802200422"  # the person of the answers: insured in Benxi (210500)
MSGID = "H21020200001202611240035000101"


def edited(name: str) -> dict[str, Any]:
    """An answer to change: its numbers as the JSON text has them (re-encoded unchanged)."""
    found: dict[str, Any] = json.loads(answer_bytes(name))
    return found


def body(envelope: dict[str, Any]) -> bytes:
    return json.dumps(envelope, ensure_ascii=False).encode()


def person(*bodies: bytes) -> tuple[Any, Centre]:
    centre = Centre(*bodies)
    return run(centre, gateway().person(Credential.id_card(SISTER))), centre


def request_for(patient: Person, total: int = 10_000) -> SettlementRequest:
    return SettlementRequest(
        psn_no="21050000000000000042",
        patient=patient,
        credential=Credential.id_card(SISTER),
        items=(LineItem(code="SKU-1", name="药品", unit_price=Fen(total), quantity=1),),
    )


def shares(settled: CentreSettlement) -> tuple[Fen, ...]:
    return (
        settled.total,
        settled.fund,
        settled.own_account,
        settled.mutual_aid_total,
        settled.cash,
    )


# ---------------------------------------------------------------- 9001, 1101


def test_a_string_infcode_on_sign_in_is_success_and_its_sign_no_is_sent_after() -> None:
    holder, centre = person(answer_bytes("1101-several-insuinfo"))
    sign_no = answer("9001-signed-in")["output"]["signinoutb"]["sign_no"]
    assert centre.sent[1]["sign_no"] == sign_no and holder.psn_no


@pytest.mark.parametrize("order", list(itertools.permutations(range(3))), ids=str)
def test_1101_keeps_the_active_employee_entry_in_any_order(order: tuple[int, ...]) -> None:
    # A 330 supplement (active), a suspended 390, the active 310: whatever their order.
    shuffled = edited("1101-several-insuinfo")
    entries = shuffled["output"]["insuinfo"]
    shuffled["output"]["insuinfo"] = [entries[i] for i in order]
    holder, _ = person(body(shuffled))
    insurance = holder.person.insurance
    assert insurance.kind is InsuranceKind.EMPLOYEE and insurance.status is InsuranceStatus.ACTIVE
    assert insurance.region == "210500"
    assert holder.person.account is not None and holder.person.account.balance == Fen(3_000)


def test_the_region_1101_gave_goes_in_every_later_envelope_for_the_patient() -> None:
    holder, _ = person(answer_bytes("1101-several-insuinfo"))
    centre = Centre(answer_bytes("2101-preview"))
    run(centre, gateway().pre_settle(request_for(holder.person, 3_731)))
    assert centre.sent[1]["insuplc_admdvs"] == "210500"
    assert centre.sent[1]["input"]["data"]["insutype"] == "310"


def test_1101_with_a_suspended_entry_only_is_not_an_active_insurance() -> None:
    holder, _ = person(answer_bytes("1101-suspended-only"))
    insurance = holder.person.insurance
    assert insurance.kind is InsuranceKind.RESIDENT
    assert insurance.status is InsuranceStatus.SUSPENDED
    assert holder.person.account is None  # "" balance, resident: no account


def test_1101_with_only_supplements_is_not_insured_for_the_sale() -> None:
    supplements = edited("1101-several-insuinfo")
    supplements["output"]["insuinfo"] = [
        entry for entry in supplements["output"]["insuinfo"] if entry["insutype"] == "330"
    ]
    holder, _ = person(body(supplements))
    assert holder.person.insurance.kind is InsuranceKind.NONE


# ---------------------------------------------------------------- 2101, 2102


def settle(name: str, reading: str = "separate") -> CentreSettlement:
    holder, _ = person(answer_bytes("1101-several-insuinfo"))
    centre = Centre(answer_bytes(name))
    settled: CentreSettlement = run(
        centre, gateway(mutual_aid_reading=reading).settle(request_for(holder.person), MSGID)
    )
    return settled


def test_a_pre_settlement_with_null_amounts_and_no_setl_id_is_read() -> None:
    holder, _ = person(answer_bytes("1101-several-insuinfo"))
    centre = Centre(answer_bytes("2101-preview"))
    preview = run(centre, gateway().pre_settle(request_for(holder.person, 3_731)))
    assert preview.setl_id == "" and preview.mutual_aid == ()  # acct_mulaid_pay null
    assert shares(preview) == (Fen(3_731), Fen(2_000), Fen(1_731), Fen(0), Fen(0))
    assert preview.balance == Fen(1_269)


@pytest.mark.parametrize("reading", ["separate", "included"])
def test_mutual_aid_without_owners_settles_under_either_reading(reading: str) -> None:
    for name in ("2102-mutual-aid-separate", "2102-mutual-aid-included"):
        settled = settle(name, reading)
        assert shares(settled) == (Fen(10_000), Fen(3_000), Fen(2_000), Fen(4_000), Fen(1_000))
        (aid,) = settled.mutual_aid
        assert aid.owner_id is None and aid.amount == Fen(4_000)  # no owner named


def test_an_empty_mutual_aid_amount_is_none_and_text_amounts_are_read() -> None:
    settled = settle("2102-empty-mutual-aid")
    assert settled.mutual_aid == ()
    assert shares(settled) == (Fen(10_000), Fen(3_000), Fen(5_000), Fen(0), Fen(2_000))
    assert settled.settled_at == datetime.datetime(2026, 11, 24, 0, 35, 1, tzinfo=BEIJING)


def test_the_institutions_part_counts_with_the_fund_not_the_patient() -> None:
    settled = settle("2102-institution-part")
    assert shares(settled) == (Fen(10_000), Fen(3_500), Fen(2_000), Fen(4_000), Fen(500))


# ---------------------------------------------------------------- 2103, 2208, 2601


def settled_sale() -> CentreSettlement:
    return CentreSettlement(
        setl_id="SETL20261124000005",
        mdtrt_id="MDT20261124000001",
        msgid=MSGID,
        total=Fen(10_000),
        fund=Fen(3_000),
        own_account=Fen(2_000),
        mutual_aid=(),
        cash=Fen(5_000),
    )


def test_2103_reads_psn_pay_and_cash_payamt_as_money_going_back() -> None:
    centre = Centre(answer_bytes("2103-cancelled"))
    flow = gateway().cancel(settled_sale(), "21050000000000000042", MSGID, insured_in="210500")
    cancelled = run(centre, flow)
    assert shares(cancelled) == (Fen(10_000), Fen(3_000), Fen(2_000), Fen(4_000), Fen(1_000))
    assert centre.sent[1]["infno"] == "2103" and centre.sent[1]["insuplc_admdvs"] == "210500"


def test_2103_without_cash_payamt_takes_the_cash_from_psn_pay_less_the_accounts() -> None:
    without = edited("2103-cancelled")
    del without["output"]["setlinfo"]["cash_payamt"]
    centre = Centre(body(without))
    flow = gateway().cancel(settled_sale(), "21050000000000000042", MSGID, insured_in="210500")
    cancelled = run(centre, flow)
    assert shares(cancelled) == (Fen(10_000), Fen(3_000), Fen(2_000), Fen(4_000), Fen(1_000))


def test_2208_reads_the_cash_spelt_pdn_cash_pay() -> None:
    centre = Centre(answer_bytes("2208-cancelled"))
    flow = gateway().cancel(settled_sale(), "P1", MSGID, Setting.OUTPATIENT, insured_in="210500")
    cancelled = run(centre, flow)
    assert shares(cancelled) == (Fen(8_000), Fen(4_000), Fen(2_500), Fen(0), Fen(1_500))
    assert centre.sent[1]["infno"] == "2208"


@pytest.mark.parametrize(
    "name", ["2601-reversed-empty-output", "2601-reversed-null-output", "2601-reversed-no-output"]
)
def test_2601_success_with_an_empty_output_is_reversed(name: str) -> None:
    centre = Centre(answer_bytes(name))
    state = run(centre, gateway().reverse(MSGID, "P1", MSGID[:-1] + "2", insured_in="210500"))
    assert state == "reversed"


@pytest.mark.parametrize("extensions", [False, True])
def test_2601s_extension_state_is_read_only_where_the_profile_turned_extensions_on(
    extensions: bool,
) -> None:
    envelope = edited("2601-reversed-empty-output")
    envelope["output"] = {"gongji_reversal": {"state": "original_not_received"}}
    flow = gateway(extensions=extensions).reverse(
        MSGID, "P1", MSGID[:-1] + "2", insured_in="210500"
    )
    state = run(Centre(body(envelope)), flow)
    assert state == ("original_not_received" if extensions else "reversed")


def test_a_refusal_with_a_string_infcode_is_declined_with_its_code_and_words() -> None:
    centre = Centre(answer_bytes("refused-string-infcode"))
    with pytest.raises(Declined) as refused:
        run(centre, gateway().person(Credential.id_card(SISTER)))
    assert refused.value.infcode == "-1" and "参保人员信息不存在" in (refused.value.err_msg or "")


# ---------------------------------------------------------------- the mock's people


def test_a_mock_person_with_several_entries_settles_under_the_main_one() -> None:
    # A supplement (330) and an old suspended resident entry (390, another county), which
    # the mock's 1101 lists before the main employee one: the till keeps the 310.
    dataset = parse_dataset(
        """
policy = "demo-dalian"

[[person]]
id_number = "210202198503170036"
name = "张伟"
insurance = "employee"
region = "210202"
account_balance = "300.00"

[[person.insuinfo]]
insutype = "330"
status = "active"

[[person.insuinfo]]
insutype = "390"
status = "suspended"
region = "210502"
"""
    )
    mock = MockGateway(dataset)
    with SettlementClient.from_profile("mock", mock=mock) as client:
        item = LineItem(code="SKU-1", name="药品", unit_price=Fen(12_000), quantity=1)
        purchase = Purchase(credential=Credential.id_card("210202198503170036"), items=[item])
        receipt = client.settle(purchase, key="SEVERAL-1", cash=Cash.counter())
    assert [(leg.source, leg.amount) for leg in receipt.legs] == [("own_account", Fen(12_000))]
    assert receipt.divergence == ()  # the till read him as the centre does: an employee
    assert mock.check() == []
