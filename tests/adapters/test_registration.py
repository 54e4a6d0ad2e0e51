"""One adapter contract: every shipped adapter, and the example one, has the same four
files, registers through its own plugin, and is listed by ``gongji plugins`` under it."""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
GONGJI = shutil.which("gongji", path=str(Path(sys.executable).parent)) or "gongji"

#: plugin (entry-point name) -> (adapter name, kind), as pyproject.toml installs them.
SHIPPED = {
    "cityins": [("cityins", "insurance"), ("national-terminal", "decoder")],
    "wechatpay": [("wechatpay", "channel")],
    "alipay": [("alipay", "channel")],
}
PACKAGES = [
    ROOT / "adapters" / "gongji_cityins",
    ROOT / "adapters" / "gongji_wechatpay",
    ROOT / "adapters" / "gongji_alipay",
    ROOT / "examples" / "write_an_adapter" / "src" / "gongji_campuscard",
]
#: What each of the four files is for (adapters/README.md).
SHAPE = ("plugin.py", "wire.py", "transform.py", "gateway.py")


@pytest.fixture(scope="module")
def listed() -> list[dict[str, Any]]:
    """``gongji --json plugins``, run once, as an operator would."""
    result = subprocess.run(
        [GONGJI, "--json", "plugins"], capture_output=True, text=True, timeout=60, check=True
    )
    rows: list[dict[str, Any]] = json.loads(result.stdout)
    return rows


@pytest.mark.parametrize("plugin", sorted(SHIPPED))
def test_gongji_plugins_lists_each_shipped_adapter_under_its_plugin(
    plugin: str, listed: list[dict[str, Any]]
) -> None:
    [row] = [row for row in listed if row["name"] == plugin]
    adapters = [(adapter["name"], adapter["kind"]) for adapter in row["adapters"]]
    assert sorted(adapters) == sorted(SHIPPED[plugin])
    for adapter in row["adapters"]:
        if adapter["kind"] != "decoder":  # an e-voucher decoder has no capabilities to declare
            assert adapter["capabilities"], f"{adapter['name']} declares no capability"


@pytest.mark.parametrize("package", PACKAGES, ids=lambda path: path.name)
def test_every_adapter_has_the_four_file_shape(package: Path) -> None:
    missing = [name for name in SHAPE if not (package / name).is_file()]
    assert missing == [], f"{package.name} lacks {missing}"
    plugin = ast.parse((package / "plugin.py").read_text(encoding="utf-8"))
    hooks = {node.name for node in plugin.body if isinstance(node, ast.FunctionDef)}
    assert "gongji_register_adapters" in hooks


@pytest.mark.parametrize("package", PACKAGES, ids=lambda path: path.name)
def test_no_adapter_names_its_own_origin(package: Path) -> None:
    # gongji records the plugin that registered an adapter; one that names itself
    # otherwise (WeChat Pay did) is listed under no plugin at all.
    plugin = ast.parse((package / "plugin.py").read_text(encoding="utf-8"))
    keywords = {
        kw.arg for node in ast.walk(plugin) if isinstance(node, ast.Call) for kw in node.keywords
    }
    assert "origin" not in keywords
