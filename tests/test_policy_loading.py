"""Loading region packs: extends chains, merging, the registry, and errors that say what to fix.

Issue 19: each case here once let a deliberate bug in the loader through. The packs are
written in the test, minimal, so that a region's own figures can change without them.
"""

from __future__ import annotations

import datetime
import tomllib
from pathlib import Path

import msgspec
import pytest

from gongji import ConfigError, Fen
from gongji.model import InsuranceKind, Setting
from gongji.money import Rounding
from gongji.plugins import make_plugin_manager
from gongji.policy import (
    Catalogue,
    FundRule,
    MutualAid,
    Plausibility,
    PolicyPack,
    PolicyRegistry,
    Premium,
    Widening,
    beijing_date,
    get_policy,
    policies,
    policy_on,
)
from gongji.policy.loader import merge, pack_table, read_pack_table

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
    widening = Widening(relations=frozenset())
    premium = Premium(adult=Fen(1), child=Fen(1))
    return [pack.mutual_aid, pack.plausibility, pack.use, rule, catalogue, premium, widening, pack]


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
    "mutual_aid.widening": BODY.replace(
        "[plausibility]\n", "[mutual_aid.widening]\nrelations = []\nmisspelt = 1\n[plausibility]\n"
    ),
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


def test_a_fund_rule_left_without_rounding_rounds_down_so_the_payer_never_pays_a_fraction_more() -> (
    None
):
    rule = msgspec.convert(
        {"settings": ["outpatient"], "deductible": "0.00", "ratio_percent": 50, "annual_cap": "9"},
        FundRule,
        dec_hook=lambda kind, value: Fen.from_yuan(value),
    )
    assert rule.rounding is Rounding.DOWN


def test_a_pack_without_plausibility_warns_of_no_age() -> None:
    bare = BODY.replace("[plausibility]\n", "")
    pack = msgspec.convert(
        tomllib.loads(f'id = "bare"\n{HEAD}{bare}'), PolicyPack, dec_hook=lambda k, v: v
    )
    assert pack.plausibility == Plausibility()
    assert pack.plausibility.parent_min_years is None
    assert pack.plausibility.marriage_age_female is None


def test_r2_a_pack_that_says_nothing_of_suspended_owners_lets_only_active_ones_pay(
    tmp_path: Path,
) -> None:
    pack = _registry().load_file(_write(tmp_path, "bare", f'id = "bare"\n{HEAD}{BODY}'))
    assert pack.mutual_aid.suspended_owner_may_pay is False


def test_cross_province_pairs_need_both_provinces_listed_in_either_order() -> None:
    aid = MutualAid(
        relations=frozenset(),
        purposes=frozenset(),
        same_province=True,
        cross_province=frozenset({"21", "11"}),
        cross_province_pairs=frozenset({("21", "62")}),
    )
    assert aid.provinces_paired("21", "11") and aid.provinces_paired("11", "21")
    assert not aid.provinces_paired("21", "44") and not aid.provinces_paired("44", "11")
    assert aid.provinces_paired("21", "62") and aid.provinces_paired("62", "21")
    assert not aid.provinces_paired("62", "11")


@pytest.mark.parametrize("province", ["210", "2", "ab"])
def test_a_province_is_two_digits_or_the_pack_is_refused(tmp_path: Path, province: str) -> None:
    body = BODY.replace(
        "same_province = true\n", f'same_province = true\ncross_province = ["{province}"]\n'
    )
    path = _write(tmp_path, "bad", f'id = "bad"\n{HEAD}{body}')
    assert _config_error(lambda: _registry().load_file(path)).message == (
        "Policy pack bad.toml: key 'mutual_aid.cross_province[0]': "
        "Expected `str` matching regex '^[0-9]{2}$'."
    )


def test_a_pack_made_in_code_says_where_each_value_comes_from() -> None:
    pack = msgspec.structs.replace(get_policy("national-2025"), cite={}, illustrative=False)
    assert pack.source_of("premium.adult") == "not set by the pack"
    made = PolicyPack(
        id="made",
        name="made",
        version="1",
        effective=datetime.date(2025, 1, 1),
        sources=(),
        personal_account_kinds=frozenset(),
        mutual_aid=pack.mutual_aid,
        use=pack.use,
    )
    assert (made.illustrative, made.cite, made.plausibility) == (False, {}, Plausibility())
    assert made.source_of("use.cash_only_categories") == "not set by the pack"


def test_a_pack_table_holds_amounts_as_the_yuan_strings_of_its_file() -> None:
    table = pack_table(get_policy("liaoning-dalian-2025"))
    assert table["premium"]["adult"] == "380.00" and table["premium"]["child"] == "320.00"


