"""``assess`` itself: how a refusal of the whole purchase is raised, and how plugins are kept
in bounds (issue 19: each case here let a deliberate bug through)."""

from __future__ import annotations

from collections.abc import Sequence

import pluggy
import pytest

from gongji import ConfigError
from gongji.errors import (
    EligibilityError,
    KinshipViolation,
    LimitExceeded,
    OwnCardViolation,
    RegionViolation,
    UseViolation,
)
from gongji.hookspecs import hookimpl
from gongji.model import Refusal
from gongji.plugins import make_plugin_manager
from gongji.rules.assess import assess
from gongji.rules.context import CheckContext
from gongji.rules.planner import PayerCandidate
from tests.conftest import OWNER, PATIENT, SISTER_BENXI, binding, context, person, purchase

SON = person(OWNER, balance=50_000)
DAUGHTER = person(SISTER_BENXI, region="210502", balance=50_000)
MOTHER = person(PATIENT, "resident")


def _with(plugin: object) -> pluggy.PluginManager:
    plugins = make_plugin_manager(load_entry_points=False)
    plugins.register(plugin, name="test.plugin")
    return plugins


class _RefuseWholePurchase:
    def __init__(self, rule: str) -> None:
        self.rule = rule

    @hookimpl
    def gongji_check(self, context: CheckContext) -> list[Refusal]:
        return [Refusal(rule=self.rule, reason="Refused as a whole.")]


@pytest.mark.parametrize(
    ("rule", "error"),
    [
        ("R1", OwnCardViolation),
        ("R2", KinshipViolation),
        ("R3", KinshipViolation),
        ("R4", KinshipViolation),
        ("R5", KinshipViolation),
        ("R6", UseViolation),
        ("R7", RegionViolation),
        ("R8", LimitExceeded),
        ("X1", EligibilityError),
    ],
)
def test_a_refusal_of_the_whole_purchase_raises_the_rules_own_error(
    rule: str, error: type[EligibilityError]
) -> None:
    with pytest.raises(EligibilityError) as raised:
        assess(context(holder=MOTHER), _with(_RefuseWholePurchase(rule)))
    assert type(raised.value) is error
    assert raised.value.rule == rule
    assert raised.value.message == f"{rule}: Refused as a whole."


def test_a_refusal_of_the_whole_purchase_keeps_its_chinese_sentence() -> None:
    class RefuseInBothLanguages:
        @hookimpl
        def gongji_check(self, context: CheckContext) -> list[Refusal]:
            return [Refusal(rule="R6", reason="Refused as a whole.", reason_zh="整单不予支付。")]

    with pytest.raises(UseViolation) as raised:
        assess(context(holder=MOTHER), _with(RefuseInBothLanguages()))
    assert raised.value.reason_zh == "整单不予支付。"


def test_r1_impersonation_raised_as_an_error_says_so_in_chinese_too() -> None:
    with pytest.raises(OwnCardViolation) as raised:
        assess(context(holder=SON, buy=purchase(OWNER, patient_id=PATIENT)))
    assert "冒名就医" in raised.value.reason_zh and "冒名就医" in raised.value.message


class _Recorder:
    def __init__(self) -> None:
        self.seen: list[CheckContext] = []

    @hookimpl
    def gongji_check(self, context: CheckContext) -> None:
        self.seen.append(context)


def test_a_patient_who_declines_mutual_aid_shows_the_rules_no_binding_and_no_owner() -> None:
    recorder = _Recorder()
    assess(
        context(
            holder=MOTHER,
            buy=purchase(PATIENT, use_mutual_aid=False),
            bindings=[binding()],
            owners=[SON],
        ),
        _with(recorder),
    )
    ((seen,),) = [recorder.seen]
    assert seen.bindings == () and dict(seen.owners) == {}


class _Broken:
    @hookimpl
    def gongji_check(self, context: CheckContext) -> None:
        raise KeyError("bug")


