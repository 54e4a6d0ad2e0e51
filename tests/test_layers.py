"""An arrow only points down: the core (``sdk/``) never imports an adapter, not inside a
function, not under ``TYPE_CHECKING``; what needs the mock reaches the core through
hooks. And the core's public names, imported on first use, all still work."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

import gongji
import gongji.signing
import gongji_alipay
import gongji_cityins
import gongji_mock
import gongji_wechatpay

ROOT = Path(__file__).resolve().parent.parent
CORE = ROOT / "sdk"
ADAPTERS = sorted(p.name for p in (ROOT / "adapters").iterdir() if p.name.startswith("gongji_"))


def imported_modules(tree: ast.AST) -> list[tuple[int, str]]:
    """Every module an AST imports, at any depth (functions, ``if TYPE_CHECKING:``), and
    every module named to ``importlib.import_module`` / ``__import__`` as a literal."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.append((node.lineno, node.module))
        elif (
            isinstance(node, ast.Call)
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
            and ast.unparse(node.func) in ("importlib.import_module", "import_module", "__import__")
        ):
            found.append((node.lineno, node.args[0].value))
    return found


def adapter_imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return [
        f"{path.relative_to(ROOT)}:{line} imports {module}"
        for line, module in imported_modules(tree)
        if module.split(".")[0] in ADAPTERS or module.split(".")[0].startswith("gongji_")
    ]


def test_the_core_imports_no_adapter_not_even_in_a_function_or_for_type_checking() -> None:
    modules = sorted(CORE.rglob("*.py"))
    assert len(modules) > 50  # the walk found the core
    found = [line for path in modules for line in adapter_imports(path)]
    assert not found, "the core imports an adapter:\n" + "\n".join(found)


@pytest.mark.parametrize(
    "source",
    [
        "import gongji_mock",
        "def f():\n    from gongji_mock.gateway import MockGateway",
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from gongji_cityins import CITIES",
        "import importlib\ndef f():\n    return importlib.import_module('gongji_alipay.gateway')",
    ],
    ids=["top level", "in a function", "type checking", "import_module"],
)
def test_the_walk_finds_every_kind_of_adapter_import(source: str) -> None:
    assert [m for _, m in imported_modules(ast.parse(source))][-1].startswith("gongji_")


def test_the_adapters_exist_for_the_walk_to_look_for() -> None:
    assert {"gongji_cityins", "gongji_wechatpay", "gongji_alipay", "gongji_mock"} <= set(ADAPTERS)


# ---------------------------------------------------------------- names on first use

LAZY_PACKAGES = [
    gongji,
    gongji.signing,
    gongji_cityins,
    gongji_wechatpay,
    gongji_alipay,
    gongji_mock,
]


def _type_checking_names(package: object) -> set[str]:
    """The names a package imports under ``if TYPE_CHECKING:`` (what type checkers read)."""
    tree = ast.parse(Path(package.__file__).read_text(encoding="utf-8"))  # type: ignore[attr-defined]
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
            for statement in ast.walk(node):
                if isinstance(statement, ast.ImportFrom):
                    names |= {alias.asname or alias.name for alias in statement.names}
    return names


@pytest.mark.parametrize("package", LAZY_PACKAGES, ids=lambda p: p.__name__)
def test_every_public_name_of_a_package_is_what_its_home_module_holds(package: object) -> None:
    public = package.__all__  # type: ignore[attr-defined]
    assert set(public) == _type_checking_names(package)
    for name in public:
        value = getattr(package, name)
        home = importlib.import_module(value.__module__) if hasattr(value, "__module__") else None
        assert home is None or getattr(home, name, value) is value, name
        assert name in dir(package)


def test_an_unknown_name_of_gongji_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'SettlementClinet'"):
        _ = gongji.SettlementClinet  # type: ignore[attr-defined]


def test_import_gongji_imports_neither_the_client_nor_an_adapter() -> None:
    code = (
        "import sys, gongji; from gongji import Fen; "
        "print(sorted(m for m in sys.modules if m.startswith(('gongji.client', 'gongji_', 'httpx'))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