# ------------------------------------------------------------------ sources ([cite])
# A made-up pack claims sources when it is not illustrative: every value it sets cites one.
SOURCED_HEAD = HEAD.replace("illustrative = true\n", "")


def _cited(tmp_path: Path, text: str) -> ConfigError:
    return _config_error(lambda: _registry().load_file(_write(tmp_path, "cited", text)))


def test_a_cite_that_is_not_a_table_is_refused(tmp_path: Path) -> None:
    error = _cited(tmp_path, f'id = "c"\ncite = "seed 000 l.1"\n{HEAD}{BODY}')
    assert error.message == "Policy pack cited.toml: key 'cite' must be a table of sources."
    assert error.next_step == 'Write [cite] with lines such as "premium.adult" = "seed 000 l.51".'


def test_a_cite_that_names_no_seed_line_or_public_document_is_refused(tmp_path: Path) -> None:
    error = _cited(tmp_path, f'id = "c"\ncite.effective = "a blog"\n{HEAD}{BODY}')
    assert error.message == "Policy pack cited.toml: cite 'effective' does not name a source."
    assert error.next_step == (
        'Name a seed and its line ("seed 000 l.51: ...") or a public document ("public: ...").'
    )


def test_a_cite_of_a_value_the_pack_does_not_set_is_refused(tmp_path: Path) -> None:
    error = _cited(tmp_path, f'id = "c"\ncite.premium = "seed 000 l.51"\n{HEAD}{BODY}')
    assert error.message == "Policy pack cited.toml: cite 'premium' names no value this pack sets."
    assert error.next_step == "Correct the key (dotted, as in premium.adult) or remove the cite."


def test_a_value_without_a_source_in_a_pack_that_claims_sources_is_refused(tmp_path: Path) -> None:
    error = _cited(tmp_path, f'id = "c"\n{SOURCED_HEAD}{BODY}')
    assert error.message == "Policy pack cited.toml: key 'effective' has no source."
    assert error.next_step == (
        'Add "effective" = "seed 00N l.N: ..." under [cite], or mark a pack of made-up values '
        "illustrative = true (for demonstrations and tests only)."
    )


def test_a_pack_that_says_it_is_not_illustrative_needs_no_source_for_saying_so(
    tmp_path: Path,
) -> None:
    text = f'id = "c"\nillustrative = false\ncite = {{ "" = "seed 000 l.1" }}\n{SOURCED_HEAD}{BODY}'
    sourced = text.replace('cite = { "" = "seed 000 l.1" }\n', "[cite]\n")
    lines = ["effective", "personal_account_kinds", "mutual_aid", "use"]
    sourced = f'id = "c"\nillustrative = false\n{SOURCED_HEAD}{BODY}[cite]\n' + "".join(
        f'{key} = "seed 000 l.1"\n' for key in lines
    )
    pack = _registry().load_file(_write(tmp_path, "sourced", sourced))
    assert not pack.illustrative and pack.source_of("mutual_aid.relations") == "seed 000 l.1"


def test_a_pack_extending_an_illustrative_one_must_say_it_is_made_up_too(tmp_path: Path) -> None:
    error = _cited(tmp_path, 'id = "c"\nextends = "demo-dalian"\nillustrative = false\n')
    assert error.message == (
        "Policy pack cited.toml extends the illustrative pack 'demo-dalian', "
        "so its values are made up too."
    )
    assert error.next_step == (
        "Mark it illustrative = true, or extend a pack whose values have sources."
    )


# ------------------------------------------------------------------ dates


def test_a_pack_in_force_for_one_day_loads_and_one_ending_before_it_starts_is_refused(
    tmp_path: Path,
) -> None:
    one_day = f'id = "d"\nuntil = 2025-01-01\n{HEAD}{BODY}'
    pack = _registry().load_file(_write(tmp_path, "day", one_day))
    assert pack.in_force(datetime.date(2025, 1, 1))
    assert not pack.in_force(datetime.date(2025, 1, 2))
    backwards = one_day.replace("until = 2025-01-01", "until = 2024-12-31")
    error = _config_error(lambda: _registry().load_file(_write(tmp_path, "back", backwards)))
    assert error.message == (
        "Policy pack back.toml: 'until' (2024-12-31) is before 'effective' (2025-01-01)."
    )
    assert error.next_step == "Give the last day the pack is in force, on or after its first."


