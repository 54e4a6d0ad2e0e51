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


# ---------------------------------------------------------------- edges (issue 19)
# Packs of our own, so that these edges do not move when a region's figures do.


def _pack(ratio: int, *, settings: tuple[str, ...] = ("pharmacy",)) -> PolicyPack:
    import msgspec

    from gongji.model import InsuranceKind, Setting
    from gongji.policy import FundRule, Premium, get_policy

    rule = FundRule(
        settings=frozenset(Setting(s) for s in settings),
        deductible=Fen(0),
        ratio_percent=ratio,
        annual_cap=Fen(1_000_000),
    )
    return msgspec.structs.replace(
        get_policy("national-2025"),
        fund={InsuranceKind.EMPLOYEE: rule},
        premium=Premium(adult=Fen(38_000), child=Fen(32_000), child_max_age=17),
    )


EMPLOYEE = Insurance("employee", "active", "210202")


def test_fund_pays_a_ratio_of_one_percent() -> None:
    assert fund_share([drug(10_000)], EMPLOYEE, "pharmacy", "medical", _pack(1)) == 100  # type: ignore[arg-type]


def test_fund_pays_nothing_at_a_ratio_of_zero_or_where_the_pack_has_no_rule() -> None:
    for pack in (_pack(0), _pack(50, settings=("outpatient",))):
        share = fund_share([drug(10_000)], EMPLOYEE, "pharmacy", "medical", pack)  # type: ignore[arg-type]
        assert type(share) is Fen and share == 0


def test_fund_counts_class_a_lines_after_a_class_c_or_cash_only_line(dalian: PolicyPack) -> None:
    lipstick = drug(5_000, category="cosmetic", coverage="A")
    items = [drug(7_000, coverage="C"), lipstick, drug(10_000, coverage="A")]
    assert eligible_amount(items, dalian) == 10_000


def test_resident_premium_is_the_childs_up_to_and_including_the_packs_last_child_age() -> None:
    pack = _pack(50)
    assert pack.premium is not None
    last_child_age = pack.premium.child_max_age
    assert resident_premium(last_child_age, pack) == pack.premium.child
    assert resident_premium(last_child_age + 1, pack) == pack.premium.adult


def test_a_pack_without_premium_sets_no_resident_premium() -> None:
    import msgspec

    assert resident_premium(30, msgspec.structs.replace(_pack(50), premium=None)) is None


def test_resident_premium_is_the_same_at_any_age_where_child_and_adult_pay_alike() -> None:
    import msgspec

    from gongji.policy import Premium

    alike = msgspec.structs.replace(
        _pack(50), premium=Premium(adult=Fen(40_000), child=Fen(40_000))
    )  # no last child age: none is needed
    assert [resident_premium(age, alike) for age in (0, 17, 18, 80)] == [Fen(40_000)] * 4
