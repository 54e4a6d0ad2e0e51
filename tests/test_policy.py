from __future__ import annotations

from pathlib import Path

import pytest

from gongji import ConfigError, Fen
from gongji.model import Relation
from gongji.plugins import make_plugin_manager
from gongji.policy import PolicyPack, PolicyRegistry, get_policy, policies


def test_three_builtin_packs_are_registered() -> None:
    assert {"national-2024", "liaoning-dalian-2025", "legacy-2021"} <= set(policies().ids())


def test_national_pack_allows_close_relatives_and_gansu_cross_province() -> None:
    pack = get_policy("national-2024")
    assert pack.mutual_aid.relations == frozenset(Relation)
    assert pack.mutual_aid.cross_province == {"62"}


def test_dalian_pack_extends_national_and_narrows_it() -> None:
    pack = get_policy("liaoning-dalian-2025")
    assert pack.extends == "national-2024"
    assert pack.mutual_aid.relations == {Relation.SPOUSE, Relation.PARENT, Relation.CHILD}
    assert pack.premium is not None
    assert (pack.premium.adult, pack.premium.child) == (Fen(38_000), Fen(32_000))
    resident = pack.fund["resident"]  # type: ignore[index]
    assert resident.annual_cap == Fen(50_000)
    assert pack.personal_account_kinds == {"employee"}  # residents have no account (seed 000)
    # inherited from the national pack, not restated in the Dalian file
    assert pack.plausibility.marriage_age_male == 22


def test_legacy_pack_allows_nuclear_family_within_one_region() -> None:
    pack = get_policy("legacy-2021")
    assert pack.mutual_aid.relations == {Relation.SPOUSE, Relation.PARENT, Relation.CHILD}
    assert not pack.mutual_aid.same_province and not pack.mutual_aid.cross_province


def _registry_with(tmp_path: Path, text: str) -> tuple[PolicyRegistry, Path]:
    fresh = policies(make_plugin_manager(load_entry_points=False))
    path = tmp_path / "broken-pack.toml"
    path.write_text(text, encoding="utf-8")
    return fresh, path


BASE = 'id = "test-pack"\nextends = "national-2024"\nname = "t"\nversion = "1"\neffective = 2025-01-01\n'


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
    with pytest.raises(ConfigError, match=r"broken-pack.toml.*line 6"):
        registry.load_file(path)


def test_unknown_pack_id_lists_the_known_ones() -> None:
    with pytest.raises(ConfigError, match="Unknown policy pack 'mars-2030'") as caught:
        get_policy("mars-2030")
    assert "national-2024" in caught.value.next_step


def test_pack_extending_an_unknown_pack_is_refused(tmp_path: Path) -> None:
    registry, path = _registry_with(tmp_path, BASE.replace("national-2024", "nowhere"))
    with pytest.raises(ConfigError, match="extends unknown pack 'nowhere'"):
        registry.load_file(path)


def test_same_pack_id_registered_twice_is_refused() -> None:
    registry = PolicyRegistry()
    pack = get_policy("national-2024")
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
    registry.register(get_policy("national-2024"))
    path = tmp_path / "child.toml"
    path.write_text(BASE + '[mutual_aid]\nrelations = ["child"]\n', encoding="utf-8")
    pack = registry.load_file(path)
    assert pack.mutual_aid.relations == {Relation.CHILD}
    assert pack.mutual_aid.cross_province == {"62"}
