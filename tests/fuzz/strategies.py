"""What the fuzzers feed the decoders, and the property they all check.

Random bytes alone never get past a JSON parser, so most inputs are structure-aware:
a real answer recorded from the mock (``corpus/seeds``) with one to three fields
broken (wrong type, huge or negative number, more than two decimals, unicode, null,
missing, extra), re-encoded, sometimes truncated or with a byte flipped.
"""

from __future__ import annotations

import functools
import json
import os
import random
import re
import tomllib
import urllib.parse
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import tomli_w
from hypothesis import HealthCheck, example, settings
from hypothesis import strategies as st

from gongji.errors import GongjiError

CORPUS = Path(__file__).parent / "corpus"
SEEDS = CORPUS / "seeds"

# ------------------------------------------------------------------ settings profiles

# "ci" (the default, `make test`): derandomized and without a database, so that every
# run of CI feeds the same examples; "fuzz" (`make fuzz`): random, many more, and
# remembering what failed in .hypothesis/. The deadline bounds each example: a decoder
# that hangs fails the test instead of the run. It is generous because the machine is
# shared; a decoder takes well under a millisecond, a settlement a few.
settings.register_profile(
    "fuzz-ci",
    max_examples=10_000,
    derandomize=True,
    database=None,
    deadline=timedelta(seconds=2),
    print_blob=True,
)
settings.register_profile(
    "fuzz-fuzz",
    max_examples=200_000,
    derandomize=False,
    deadline=timedelta(seconds=2),
    print_blob=True,
)
#: GONGJI_FUZZ_PROFILE=fuzz for the long run; smoke (a few hundred) to try a change quickly.
settings.register_profile("fuzz-smoke", parent=settings.get_profile("fuzz-ci"), max_examples=300)
PROFILE = os.environ.get("GONGJI_FUZZ_PROFILE", "ci")
EXAMPLES = os.environ.get("GONGJI_FUZZ_EXAMPLES", "")


def fuzz_settings(*, slow: bool = False) -> settings:
    """The profile in force for one fuzz target. ``slow`` targets (a whole settlement through
    the client and the mock, a few milliseconds each) get a longer deadline and may be slow
    to generate for: too_slow is suppressed there, and only there."""
    profile = settings.get_profile(f"fuzz-{PROFILE}")
    if EXAMPLES:  # GONGJI_FUZZ_EXAMPLES: this many, whatever the profile (measure.py)
        profile = settings(profile, max_examples=int(EXAMPLES))
    if not slow:
        return settings(profile)
    return settings(
        profile,
        max_examples=min(profile.max_examples, int(EXAMPLES or SLOW_EXAMPLES[PROFILE])),
        deadline=timedelta(seconds=10),
        suppress_health_check=[HealthCheck.too_slow],
    )


#: A whole settlement through the client and the mock, then recover() and the ledger check,
#: costs ~15 ms on the 2-core machine: CI's 10,000 take about 2.5 minutes, the rest of the
#: fuzz suite about 3; `make fuzz` runs 20,000.
SLOW_EXAMPLES = {"ci": 10_000, "fuzz": 20_000, "smoke": 100}


# ------------------------------------------------------------------ the property


def only_gongji_errors(
    decode: Callable[[bytes], object], data: bytes, *, ids: bool = False
) -> object:
    """Run ``decode``; a ``GongjiError`` is a clean refusal and is returned, anything else
    escapes (and fails the test).

    ``ids``: the refusal's message must hold no full ID number either. Asked where ID
    numbers travel (the centre's messages: centres echo them); elsewhere an error that
    quotes a fuzzed order number is no leak, even when the fuzzer made it ID-shaped.
    """
    try:
        return decode(data)
    except GongjiError as error:
        refusal = error
    if ids and FULL_ID.search(str(refusal)):
        raise AssertionError(f"a full ID number in: {refusal}")
    return refusal


