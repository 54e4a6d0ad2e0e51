"""Handing msgids out of the blocks a durable journal object reserved.

``gongji.journal.msgids`` says what a block is and how large the next one is; this is
how a journal object hands its ids out: from a block with room at once, else once a
block is reserved (a durable commit), the caller waiting (``allocate_msgid``) or told
later (``allocate_later``: the async driver's loop waits on nothing). The blocks of a
loop's sales are reserved ahead of them (``reserved_msgid``).
"""

from __future__ import annotations

import contextlib
import datetime
import threading
import weakref
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

from attrs import frozen

from gongji.gateways.exchange import Soon, Tell
from gongji.journal import msgids
from gongji.journal.msgids import Block, Blocks, MsgidOwner, MsgidRequest

__all__ = ["MsgidAllocation", "Work", "nothing"]

#: A write's work, given the batch's connection (``GroupCommit``).
Work = Callable[[Any], Any]


class MsgidAllocation(ABC):
    """The msgid calls of a durable journal (a mixin of ``DurableJournal``: it holds no
    journal of its own, so a journal dropped without close() is freed at once)."""

    shares_msgids: bool
    _held: dict[str, float]
    _owners: dict[str, MsgidOwner]
    _owners_lock: threading.Lock

    def _allocation_state(self) -> None:
        #: The blocks reserved; ``_allocating`` is held only while they are looked at.
        self._blocks = Blocks()
        self._allocating = threading.Lock()
        #: The ids being reserved ahead per range (``_reserve_ahead``), and the blocks so
        #: reserved, not yet among ``_blocks`` (``_owners_lock``).
        self._reserving: dict[tuple[str, int, int], int] = {}
        self._reserved: list[tuple[MsgidRequest, Block]] = []
        self._reserving_lock = threading.Lock()  # one reservation waited for at a time
        #: The askers waiting for a block (``allocate_later``; ``_allocating``), and the
        #: loop that last handed a write over (``_remember``).
        self._waiting: list[_Waiting] = []
        self._last_soon: weakref.WeakMethod[Any] | None = None

    def allocate_msgid(
        self,
        institution: str,
        at: datetime.datetime,
        till: int | None = None,
        *,
        key: str = "",
        purpose: str = msgids.READ,
        durable: bool = True,
    ) -> str:
        """From a block this object reserved; a new block (one durable commit) when none
        has room. The id's owner row rides on the next write, which ``durable`` makes now."""
        request = self._msgid_request(institution, at, till, key, purpose)
        msgid = self._take_msgid(request)
        while msgid is None:
            # One reservation at a time; the blocks stay open meanwhile (a loop takes ids
            # from them without waiting).
            with self._reserving_lock:
                msgid = self._take_msgid(request)
                if msgid is None:
                    with self._allocating:
                        size = self._blocks.size(request)
                    block = self._submit(self._reserve(request, size), durable=True)
                    with self._allocating:
                        self._blocks.add(request, block)
                    msgid = self._take_msgid(request)
        if durable:
            self._submit(nothing, durable=True)  # the owner row, flushed now
        return msgid

    def reserved_msgid(
        self,
        institution: str,
        at: datetime.datetime,
        till: int | None = None,
        *,
        key: str = "",
        purpose: str = msgids.READ,
    ) -> str | None:
        """``allocate_msgid(..., durable=False)`` without waiting on anything: an id of a
        block already reserved, else None (``allocate_later`` then waits for one). Once
        the block reserved last is half used, the next is reserved ahead."""
        request = self._msgid_request(institution, at, till, key, purpose)
        if not self._allocating.acquire(blocking=False):
            return None
        try:
            msgid = self._take_locked(request)
            ahead = self._blocks.ahead(request, busy=len(self._held))
        finally:
            self._allocating.release()
        soon = self._soon() if ahead else None
        if soon is not None:  # a loop's sales: a till selling alone reserves as it asks
            self._reserve_ahead(request, ahead, soon)
        return msgid

    def allocate_later(
        self,
        institution: str,
        at: datetime.datetime,
        till: int | None = None,
        *,
        key: str = "",
        purpose: str = msgids.READ,
        durable: bool = True,
        tell: Tell,
        soon: Soon | None = None,
    ) -> None:
        """``allocate_msgid`` without waiting (``MsgidsLater``): ``tell`` hears the id once
        a block holds it (one is reserved when none has room) and, when ``durable``,
        once its owner row is flushed."""
        request = self._msgid_request(institution, at, till, key, purpose)
        with self._allocating:
            msgid = self._take_locked(request)
            if msgid is None:
                self._waiting.append(_Waiting(request, durable, tell, soon))
                wanted, size = len(self._waiting), self._size_for_waiting(request)
        if msgid is None:
            self._reserve_ahead(request, size, soon, wanted=wanted)
        else:
            self._tell_msgid(msgid, _Waiting(request, durable, tell, soon))

    def _size_for_waiting(self, request: MsgidRequest) -> int:
        """The block to reserve for the askers waiting (``_allocating`` held): the size
        rule's, twice their number, or what the sales in flight will ask for."""
        return max(
            self._blocks.size(request),
            2 * len(self._waiting),
            self._blocks.ahead(request, busy=len(self._held)),
        )

    def _msgid_request(
        self, institution: str, at: datetime.datetime, till: int | None, key: str, purpose: str
    ) -> MsgidRequest:
        return MsgidRequest.of(
            institution, at, till, key=key, purpose=purpose, shared=self.shares_msgids
        )

    def _take_msgid(self, request: MsgidRequest) -> str | None:
        with self._allocating:
            return self._take_locked(request)

    def _take_locked(self, request: MsgidRequest) -> str | None:
        """An id of a reserved block, its owner noted for the next write (``_allocating``
        held); None when no block has room."""
        self._absorb_reserved()
        msgid = self._blocks.take(request)
        if msgid is not None:
            with self._owners_lock:
                self._owners[msgid] = request.owner
        return msgid

    def _absorb_reserved(self) -> None:
        """The blocks reserved ahead, told since, among those handed out (``_allocating``)."""
        if self._reserved:
            with self._owners_lock:
                reserved, self._reserved = self._reserved, []
            for asked, block in reserved:
                self._blocks.add(asked, block)

    def _tell_msgid(self, msgid: str, asker: _Waiting) -> None:
        if not asker.durable:
            asker.tell(msgid, None)
            return

        def flushed(_: Any, error: BaseException | None) -> None:
            asker.tell(None if error is not None else msgid, error)

        self._hand_over(nothing, durable=True, tell=flushed, soon=asker.soon)

    def _reserve_ahead(
        self, request: MsgidRequest, size: int, soon: Soon | None, *, wanted: int = 0
    ) -> None:
        """Reserve a block of the range without waiting on it, unless the blocks being
        reserved already hold ``wanted`` ids (any, for 0: ahead of the askers). Its ids are
        handed out once it is durable, like any block's, first to the askers waiting
        (``allocate_later``)."""
        where = (request.institution, request.first, request.last)
        with self._owners_lock:
            coming = self._reserving.get(where, 0)
            if coming and coming >= wanted:
                return
            self._reserving[where] = coming + size

        def reserved(block: Block | None, error: BaseException | None) -> None:
            with self._owners_lock:
                left = self._reserving.pop(where, 0) - size
                if left > 0:
                    self._reserving[where] = left
                if error is None and block is not None:
                    self._reserved.append((request, block))
            if soon is not None:  # the askers are served on their loop, not in this thread
                with contextlib.suppress(RuntimeError):  # a closed loop: served here
                    soon(lambda: self._serve_waiting(where, error))
                    return
            self._serve_waiting(where, error)

        self._hand_over(self._reserve(request, size), durable=True, tell=reserved, soon=soon)

    def _serve_waiting(self, where: tuple[str, int, int], error: BaseException | None) -> None:
        """Give the askers waiting for ids what the blocks now hold; those of ``where``
        the reservation's ``error``; reserve again for those still waiting."""
        served: list[tuple[str, _Waiting]] = []
        failed: list[_Waiting] = []
        again: tuple[MsgidRequest, int, Soon | None, int] | None = None
        with self._allocating:
            waiting, self._waiting = self._waiting, []
            for asker in waiting:
                request = asker.request
                if (
                    error is not None
                    and (request.institution, request.first, request.last) == where
                ):
                    failed.append(asker)
                    continue
                msgid = self._take_locked(request)
                if msgid is None:
                    self._waiting.append(asker)
                else:
                    served.append((msgid, asker))
            if self._waiting:
                first = self._waiting[0]
                size = self._size_for_waiting(first.request)
                again = (first.request, size, first.soon, len(self._waiting))
        for asker in failed:
            asker.tell(None, error)
        for msgid, asker in served:
            self._tell_msgid(msgid, asker)
        if again is not None:
            request, size, soon, wanted = again
            self._reserve_ahead(request, size, soon, wanted=wanted)

    def _remember(self, soon: Soon | None) -> None:
        """The loop that last handed a write over (``_hand_over``): a block reserved ahead
        of an id taken without a step (``reserved_msgid``) is opened there."""
        if soon is None:
            return
        known = self._last_soon() if self._last_soon is not None else None
        if known is None or known != soon:
            self._last_soon = weakref.WeakMethod(soon)

    def _soon(self) -> Soon | None:
        return self._last_soon() if self._last_soon is not None else None

    def _unused_blocks(self) -> list[Block]:
        """The blocks with ids left, forgotten here (a journal closing gives them back)."""
        with self._allocating:
            self._absorb_reserved()
            return self._blocks.unused()

    @abstractmethod
    def _submit(self, work: Work, *, durable: bool) -> Any:
        """``work``'s result once committed (``durable``: flushed)."""

    @abstractmethod
    def _hand_over(self, work: Work, *, durable: bool, tell: Tell, soon: Soon | None) -> None:
        """``work`` committed without waiting; ``tell`` hears its result."""

    @abstractmethod
    def _reserve(self, request: MsgidRequest, size: int) -> Work:
        """Its work reserves (``msgids.allocate``) a block of up to ``size`` ids after
        every id taken or reserved in the range: a row for its highest id, ``RESERVED``."""


@frozen
class _Waiting:
    """An asker of ``allocate_later`` waiting for a block with room."""

    request: MsgidRequest
    durable: bool
    tell: Tell
    soon: Soon | None


def nothing(db: Any) -> None:
    """A write of nothing: the commit carries the pending owner rows."""
