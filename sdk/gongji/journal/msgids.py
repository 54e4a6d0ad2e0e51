"""The centre's message ids, allocated by the journal: never one id for two messages.

A national ``msgid`` is the institution code (12), the Beijing-time second
(``yyyyMMddHHmmss``) and 4 digits (NATIONAL.md section 2). The centre refuses a msgid it
has seen, or answers it with the first message's answer, so two messages under one id
can reverse the wrong sale. A process cannot number them alone: the POS and
``gongji journal recover`` run side by side on one till, and a process restarting after
a crash does not know what its predecessor sent. So every msgid is a row of the
journal, inserted in the journal's own transaction under the id itself as the primary
key: the database refuses a second row with one id, whoever asks.

The 4 digits are the next after the highest taken in the second, within the range of
the asker: on a journal shared by every till of the institution (PostgreSQL) all
10,000; on a till's own file (SQLite, memory), ``till * 100`` and the 100 after it when
the till has a number (so two tills of one institution, each with its own file, never
meet), else all 10,000 (the institution's only till).

When a second's range is used up, the id is taken from the next second that has room:
a successor after a crash, another process, or this one when its clock reaches that
second, sees it and numbers after it. Nothing is borrowed in memory, so nothing can be
handed out twice; the cost is an id whose time is a second or so ahead of its
``inf_time``, which the centre only needs to be unique. More than ``MAX_SECONDS_AHEAD``
ahead means a loop is sending messages: refused.

A durable journal does not commit a row for every id: it reserves a **block** of ids of
one second (``Blocks``) in one durable commit, a row for the block's highest id with no
owner yet (``RESERVED``), and hands the block out from memory. Every other asker numbers
after the reservation, and a successor after a crash too: a reserved block is never
handed out again, used or not. A journal closed cleanly gives back what it did not use.
Blocks start small and double while a busy process uses them up within their second, so
an idle till reserves a few ids a second and a busy one a commit now and then. A process
with many sales in flight (the async driver's) reserves its next block ahead, before the
last runs out, sized for the sales it holds (``Blocks.ahead``): its sales never wait on
a reservation's flush.

Each id handed out also gets a row saying what it was allocated for (the sale's key and
the ``infno``, or ``read``), written with the journal's next write (a sale's 2102 with the
entry that carries it, before it is sent), so a reversal (2601) can be sent only for a
msgid that this journal gave to this sale's 2102 or 2103: ``Journal.msgid_owner``.
"""

from __future__ import annotations

import datetime
import functools
import re
from collections.abc import Callable
from typing import TypeVar

from attrs import define, field, frozen

from gongji.errors import ConfigError, JournalUnavailable

__all__ = [
    "BEIJING",
    "MAX_SECONDS_AHEAD",
    "READ",
    "RESERVED",
    "Block",
    "Blocks",
    "MsgidOwner",
    "MsgidRequest",
    "allocate",
]

BEIJING = datetime.timezone(datetime.timedelta(hours=8), "Asia/Shanghai")
#: The purpose of a msgid carried by a message that changes nothing at the centre.
READ = "read"
#: The purpose of a block's reservation row (its highest id, not handed out yet): no
#: purpose a caller may ask for is empty.
RESERVED = ""
#: The ids of a process's first block; a block reserved within ``RECENT_SECONDS`` of the
#: one before it holds twice what that one gave out (a busy process reserves seldom, an
#: idle one wastes little), up to a quarter of the asker's range.
FIRST_BLOCK = 10
RECENT_SECONDS = 2
#: The ids a sale asks for in its first seconds (1101, 2101, 2102 and one more): the blocks
#: of a process with many sales in flight are reserved ahead for them all.
IDS_A_SALE = 4
#: How far past the asked second an id may be taken when the seconds before are used up.
MAX_SECONDS_AHEAD = 60

_INSTITUTION = re.compile(r"[0-9A-Za-z]{12}")
#: An infno (2102, 3505A), ``read``, or a word naming one of gongji's own channels'
#: messages (``premium``, ``premium-reversal``: the premium channel is not the centre's).
_PURPOSE = re.compile(r"[0-9]{4}[A-Z]?|[a-z][a-z-]{1,23}")
_KEY = re.compile(r"[A-Za-z0-9._:-]{0,64}")


@frozen
class MsgidOwner:
    """What a msgid was allocated for: a sale (its key; "" for none) and an ``infno``."""

    key: str
    purpose: str  # "2102", "2103", "2207", "2208", "2601", ... or "read"