FULL_ID = re.compile(
    r"(?<![0-9¥])[1-9][0-9]{5}(?:19|20)[0-9]{9}[0-9Xx](?![0-9.])"
)  # not an amount: ¥…\.00

# ------------------------------------------------------------------ values that break things

# A JSON number written as is (not as a string) once the document is encoded.
_RAW = "\x00raw:"


def raw_number(text: str) -> str:
    return _RAW + text


NASTY_VALUES: list[Any] = [
    None,
    True,
    False,
    0,
    -1,
    -100,
    2**63,
    -(2**63) - 1,
    10**40,
    1.5,
    -0.01,
    1e308,
    "",
    " ",
    "0",
    "-1.00",
    "-0.001",
    "0.001",
    "1.005",
    "12.345",
    "1e3",
    "1E+999999",
    "NaN",
    "Infinity",
    "-Infinity",
    "sNaN",
    "9" * 400,
    "１２.００",
    "12,00",
    "٣",
    "测试",
    "\x00",
    "\u202e",
    "\U0001f600",
    "x" * 2000,
    "2026-13-45 25:61:61",
    "2026-11-23T14:00:00",
    "210202195809120046",
    [],
    [None],
    {},
    {"a": None},
    raw_number("1e999999999"),
    raw_number("-1e999999999"),
    raw_number("1e-999999999"),
    raw_number("123456789012345678901234567890.123"),
    raw_number("0.0000000000000000000001"),
    raw_number("-0"),
    raw_number("1" + "0" * 5000),
    raw_number("[" * 100_000 + "]" * 100_000),  # nesting past any recursion limit
    raw_number('{"a":' * 20_000 + "1" + "}" * 20_000),
]

#: Values a field is replaced with: the nasty ones, and plain ones of every JSON type (a
#: string where a number goes is as telling as a huge number). Drawn by index: cheap.
POOL: list[Any] = [
    *NASTY_VALUES,
    1,
    12345,
    "abc",
    "500.00",
    "10000",
    "SUCCESS",
    "PAYERROR",
    [1, 2],
    ["a"],
    [{}],
    {"x": 1},
    {"code": "10000"},
    [[[[[[[[[[[]]]]]]]]]]],
]
_EXTRA_KEYS = ["", "x", "output", "code", "amount", "sign", "__proto__", "测试", "infcode"]


def encode(document: Any) -> bytes:
    """JSON as a decoder meets it: UTF-8, raw numbers spliced in, unicode left unescaped."""
    text = json.dumps(document, ensure_ascii=False, allow_nan=True)
    text = re.sub(r'"\\u0000raw:([^"]*)"', r"\1", text)
    return text.encode("utf-8", "surrogatepass")


# ------------------------------------------------------------------ one input from one seed

# Hypothesis draws one integer per example and everything else is derived from it here,
# with ``random.Random(seed)``: a draw costs hypothesis far more than a decoder takes to
# refuse an answer, and one draw an example is what lets every target run 10,000 of them
# in CI. The failing input itself is printed (``note``) and goes into the corpus.


