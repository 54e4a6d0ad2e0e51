"""Loading region packs: extends chains, merging, the registry, and errors that say what to fix.

Issue 19: each case here once let a deliberate bug in the loader through. The packs are
written in the test, minimal, so that a region's own figures can change without them.
"""

from __future__ import annotations

import datetime
from pathlib import Path

import msgspec
import pytest

from gongji import ConfigError, Fen
from gongji.model import InsuranceKind, Setting
from gongji.plugins import make_plugin_manager
from gongji.policy import (
    Catalogue,
    FundRule,
    Plausibility,
    PolicyPack,
    PolicyRegistry,
    Premium,
    get_policy,
    policies,
)
from gongji.policy.loader import merge, read_pack_table

# Made-up packs, so no value needs a source (the loader's [cite] check is tested in test_policy).
HEAD = (
    'name = "t"\nversion = "1"\neffective = 2025-01-01\nsources = []\nillustrative = true\n'
    'personal_account_kinds = ["employee"]\n'
)
BODY = (
    '[mutual_aid]\nrelations = ["spouse"]\npurposes = ["medical"]\nsame_province = true\n'
    "[plausibility]\n[use]\ncash_only_categories = []\n"
)


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / f"{name}.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _registry() -> PolicyRegistry:
    return policies(make_plugin_manager(load_entry_points=False))


def _config_error(action: object) -> ConfigError:
    with pytest.raises(ConfigError) as raised:
        action()  # type: ignore[operator]
    return raised.value


# ------------------------------------------------------------------ extends and merge


def test_merge_joins_tables_key_by_key_and_any_other_value_replaces() -> None:
    base = {"a": {"x": 1, "y": 2}, "b": 1, "c": {"z": 3}}
    assert merge(base, {"a": {"y": 5}, "b": {"t": 1}, "c": 7}) == {
        "a": {"x": 1, "y": 5},
        "b": {"t": 1},
        "c": 7,
    }
    assert base == {"a": {"x": 1, "y": 2}, "b": 1, "c": {"z": 3}}  # the base is not changed


def test_a_pack_inherits_through_a_chain_of_extends_but_never_the_region(tmp_path: Path) -> None:
    registry = _registry()
    registry.register(_write(tmp_path, "root", f'id = "root"\nregion = "2102"\n{HEAD}{BODY}'))
    registry.register(
        _write(
            tmp_path,
            "mid",
            'id = "mid"\nextends = "root"\nregion = "2105"\n[catalogue]\nclass_b_self_first_percent = 20\n',
        )
    )
    registry.register(_write(tmp_path, "leaf", 'id = "leaf"\nextends = "mid"\nname = "leaf"\n'))
    root, mid, leaf = registry.get("root"), registry.get("mid"), registry.get("leaf")
    assert (root.region, mid.region, leaf.region) == ("2102", "2105", None)
    assert leaf.name == "leaf" and mid.name == "t"
    assert leaf.mutual_aid.relations == root.mutual_aid.relations  # from the grandparent
    assert leaf.catalogue.class_b_self_first_percent == 20  # from the parent


def _chain(tmp_path: Path, length: int) -> PolicyRegistry:
    """p0 <- p1 <- ... <- p{length}: each extends the one before."""
    registry = _registry()
    registry.register(_write(tmp_path, "p0", f'id = "p0"\n{HEAD}{BODY}'))
    for n in range(1, length + 1):
        registry.register(_write(tmp_path, f"p{n}", f'id = "p{n}"\nextends = "p{n - 1}"\n'))
    return registry


def test_a_chain_of_eight_packs_above_a_pack_loads_and_a_ninth_is_refused(tmp_path: Path) -> None:
    assert _chain(tmp_path, 8).get("p8").name == "t"
    error = _config_error(lambda: _chain(tmp_path, 9).get("p9"))
    assert error.message == "Policy pack p0.toml: 'extends' goes round in a circle."
    assert error.next_step == "Make the chain of extends end at a pack without one."


def test_packs_extending_each_other_are_refused(tmp_path: Path) -> None:
    registry = _registry()
    registry.register(_write(tmp_path, "a", f'id = "a"\nextends = "b"\n{HEAD}{BODY}'))
    registry.register(_write(tmp_path, "b", 'id = "b"\nextends = "a"\n'))
    assert "goes round in a circle" in _config_error(lambda: registry.get("a")).message


# ------------------------------------------------------------------ the registry


def test_a_pack_registered_as_an_object_is_returned_as_that_object() -> None:
    registry = PolicyRegistry()
    pack = get_policy("national-2025")
    registry.register(pack)
    assert registry.get("national-2025") is pack


def test_a_pack_is_decoded_once_and_then_served_from_the_registry(tmp_path: Path) -> None:
    registry = _registry()
    registry.register(_write(tmp_path, "once", f'id = "once"\n{HEAD}{BODY}'))
    assert registry.get("once") is registry.get("once")


