"""Every hook is documented with its exact arguments (as datasette does)."""

from __future__ import annotations

import functools
import inspect
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gongji import hookspecs

DOCS = Path(__file__).resolve().parent.parent / "docs"
HOOKS = sorted(name for name in dir(hookspecs) if name.startswith("gongji_"))


def test_hookspecs_exist() -> None:
    assert len(HOOKS) >= 5


@pytest.mark.parametrize("hook", HOOKS)
def test_plugin_hooks_are_documented(hook: str) -> None:
    text = (DOCS / "reference" / "hooks.md").read_text(encoding="utf-8")
    arguments = ", ".join(inspect.signature(getattr(hookspecs, hook)).parameters)
    assert re.search(rf"^### `{hook}\({re.escape(arguments)}\)`$", text, re.MULTILINE), (
        f"docs/reference/hooks.md has no heading ### `{hook}({arguments})`"
    )


def test_every_rule_is_in_the_rules_explanation() -> None:
    text = (DOCS / "explanation" / "rules.md").read_text(encoding="utf-8")
    for number in range(1, 10):
        assert f"| R{number} " in text


def _error_classes() -> list[type]:
    import gongji.errors

    return [
        value
        for value in vars(gongji.errors).values()
        if isinstance(value, type) and issubclass(value, gongji.errors.GongjiError)
    ]


@pytest.mark.parametrize("error", _error_classes(), ids=lambda e: e.__name__)
def test_every_error_class_is_in_the_reference_with_its_code(error: type) -> None:
    text = (DOCS / "reference" / "errors.md").read_text(encoding="utf-8")
    assert f"### `{error.__name__}`" in text
    assert f"`{error.code}`" in text  # type: ignore[attr-defined]


def _cli_commands() -> list[str]:
    """Every ``gongji`` command and subcommand, as the argument parser knows them."""
    import argparse

    from gongji.cli import argument_parser

    found: list[str] = []

    def walk(parser: argparse.ArgumentParser, prefix: str) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    found.append(f"{prefix} {name}")
                    walk(sub, f"{prefix} {name}")

    walk(argument_parser(), "gongji")
    return found


@pytest.mark.parametrize("command", _cli_commands())
def test_every_cli_command_is_in_the_cli_reference(command: str) -> None:
    text = (DOCS / "reference" / "cli.md").read_text(encoding="utf-8")
    assert f"`{command}" in text, f"docs/reference/cli.md does not mention `{command}`"


# ---------------------------------------------------------------- the site's shape

ROOT = DOCS.parent
# Pages whose python blocks are run as one script each, top to bottom: what a reader
# types in. A block that is not meant to run (a sketch with placeholders, a file of
# another package) has a title (```python title="plugin.py"), or is preceded by an HTML
# comment line `<!-- not run: why -->`, which the rendered page does not show.
RUN_PAGES = sorted(
    path.relative_to(ROOT).as_posix()
    for pattern in ("index.md", "tutorial/*.md", "how-to/*.md", "explanation/*.md")
    for path in DOCS.glob(pattern)
)
# The served mock the pages talk about (`gongji mock serve`'s default address); the
# tests serve one on a free port and put its address in its place.
DEFAULT_MOCK_URL = "http://127.0.0.1:8930"
_FENCE = re.compile(r"^```(?P<info>[^\n]*)\n(?P<body>.*?)^```$", re.MULTILINE | re.DOTALL)
_NOT_RUN = re.compile(r"<!-- not run: [^>]+ -->\s*\Z")


def python_blocks(text: str) -> list[str]:
    """The ```python blocks of a page that are meant to run, in order."""
    return [
        match["body"]
        for match in _FENCE.finditer(text)
        if match["info"].strip() == "python" and not _NOT_RUN.search(text[: match.start()])
    ]


@functools.cache
def mkdocs_config() -> dict[str, Any]:
    import yaml

    class Loader(yaml.SafeLoader):
        """mkdocs.yml may hold python tags (!!python/name:...); the nav never does."""

    Loader.add_multi_constructor("tag:yaml.org,2002:python/", lambda *_: None)
    text = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    config: dict[str, Any] = yaml.load(text, Loader=Loader)  # noqa: S506 - SafeLoader's subclass
    return config


