"""Issue 14 at the till: credentials as the centre takes them, the cash part of a sale,
and drug traceability codes (追溯码), with both drivers against the mock."""

from __future__ import annotations

import datetime
import decimal
import json
from collections.abc import Iterator
from typing import Any

import attrs
import pytest

from gongji import Cash, ConfigError, Credential, Fen, InvalidInput, Packs, Purchase
from gongji.journal import EntryState
from gongji_mock import MockGateway
from gongji_mock.centre.dataset import demo_dataset
from gongji_mock.national.schema import PharmacyNodes
from tests.client.conftest import MOTHER, SON, Till, drug, make_till


def packs(*codes: str) -> Packs:
    return Packs(
        codes=codes, batch="B1", lot="L1", made_on=datetime.date(2026, 4, 1), expires_on=None
    )


def traced(price_fen: int, *codes: str) -> Any:
    return attrs.evolve(drug(price_fen, quantity=len(codes) or 1), packs=packs(*codes))


@pytest.fixture
def sourced_till(mock: MockGateway, driver: str) -> Iterator[Till]:
    """A till on the sourced Dalian pack, which requires codes from 2025-07-01."""
    yield from make_till(mock, driver, policy="liaoning-dalian-2025")


# ---------------------------------------------------------------- credentials


def test_an_e_voucher_qr_text_is_decoded_and_settles_its_holder(
    till: Till, mock: MockGateway
) -> None:
    scanned = mock.issue_e_voucher(MOTHER)
    receipt = till.settle(
        Purchase(credential=Credential.e_voucher(scanned), items=[drug(3_000)]), key="EV-QR-1"
    )
    assert receipt.total == Fen(3_000) and mock.check() == []


def test_a_social_card_as_the_reader_gives_it_settles_its_holder(
    till: Till, mock: MockGateway
) -> None:
    card = mock.social_card(SON)
    assert card.value != SON and card.id_number == SON
    receipt = till.settle(Purchase(credential=card, items=[drug(3_000)]), key="SC-1")
    assert receipt.total == Fen(3_000) and receipt.legs[0].payer_id == SON


def test_an_e_voucher_without_a_decoder_is_refused_before_anything_is_sent(
    mock: MockGateway,
) -> None:
    from gongji import SettlementClient
    from gongji.config import client_arguments

    arguments = client_arguments("mock", mock=mock)
    del arguments["decoder"]
    sent = mock.recent.total
    with SettlementClient(**arguments) as client, pytest.raises(ConfigError, match="decoder"):
        client.preview(
            Purchase(credential=Credential.e_voucher(mock.issue_e_voucher(SON)), items=[drug(1)])
        )
    assert mock.recent.total == sent


# ---------------------------------------------------------------- traceability


def test_a_drug_line_without_its_packs_codes_is_refused_before_anything_is_sent(
    sourced_till: Till, mock: MockGateway
) -> None:
    sent = mock.recent.total
    one_of_two = traced(2_000, "81234567890123450001")
    short = attrs.evolve(one_of_two, quantity=2)
    with pytest.raises(InvalidInput, match=r"追溯码.*1 of 2 scanned") as refused:
        sourced_till.settle(Purchase(credential=Credential.id_card(SON), items=[short]), key="T1")
    assert "无码不能医保结算" in (refused.value.next_step or "")
    assert mock.recent.total == sent


def test_codes_are_not_asked_for_before_the_packs_date(mock: MockGateway, driver: str) -> None:
    before = datetime.datetime(
        2025, 6, 30, 12, tzinfo=datetime.timezone(datetime.timedelta(hours=8))
    )
    tills = make_till(mock, driver, policy="liaoning-dalian-2025", clock=lambda: before)
    till = next(tills)  # the generator held: it closes the client when it is closed
    quote = till.preview(Purchase(credential=Credential.id_card(SON), items=[drug(2_000)]))
    assert quote.total == Fen(2_000)
    tills.close()


def test_one_code_on_two_lines_of_a_sale_is_refused(sourced_till: Till) -> None:
    code = "81234567890123450002"
    items = [traced(2_000, code), attrs.evolve(traced(3_000, code), code="X3000B")]
    with pytest.raises(InvalidInput, match="two lines"):
        sourced_till.preview(Purchase(credential=Credential.id_card(SON), items=items))


def test_the_sales_upload_carries_the_codes_and_the_mock_records_them(
    sourced_till: Till, mock: MockGateway
) -> None:
    codes = ("81234567890123450003", "81234567890123450004")
    receipt = sourced_till.settle(
        Purchase(credential=Credential.id_card(SON), items=[traced(2_000, *codes)]), key="T3"
    )
    entry = sourced_till.client.journal.get("T3")
    assert entry is not None and [u.infno for u in entry.uploads] == ["3505"]
    assert not entry.uploads_pending
    sold = [mock.national.records.traced.get(code) for code in codes]
    assert all(s is not None and s.setl_id == receipt.settlement_id for s in sold)
    sourced_till.refund(receipt.settlement_id)
    entry = sourced_till.client.journal.get("T3")
    assert entry is not None and [u.infno for u in entry.uploads] == ["3505", "3506"]
    assert all(mock.national.records.traced.get(code).returned for code in codes)  # type: ignore[union-attr]


