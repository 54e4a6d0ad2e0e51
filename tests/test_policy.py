from __future__ import annotations

import datetime
import itertools
import re
from pathlib import Path

import msgspec
import pytest

from gongji import ConfigError, Fen
from gongji.model import Purpose, Relation
from gongji.plugins import make_plugin_manager
from gongji.policy import PolicyPack, PolicyRegistry, get_policy, policies
from gongji.policy.loader import pack_table, setting_keys


def test_builtin_packs_are_registered() -> None:
    assert {
        "national-2025",
        "legacy-2021",
        "liaoning-dalian-2025",
        "liaoning-benxi-2025",
        "demo-dalian",
    } <= set(policies().ids())


def test_national_pack_allows_close_relatives_and_names_no_cross_province_partner() -> None:
    pack = get_policy("national-2025")
    assert pack.effective == datetime.date(2025, 1, 1)  # seeds 001 l.1, 002 l.5
    assert pack.mutual_aid.relations == frozenset(Relation)
    assert pack.mutual_aid.cross_province == frozenset()
    assert pack.mutual_aid.cross_province_pairs == frozenset()


def test_dalian_pack_extends_national_and_narrows_it() -> None:
    pack = get_policy("liaoning-dalian-2025")
    assert pack.extends == "national-2025"
    assert pack.mutual_aid.relations == {Relation.SPOUSE, Relation.PARENT, Relation.CHILD}
    assert pack.premium is not None
    assert (pack.premium.adult, pack.premium.child) == (Fen(38_000), Fen(32_000))
    assert pack.premium.child_max_age is None and pack.fund == {}
    assert pack.personal_account_kinds == {"employee"}  # residents have no account (seed 000)
    # inherited from the national pack, with its source, not restated in the Dalian file
    assert pack.plausibility.marriage_age_male == 22
    assert "民法典" in pack.source_of("plausibility.marriage_age_male")


def test_dalian_pack_carries_the_national_widening_switched_off() -> None:
    widening = get_policy("liaoning-dalian-2025").mutual_aid.widening
    assert widening is not None and widening.since is None
    assert widening.relations == frozenset(Relation)


def test_benxi_pack_is_the_benxi_city_profiles_and_allows_close_relatives() -> None:
    from gongji_cityins.gateway import CITIES

    pack = get_policy("liaoning-benxi-2025")
    assert CITIES["benxi"].policy == pack.id and pack.region == CITIES["benxi"].region == "210500"
    assert pack.mutual_aid.relations == frozenset(Relation)
    assert "seed 001 l.84" in pack.source_of("mutual_aid.relations")
    # Seed 001 l.20: "some areas" only, Benxi not named: off until a notice says so.
    assert not {Purpose.LONG_TERM_CARE, Purpose.COMMERCIAL_INSURANCE} & pack.mutual_aid.purposes


def test_legacy_pack_allows_nuclear_family_within_one_region_until_2025() -> None:
    pack = get_policy("legacy-2021")
    assert pack.mutual_aid.relations == {Relation.SPOUSE, Relation.PARENT, Relation.CHILD}
    assert not pack.mutual_aid.same_province and not pack.mutual_aid.cross_province
    assert pack.until == datetime.date(2024, 12, 31)
    assert pack.line_name == get_policy("national-2025").line_name == "national"


@pytest.mark.parametrize("pack_id", sorted(policies().ids()))
def test_every_value_of_a_real_pack_cites_a_seed_line_or_a_public_document(pack_id: str) -> None:
    pack = get_policy(pack_id)
    keys = setting_keys(pack_table(pack))
    assert keys
    for key in keys:
        source = pack.source_of(key)
        if pack.illustrative:
            continue
        if key in pack.cite:
            assert re.search(r"seed 00[0-2] l\.[0-9]+|^public: ", source), (key, source)
        else:
            # A value the pack does not set comes from the code's default: nothing, never a number.
            value = msgspec.to_builtins(_value(pack, key))
            assert value in ([], False), (key, value)


def _value(pack: PolicyPack, key: str) -> object:
    value: object = pack
    for part in key.split("."):
        value = getattr(value, part) if not isinstance(value, dict) else value[part]
    return value


