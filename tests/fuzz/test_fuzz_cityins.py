"""The centre's answers: whatever bytes come back, only a GongjiError leaves the gateway."""

from __future__ import annotations

import pytest
from hypothesis import given

from gongji.errors import SignatureError
from tests.fuzz.strategies import (
    Case,
    cases,
    fuzz_settings,
    json_maker,
    only_gongji_errors,
    seed,
    with_corpus,
)
from tests.fuzz.targets import CITY_INFNOS, TARGETS, signing_seeds

pytestmark = pytest.mark.fuzz

NAMES = [f"cityins-{infno}" for infno in CITY_INFNOS]
MAKERS = {f"cityins-{infno}": json_maker(seed(f"national-{infno}.answer")) for infno in CITY_INFNOS}


@fuzz_settings()
@given(cases(MAKERS))
@with_corpus(*NAMES)
def test_centre_answers_raise_only_gongji_errors(case: Case) -> None:
    name, data, _ = case
    only_gongji_errors(TARGETS[name], data, ids=True)


SIGNING = {"signing-tif-csb": json_maker(*signing_seeds())}


@fuzz_settings()
@given(cases(SIGNING))
@with_corpus(*SIGNING)
def test_tif_and_csb_verification_raises_only_signature_errors(case: Case) -> None:
    name, data, _ = case
    result = only_gongji_errors(TARGETS[name], data)
    assert isinstance(result, SignatureError) or result in ("gongji-mock", "AK-FUZZ")


@pytest.mark.parametrize("headers", signing_seeds())
def test_the_signing_seeds_verify(headers: bytes) -> None:
    assert TARGETS["signing-tif-csb"](headers) in ("gongji-mock", "AK-FUZZ")
