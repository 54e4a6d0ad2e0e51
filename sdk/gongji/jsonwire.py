"""JSON from outside the process, decoded with ``msgspec`` and failing one way only.

``msgspec.json.decode`` raises ``UnicodeDecodeError`` (not ``msgspec.DecodeError``)
when a string in the document is not valid UTF-8, and ``RecursionError`` when arrays
or objects nest deeper than the stack; a gateway, a callback or a file can send
exactly that. Here each is one more ``msgspec.DecodeError``, so the callers' existing
``except msgspec.DecodeError`` (which ``ValidationError`` is a subclass of) turns it
into their own clear ``GongjiError``.
"""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec

T = TypeVar("T")

__all__ = ["decode"]


def decode(data: bytes | str | memoryview | msgspec.Raw, *, type: type[T] = Any) -> T:  # type: ignore[assignment]
    """``msgspec.json.decode(data, type=type)``; invalid UTF-8 and too deep a nesting are
    a ``msgspec.DecodeError``."""
    try:
        return msgspec.json.decode(data, type=type)
    except UnicodeDecodeError as error:
        raise msgspec.DecodeError(f"Invalid UTF-8 in a JSON string (byte {error.start})") from None
    except RecursionError:  # [[[[...]]]] deeper than the interpreter's stack
        raise msgspec.DecodeError("JSON nested too deeply") from None