def test_the_same_id_registered_twice_from_files_is_refused(tmp_path: Path) -> None:
    registry = _registry()
    registry.register(_write(tmp_path, "one", f'id = "dup"\n{HEAD}{BODY}'))
    error = _config_error(
        lambda: registry.register(_write(tmp_path, "two", f'id = "dup"\n{HEAD}{BODY}'))
    )
    assert error.message == "Policy pack id 'dup' (two.toml) is registered twice."
    assert error.next_step == (
        "Give the new pack its own id, or disable the plugin that registers the other."
    )


@pytest.mark.parametrize("pack_id", ["", "5", None], ids=["empty", "number", "missing"])
def test_a_pack_without_a_string_id_is_refused(tmp_path: Path, pack_id: str | None) -> None:
    line = "" if pack_id is None else (f"id = {pack_id}\n" if pack_id == "5" else 'id = ""\n')
    error = _config_error(
        lambda: _registry().register(_write(tmp_path, "noid", line + HEAD + BODY))
    )
    assert error.message == "Policy pack noid.toml: key 'id' is missing or not a string."
    assert error.next_step == 'Give the pack an id such as id = "liaoning-dalian-2025".'


def test_an_unknown_pack_lists_the_known_ids_in_order() -> None:
    registry = PolicyRegistry()
    assert _config_error(lambda: registry.get("mars")).next_step == (
        "Use one of: none; or register a pack file through a gongji plugin."
    )
    registry.register(get_policy("legacy-2021"))
    registry.register(get_policy("national-2025"))
    error = _config_error(lambda: registry.get("mars"))
    assert error.message == "Unknown policy pack 'mars'."
    assert error.next_step == (
        "Use one of: legacy-2021, national-2025; or register a pack file through a gongji plugin."
    )


def test_extending_an_unknown_pack_lists_what_can_be_extended(tmp_path: Path) -> None:
    registry = PolicyRegistry()
    path = _write(tmp_path, "orphan", f'id = "orphan"\nextends = "nowhere"\n{HEAD}{BODY}')
    assert _config_error(lambda: registry.load_file(path)).next_step == "Extend one of: none."
    registry.register(get_policy("legacy-2021"))
    registry.register(get_policy("national-2025"))
    error = _config_error(lambda: registry.load_file(path))
    assert error.message == "Policy pack extends unknown pack 'nowhere'."
    assert error.next_step == "Extend one of: legacy-2021, national-2025."


# ------------------------------------------------------------------ errors that name the fix


def test_extends_that_is_not_a_pack_id_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, "bad", f'id = "bad"\nextends = 5\n{HEAD}{BODY}')
    error = _config_error(lambda: _registry().load_file(path))
    assert error.message == "Policy pack bad.toml: key 'extends' must be a pack id string."
    assert error.next_step == 'Write extends = "national-2025" or remove the key.'


def test_a_wrong_value_names_the_file_and_the_key_path(tmp_path: Path) -> None:
    path = _write(
        tmp_path, "bad", f'id = "bad"\n{HEAD}{BODY}[premium]\nadult = 380.0\nchild = "320.00"\n'
    )
    error = _config_error(lambda: _registry().load_file(path))
    assert error.message == (
        "Policy pack bad.toml: key 'premium.adult': "
        'amounts are yuan strings such as "380.00", got float.'
    )
    assert error.next_step == "Correct that key; see docs/explanation/rules.md for the pack format."


def test_a_yuan_amount_with_three_decimals_says_so_in_the_packs_words(tmp_path: Path) -> None:
    path = _write(
        tmp_path, "bad", f'id = "bad"\n{HEAD}{BODY}[premium]\nadult = "380.005"\nchild = "320.00"\n'
    )
    assert _config_error(lambda: _registry().load_file(path)).message == (
        "Policy pack bad.toml: key 'premium.adult': The yuan amount '380.005' has more than "
        "two decimals; it is refused, not rounded."
    )


def test_a_missing_top_level_key_blames_the_pack(tmp_path: Path) -> None:
    path = _write(tmp_path, "bad", f'id = "bad"\nillustrative = true\n{BODY}')
    assert _config_error(lambda: _registry().load_file(path)).message == (
        "Policy pack bad.toml: the pack: Object missing required field `name`."
    )


def test_a_toml_syntax_error_says_to_fix_the_line(tmp_path: Path) -> None:
    path = _write(tmp_path, "bad", 'id = "bad"\n[mutual_aid\n')
    error = _config_error(lambda: _registry().register(path))
    assert error.message.startswith("Policy pack bad.toml: TOML syntax error: ")
    assert "line 2" in error.message
    assert error.next_step == "Fix the TOML at the line shown."


def test_an_unreadable_pack_file_says_to_check_the_path(tmp_path: Path) -> None:
    error = _config_error(lambda: _registry().register(tmp_path / "absent.toml"))
    assert error.message == "Policy pack absent.toml cannot be read (No such file or directory)."
    assert error.next_step == "Check the path and permissions of the pack file."


