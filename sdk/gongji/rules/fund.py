"""The pooled fund's share (统筹基金支付) from a region pack.

In production the insurance centre computes this at pre-settlement; here it is
computed the same way from the pack, for a preview before the centre is asked
and as the mock gateway's authority. Integer fen, rounding as the pack names it.
"""

from __future__ import annotations

from collections.abc import Iterable

from attrs import frozen

from gongji.model import Coverage, Insurance, LineItem, Purpose, Setting
from gongji.money import ZERO, Fen, Rounding
from gongji.policy import PolicyPack


@frozen
class YearToDate:
    """What the person's insurance has already counted this year (the centre keeps this)."""

    eligible: Fen = ZERO  # eligible spending so far, towards the deductible
    fund_paid: Fen = ZERO  # paid by the fund so far, towards the annual cap


def eligible_amount(items: Iterable[LineItem], policy: PolicyPack) -> Fen:
    """The part of a basket the fund may consider: class A whole, class B less its
    self-pay-first percentage, class C and cash-only categories not at all.

    A pack without a ``[catalogue]`` knows no self-pay-first percentage, and takes none."""
    banned = policy.use.cash_only_categories
    catalogue = policy.catalogue
    keep_b = 100 - (catalogue.class_b_self_first_percent if catalogue is not None else 0)
    eligible = ZERO
    for item in items:
        if item.category in banned or item.coverage is Coverage.C:
            continue
        if item.coverage is Coverage.A:
            eligible += item.amount
        else:
            eligible += item.amount.times_ratio(keep_b, 100, Rounding.DOWN)
    return eligible


def fund_share(
    items: Iterable[LineItem],
    insurance: Insurance,
    setting: Setting,
    purpose: Purpose,
    policy: PolicyPack,
    year: YearToDate | None = None,
) -> Fen:
    """The fund's share of this purchase: (eligible - deductible left) x ratio, within the cap left."""
    if purpose != Purpose.MEDICAL or not insurance.is_active:
        return ZERO
    rule = policy.fund_rule(insurance.kind, setting)
    if rule is None or rule.ratio_percent <= 0:
        return ZERO
    year = year or YearToDate()
    eligible = eligible_amount(items, policy)
    deductible_left = max(ZERO, rule.deductible - year.eligible)
    above = max(ZERO, eligible - deductible_left)
    share = above.times_ratio(rule.ratio_percent, 100, rule.rounding)
    cap_left = max(ZERO, rule.annual_cap - year.fund_paid)
    return min(share, cap_left)


def resident_premium(age: int, policy: PolicyPack) -> Fen | None:
    """The resident premium for a person of this age under the pack; None if the pack sets
    none, or cannot tell a child's premium from an adult's (no age given: the centre decides)."""
    premium = policy.premium
    if premium is None:
        return None
    if premium.child == premium.adult:
        return premium.adult
    if premium.child_max_age is None:
        return None
    return premium.child if age <= premium.child_max_age else premium.adult