@frozen
class MsgidRequest:
    """One allocation asked for: the institution, the second, the range of the 4 digits."""

    institution: str
    second: datetime.datetime  # Beijing time, whole seconds
    first: int  # the lowest 4-digit serial the asker may take
    last: int  # the highest
    owner: MsgidOwner

    @classmethod
    def of(
        cls,
        institution: str,
        at: datetime.datetime,
        till: int | None,
        *,
        key: str,
        purpose: str,
        shared: bool,
    ) -> MsgidRequest:
        """Checked arguments of ``Journal.allocate_msgid``; ``shared``: every till of the
        institution allocates from this journal, so the till needs no range of its own."""
        if not isinstance(at, datetime.datetime) or at.utcoffset() is None:
            raise ConfigError(
                "A msgid's time must be an aware datetime (the till's clock, with its offset).",
                next_step="Pass the clock's time with its time zone; it is turned into Beijing time.",
            )
        if isinstance(institution, str) and isinstance(purpose, str) and type(till) in _TILLS:
            first, last = _range_of(institution, till, purpose, shared)  # checked once each
        else:
            first, last = _range_of.__wrapped__(institution, till, purpose, shared)
        if not isinstance(key, str) or not _KEY.fullmatch(key):
            raise ConfigError(
                "A msgid's owner is a sale's idempotency key (1-64 letters, digits or . _ : -), "
                "or '' for a message of no sale.",
                next_step="Pass the key of the sale the message is for.",
            )
        return cls(
            institution=institution,
            second=at.astimezone(BEIJING).replace(microsecond=0),
            first=first,
            last=last,
            owner=MsgidOwner(key=key, purpose=purpose),
        )

    def bounds(self, ahead: int) -> tuple[str, str]:
        """The lowest and highest msgid of the asker's range, ``ahead`` seconds on."""
        prefix = f"{self.institution}{self.second + datetime.timedelta(seconds=ahead):%Y%m%d%H%M%S}"
        return f"{prefix}{self.first:04d}", f"{prefix}{self.last:04d}"


_TILLS = (int, type(None))


@functools.lru_cache(maxsize=64)
def _range_of(institution: str, till: int | None, purpose: str, shared: bool) -> tuple[int, int]:
    """The institution, till and purpose checked, and the range of 4 digits they give."""
    if not isinstance(institution, str) or not _INSTITUTION.fullmatch(institution):
        raise ConfigError(
            "A msgid starts with the 12-character institution code (fixmedins_code); "
            f"{str(institution)[:20]!r} is not one.",
            next_step="Copy the code of the designated institution from its agreement "
            "into the gateway settings.",
        )
    if till is not None and (type(till) is not int or not 0 <= till <= 99):
        raise ConfigError(
            "A till number must be a whole number from 0 to 99.",
            next_step="Number the tills of one institution 0, 1, 2, ... in the gateway settings.",
        )
    if not isinstance(purpose, str) or not _PURPOSE.fullmatch(purpose):
        raise ConfigError(
            f"A msgid is allocated for an infno (e.g. '2102'), {READ!r} or a channel's word, "
            f"not {str(purpose)[:10]!r}.",
            next_step="Name the transaction the message carries.",
        )
    return (0, 9_999) if shared or till is None else (till * 100, till * 100 + 99)


def following(highest: str | None, low: str, high: str) -> str | None:
    """The msgid after ``highest`` (the highest taken between ``low`` and ``high``), or
    ``low`` when none is taken; None when the range is used up."""
    if highest is None:
        return low
    if highest >= high:
        return None
    return f"{highest[:-4]}{int(highest[-4:]) + 1:04d}"


T = TypeVar("T")


def allocate(request: MsgidRequest, claim: Callable[[str, str], T | None]) -> T:
    """The first free msgid (or block) of ``request``'s second, or of the next one with room.

    ``claim(low, high)`` takes, in the journal's store, the next free msgid of the range
    and records ``request.owner`` for it (or reserves a block there); None when the range
    is used up.
    """
    for ahead in range(MAX_SECONDS_AHEAD + 1):
        found = claim(*request.bounds(ahead))
        if found is not None:
            return found
    raise JournalUnavailable(
        f"The message ids of institution {request.institution} are used up for the "
        f"{MAX_SECONDS_AHEAD} s after {request.second:%Y-%m-%d %H:%M:%S}: "
        f"{request.last - request.first + 1} a second were asked for.",
        next_step="Something is sending messages in a loop: stop it, then try again.",
    )


@define
class Block:
    """Ids of one second reserved for this process: ``next`` up to ``high`` (msgids)."""

    next: str | None
    high: str
    first: int = -1  # the serial of its first id (set from ``next`` when made)
    second: str = field(init=False)  # its ``yyyyMMddHHmmss``

    def __attrs_post_init__(self) -> None:
        if self.first < 0 and self.next is not None:
            self.first = int(self.next[-4:])
        self.second = self.high[12:26]

    @property
    def left(self) -> int:
        """How many of its ids are still to be handed out."""
        return 0 if self.next is None else int(self.high[-4:]) - int(self.next[-4:]) + 1

    @property
    def used(self) -> int:
        """How many of its ids were handed out."""
        end = int(self.next[-4:]) if self.next is not None else int(self.high[-4:]) + 1
        return end - self.first

    def take(self) -> str | None:
        given = self.next
        if given is not None:
            self.next = None if given >= self.high else f"{given[:-4]}{int(given[-4:]) + 1:04d}"
        return given


