"""Running the fast tests against each mutant, in a forked child, on at most N workers.

The parent imports pytest and the third-party libraries once and never imports the
project; each child installs an import hook that serves the mutated source for one
module, then runs pytest in-process on the tests that reach the mutated lines. A fork
costs milliseconds where a fresh interpreter costs a second, which is what lets the
whole run fit the time of ``make test``.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import json
import os
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType, ModuleType
from typing import Any

# Plain asserts: pytest's rewriting import hook would load the module under test from disk
# (gongji ships a pytest plugin, so the whole package is marked for rewriting), ahead of
# the hook that serves the mutant.
PYTEST_ARGS = (
    "-x",
    "-q",
    "--no-header",
    "--assert=plain",
    "-p",
    "no:cacheprovider",
    "-o",
    "addopts=",
)


@dataclass
class Coverage:
    """Which tests run each line of the mutated files; ``None`` marks import time."""

    lines: dict[str, dict[int, set[str | None]]] = field(default_factory=dict)
    durations: dict[str, float] = field(default_factory=dict)
    modules: list[str] = field(default_factory=list)

    def tests_for(self, path: str, first: int, last: int) -> set[str | None]:
        per_line = self.lines.get(path, {})
        found: set[str | None] = set()
        for line in range(first, last + 1):
            found |= per_line.get(line, set())
        return found


class _MutatedLoader(importlib.abc.Loader):
    #: The mutant raised while its module was imported (a table, an enum, a default):
    #: pytest then stops before any test, with exit 4 when conftest's import broke.
    import_failed = False

    def __init__(self, path: str, source: bytes) -> None:
        self.path = path
        self.source = source

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return None

    def exec_module(self, module: ModuleType) -> None:
        code = compile(self.source, self.path, "exec", dont_inherit=True)
        try:
            exec(code, module.__dict__)  # noqa: S102 - the mutant under test
        except BaseException:
            _MutatedLoader.import_failed = True
            raise


class _MutatedFinder(importlib.abc.MetaPathFinder):
    """Serves one module's mutated source; every other import goes the usual way."""

    def __init__(self, module: str, path: str, source: bytes) -> None:
        self.module, self.path, self.source = module, path, source

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != self.module:
            return None
        package = Path(self.path).name == "__init__.py"
        return importlib.util.spec_from_file_location(
            fullname,
            self.path,
            loader=_MutatedLoader(self.path, self.source),
            submodule_search_locations=[str(Path(self.path).parent)] if package else None,
        )


def _quiet() -> None:
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)


def _derandomized_hypothesis() -> None:
    # The same examples every run: a mutant is killed or not, never by luck.
    from hypothesis import settings

    settings.register_profile("gongji-mutation", derandomize=True, database=None, deadline=None)
    settings.load_profile("gongji-mutation")


def _run_pytest(args: Sequence[str], plugins: Sequence[object] = ()) -> int:
    import pytest

    sys.dont_write_bytecode = True
    _derandomized_hypothesis()
    return int(pytest.main([*PYTEST_ARGS, *args], plugins=list(plugins)))


class _Tracer:
    """A pytest plugin recording, per test, the lines it runs in the mutated files."""

    def __init__(self, paths: Iterable[str]) -> None:
        self.paths = {str(Path(p).resolve()) for p in paths}
        self.current: str | None = None
        self.lines: dict[str, dict[int, set[str | None]]] = {p: {} for p in self.paths}
        self.durations: dict[str, float] = {}

    def global_trace(self, frame: FrameType, event: str, arg: object) -> Callable[..., Any] | None:
        if frame.f_code.co_filename in self.paths:
            self._record(frame)
            return self.local_trace
        return None

    def local_trace(self, frame: FrameType, event: str, arg: object) -> Callable[..., Any]:
        if event == "line":
            self._record(frame)
        return self.local_trace

    def _record(self, frame: FrameType) -> None:
        per_line = self.lines[frame.f_code.co_filename]
        per_line.setdefault(frame.f_lineno, set()).add(self.current)

    def pytest_runtest_protocol(self, item: Any) -> None:
        self.current = item.nodeid
        self._started = time.perf_counter()

    def pytest_runtest_logfinish(self, nodeid: str) -> None:
        self.durations[nodeid] = time.perf_counter() - self._started
        self.current = None


