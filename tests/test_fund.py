from __future__ import annotations

from gongji import Fen
from gongji.model import Insurance
from gongji.policy import PolicyPack
from gongji.rules.fund import YearToDate, eligible_amount, fund_share, resident_premium
from tests.conftest import drug


def test_fund_eligible_amount_counts_class_a_whole_b_less_self_first_c_not(
    dalian: PolicyPack,
) -> None:
    items = [drug(10_000, coverage="A"), drug(10_000, coverage="B"), drug(10_000, coverage="C")]
    assert eligible_amount(items, dalian) == 10_000 + 9_000


def test_fund_pays_the_ratio_above_the_deductible_within_the_annual_cap(dalian: PolicyPack) -> None:
    employee = Insurance("employee", "active", "210202")
    items = [drug(30_000)]
    # Dalian employee: 200 yuan deductible, then 50%.
    assert fund_share(items, employee, "pharmacy", "medical", dalian) == (30_000 - 20_000) // 2  # type: ignore[arg-type]
    met = YearToDate(eligible=Fen(20_000))
    assert fund_share(items, employee, "pharmacy", "medical", dalian, met) == 15_000  # type: ignore[arg-type]
    nearly_capped = YearToDate(eligible=Fen(20_000), fund_paid=Fen(199_000))
    assert fund_share(items, employee, "pharmacy", "medical", dalian, nearly_capped) == 1_000  # type: ignore[arg-type]


def test_resident_outpatient_limit_is_500_yuan_a_year_in_dalian(dalian: PolicyPack) -> None:
    resident = Insurance("resident", "active", "210202")
    huge = [drug(1_000_000)]
    assert fund_share(huge, resident, "outpatient", "medical", dalian) == 50_000  # type: ignore[arg-type]


def test_fund_pays_nothing_for_premiums_or_suspended_insurance(dalian: PolicyPack) -> None:
    resident = Insurance("resident", "active", "210202")
    suspended = Insurance("resident", "suspended", "210202")
    items = [drug(10_000)]
    assert fund_share(items, resident, "pharmacy", "resident_premium", dalian) == 0  # type: ignore[arg-type]
    assert fund_share(items, suspended, "pharmacy", "medical", dalian) == 0  # type: ignore[arg-type]


def test_dalian_resident_premium_is_380_adult_320_child(dalian: PolicyPack) -> None:
    assert resident_premium(68, dalian) == Fen(38_000)
    assert resident_premium(11, dalian) == Fen(32_000)
    assert resident_premium(18, dalian) == Fen(38_000)
