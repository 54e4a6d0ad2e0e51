"""Rules are plugins like any other: listed, replaceable, blockable; a broken one fails safe."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence

import pytest

from gongji import ConfigError, Fen
from gongji.hookspecs import hookimpl
from gongji.model import Refusal
from gongji.plugins import make_plugin_manager
from gongji.rules.assess import assess
from gongji.rules.context import CheckContext
from gongji.rules.planner import PayerCandidate
from tests.conftest import OWNER, PATIENT, SISTER_BENXI, binding, context, person


def test_builtin_rules_r1_to_r9_are_registered_as_named_plugins() -> None:
    names = {name for name, _ in make_plugin_manager(load_entry_points=False).list_name_plugin()}
    assert {f"gongji.rules.R{n}" for n in range(1, 10)} <= names


def test_a_blocked_rule_does_not_run() -> None:
    pm = make_plugin_manager(load_entry_points=False, disabled=["gongji.rules.R5"])
    quote = assess(context(bindings=[binding(status="pending")], owners=[person(OWNER)]), pm)
    assert not [r for r in quote.refusals if r.rule == "R5"]


def test_gongji_disable_plugins_environment_variable_blocks_by_name() -> None:
    code = (
        "from gongji.plugins import get_plugin_manager as g;"
        "print(sorted(n for n, p in g().list_name_plugin() if p is not None))"
    )
    env = {**os.environ, "GONGJI_DISABLE_PLUGINS": "gongji.rules.R7, gongji.rules.R8"}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout
    assert (
        "gongji.rules.R6" in out and "gongji.rules.R7" not in out and "gongji.rules.R8" not in out
    )


def test_a_third_party_rule_adds_its_refusals() -> None:
    class NoMutualAidOnSundays:
        @hookimpl
        def gongji_check(self, context: CheckContext) -> Sequence[Refusal] | None:
            return [
                Refusal(rule="LOCAL-1", reason="Closed.", owner_id=b.owner)
                for b in context.bindings
            ]

    pm = make_plugin_manager(load_entry_points=False)
    pm.register(NoMutualAidOnSundays())
    quote = assess(context(bindings=[binding()], owners=[person(OWNER)]), pm)
    assert quote.legs == () and [r.rule for r in quote.refusals] == ["LOCAL-1"]


def test_an_ordering_plugin_overrides_the_builtin_priority() -> None:
    class RichestFirst:
        @hookimpl
        def gongji_order_payers(self, candidates: Sequence[PayerCandidate]) -> list[PayerCandidate]:
            return sorted(candidates, key=lambda c: -int(c.available))

    son, daughter = (
        person(OWNER, balance=1_000),
        person(SISTER_BENXI, region="210502", balance=9_000),
    )
    ctx = context(
        bindings=[binding(priority=1), binding(owner=SISTER_BENXI, priority=2)],
        owners=[son, daughter],
    )
    assert assess(ctx).legs[0].payer_id == OWNER
    pm = make_plugin_manager(load_entry_points=False)
    pm.register(RichestFirst())
    assert assess(ctx, pm).legs[0].payer_id == SISTER_BENXI


def test_an_ordering_plugin_cannot_add_a_payer() -> None:
    class Sneaky:
        @hookimpl
        def gongji_order_payers(self, candidates: Sequence[PayerCandidate]) -> list[PayerCandidate]:
            return [*candidates, *candidates]

    pm = make_plugin_manager(load_entry_points=False)
    pm.register(Sneaky())
    with pytest.raises(ConfigError, match="reordering"):
        assess(context(bindings=[binding()], owners=[person(OWNER)]), pm)


def test_a_plugin_that_raises_fails_the_purchase_safely() -> None:
    class Broken:
        @hookimpl
        def gongji_check(self, context: CheckContext) -> None:
            raise ZeroDivisionError

    pm = make_plugin_manager(load_entry_points=False)
    pm.register(Broken(), name="broken")
    with pytest.raises(ConfigError, match="plugin failed") as caught:
        assess(context(holder=person(PATIENT, "resident")), pm)
    assert "GONGJI_DISABLE_PLUGINS" in caught.value.next_step


def test_fund_share_outside_the_total_is_refused() -> None:
    with pytest.raises(ConfigError, match="fund share"):
        assess(context(fund=10**9))
    assert Fen(0) == assess(context(fund=0)).fund