def nav_pages() -> set[str]:
    """Every page mkdocs.yml's nav names, relative to docs/."""

    def walk(node: object) -> set[str]:
        if isinstance(node, str):
            return {node} if node.endswith(".md") else set()
        if isinstance(node, dict):
            return set().union(*(walk(value) for value in node.values()))
        if isinstance(node, list):
            return set().union(*(walk(value) for value in node))
        return set()

    return walk(mkdocs_config()["nav"])


@pytest.mark.parametrize(
    "page", sorted(p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md")), ids=str
)
def test_every_page_is_in_the_nav(page: str) -> None:
    assert page in nav_pages(), (
        f"docs/{page} is in no section of the nav: add it to the nav in mkdocs.yml "
        "(Tutorial, How-to, Reference or Explanation)."
    )


def test_the_nav_names_only_pages_that_exist() -> None:
    missing = sorted(page for page in nav_pages() if not (DOCS / page).is_file())
    assert not missing, f"mkdocs.yml's nav names pages that do not exist: {missing}"


def test_the_nav_has_the_four_diataxis_sections_in_order() -> None:
    sections = [next(iter(entry)) for entry in mkdocs_config()["nav"] if isinstance(entry, dict)]
    assert [s for s in sections if s != "Home"] == [
        "Tutorial",
        "How-to",
        "Reference",
        "Explanation",
    ]


def test_the_site_builds_offline() -> None:
    theme = mkdocs_config()["theme"]
    assert theme["name"] == "material"
    assert theme["font"] is False  # no Google Fonts download at build or view time
    plugins = {next(iter(p)) if isinstance(p, dict) else p for p in mkdocs_config()["plugins"]}
    assert not plugins & {"social", "privacy", "optimize"}  # plugins that fetch


def test_python_blocks_marked_not_run_are_skipped() -> None:
    text = (
        "```python\nran = 1\n```\n"
        "<!-- not run: a sketch -->\n```python\nnot_run = 1\n```\n"
        '```python title="plugin.py"\nother_package = 1\n```\n'
        "```python\nran_too = 1\n```\n"
    )
    assert python_blocks(text) == ["ran = 1\n", "ran_too = 1\n"]


# ---------------------------------------------------------------- the code shown runs


@pytest.fixture
def served_mock_url() -> Iterator[str]:
    """A demo mock over HTTP on a free port, as `gongji mock serve` runs it."""
    from gongji_mock import MockGateway
    from gongji_mock.server.asgi import bind, make_server

    server = make_server(MockGateway.demo(), bind("127.0.0.1", 0))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield server.url
    finally:
        server.stop()
        thread.join(timeout=10)
        assert not thread.is_alive()


def run_blocks(blocks: list[str], where: str, url: str) -> None:
    namespace: dict[str, object] = {"__name__": "__docs__"}
    for number, block in enumerate(blocks, start=1):
        code = compile(
            block.replace(DEFAULT_MOCK_URL, url), f"{where}, python block {number}", "exec"
        )
        exec(code, namespace)  # noqa: S102 - the docs' own code, run as a reader runs it


def test_the_tutorial_shows_code_to_run() -> None:
    blocks = python_blocks((DOCS / "tutorial" / "first-settlement.md").read_text(encoding="utf-8"))
    assert len(blocks) >= 6
    assert any(DEFAULT_MOCK_URL in block for block in blocks)  # the served-mock step


@pytest.mark.parametrize("page", RUN_PAGES, ids=str)
def test_the_python_blocks_of_a_page_run(
    page: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    blocks = python_blocks((ROOT / page).read_text(encoding="utf-8"))
    # A served mock only for the pages that talk to one.
    url = (
        request.getfixturevalue("served_mock_url")
        if any(DEFAULT_MOCK_URL in block for block in blocks)
        else DEFAULT_MOCK_URL
    )
    monkeypatch.chdir(tmp_path)  # a page may write files (a gongji.toml, a journal)
    run_blocks(blocks, page, url)


def test_the_readme_example_runs(
    served_mock_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocks = python_blocks((ROOT / "README.md").read_text(encoding="utf-8"))
    assert blocks, "README.md has no ```python block"
    monkeypatch.chdir(tmp_path)
    run_blocks(blocks[:1], "README.md", served_mock_url)


def test_the_readme_links_to_files_that_exist() -> None:
    """mkdocs checks the site's links; the README is outside the site."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    targets = re.findall(r"\]\((?!https?://)([^)#]+)(?:#[^)]*)?\)", text)
    assert targets
    missing = [target for target in targets if not (ROOT / target).is_file()]
    assert not missing, f"README.md links to files that do not exist: {missing}"
