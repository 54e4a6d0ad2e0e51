"""What the mock's rooms remember, kept one way: tables of immutable rows that msgspec writes.

Every record of the mock's state (a trade, a settlement, a message seen, a balance) is a
row in a ``Table``: an immutable ``msgspec.Struct``, an attrs value object of the core, or
a plain value. A change is a ``put`` of a new row, so a table knows which keys changed
since it was last saved, and the state file (``gongji_mock.statefile``) writes those rows
only: the cost of a request's write does not grow with the number of trades or settlements.
Restoring decodes the rows back into the same types; no room writes its own save or restore.

Full ID numbers are written as they are (``IdNumber``): the state file is the mock centre's
database. Amounts are integer fen (``Fen``).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Iterator
from typing import Any, Generic, TypeVar

import msgspec

from gongji.identity import IdNumber
from gongji.money import Fen

K = TypeVar("K", bound=Hashable)
R = TypeVar("R")


def _encode_hook(value: object) -> object:
    if isinstance(value, Fen):
        return int(value)
    if isinstance(value, IdNumber):
        return value.number
    raise NotImplementedError(f"The mock's state cannot hold a {type(value).__name__}.")


def _decode_hook(kind: type, value: object) -> object:
    if kind is Fen and isinstance(value, int):
        return Fen(value)
    if kind is IdNumber and isinstance(value, str):
        return IdNumber(value)
    raise NotImplementedError(f"The mock's state holds no {kind.__name__}.")


ENCODER = msgspec.json.Encoder(enc_hook=_encode_hook)


def decode(data: bytes, kind: Any) -> Any:
    """Bytes ``ENCODER`` wrote, back as ``kind``."""
    return msgspec.json.decode(data, type=kind, dec_hook=_decode_hook)


class Table(Generic[K, R]):
    """The rows of one kind of record, by key, in the order their keys were first put.

    ``name`` is unique in a mock (``"wechatpay.trades"``); ``key_type`` and ``row_type``
    say how keys and rows read back. Rows are never changed in place: ``put`` a new one.
    ``on_load`` rebuilds what its owner derives from the rows (an index) after ``load``.
    """

    def __init__(
        self,
        name: str,
        key_type: Any,
        row_type: Any,
        *,
        on_load: Callable[[], None] | None = None,
    ) -> None:
        self.name = name
        self.key_type = key_type
        self.row_type = row_type
        self._on_load = on_load
        self._rows: dict[K, R] = {}
        self._changed: dict[K, None] = {}  # keys put or removed since the last save, in order

    def get(self, key: K) -> R | None:
        return self._rows.get(key)

    def __getitem__(self, key: K) -> R:
        return self._rows[key]

    def __contains__(self, key: object) -> bool:
        return key in self._rows

    def __len__(self) -> int:
        return len(self._rows)

    def __iter__(self) -> Iterator[K]:
        return iter(self._rows)

    def values(self) -> Iterable[R]:
        return self._rows.values()

    def items(self) -> Iterable[tuple[K, R]]:
        return self._rows.items()

    def put(self, key: K, row: R) -> R:
        """Keep ``row`` under ``key`` (a new key goes last; a known one keeps its place)."""
        self._rows[key] = row
        self._changed[key] = None
        return row

    def remove(self, key: K) -> None:
        if self._rows.pop(key, _MISSING) is not _MISSING:
            self._changed[key] = None

    def take_changes(self) -> list[tuple[K, R | None]]:
        """The keys put or removed since the last call, with their rows (None: removed)."""
        # Swapped, not iterated: a put from another thread lands in the next save, never mid-way.
        changed, self._changed = self._changed, {}
        return [(key, self._rows.get(key)) for key in changed]

    def load(self, rows: Iterable[tuple[K, R]]) -> None:
        """Put back rows a state file held, in their order; nothing counts as changed."""
        self._rows = dict(rows)
        self._changed = {}
        if self._on_load is not None:
            self._on_load()

    def __repr__(self) -> str:
        return f"Table({self.name!r}, rows={len(self._rows)})"


_MISSING = object()


class Serial:
    """A counter that survives a restart: ids made after it continue instead of repeating."""

    def __init__(self, name: str, first: int = 1) -> None:
        self.table: Table[str, int] = Table(name, str, int)
        self._first = first

    def next(self) -> int:
        """The next number; counted as a change, so the state file keeps it."""
        number = self.peek()
        self.table.put("next", number + 1)
        return number

    def peek(self) -> int:
        """The number ``next()`` gives, without taking it."""
        return self.table.get("next") or self._first
