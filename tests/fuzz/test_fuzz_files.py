"""Files gongji reads: datasets, policy packs, config files and journal documents. Only a
GongjiError (a ConfigError, naming what to fix) comes out of a bad one."""

from __future__ import annotations

import json
import tomllib
from importlib.resources import files
from pathlib import Path

import pytest
from hypothesis import given

from tests.fuzz.strategies import (
    Case,
    cases,
    fuzz_settings,
    json_maker,
    only_gongji_errors,
    seed,
    toml_maker,
    with_corpus,
)
from tests.fuzz.targets import TARGETS

pytestmark = pytest.mark.fuzz

PACKS = files("gongji.policy") / "packs"
PURCHASE = Path(__file__).resolve().parents[2] / "examples" / "purchase.toml"
DERIVED_PACK = b"""id = "fuzz-city-2026"
extends = "liaoning-dalian-2025"
region = "210299"
"""
MAKERS = {
    "dataset": toml_maker(
        (files("gongji_mock.centre") / "datasets" / "zhang-family.toml").read_bytes()
    ),
    "policy": toml_maker(
        (PACKS / "national-2025.toml")
        .read_bytes()
        .replace(b'id = "national-2025"', b'id = "fuzz-2026"'),
        DERIVED_PACK,
    ),
    "config": toml_maker(seed("config.toml")),
    "journal": json_maker(seed("journal-0.row"), seed("journal-1.row")),
    "purchase-toml": toml_maker(PURCHASE.read_bytes()),
    "purchase-json": json_maker(json.dumps(tomllib.loads(PURCHASE.read_text("utf-8"))).encode()),
}


@fuzz_settings()
@given(cases(MAKERS))
@with_corpus(*MAKERS)
def test_files_raise_only_gongji_errors(case: Case) -> None:
    name, data, _ = case
    # Not ids=True for the journal: its errors name the entry by the POS's own idempotency
    # key, which the fuzzer makes ID-shaped at times; the sealed ID numbers are never shown.
    only_gongji_errors(TARGETS[name], data)


@pytest.mark.parametrize("name", sorted(MAKERS))
def test_each_file_seed_loads(name: str) -> None:
    """The fuzzed files start from ones that load: mutations reach past the parser."""
    base = MAKERS[name].args[0][0]  # type: ignore[attr-defined]
    assert not isinstance(only_gongji_errors(TARGETS[name], base.raw_text), Exception)
