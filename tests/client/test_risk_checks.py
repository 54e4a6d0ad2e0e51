"""The centre's rule checks in a sale (issue 18 item 5), with both drivers against the mock:
3101 before the pre-settlement, 3102 between it and the settlement, where the region turns
them on. Their findings are the cashier's warnings; a blocking one stops the sale before
anything is charged, and the journal shows the sale refused."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest

from gongji import Cash, Declined, Fen, LineItem, Purchase
from gongji.config import client_arguments
from gongji.journal import EntryState, SqliteJournal
from gongji.signing.tif import TifAuth, TifSigner
from gongji_cityins import CityInsuranceGateway
from gongji_cityins.risk import RiskSettings
from gongji_mock import MockGateway
from gongji_mock.gateway import DEFAULT_PAASID, DEFAULT_TIF_SECRET
from gongji_mock.national.risk import BLOCK, WARN
from tests.client.conftest import MOTHER, SON, WECHAT_PAID, Till, make_till, purchase

AMOXICILLIN = "XJ01CAA040A001010100445"


def risky_gateway(mock: MockGateway) -> CityInsuranceGateway:
    """The mock profile's city gateway, with the region's rule checks turned on."""
    base = client_arguments("mock", mock=mock)["gateway"]
    return CityInsuranceGateway(
        profile=attrs.evolve(base.profile, risk=RiskSettings(enabled=True)),
        institution=base.institution,
        auth=TifAuth(TifSigner(DEFAULT_PAASID, DEFAULT_TIF_SECRET)),
    )


@pytest.fixture
def checked_till(
    mock: MockGateway, driver: str, journal_kind: str, tmp_path: Path
) -> Iterator[Till]:
    """A till of a region with the checks on, with a journal in memory and in SQLite."""
    if journal_kind == "memory":
        yield from make_till(mock, driver, gateway=risky_gateway(mock))
        return
    with SqliteJournal(tmp_path / "journal.sqlite3") as journal:
        yield from make_till(mock, driver, gateway=risky_gateway(mock), journal=journal)


def amoxicillin(quantity: int) -> LineItem:
    return LineItem(
        code="SKU-00017",
        national_code=AMOXICILLIN,
        name="阿莫西林胶囊",
        unit_price=Fen(1_250),
        quantity=quantity,
    )


def sale(who: str, quantity: int = 2) -> Purchase:
    # Without mutual aid the resident mother pays a cash share: a channel would be charged.
    return purchase(who, amoxicillin(quantity), use_mutual_aid=False)


def national_codes(mock: MockGateway, after: int, target: str = "national") -> list[str]:
    """The codes (``infno`` for the centre) the mock answered after request number ``after``."""
    return [
        r.code for r in reversed(mock.recent.records()) if r.number > after and r.target == target
    ]


def test_the_checks_run_around_the_pre_settlement_and_find_nothing_in_a_plain_sale(
    checked_till: Till, mock: MockGateway
) -> None:
    before = mock.recent.total
    receipt = checked_till.settle(sale(SON), key="RISK-PLAIN")
    codes = national_codes(mock, before)
    assert codes.index("3101") < codes.index("2101") < codes.index("3102") < codes.index("2102")
    assert receipt.warnings == () and mock.check() == []


def test_without_the_region_setting_no_check_is_sent(till: Till, mock: MockGateway) -> None:
    mock.national.risk.flag(SON, BLOCK)  # would refuse, were it asked
    before = mock.recent.total
    receipt = till.settle(sale(SON), key="RISK-OFF")
    assert receipt.total == Fen(2_500)
    assert {"3101", "3102"}.isdisjoint(national_codes(mock, before))


def test_a_warning_is_on_the_preview_and_on_the_receipt_and_the_sale_settles(
    checked_till: Till, mock: MockGateway
) -> None:
    quote = checked_till.preview(sale(SON, quantity=11))  # above the mock's limit of 10
    (warning,) = quote.warnings
    assert warning.rule == "3101" and "超量开药" in warning.reason
    assert "Amount concerned: ¥137.50." in warning.reason
    assert any(warning.reason_zh in line for line in quote.explain("zh"))
    receipt = checked_till.settle(sale(SON, quantity=11), key="RISK-WARN")
    assert receipt.warnings == quote.warnings and receipt.total == Fen(13_750)
    assert mock.check() == []


def test_a_persons_warning_at_3102_is_shown_too(checked_till: Till, mock: MockGateway) -> None:
    mock.national.risk.flag(SON, WARN, stage="3102", content="本月已多次购买同类药品。")
    receipt = checked_till.settle(sale(SON), key="RISK-WARN-3102")
    (warning,) = receipt.warnings
    assert warning.rule == "3102" and "本月已多次购买同类药品。" in warning.reason


@pytest.mark.parametrize("stage", ["3101", "3102"])
def test_a_blocking_finding_stops_the_sale_before_anything_is_charged(
    checked_till: Till, mock: MockGateway, stage: str
) -> None:
    mock.national.risk.flag(MOTHER, BLOCK, stage=stage, content="该参保人已被暂停购药。")
    before, collected = mock.recent.total, mock.wechatpay.collected()
    with pytest.raises(Declined) as refused:
        checked_till.settle(sale(MOTHER), key=f"RISK-BLOCK-{stage}", cash=Cash.wechat(WECHAT_PAID))
    error = refused.value
    assert error.code == "risk_refused" and "Nothing was charged." in error.message
    assert (
        f"({stage}) refuses this sale" in error.message
        and "该参保人已被暂停购药。" in error.message
    )
    assert error.err_msg is not None and "未收取任何费用" in error.err_msg
    assert "new key" in error.next_step
    codes = national_codes(mock, before)
    assert "2102" not in codes and ("2101" in codes) is (stage == "3102")
    assert mock.wechatpay.collected() == collected  # no channel charged, or even asked
    assert national_codes(mock, before, "wechatpay") == []
    entry = checked_till.client.setup.journal.get(f"RISK-BLOCK-{stage}")
    assert entry is not None and entry.state is EntryState.FAILED
    assert entry.msgid == "" and entry.settlement is None and "refuses this sale" in entry.reason
    assert MOTHER not in entry.reason and mock.check() == []


def test_a_preview_is_refused_by_a_blocking_finding(checked_till: Till, mock: MockGateway) -> None:
    with pytest.raises(Declined, match="refuses this sale"):
        checked_till.preview(sale(SON, quantity=101))  # above the mock's blocking limit


def test_the_same_key_settles_once_the_centre_no_longer_refuses(
    checked_till: Till, mock: MockGateway
) -> None:
    mock.national.risk.flag(SON, BLOCK)
    with pytest.raises(Declined):
        checked_till.settle(sale(SON), key="RISK-AGAIN")
    mock.national.risk.unflag(SON)  # the centre reviewed the finding
    receipt = checked_till.settle(sale(SON), key="RISK-AGAIN")
    entry = checked_till.client.setup.journal.get("RISK-AGAIN")
    assert entry is not None and entry.state is EntryState.SETTLED and entry.attempt == 2
    assert receipt.key == "RISK-AGAIN" and mock.check() == []