def test_a_pack_does_not_take_the_last_day_of_the_pack_it_extends(
    tmp_path: Path,
) -> None:
    registry = _registry()
    registry.register(_write(tmp_path, "old", f'id = "old"\nuntil = 2025-12-31\n{HEAD}{BODY}'))
    registry.register(_write(tmp_path, "new", 'id = "new"\nextends = "old"\n'))
    assert registry.get("old").until == datetime.date(2025, 12, 31)
    assert registry.get("new").until is None


# Every built-in pack's first and last day: the day a sale's rules change.
PACK_DATES = {
    "legacy-2021": (datetime.date(2021, 4, 22), datetime.date(2024, 12, 31)),
    "national-2025": (datetime.date(2025, 1, 1), None),
    "liaoning-dalian-2025": (datetime.date(2025, 1, 1), None),
    "liaoning-benxi-2025": (datetime.date(2025, 1, 1), None),
    "demo-dalian": (datetime.date(2025, 1, 1), None),
}


def test_every_builtin_pack_has_its_dates() -> None:
    assert {i: (get_policy(i).effective, get_policy(i).until) for i in policies().ids()} == (
        PACK_DATES
    )


@pytest.mark.parametrize(
    ("moment", "pack_id"),
    [
        # 23:59:59 in Beijing on the last day of 2024 is 15:59:59 in UTC.
        (datetime.datetime(2024, 12, 31, 15, 59, 59, tzinfo=datetime.UTC), "legacy-2021"),
        (datetime.datetime(2024, 12, 31, 16, 0, 0, tzinfo=datetime.UTC), "national-2025"),
    ],
)
def test_a_sale_is_settled_under_the_pack_of_its_beijing_day(
    moment: datetime.datetime, pack_id: str
) -> None:
    day = beijing_date(moment)
    for configured in ("national-2025", "legacy-2021"):
        assert policy_on(get_policy(configured), day).id == pack_id


def test_a_pack_not_registered_as_it_is_is_used_as_it_is_whatever_the_day() -> None:
    day = datetime.date(2024, 6, 1)  # legacy-2021's time
    changed = msgspec.structs.replace(get_policy("national-2025"), name="changed in code")
    assert policy_on(changed, day) is changed
    unknown = msgspec.structs.replace(get_policy("national-2025"), id="made-in-code")
    assert policy_on(unknown, day) is unknown


def test_a_later_pack_of_a_line_supersedes_an_open_ended_earlier_one() -> None:
    registry = PolicyRegistry()
    first = msgspec.structs.replace(get_policy("national-2025"), id="a", line="l")
    later = msgspec.structs.replace(first, id="b", effective=datetime.date(2026, 1, 1))
    registry.register(first)
    registry.register(later)
    assert registry.in_force("a", datetime.date(2025, 12, 31)).id == "a"
    assert registry.in_force("a", datetime.date(2026, 1, 1)).id == "b"
    assert registry.in_force("b", datetime.date(2026, 6, 1)).id == "b"


def test_no_pack_in_force_on_the_day_lists_the_lines_dates_and_charges_nothing() -> None:
    registry = PolicyRegistry()
    first = msgspec.structs.replace(
        get_policy("national-2025"), id="a", line="l", until=datetime.date(2025, 12, 31)
    )
    registry.register(first)
    registry.register(
        msgspec.structs.replace(first, id="b", effective=datetime.date(2027, 1, 1), until=None)
    )
    error = _config_error(lambda: registry.in_force("a", datetime.date(2026, 5, 1)))
    assert error.message == (
        "No policy pack of the line 'l' is in force on 2026-05-01 "
        "(a from 2025-01-01 to 2025-12-31; b from 2027-01-01 to open)."
    )
    assert error.next_step == (
        "Check the till's date, or register a pack in force on that day; nothing was charged."
    )


def test_two_packs_of_a_line_from_one_day_are_refused_with_their_dates() -> None:
    registry = PolicyRegistry()
    first = msgspec.structs.replace(get_policy("national-2025"), id="a", line="l")
    registry.register(first)
    registry.register(msgspec.structs.replace(first, id="b"))
    error = _config_error(lambda: registry.in_force("b", datetime.date(2025, 6, 1)))
    assert error.message == (
        "2 policy packs of the line 'l' are in force on 2025-06-01 "
        "(a from 2025-01-01 to open; b from 2025-01-01 to open)."
    )
    assert error.next_step == "Give each pack of a line its own 'effective' date."


def test_a_registered_pack_that_does_not_decode_names_its_file(tmp_path: Path) -> None:
    registry = _registry()
    registry.register(_write(tmp_path, "broken", f'id = "broken"\n{HEAD}'))
    assert _config_error(lambda: registry.get("broken")).message == (
        "Policy pack broken.toml: the pack: Object missing required field `mutual_aid`."
    )
