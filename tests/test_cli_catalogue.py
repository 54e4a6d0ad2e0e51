"""``gongji catalogue sync|find|map`` through the real entry point (a subprocess), against
a mock served over HTTP on 127.0.0.1: the store lands beside the profile's journal, and
bad input is one line on stderr with a non-zero exit and nothing on stdout."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from gongji.catalogue import CatalogueStore
from gongji_mock.national.hilist import demo_records
from tests import test_cli_journal
from tests.test_cli_journal import Served, config, run

served = test_cli_journal.served  # the fixture: the demo mock served over HTTP

COLD_REMEDY = "ZA01BAG0331010100000004"
MAPPINGS = (
    "sku,name,national_code,begins,spec\n"
    f"SKU-0042,感冒灵颗粒 10g*9袋,{COLD_REMEDY},2025-07-01,10g*9袋\n"
    "MASK,一次性使用医用口罩,C14030102000000000000008,,\n"
)


def catalogue(path: Path, *args: str) -> tuple[int, str, str]:
    result = run("catalogue", *args, "--config", str(path), "--profile", "till")
    return result.returncode, result.stdout, result.stderr


def assert_refused_in_one_line(code: int, out: str, err: str, words: str) -> None:
    assert code != 0 and out == ""
    assert len(err.strip().splitlines()) == 1 and words in err, err


def test_sync_find_and_map_through_the_command(served: Served, tmp_path: Path) -> None:
    path = config(tmp_path, served.url)
    code, out, err = catalogue(path, "sync", "--page-size", "4")
    assert code == 0, err
    assert f"{len(demo_records())} records in 3 pages" in out
    # The store is beside the profile's journal (the per-user default place here).
    store_path = Path(os.environ["XDG_DATA_HOME"]) / "gongji" / "journal.catalogue.sqlite3"
    with CatalogueStore(store_path) as store:
        assert store.count() == len(demo_records())

    code, out, _ = catalogue(path, "find", "感冒灵", "--json")
    assert code == 0
    assert {row["national_code"] for row in json.loads(out)} == {COLD_REMEDY}

    mappings = tmp_path / "mappings.csv"
    mappings.write_text(MAPPINGS, encoding="utf-8")
    code, out, err = catalogue(path, "map", str(mappings), "--json")
    assert code == 0, err
    assert json.loads(out) == {"uploaded": ["MASK", "SKU-0042"], "refused": []}
    taken = {sku for (_, sku), _row in served.mock.national.catalogue.mappings.items()}
    assert taken == {"MASK", "SKU-0042"}
    # Nothing pending: the same file again uploads nothing.
    code, out, _ = catalogue(path, "map", str(mappings))
    assert code == 0 and "Mappings uploaded: 0" in out


def test_a_second_sync_asks_only_from_the_version(served: Served, tmp_path: Path) -> None:
    path = config(tmp_path, served.url)
    assert catalogue(path, "sync")[0] == 0
    code, out, _ = catalogue(path, "sync", "--json")
    assert code == 0
    assert json.loads(out)["records"] < len(demo_records())


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ("sku,name,national_code,colour\nA,B,C,red\n", "unknown columns colour"),
        ("sku,name\nA,B\n", "no column national_code"),
        ("sku,name,national_code,begins\nA,B,C,1/7/2025\n", "line 2"),
        ("sku,name,national_code\nA,B,NOT-IN-THE-STORE\n", "holds no record"),
        ("", "has no mapping"),
    ],
)
def test_a_bad_mapping_file_is_one_line_on_stderr_and_nothing_uploaded(
    served: Served, tmp_path: Path, content: str, words: str
) -> None:
    path = config(tmp_path, served.url)
    mappings = tmp_path / "mappings.csv"
    mappings.write_text(content, encoding="utf-8")
    assert_refused_in_one_line(*catalogue(path, "map", str(mappings)), words)
    assert list(served.mock.national.catalogue.mappings.items()) == []


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("sync", "--page-size", "0"), "page size"),
        (("find", " "), "Give a name"),
        (("find", "x", "--limit", "0"), "--limit"),
        (("map", "no-such-file.csv"), "cannot be read"),
    ],
)
def test_bad_input_is_one_line_on_stderr(
    served: Served, tmp_path: Path, args: tuple[str, ...], words: str
) -> None:
    path = config(tmp_path, served.url)
    assert_refused_in_one_line(*catalogue(path, *args), words)


def test_without_a_profile_the_command_says_how_to_name_one(tmp_path: Path) -> None:
    result = run("catalogue", "find", "x", "--config", str(config(tmp_path)))
    assert_refused_in_one_line(result.returncode, result.stdout, result.stderr, "--profile")
