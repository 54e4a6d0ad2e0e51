"""Group commit: the writes of concurrent flows in one transaction and one flush.

Every write of a durable journal is a ``Job``. The caller that finds no commit under
way leads: it takes every job queued so far (its own among them), runs them in one
transaction, commits once (one fsync for all of them), and wakes the others. A job is
answered only when the transaction that holds it has committed, so a write is
acknowledged once it is durable, never before. Jobs that arrive while a commit runs
wait for the next one, which one of them leads. A lone caller (a till selling one sale
at a time) leads at once, in its own thread: nothing is handed to another thread.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from attrs import define

from gongji.errors import JournalUnavailable

__all__ = ["GroupCommit", "Job", "RunBatch"]


@define
class Job:
    """One write: ``work(db)`` inside the batch's transaction."""

    work: Callable[[Any], Any]
    durable: bool
    done: bool = False
    value: Any = None
    error: BaseException | None = None

    def result(self) -> Any:
        if self.error is not None:
            raise self.error
        return self.value


#: Runs the jobs queued together in one transaction: it sets each job's ``value`` or
#: ``error``, or raises when the whole transaction failed (every job then fails so).
RunBatch = Callable[[list[Job]], None]


class GroupCommit:
    """The queue of a journal object's writes, and whose turn it is to commit them."""

    def __init__(self) -> None:
        self._queue: list[Job] = []
        self._turn = threading.Condition(threading.Lock())
        self._committing = False
        #: Transactions committed, and those of them flushed to the disk (the bench counts).
        self.commits = 0
        self.durable_commits = 0

    def submit(self, run_batch: RunBatch, work: Callable[[Any], Any], *, durable: bool) -> Any:
        """``work(db)``'s result once its transaction (``run_batch``, led by this caller
        or another) has committed, or its error."""
        job = Job(work, durable)
        with self._turn:
            self._queue.append(job)
            while self._committing and not job.done:
                self._turn.wait()
            if job.done:  # another leader committed it
                return job.result()
            self._committing = True
            batch, self._queue = self._queue, []
        try:
            self._lead(run_batch, batch)
        finally:
            with self._turn:
                self._committing = False
                for done in batch:
                    done.done = True
                self._turn.notify_all()
        return job.result()

    def _lead(self, run_batch: RunBatch, batch: list[Job]) -> None:
        for job in batch:
            job.value, job.error = None, None
        try:
            run_batch(batch)
        except Exception as error:  # nothing of the batch committed
            for job in batch:
                job.value, job.error = None, error
            return
        except BaseException:  # interrupted: the others are told, this one re-raises
            for job in batch:
                job.error = JournalUnavailable("A commit of the journal was interrupted.")
            raise
        self.commits += 1
        self.durable_commits += any(job.durable for job in batch)
