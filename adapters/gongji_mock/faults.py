"""Faults on request: the mock misbehaves the way real gateways do, deterministically.

A fault rule names a kind, the protocol it hits (``national``, ``wechatpay``,
``alipay`` or ``*``), optionally one code (an ``infno`` such as ``2102``, a
WeChat path, an Alipay ``method``), and how often: the next ``times`` matching
requests, or ``percent`` of them drawn from a seeded generator, so a run
replays exactly from its seed. Rules come from a TOML file
(``gongji mock serve --faults FILE``) or from Python (``mock.faults.add(...)``).
"""

from __future__ import annotations

import enum
import random
import threading
import tomllib
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, cast

import msgspec
from attrs import define, field, frozen

from gongji.errors import ConfigError

if TYPE_CHECKING:
    from gongji_mock.server.delivery import CallbackDelivery, Deliverable


class FaultKind(enum.StrEnum):
    LATENCY = "latency"  # answer late (latency_ms)
    ERROR_5XX = "error_5xx"  # 503 before anything is processed
    TIMEOUT_BEFORE_COMMIT = "timeout_before_commit"  # no answer, nothing processed
    DROP_AFTER_COMMIT = "drop_after_commit"  # processed and committed, then no answer
    BAD_SIGNATURE = "bad_signature"  # processed, answer carries a broken signature
    CLOCK_SKEW = "clock_skew"  # the mock's clock runs skew_seconds off
    DUPLICATE_CALLBACK = "duplicate_callback"  # a payment callback is delivered twice
    OUT_OF_ORDER_CALLBACKS = "out_of_order_callbacks"  # callbacks are delivered newest first


TARGETS = frozenset({"national", "premium", "wechatpay", "alipay", "*"})

#: Faults that act on a callback the mock sends, not on a request it answers.
CALLBACK_KINDS = frozenset({FaultKind.DUPLICATE_CALLBACK, FaultKind.OUT_OF_ORDER_CALLBACKS})
#: Faults that act on a request, decided by the router.
REQUEST_KINDS = frozenset(FaultKind) - CALLBACK_KINDS - {FaultKind.CLOCK_SKEW}


@frozen
class FaultRule:
    kind: FaultKind
    target: str = "*"
    code: str = "*"
    percent: int = 100
    times: int | None = None  # None: no limit
    latency_ms: int = 0
    skew_seconds: int = 0


@frozen
class Decision:
    """What the mock does to one request; ``kinds`` is empty for a well-behaved answer."""

    kinds: frozenset[FaultKind] = frozenset()
    latency_ms: int = 0

    def __contains__(self, kind: object) -> bool:
        return kind in self.kinds