def _in_child(work: Callable[[], int]) -> int:
    """Run ``work`` in a forked child; its return value is the child's exit status."""
    pid = os.fork()
    if pid == 0:
        try:
            status = work()
        except BaseException:  # the child must never return into the parent's loop
            status = 70
        os._exit(status)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def baseline(paths: Sequence[str], tests: Sequence[str]) -> tuple[int, Coverage]:
    """Run the tests unmutated under a line tracer; the exit code and who ran what."""
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as handle:
        out = handle.name

    def work() -> int:
        tracer = _Tracer(paths)
        sys.settrace(tracer.global_trace)
        threading.settrace(tracer.global_trace)
        code = _run_pytest([*tests, "-p", "no:randomly"], plugins=[tracer])
        sys.settrace(None)
        modules = [name for name, module in list(sys.modules.items()) if _library(module)]
        lines = {
            path: {n: sorted(t or "" for t in tests) for n, tests in per_line.items()}
            for path, per_line in tracer.lines.items()
        }
        Path(out).write_text(
            json.dumps({"lines": lines, "durations": tracer.durations, "modules": modules})
        )
        return code

    code = _in_child(work)
    data = json.loads(Path(out).read_text() or "{}")
    Path(out).unlink()
    coverage = Coverage(
        lines={
            path: {int(n): {t or None for t in tests} for n, tests in per_line.items()}
            for path, per_line in data.get("lines", {}).items()
        },
        durations=data.get("durations", {}),
        modules=data.get("modules", []),
    )
    return code, coverage


def _library(module: ModuleType) -> bool:
    """Not the project's own code (which must be imported fresh, mutated, in each fork)."""
    where = str(getattr(module, "__file__", None) or "")
    return not where.startswith(str(Path.cwd().resolve())) or where.startswith(sys.prefix)


def preload(modules: Iterable[str], warm_up: Iterable[str] = ()) -> None:
    """Import the libraries the tests use, so that each fork starts with them loaded.

    ``warm_up`` statements fill the libraries' own caches (a database read on first
    use) once here instead of in every fork. Then the heap is frozen: the garbage
    collector pytest runs at the end of each session skips all of it.
    """
    for name in sorted(modules):
        if name.startswith(("gongji", "tests", "conftest", "__main__")):
            continue
        with contextlib.suppress(Exception):
            importlib.import_module(name)
    for statement in warm_up:
        exec(statement, {})  # noqa: S102 - from mutation.toml, the project's own file
    gc.collect()
    gc.freeze()


@dataclass(frozen=True)
class Job:
    """One mutant to run: the module's mutated source and the tests that reach it."""

    key: str
    module: str
    path: str
    source: bytes
    tests: tuple[str, ...]
    timeout: float


def run_jobs(jobs: Sequence[Job], workers: int, on_done: Callable[[Job, str], None]) -> None:
    """Run each job in its own fork, ``workers`` at a time; report killed, survived, timeout or error."""
    pending = list(jobs)
    retried: set[str] = set()
    running: dict[int, tuple[Job, float]] = {}
    while pending or running:
        while pending and len(running) < workers:
            job = pending.pop(0)
            running[_start(job)] = (job, time.monotonic())
        pid, status = os.waitpid(-1, os.WNOHANG)
        if pid == 0:
            time.sleep(0.005)
            for child, (job, started) in list(running.items()):
                if time.monotonic() - started > job.timeout:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(child, signal.SIGKILL)
                    os.waitpid(child, 0)
                    del running[child]
                    on_done(job, "timeout")
            continue
        if pid not in running:
            continue
        job, _ = running.pop(pid)
        outcome = _outcome(os.waitstatus_to_exitcode(status))
        if outcome == "error" and job.key not in retried:
            retried.add(job.key)  # once more: pytest itself failed, not a test
            pending.append(job)
            continue
        on_done(job, outcome)


def _outcome(code: int) -> str:
    # pytest: 0 passed, 1 a test failed, 2 interrupted (an import broke), 3 internal error.
    if code == 0:
        return "survived"
    if code in (1, 2, 3) or code < 0:
        return "killed"
    return "error"


def _start(job: Job) -> int:
    pid = os.fork()
    if pid != 0:
        return pid
    status = 70
    try:
        _quiet()
        sys.meta_path.insert(0, _MutatedFinder(job.module, job.path, job.source))
        files = sorted({test.split("::")[0] for test in job.tests})
        # A temporary directory of its own: concurrent sessions sharing pytest's numbered
        # ones race to clean them up.
        with tempfile.TemporaryDirectory(prefix="gongji-mutant-") as temp:
            status = _run_pytest([*files, f"--basetemp={temp}/t"], plugins=[_Select(job.tests)])
        if status != 0 and _MutatedLoader.import_failed:
            status = 1  # killed: gongji no longer imports, whatever pytest made of that
    finally:
        os._exit(status)


class _Select:
    """Keep only the chosen tests, in the chosen order (node ids are matched after
    collection: a parametrized id does not always survive the command line)."""

    def __init__(self, tests: Sequence[str]) -> None:
        self.order = {test: index for index, test in enumerate(tests)}

    def pytest_collection_modifyitems(self, items: list[Any]) -> None:
        items[:] = sorted(
            (item for item in items if item.nodeid in self.order),
            key=lambda item: self.order[item.nodeid],
        )