def test_a_plugin_that_fails_while_checking_stops_the_purchase_before_any_charge() -> None:
    with pytest.raises(ConfigError) as raised:
        assess(context(holder=MOTHER), _with(_Broken()))
    assert raised.value.message == (
        "A gongji plugin failed while checking the purchase (KeyError); nothing was charged."
    )
    assert raised.value.next_step == (
        "Fix or disable the plugin (GONGJI_DISABLE_PLUGINS=name) and try again."
    )


class _BrokenOrder:
    @hookimpl
    def gongji_order_payers(self, candidates: Sequence[PayerCandidate]) -> None:
        raise KeyError("bug")


def test_a_plugin_that_fails_while_ordering_stops_the_purchase_before_any_charge() -> None:
    with pytest.raises(ConfigError) as raised:
        assess(context(holder=MOTHER, bindings=[binding()], owners=[SON]), _with(_BrokenOrder()))
    assert raised.value.message == (
        "A gongji plugin failed while ordering the payers (KeyError); nothing was charged."
    )
    assert raised.value.next_step == (
        "Fix or disable the plugin (GONGJI_DISABLE_PLUGINS=name) and try again."
    )


class _DropsAPayer:
    @hookimpl(tryfirst=True)
    def gongji_order_payers(self, candidates: Sequence[PayerCandidate]) -> list[PayerCandidate]:
        return list(candidates)[1:]


def test_an_ordering_plugin_may_not_drop_a_payer() -> None:
    ctx = context(
        holder=MOTHER,
        bindings=[binding(), binding(owner=SISTER_BENXI, priority=2)],
        owners=[SON, DAUGHTER],
    )
    with pytest.raises(ConfigError) as raised:
        assess(ctx, _with(_DropsAPayer()))
    assert raised.value.message == (
        "A gongji_order_payers plugin returned something other than a reordering of the candidates."
    )
    assert raised.value.next_step == (
        "Return the same candidates in a new order, or None to leave the decision to others."
    )


def test_with_no_ordering_plugin_at_all_nothing_is_paid_from_a_relative() -> None:
    # The operator disabled the built-in order and nothing replaced it.
    plugins = make_plugin_manager(load_entry_points=False, disabled=["gongji.rules.priority"])
    with pytest.raises(ConfigError, match="other than a reordering"):
        assess(context(holder=MOTHER, bindings=[binding()], owners=[SON]), plugins)


class _DaughterFirst:
    """A region's order: reads the context it is given (the patient) to decide."""

    seen: list[str]

    def __init__(self) -> None:
        self.seen = []

    @hookimpl(tryfirst=True)
    def gongji_order_payers(
        self, candidates: Sequence[PayerCandidate], context: CheckContext
    ) -> list[PayerCandidate]:
        self.seen.append(context.patient.id.number)
        return sorted(candidates, key=lambda c: c.binding.owner.number != SISTER_BENXI)


def test_an_ordering_plugin_is_given_the_purchase_and_its_order_is_followed() -> None:
    plugin = _DaughterFirst()
    ctx = context(
        holder=MOTHER,
        bindings=[binding(), binding(owner=SISTER_BENXI, priority=2)],
        owners=[SON, DAUGHTER],
        buy=purchase(PATIENT),
    )
    quote = assess(ctx, _with(plugin))
    assert plugin.seen == [PATIENT]
    assert [leg.payer_id.number for leg in quote.legs] == [SISTER_BENXI]


def test_a_check_context_defaults_to_no_fund_no_bindings_no_owners() -> None:
    from gongji.policy import get_policy
    from tests.conftest import TODAY

    bare = CheckContext(
        purchase=purchase(PATIENT), holder=MOTHER, policy=get_policy("national-2025"), today=TODAY
    )
    assert (bare.fund, bare.bindings, dict(bare.owners)) == (0, (), {})
    assert assess(bare).cash == bare.purchase.total
