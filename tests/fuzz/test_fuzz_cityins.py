"""The centre's answers: whatever bytes come back, only a GongjiError leaves the gateway."""

from __future__ import annotations

import pytest
from hypothesis import given

from tests.fuzz.strategies import (
    cases,
    fuzz_settings,
    json_maker,
    only_gongji_errors,
    seed,
    with_corpus,
)
from tests.fuzz.targets import CITY_INFNOS, TARGETS

pytestmark = pytest.mark.fuzz

NAMES = [f"cityins-{infno}" for infno in CITY_INFNOS]
MAKERS = {f"cityins-{infno}": json_maker(seed(f"national-{infno}.answer")) for infno in CITY_INFNOS}


@fuzz_settings()
@given(cases(MAKERS))
@with_corpus(*NAMES)
def test_centre_answers_raise_only_gongji_errors(case: tuple[str, bytes]) -> None:
    name, data = case
    only_gongji_errors(TARGETS[name], data, ids=True)