def test_pack_files_are_read_as_utf8_whatever_the_locale() -> None:
    class Source:
        name = "zh.toml"

        def read_text(self, encoding: str | None = None) -> str:
            assert encoding == "utf-8", "a pack file must be read as UTF-8"
            return 'name = "大连"\n'

    assert read_pack_table(Source()) == {"name": "大连"}  # type: ignore[arg-type]


# ------------------------------------------------------------------ the pack's structure


def _parts() -> list[msgspec.Struct]:
    pack = get_policy("national-2025")
    rule = FundRule(settings=frozenset(), deductible=Fen(0), ratio_percent=0, annual_cap=Fen(0))
    catalogue = Catalogue(class_b_self_first_percent=0)
    premium = Premium(adult=Fen(1), child=Fen(1))
    return [pack.mutual_aid, pack.plausibility, pack.use, rule, catalogue, premium, pack]


@pytest.mark.parametrize("part", _parts(), ids=lambda part: type(part).__name__)
def test_every_part_of_a_pack_is_frozen_and_keyword_only(part: msgspec.Struct) -> None:
    field = part.__struct_fields__[0]
    with pytest.raises(AttributeError):
        setattr(part, field, getattr(part, field))
    with pytest.raises(TypeError):
        type(part)(*msgspec.structs.astuple(part))


TYPOS = {
    "mutual_aid": BODY.replace("same_province = true\n", "same_province = true\nmisspelt = 1\n"),
    "plausibility": BODY.replace("[plausibility]\n", "[plausibility]\nmisspelt = 1\n"),
    "use": BODY.replace("[use]\n", "[use]\nmisspelt = 1\n"),
    "catalogue": BODY + "[catalogue]\nmisspelt = 1\n",
    "premium": BODY + '[premium]\nadult = "1.00"\nchild = "1.00"\nmisspelt = 1\n',
    "fund.employee": BODY + '[fund.employee]\nsettings = []\ndeductible = "0.00"\nmisspelt = 1\n',
}


@pytest.mark.parametrize("table", list(TYPOS))
def test_a_misspelt_key_in_any_table_is_refused_by_name(tmp_path: Path, table: str) -> None:
    path = _write(tmp_path, "typo", f'id = "typo"\n{HEAD}{TYPOS[table]}')
    where = "fund[...]" if table == "fund.employee" else table  # msgspec's path for a dict value
    assert _config_error(lambda: _registry().load_file(path)).message == (
        f"Policy pack typo.toml: key '{where}': Object contains unknown field `misspelt`."
    )


def test_a_misspelt_top_level_key_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, "typo", f'id = "typo"\nmisspelt = 1\n{HEAD}{BODY}')
    assert _config_error(lambda: _registry().load_file(path)).message == (
        "Policy pack typo.toml: the pack: Object contains unknown field `misspelt`."
    )


def test_what_a_pack_leaves_out_is_empty_or_the_defaults(tmp_path: Path) -> None:
    pack = _registry().load_file(_write(tmp_path, "bare", f'id = "bare"\n{HEAD}{BODY}'))
    assert pack.mutual_aid.cross_province == frozenset()
    assert pack.fund == {}
    assert pack.fund_rule(InsuranceKind.EMPLOYEE, Setting.PHARMACY) is None
    assert pack.catalogue is None and pack.premium is None
    assert pack.plausibility == Plausibility()
    assert (pack.until, pack.line, pack.region, pack.cite) == (None, None, None, {})
    assert pack.effective == datetime.date(2025, 1, 1)


@pytest.mark.parametrize("left_out", ["ratio_percent", "annual_cap"])
def test_a_fund_rule_without_its_ratio_or_cap_is_refused_not_taken_as_zero(left_out: str) -> None:
    # No number lives in the code as a default: a fund estimate needs every figure from a source.
    table = {"settings": ["pharmacy"], "deductible": Fen(0), "ratio_percent": 50}
    table["annual_cap"] = Fen(100)
    del table[left_out]
    with pytest.raises(msgspec.ValidationError, match=f"missing required field `{left_out}`"):
        msgspec.convert(table, FundRule)


def test_a_fund_rule_applies_only_to_its_kind_and_its_settings() -> None:
    rule = FundRule(
        settings=frozenset({Setting.OUTPATIENT}),
        deductible=Fen(0),
        ratio_percent=50,
        annual_cap=Fen(100),
    )
    pack = msgspec.structs.replace(get_policy("national-2025"), fund={InsuranceKind.EMPLOYEE: rule})
    assert pack.fund_rule(InsuranceKind.EMPLOYEE, Setting.OUTPATIENT) is rule
    assert pack.fund_rule(InsuranceKind.EMPLOYEE, Setting.PHARMACY) is None
    assert pack.fund_rule(InsuranceKind.RESIDENT, Setting.OUTPATIENT) is None
    assert isinstance(pack, PolicyPack) and Premium is not None
