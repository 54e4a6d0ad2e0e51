"""Issue 14 at the till: credentials as the centre takes them, the cash part of a sale,
and drug traceability codes (追溯码), with both drivers against the mock."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from typing import Any

import attrs
import pytest

from gongji import Cash, ConfigError, Credential, Fen, InvalidInput, Packs, Purchase
from gongji.journal import EntryState
from gongji_mock import MockGateway
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