def _paths(document: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in a document a value sits (dict keys and list indices)."""
    found = [prefix]
    if isinstance(document, dict):
        for key, value in document.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(document, list):
        for index, value in enumerate(document):
            found += _paths(value, (*prefix, index))
    return found


def _replace(document: Any, path: tuple[Any, ...], make: Callable[[Any], Any]) -> Any:
    if not path:
        return make(document)
    head, rest = path[0], path[1:]
    if isinstance(document, dict):
        return {k: (_replace(v, rest, make) if k == head else v) for k, v in document.items()}
    if isinstance(document, list) and isinstance(head, int) and head < len(document):
        copy = list(document)
        copy[head] = _replace(copy[head], rest, make)
        return copy
    return document  # an earlier mutation removed this place


def _drop(last: Any) -> Callable[[Any], Any]:
    def drop(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: v for k, v in node.items() if k != last}
        if isinstance(node, list):
            return [v for i, v in enumerate(node) if i != last]
        return node

    return drop


def _add(key: str, value: Any) -> Callable[[Any], Any]:
    return lambda node: {**node, key: value} if isinstance(node, dict) else node


def random_json(rng: random.Random, depth: int = 0) -> Any:
    """Any JSON value, small."""
    kind = rng.randrange(8 if depth < 3 else 6)
    if kind == 0:
        return None
    if kind == 1:
        return rng.random() < 0.5
    if kind == 2:
        return rng.choice([rng.randrange(-1000, 1000), rng.getrandbits(80) - 2**79])
    if kind == 3:
        return rng.uniform(-1e6, 1e6)  # float-ok: fuzz input
    if kind == 4:
        return "".join(
            chr(rng.choice([rng.randrange(32, 127), rng.randrange(0x4E00, 0x4F00)]))
            for _ in range(rng.randrange(12))
        )
    if kind == 5:
        return rng.choice(POOL)
    if kind == 6:
        return [random_json(rng, depth + 1) for _ in range(rng.randrange(4))]
    return {rng.choice(_EXTRA_KEYS): random_json(rng, depth + 1) for _ in range(rng.randrange(4))}


class Mutable:
    """A real document and every place in it, listed once."""

    def __init__(self, raw: bytes) -> None:
        self.raw = raw
        self.raw_text = raw  # the file as written, where it is not JSON (TOML)
        self.document = json.loads(raw)
        self.paths = _paths(self.document)


def mutate(rng: random.Random, base: Mutable) -> Any:
    """The document with one to three values replaced, deleted, or joined by an extra key."""
    document = base.document
    for _ in range(rng.randint(1, 3)):
        path = rng.choice(base.paths)
        how = rng.randrange(6)
        if how == 0 and path:
            document = _replace(document, path[:-1], _drop(path[-1]))
        elif how == 1:
            document = _replace(document, path, _add(rng.choice(_EXTRA_KEYS), rng.choice(POOL)))
        else:
            value = rng.choice(POOL) if how < 5 else random_json(rng)
            document = _replace(document, path, lambda _old, value=value: value)
    return document


def damage(rng: random.Random, data: bytes) -> bytes:
    """``data`` truncated, with a byte flipped, or with bytes inserted."""
    if not data:
        return rng.randbytes(rng.randrange(64))
    at = rng.randrange(len(data))
    how = rng.randrange(3)
    if how == 0:
        return data[:at]
    if how == 1:
        return data[:at] + bytes([data[at] ^ rng.randrange(1, 256)]) + data[at + 1 :]
    return data[:at] + rng.randbytes(rng.randint(1, 8)) + data[at:]


def json_input(bases: list[Mutable], seed: int) -> bytes:
    """One input for a JSON decoder: mostly a real document with fields broken (70%), else
    damaged bytes of one, arbitrary JSON, or arbitrary bytes."""
    rng = random.Random(seed)
    roll = rng.random()  # float-ok: a probability
    if roll < 0.7:
        return encode(mutate(rng, rng.choice(bases)))
    if roll < 0.85:
        return damage(rng, rng.choice(bases).raw)
    if roll < 0.93:
        return encode(random_json(rng))
    return rng.randbytes(rng.randrange(128))


SEEDS_INTS = st.integers(0, 2**64 - 1)
Make = Callable[[int], bytes]


def json_maker(*documents: bytes) -> Make:
    """Inputs for a JSON decoder whose real answers are ``documents``, by seed."""
    return functools.partial(json_input, [Mutable(document) for document in documents])


class Case:
    """One input for one decoder of a group. Its repr is short (a fuzzed input can be
    200 kB): the seed rebuilds it, ``makers[target](seed)``, for the corpus. A plain
    class: hypothesis prints it with this repr, not field by field."""

    __slots__ = ("data", "seed", "target")

    def __init__(self, target: str, data: bytes, seed: int | None = None) -> None:
        self.target = target
        self.data = data
        self.seed = seed  # None: a corpus file

    def __iter__(self) -> Iterator[Any]:
        return iter((self.target, self.data, self.seed))

    def __repr__(self) -> str:
        shown = self.data[:300] + (b"..." if len(self.data) > 300 else b"")
        return f"Case({self.target!r}, seed={self.seed}, {len(self.data)} bytes: {shown!r})"


def cases(makers: dict[str, Make]) -> st.SearchStrategy[Case]:
    """Which decoder of a group, and its input (two draws an example)."""
    names = sorted(makers)
    return st.tuples(st.sampled_from(names), SEEDS_INTS).map(
        lambda pick: Case(pick[0], makers[pick[0]](pick[1]), pick[1])
    )


def seed(name: str) -> bytes:
    return (SEEDS / name).read_bytes()


def corpus_files(target: str) -> list[Path]:
    """The crafted cases of one target (``corpus/<target>/``), in a stable order."""
    folder = CORPUS / target
    return sorted(p for p in folder.iterdir() if p.is_file()) if folder.is_dir() else []


def with_corpus(*targets: str) -> Callable[[Any], Any]:
    """Feed the corpus files of ``targets`` to a ``cases`` test as explicit examples."""

    def decorate(test: Any) -> Any:
        for name in targets:
            for path in corpus_files(name):
                test = example(Case(name, path.read_bytes()))(test)
        return test

    return decorate


def prefixed(make: Make) -> Make:
    """Inputs whose first byte picks something (an HTTP status, an event type), the rest
    from ``make``."""
    return lambda seed: bytes([seed % 256]) + make(seed >> 8)


def _form_value(value: Any) -> str:
    if isinstance(value, str):
        return value.removeprefix(_RAW)
    return json.dumps(value, ensure_ascii=False)


def form_input(bases: list[Mutable], seed: int) -> bytes:
    """One ``application/x-www-form-urlencoded`` body: a real one with parameters broken
    (as text, the form's only type), sometimes damaged bytes or arbitrary bytes."""
    rng = random.Random(seed)
    roll = rng.random()  # float-ok: a probability
    base = rng.choice(bases)
    if roll < 0.8:
        document = mutate(rng, base)
        if not isinstance(document, dict):
            return encode(document)
        pairs = [(str(k), _form_value(v)) for k, v in document.items()]
        return urllib.parse.urlencode(pairs).encode()
    if roll < 0.95:
        return damage(rng, urllib.parse.urlencode(base.document).encode())
    return rng.randbytes(rng.randrange(128))


def form_maker(*params: dict[str, str]) -> Make:
    return functools.partial(form_input, [Mutable(json.dumps(p).encode()) for p in params])


def _tomlable(value: Any) -> Any:
    """TOML has no null: a null becomes an empty string (a wrong type all the same)."""
    if value is None:
        return ""
    if isinstance(value, dict):
        return {str(k): _tomlable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_tomlable(v) for v in value]
    return value


def toml_input(bases: list[Mutable], seed: int) -> bytes:
    """One TOML file: a real one with values broken (80%), damaged bytes, or arbitrary bytes."""
    rng = random.Random(seed)
    roll = rng.random()  # float-ok: a probability
    base = rng.choice(bases)
    if roll < 0.8:
        document = mutate(rng, base)
        if not isinstance(document, dict):
            document = {"value": document}
        text = tomli_w.dumps(_tomlable(document))
        return re.sub(r'"\\u0000raw:([^"]*)"', r"\1", text).encode("utf-8", "surrogatepass")
    if roll < 0.95:
        return damage(rng, base.raw_text)
    return rng.randbytes(rng.randrange(128))


def toml_maker(*files: bytes) -> Make:
    bases = []
    for raw in files:
        base = Mutable(json.dumps(tomllib.loads(raw.decode()), default=str).encode())
        base.raw_text = raw
        bases.append(base)
    return functools.partial(toml_input, bases)