def test_only_the_demo_dataset_uses_an_illustrative_pack() -> None:
    from gongji_cityins.gateway import CITIES
    from gongji_mock.centre.dataset import demo_dataset

    illustrative = {i for i in policies().ids() if get_policy(i).illustrative}
    assert illustrative == {"demo-dalian"} == {demo_dataset().policy.id}
    assert not illustrative & {city.policy for city in CITIES.values()}


def test_a_value_without_a_source_is_refused_unless_the_pack_is_illustrative(
    tmp_path: Path,
) -> None:
    body = '[premium]\nadult = "400.00"\nchild = "400.00"\n'
    registry, path = _registry_with(tmp_path, SOURCED + body)
    with pytest.raises(ConfigError, match=r"'premium\.adult' has no source"):
        registry.load_file(path)
    registry, path = _registry_with(tmp_path, BASE + body)
    assert registry.load_file(path).source_of("premium.adult") == "illustrative: no source"


def test_a_cite_must_name_a_seed_line_or_a_public_document(tmp_path: Path) -> None:
    body = 'cite.premium = "a blog"\n[premium]\nadult = "400.00"\nchild = "400.00"\n'
    registry, path = _registry_with(tmp_path, SOURCED + body)
    with pytest.raises(ConfigError, match="does not name a source"):
        registry.load_file(path)


def test_an_overridden_value_never_keeps_the_parents_source(tmp_path: Path) -> None:
    body = "[plausibility]\nmarriage_age_male = 18\n"
    registry, path = _registry_with(tmp_path, BASE + body)
    assert registry.load_file(path).source_of("plausibility.marriage_age_male") == (
        "illustrative: no source"
    )


def test_a_pack_extending_an_illustrative_one_is_illustrative_too(tmp_path: Path) -> None:
    text = SOURCED.replace("national-2025", "demo-dalian")
    registry, path = _registry_with(tmp_path, text + "illustrative = false\n")
    with pytest.raises(ConfigError, match="extends the illustrative pack"):
        registry.load_file(path)


# ---------------------------------------------------------------- dated packs


@pytest.mark.parametrize(
    ("day", "pack_id"),
    [
        (datetime.date(2024, 12, 31), "legacy-2021"),
        (datetime.date(2025, 1, 1), "national-2025"),
    ],
)
def test_the_sales_date_picks_the_pack_of_the_line(day: datetime.date, pack_id: str) -> None:
    for configured in ("national-2025", "legacy-2021"):
        assert policies().in_force(configured, day).id == pack_id


def test_no_pack_in_force_on_the_day_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="No policy pack of the line 'national' is in force"):
        policies().in_force("national-2025", datetime.date(2020, 1, 1))


def test_two_packs_of_a_line_in_force_on_one_day_are_refused() -> None:
    registry = PolicyRegistry()
    first = msgspec.structs.replace(get_policy("national-2025"), id="a", line="l")
    registry.register(first)
    registry.register(msgspec.structs.replace(first, id="b"))
    with pytest.raises(ConfigError, match="2 policy packs of the line 'l'"):
        registry.in_force("a", datetime.date(2025, 6, 1))


def test_every_builtin_line_has_one_pack_a_day_from_its_start() -> None:
    packs = [get_policy(i) for i in policies().ids()]
    for line in {pack.line_name for pack in packs}:
        ordered = sorted((p for p in packs if p.line_name == line), key=lambda p: p.effective)
        for earlier, later in itertools.pairwise(ordered):
            assert earlier.until == later.effective - datetime.timedelta(days=1), line
        assert ordered[-1].until is None


def _registry_with(tmp_path: Path, text: str) -> tuple[PolicyRegistry, Path]:
    fresh = policies(make_plugin_manager(load_entry_points=False))
    path = tmp_path / "broken-pack.toml"
    path.write_text(text, encoding="utf-8")
    return fresh, path


BASE = (
    'id = "test-pack"\nextends = "national-2025"\nname = "t"\nversion = "1"\n'
    "effective = 2025-01-01\nillustrative = true\n"
)
#: The same pack, claiming sources: each value it sets must cite one.
SOURCED = BASE.replace("illustrative = true\n", 'cite.effective = "seed 001 l.1: 2025"\n')


