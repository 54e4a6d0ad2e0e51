"""The crafted cases and the crashes the fuzzers found, replayed: each file is answered or
refused with a GongjiError by the decoder its folder names (``corpus/<target>/``).

Not marked ``fuzz``: these are plain regression tests and run everywhere, fast.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fuzz.strategies import CORPUS, only_gongji_errors
from tests.fuzz.targets import TARGETS

CASES = sorted(
    path for path in CORPUS.glob("*/*") if path.is_file() and path.parent.name != "seeds"
)


def test_every_corpus_folder_names_a_target() -> None:
    folders = {path.parent.name for path in CASES}
    assert folders and folders <= set(TARGETS), folders - set(TARGETS)


@pytest.mark.parametrize("path", CASES, ids=lambda path: f"{path.parent.name}/{path.name}")
def test_corpus_case_is_answered_or_refused_with_a_gongji_error(path: Path) -> None:
    only_gongji_errors(
        TARGETS[path.parent.name], path.read_bytes(), ids=path.parent.name != "journal"
    )