def test_a_lost_upload_stays_journaled_and_recover_sends_it(
    sourced_till: Till, mock: MockGateway
) -> None:
    code = "81234567890123450005"
    mock.faults.add("timeout_before_commit", target="national", code="3505", times=3)
    sourced_till.settle(
        Purchase(credential=Credential.id_card(SON), items=[traced(2_000, code)]),
        key="T4",
        cash=Cash.counter(),
    )
    entry = sourced_till.client.journal.get("T4")
    assert entry is not None and entry.state is EntryState.SETTLED and entry.uploads_pending
    assert mock.national.records.traced.get(code) is None
    sourced_till.recover()
    entry = sourced_till.client.journal.get("T4")
    assert entry is not None and not entry.uploads_pending
    assert mock.national.records.traced.get(code) is not None


# ---------------------------------------------------------------- split packs (拆零)


def split(price_fen: int, quantity: str, *codes: str) -> Any:
    """Part of a pack: ``quantity`` packs (a Decimal), with the codes of the packs it is from."""
    return attrs.evolve(drug(price_fen), quantity=decimal.Decimal(quantity), packs=packs(*codes))


def uploads_verdicts(mock: MockGateway) -> list[str]:
    """How the mock answered each 3505 so far, the oldest first: "answered", or
    "declined" and why."""
    return [
        r.verdict if r.verdict != "declined" else f"declined: {r.message}"
        for r in reversed(mock.recent.records())
        if r.code == "3505" and r.status is not None
    ]


def test_part_of_a_pack_settles_exact_to_the_fen_with_the_split_flag_on_its_codes(
    sourced_till: Till, mock: MockGateway
) -> None:
    code = "81234567890123450101"
    third = split(3_693, "0.3333", code)  # 36.93 yuan x 0.3333 = 12.308769: 12.31 at the line
    receipt = sourced_till.settle(
        Purchase(credential=Credential.id_card(SON), items=[third]), key="SP1", cash=Cash.counter()
    )
    assert third.amount == Fen(1_231) and receipt.total == Fen(1_231)
    assert receipt.total == sum((leg.amount for leg in receipt.legs), Fen(0))
    entry = sourced_till.client.journal.get("SP1")
    assert entry is not None
    (sold,) = [json.loads(u.payload)["selinfo"] for u in entry.uploads]
    assert sold["trdn_flag"] == "1" and sold["sel_retn_cnt"] == "0.3333"
    assert [(c["trdn_flag"], c["min_prcunt_type"]) for c in sold["drug_trac_info"]] == [("1", "1")]
    assert uploads_verdicts(mock) == ["answered"]
    recorded = mock.national.records.traced.get(code)
    assert recorded is not None and recorded.split and recorded.unit == "1"
    assert recorded.setl_id == receipt.settlement_id


def test_part_of_a_pack_without_the_code_of_its_pack_is_refused_before_anything_is_sent(
    sourced_till: Till, mock: MockGateway
) -> None:
    sent = mock.recent.total
    purchase = Purchase(credential=Credential.id_card(SON), items=[split(3_693, "1.5", "8100A")])
    with pytest.raises(InvalidInput, match=r"拆零.*2 or 3 codes; 1 scanned"):
        sourced_till.preview(purchase)
    assert mock.recent.total == sent


def test_an_opened_pack_sells_its_parts_in_two_sales_and_a_whole_pack_once(
    sourced_till: Till, mock: MockGateway
) -> None:
    opened, whole = "81234567890123450102", "81234567890123450103"
    sales = [
        ("SP2", split(3_693, "0.25", opened)),
        ("SP3", split(3_693, "0.25", opened)),
        ("SP4", traced(2_000, whole)),
        ("SP5", traced(2_000, whole)),
    ]
    for key, item in sales:
        sourced_till.settle(
            Purchase(credential=Credential.id_card(SON), items=[item]), key=key, cash=Cash.counter()
        )
    verdicts = uploads_verdicts(mock)
    assert verdicts[:3] == ["answered"] * 3
    assert verdicts[3].startswith("declined: 药品追溯码已销售")


@pytest.fixture
def codes_on_lines(driver: str) -> Iterator[tuple[Till, MockGateway]]:
    """A mock whose region's 2101/2102 lines carry the packs' codes, and a till on it (the
    mock profile follows the mock's region)."""
    mock = MockGateway(demo_dataset(), nodes=PharmacyNodes(trace_codes=True))
    for till in make_till(mock, driver, policy="liaoning-dalian-2025"):
        yield till, mock


def test_where_the_region_says_so_the_codes_travel_on_the_settlement_lines(
    codes_on_lines: tuple[Till, MockGateway],
) -> None:
    till, mock = codes_on_lines
    code = "81234567890123450104"
    mock.faults.add("timeout_before_commit", target="national", code="3505", times=3)
    receipt = till.settle(
        Purchase(credential=Credential.id_card(SON), items=[split(3_693, "0.5", code)]),
        key="SL1",
        cash=Cash.counter(),
    )
    # The 3505 never arrived: the mock knows the code from the 2102 line, split flag and all.
    recorded = mock.national.records.traced.get(code)
    assert recorded is not None and recorded.setl_id == receipt.settlement_id
    assert recorded.split and recorded.unit == "1"
    till.recover()  # the journaled 3505 reports the same sale: accepted
    assert uploads_verdicts(mock) == ["answered"]
    assert mock.check() == []
