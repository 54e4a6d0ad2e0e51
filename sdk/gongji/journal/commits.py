"""Group commit: the writes of concurrent flows in one transaction and one flush.

Every write of a durable journal is a ``Job``. The caller that finds no commit under
way leads: it takes every job queued so far (its own among them), runs them in one
transaction, commits once (one fsync for all of them), and wakes the others. A job is
answered only when the transaction that holds it has committed, so a write is
acknowledged once it is durable, never before. Jobs that arrive while a commit runs
wait for the next one, which one of them leads. A lone caller (a till selling one sale
at a time) leads at once, in its own thread: nothing is handed to another thread.

A caller that must not wait (the async driver's event loop) hands its job over with
``submit_later`` and is called back once it is answered: a committer thread of the
journal's own leads the batches of such jobs, so the loop never waits on a flush and
its sales' writes still share one.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from attrs import define

from gongji.errors import JournalUnavailable
from gongji.gateways.exchange import Tell

__all__ = ["GroupCommit", "Job", "RunBatch"]

_log = logging.getLogger("gongji.journal")


@define
class Job:
    """One write: ``work(db)`` inside the batch's transaction."""

    work: Callable[[Any], Any]
    durable: bool
    done: bool = False
    value: Any = None
    error: BaseException | None = None
    #: The batch runner of the journal it writes (whoever leads runs the batch with it),
    #: and, for a job handed over with ``submit_later``, whom to tell.
    run_batch: RunBatch | None = None
    tell: Tell | None = None

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
        self._committer: threading.Thread | None = None
        self._stopping = False
        #: Transactions committed, and those of them flushed to the disk (the bench counts).
        self.commits = 0
        self.durable_commits = 0

    def submit(self, run_batch: RunBatch, work: Callable[[Any], Any], *, durable: bool) -> Any:
        """``work(db)``'s result once its transaction (``run_batch``, led by this caller
        or another) has committed, or its error."""
        job = Job(work, durable, run_batch=run_batch)
        with self._turn:
            self._queue.append(job)
            while self._committing and not job.done:
                self._turn.wait()
            if job.done:  # another leader committed it
                return job.result()
            self._committing = True
            batch, self._queue = self._queue, []
        self._lead(run_batch, batch)
        return job.result()

    def submit_later(
        self, run_batch: RunBatch, work: Callable[[Any], Any], *, durable: bool, tell: Tell
    ) -> None:
        """Queue ``work`` and return at once; ``tell`` hears its outcome once its
        transaction has committed (led by the committer thread, or by a waiting caller)."""
        job = Job(work, durable, run_batch=run_batch, tell=tell)
        with self._turn:
            if self._stopping:
                job.error = JournalUnavailable("The journal is closed.")
            else:
                self._queue.append(job)
                if self._committer is None:
                    self._committer = threading.Thread(
                        target=self._commit_later, name="gongji-journal-commit", daemon=True
                    )
                    self._committer.start()
                elif not self._committing:  # else the batch under way's leader comes back for it
                    self._turn.notify()
                return
        tell(None, job.error)

    def stop(self, *, wait: bool = True) -> None:
        """End the committer thread once the jobs handed to it are answered (``wait``:
        before this returns)."""
        with self._turn:
            self._stopping = True
            self._turn.notify_all()
            committer = self._committer
        if wait and committer is not None and committer is not threading.current_thread():
            committer.join(timeout=30)

    def _commit_later(self) -> None:
        """The committer thread: leads a batch whenever jobs wait and no one commits."""
        while True:
            with self._turn:
                while self._committing or not self._queue:
                    if self._stopping and not self._queue:
                        self._committer = None
                        return
                    self._turn.wait()
                self._committing = True
                batch, self._queue = self._queue, []
            run_batch = batch[0].run_batch
            assert run_batch is not None
            self._lead(run_batch, batch)
            del run_batch, batch  # hold no journal between batches: it may be dropped

    def _lead(self, run_batch: RunBatch, batch: list[Job]) -> None:
        """Run ``batch`` in one transaction, then hand the turn on and answer its jobs."""
        try:
            self._run(run_batch, batch)
        finally:
            with self._turn:
                self._committing = False
                for done in batch:
                    done.done = True
                self._turn.notify_all()
            for job in batch:
                if job.tell is not None:
                    try:
                        job.tell(job.value, job.error)
                    except Exception:  # one caller gone (its loop closed) stops no other
                        _log.warning("A journal write's outcome could not be told", exc_info=True)

    def _run(self, run_batch: RunBatch, batch: list[Job]) -> None:
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
