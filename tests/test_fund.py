from __future__ import annotations

from gongji import Fen
from gongji.model import Insurance
from gongji.policy import PolicyPack
from gongji.rules.fund import YearToDate, eligible_amount, fund_share, resident_premium
from tests.conftest import drug

# The fund's numbers come from the illustrative demo pack: no seed gives a pharmacy share,
# a deductible or a catalogue percentage, so the sourced packs estimate none.


def test_fund_eligible_amount_counts_class_a_whole_b_less_self_first_c_not(
    demo: PolicyPack,
) -> None:
    items = [drug(10_000, coverage="A"), drug(10_000, coverage="B"), drug(10_000, coverage="C")]
    assert eligible_amount(items, demo) == 10_000 + 9_000


def test_fund_eligible_amount_takes_no_self_first_share_a_pack_does_not_give(
    dalian: PolicyPack,
) -> None:
    items = [drug(10_000, coverage="A"), drug(10_000, coverage="B"), drug(10_000, coverage="C")]
    assert dalian.catalogue is None
    assert eligible_amount(items, dalian) == 20_000


def test_fund_pays_the_ratio_above_the_deductible_within_the_annual_cap(demo: PolicyPack) -> None:
    employee = Insurance("employee", "active", "210202")
    items = [drug(30_000)]
    # Demo employee outpatient: 200 yuan deductible, then 50%.
    assert fund_share(items, employee, "outpatient", "medical", demo) == (30_000 - 20_000) // 2  # type: ignore[arg-type]
    met = YearToDate(eligible=Fen(20_000))
    assert fund_share(items, employee, "outpatient", "medical", demo, met) == 15_000  # type: ignore[arg-type]
    nearly_capped = YearToDate(eligible=Fen(20_000), fund_paid=Fen(199_000))
    assert fund_share(items, employee, "outpatient", "medical", demo, nearly_capped) == 1_000  # type: ignore[arg-type]


def test_resident_outpatient_limit_applies_in_the_demo_pack(demo: PolicyPack) -> None:
    resident = Insurance("resident", "active", "210202")
    huge = [drug(1_000_000)]
    assert fund_share(huge, resident, "outpatient", "medical", demo) == 50_000  # type: ignore[arg-type]


def test_no_pack_estimates_a_fund_share_at_the_pharmacy_without_a_source(
    dalian: PolicyPack, demo: PolicyPack, national: PolicyPack
) -> None:
    # Seed 000 gives outpatient ranges and nothing for pharmacies: an over-the-counter sale
    # is paid from accounts and cash, not half by the fund.
    employee = Insurance("employee", "active", "210202")
    resident = Insurance("resident", "active", "210202")
    for pack in (dalian, demo, national):
        for insurance in (employee, resident):
            assert fund_share([drug(30_000)], insurance, "pharmacy", "medical", pack) == 0  # type: ignore[arg-type]
    assert dalian.fund == {} and national.fund == {}


def test_fund_pays_nothing_for_premiums_or_suspended_insurance(demo: PolicyPack) -> None:
    resident = Insurance("resident", "active", "210202")
    suspended = Insurance("resident", "suspended", "210202")
    items = [drug(10_000)]
    assert fund_share(items, resident, "outpatient", "resident_premium", demo) == 0  # type: ignore[arg-type]
    assert fund_share(items, suspended, "outpatient", "medical", demo) == 0  # type: ignore[arg-type]
    assert fund_share(items, resident, "outpatient", "medical", demo) > 0  # type: ignore[arg-type]


def test_dalian_resident_premium_leaves_the_child_age_to_the_centre(dalian: PolicyPack) -> None:
    # Seed 000 l.51: adult 380, child 320; no source says where childhood ends.
    assert dalian.premium is not None
    assert (dalian.premium.adult, dalian.premium.child) == (Fen(38_000), Fen(32_000))
    assert resident_premium(68, dalian) is None


def test_demo_resident_premium_is_380_adult_320_child(demo: PolicyPack) -> None:
    assert resident_premium(68, demo) == Fen(38_000)
    assert resident_premium(11, demo) == Fen(32_000)
    assert resident_premium(18, demo) == Fen(38_000)