@pytest.mark.parametrize(
    ("body", "key"),
    [
        ('[mutual_aid]\nrelations = ["cousin"]\n', "mutual_aid.relations"),
        ('[premium]\nadult = 380.0\nchild = "320.00"\n', "premium.adult"),
        ('[premium]\nadult = "380.005"\nchild = "320.00"\n', "premium.adult"),
        ("[use]\ncash_only_categories = []\nbanned = 1\n", "use"),
    ],
    ids=["unknown-relation", "float-amount", "three-decimals", "unknown-key"],
)
def test_broken_pack_is_config_error_naming_file_and_key(
    tmp_path: Path, body: str, key: str
) -> None:
    registry, path = _registry_with(tmp_path, BASE + body)
    with pytest.raises(ConfigError) as caught:
        registry.load_file(path)
    message = str(caught.value)
    assert "broken-pack.toml" in message and key in message


def test_pack_toml_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    registry, path = _registry_with(tmp_path, BASE + "[mutual_aid\n")
    with pytest.raises(ConfigError, match=r"broken-pack.toml.*line 7"):
        registry.load_file(path)


def test_unknown_pack_id_lists_the_known_ones() -> None:
    with pytest.raises(ConfigError, match="Unknown policy pack 'mars-2030'") as caught:
        get_policy("mars-2030")
    assert "national-2025" in caught.value.next_step


def test_pack_extending_an_unknown_pack_is_refused(tmp_path: Path) -> None:
    registry, path = _registry_with(tmp_path, BASE.replace("national-2025", "nowhere"))
    with pytest.raises(ConfigError, match="extends unknown pack 'nowhere'"):
        registry.load_file(path)


def test_same_pack_id_registered_twice_is_refused() -> None:
    registry = PolicyRegistry()
    pack = get_policy("national-2025")
    registry.register(pack)
    with pytest.raises(ConfigError, match="registered twice"):
        registry.register(pack)


def test_pack_file_registered_by_path_decodes(tmp_path: Path) -> None:
    registry, path = _registry_with(tmp_path, BASE + '[mutual_aid]\nrelations = ["spouse"]\n')
    registry.register(path)
    pack = registry.get("test-pack")
    assert isinstance(pack, PolicyPack) and pack.mutual_aid.relations == {Relation.SPOUSE}


def test_pack_registered_as_an_object_can_be_extended(tmp_path: Path) -> None:
    registry = PolicyRegistry()
    registry.register(get_policy("national-2025"))
    path = tmp_path / "child.toml"
    path.write_text(BASE + '[mutual_aid]\nrelations = ["child"]\n', encoding="utf-8")
    pack = registry.load_file(path)
    assert pack.mutual_aid.relations == {Relation.CHILD}
    assert pack.mutual_aid.same_province


def test_traceability_codes_are_required_from_their_date_on_and_never_when_waived() -> None:
    from gongji.policy.pack import Traceability

    rule = Traceability(required_from=datetime.date(2025, 7, 1))
    assert not rule.required_on(datetime.date(2025, 6, 30))
    assert rule.required_on(datetime.date(2025, 7, 1))  # the day itself
    assert rule.required_on(datetime.date(2026, 1, 1))
    waived = Traceability(required_from=datetime.date(2025, 7, 1), waived=True)
    assert not waived.required_on(datetime.date(2025, 7, 1))
    assert not waived.required_on(datetime.date(2026, 1, 1))


def test_a_traceability_table_is_frozen_named_and_refuses_a_key_it_does_not_know() -> None:
    from gongji.policy.pack import Traceability

    with pytest.raises(msgspec.ValidationError):
        msgspec.convert({"required_from": "2025-07-01", "from": "2025-07-01"}, Traceability)
    with pytest.raises(TypeError):
        Traceability(datetime.date(2025, 7, 1))  # type: ignore[misc]
    rule = Traceability(required_from=datetime.date(2025, 7, 1))
    with pytest.raises(AttributeError):
        rule.waived = True  # type: ignore[misc]