def block_end(first: str, high: str, size: int) -> str:
    """The highest id of a block of ``size`` from ``first``, within the range up to ``high``."""
    return f"{first[:-4]}{min(int(first[-4:]) + size - 1, int(high[-4:])):04d}"


class Blocks:
    """The blocks a journal object reserved and hands ids out from, per asker's range;
    the caller serialises access."""

    #: Blocks kept per range: the recent seconds' (a clock set back reuses its second's).
    KEPT = 8

    def __init__(self) -> None:
        self._blocks: dict[tuple[str, int, int], list[Block]] = {}
        #: The block reserved last per range, and the second it was asked for.
        self._last: dict[tuple[str, int, int], tuple[Block, datetime.datetime]] = {}

    def take(self, request: MsgidRequest) -> str | None:
        """An id of a reserved block: of the asked second, else of the first second after
        it (within ``MAX_SECONDS_AHEAD``) that has one; None when none has room."""
        blocks = self._blocks.get(_range(request))
        if not blocks:
            return None
        asked, latest = _seconds(request.second)
        found: Block | None = None
        for block in blocks:  # the earliest second's with room (a handful are kept)
            if (
                block.next is not None
                and asked <= block.second <= latest
                and (found is None or block.second < found.second)
            ):
                found = block
        return None if found is None else found.take()

    def size(self, request: MsgidRequest) -> int:
        """How many ids to reserve next: twice what the last block gave out, when it was
        reserved in the last seconds; else ``FIRST_BLOCK``."""
        size = FIRST_BLOCK
        last = self._last.get(_range(request))
        if last is not None:
            block, when = last
            if abs((request.second - when).total_seconds()) <= RECENT_SECONDS:
                size = max(FIRST_BLOCK, 2 * block.used)
        return self._capped(request, size)

    def ahead(self, request: MsgidRequest, busy: int = 0) -> int:
        """How many ids to reserve now, before the range runs out; 0 for none. Once the
        block reserved last is half used within the seconds after its reservation, or
        what is left is less than ``busy`` sales in flight will ask for (``IDS_A_SALE``
        each), the next is reserved at twice the last one's size (the size it would get
        when used up), or at what those sales ask for twice over."""
        last = self._last.get(_range(request))
        if last is None:
            return 0
        block, when = last
        size = int(block.high[-4:]) - block.first + 1
        left = block.left
        wanted = IDS_A_SALE * busy
        if 2 * left > size and left >= wanted:  # most asks: the last block has room enough
            return 0
        recent = abs((request.second - when).total_seconds()) <= RECENT_SECONDS
        if (2 * left > size or not recent) and self._left(request) >= wanted:
            return 0
        return self._capped(request, max(2 * size if recent else FIRST_BLOCK, 2 * wanted))

    def _left(self, request: MsgidRequest) -> int:
        """The ids the range's blocks still hold for ``request``'s second or after."""
        asked, _ = _seconds(request.second)
        return sum(
            block.left for block in self._blocks.get(_range(request), ()) if block.second >= asked
        )

    @staticmethod
    def _capped(request: MsgidRequest, size: int) -> int:
        """``size`` within a quarter of the asker's range (at least 1)."""
        return max(1, min(size, (request.last - request.first + 1) // 4))

    def add(self, request: MsgidRequest, block: Block) -> None:
        self._last[_range(request)] = (block, request.second)
        blocks = self._blocks.setdefault(_range(request), [])
        blocks.append(block)
        if len(blocks) > self.KEPT:  # the oldest seconds' go; their rest stays reserved
            blocks.sort(key=lambda kept: kept.second)
            del blocks[0]

    def unused(self) -> list[Block]:
        """The blocks with ids left, which a journal closing gives back; forgotten here."""
        left = [b for blocks in self._blocks.values() for b in blocks if b.next is not None]
        self._blocks.clear()
        self._last.clear()
        return left


@functools.lru_cache(maxsize=4)
def _seconds(second: datetime.datetime) -> tuple[str, str]:
    """``second`` and the last second an id asked for in it may come from, as msgids write
    them (formatted once a second, not at every id)."""
    latest = second + datetime.timedelta(seconds=MAX_SECONDS_AHEAD)
    return f"{second:%Y%m%d%H%M%S}", f"{latest:%Y%m%d%H%M%S}"


def _range(request: MsgidRequest) -> tuple[str, int, int]:
    return request.institution, request.first, request.last