class _RuleFile(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    kind: FaultKind
    target: str = "*"
    code: str = "*"
    percent: int = 100
    times: int | None = None
    latency_ms: int = 0
    skew_seconds: int = 0


class _FaultsFile(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    seed: int = 0
    fault: list[_RuleFile] = msgspec.field(default_factory=list)


@define
class Faults:
    """The faults in force, a seeded generator, and a count of what was injected."""

    seed: int = 0
    _rules: list[FaultRule] = field(factory=list)
    _left: dict[int, int] = field(factory=dict)  # rule index -> requests it may still hit
    injected: Counter[str] = field(factory=Counter)
    _random: random.Random = field(init=False)
    _lock: threading.Lock = field(init=False, factory=threading.Lock)

    def __attrs_post_init__(self) -> None:
        self._random = random.Random(self.seed)  # noqa: S311 - fault injection, not security

    @classmethod
    def load(cls, path: str | Path) -> Faults:
        """Faults from a TOML file; a bad file is a ``ConfigError`` naming it."""
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
            spec = msgspec.convert(tomllib.loads(text), type=_FaultsFile)
        except OSError as exc:
            raise ConfigError(
                f"Faults file {path.name} cannot be read ({exc.strerror}).",
                next_step="Check --faults.",
            ) from None
        # ValueError: a TOMLDecodeError, invalid UTF-8, or an integer past 4300 digits.
        except (ValueError, RecursionError, msgspec.ValidationError) as exc:
            raise ConfigError(
                f"Faults file {path.name}: {exc}.",
                next_step="See docs/reference/mock-faults.md for the format.",
            ) from None
        faults = cls(seed=spec.seed)
        for rule in spec.fault:
            faults.add(**msgspec.structs.asdict(rule))
        return faults

    @property
    def rules(self) -> tuple[FaultRule, ...]:
        with self._lock:
            return tuple(self._rules)

    def add(
        self,
        kind: FaultKind | str,
        *,
        target: str = "*",
        code: str = "*",
        percent: int = 100,
        times: int | None = None,
        latency_ms: int = 0,
        skew_seconds: int = 0,
    ) -> FaultRule:
        """Switch a fault on. ``times=1`` hits only the next matching request."""
        kind = _kind(kind)
        if target not in TARGETS:
            raise ConfigError(
                f"Unknown fault target {target[:40]!r}.",
                next_step=f"Use one of: {', '.join(sorted(TARGETS))}.",
            )
        if not 0 <= percent <= 100 or (times is not None and times < 0) or latency_ms < 0:
            raise ConfigError(
                "A fault needs percent in 0..100, times >= 0 and latency_ms >= 0.",
                next_step="Fix the fault rule.",
            )
        rule = FaultRule(kind, target, code, percent, times, latency_ms, skew_seconds)
        with self._lock:
            self._rules.append(rule)
            if times is not None:
                self._left[len(self._rules) - 1] = times
        return rule

    def remove(self, kind: FaultKind | str, *, target: str = "*", code: str = "*") -> int:
        """Switch off the rules of ``kind`` for exactly this target and code; how many were on.

        The other rules keep what they have left (``times``); the injected counts stay.
        """
        kind = _kind(kind)
        with self._lock:
            kept = [
                (index, rule)
                for index, rule in enumerate(self._rules)
                if (rule.kind, rule.target, rule.code) != (kind, target, code)
            ]
            removed = len(self._rules) - len(kept)
            self._left = {
                new: self._left[old] for new, (old, _) in enumerate(kept) if old in self._left
            }
            self._rules = [rule for _, rule in kept]
        return removed

    def clear(self) -> None:
        """Every fault off (the injected counts stay, for the report)."""
        with self._lock:
            self._rules.clear()
            self._left.clear()

    @property
    def skew_seconds(self) -> int:
        """The clock skew in force (the sum of the clock_skew rules)."""
        if not self._rules:  # every read of the mock's clock asks; usually no fault is on
            return 0
        with self._lock:
            return sum(
                rule.skew_seconds for rule in self._rules if rule.kind is FaultKind.CLOCK_SKEW
            )

    def decide(
        self, target: str, code: str, only: frozenset[FaultKind] = REQUEST_KINDS
    ) -> Decision:
        """Which faults of the kinds ``only`` hit this event. Deterministic for a given seed and order."""
        kinds: set[FaultKind] = set()
        latency = 0
        with self._lock:
            for index, rule in enumerate(self._rules):
                if rule.kind not in only:
                    continue
                if rule.target not in ("*", target) or rule.code not in ("*", code):
                    continue
                if self._left.get(index, 1) <= 0:
                    continue
                if rule.percent < 100 and self._random.randrange(100) >= rule.percent:
                    continue
                if index in self._left:
                    self._left[index] -= 1
                kinds.add(rule.kind)
                latency = max(latency, rule.latency_ms)
                self.injected[rule.kind.value] += 1
        return Decision(frozenset(kinds), latency)

    def describe(self) -> list[dict[str, object]]:
        """The rules in force, for the dashboard and ``--json`` output."""
        with self._lock:
            return [
                {**_fields(rule), "left": self._left.get(i)} for i, rule in enumerate(self._rules)
            ]


def _kind(kind: FaultKind | str) -> FaultKind:
    try:
        return FaultKind(kind)
    except ValueError:
        accepted = ", ".join(k.value for k in FaultKind)
        raise ConfigError(
            f"Unknown fault kind {str(kind)[:40]!r}.", next_step=f"Use one of: {accepted}."
        ) from None


def _fields(rule: FaultRule) -> dict[str, object]:
    return {
        "kind": rule.kind.value,
        "target": rule.target,
        "code": rule.code,
        "percent": rule.percent,
        "times": rule.times,
        "latency_ms": rule.latency_ms,
        "skew_seconds": rule.skew_seconds,
    }


class CallbackOutbox(list):  # type: ignore[type-arg]
    """The callbacks a channel has sent, in delivery order, with the callback faults applied:
    a duplicate is delivered twice; out of order, the newest is delivered before the rest.

    With a ``delivery``, each is also queued for HTTP delivery with the same faults: the
    duplicate is POSTed twice, and an out-of-order one overtakes every callback not yet sent.
    """

    def __init__(
        self, faults: Faults, target: str, delivery: CallbackDelivery | None = None
    ) -> None:
        super().__init__()
        self.faults = faults
        self.target = target
        self.delivery = delivery

    def append(self, callback: object) -> None:
        decision = self.faults.decide(self.target, "callback", only=CALLBACK_KINDS)
        first = FaultKind.OUT_OF_ORDER_CALLBACKS in decision
        twice = FaultKind.DUPLICATE_CALLBACK in decision
        if first:
            self.insert(0, callback)
        else:
            super().append(callback)
        if twice:
            super().append(callback)
        if self.delivery is not None:
            deliverable = cast("Deliverable", callback)
            self.delivery.submit(self.target, deliverable, first=first)
            if twice:
                self.delivery.submit(self.target, deliverable)
