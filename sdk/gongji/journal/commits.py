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

Where the journal can split a batch (``OpenBatch``: SQLite) and the caller names its
loop (``Soon``), the batch is *opened* on that loop instead: its statements run there,
taking no lock that is not free at once, and only the commit (the flush) goes to the
committer thread. A thread that runs statements needs the GIL back after each of them,
and a busy loop hands it over only every few milliseconds; the loop, which holds it
anyway, runs them in microseconds. The loop still never waits on a flush or a lock.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from attrs import define

from gongji.errors import JournalUnavailable
from gongji.gateways.exchange import Soon, Tell

__all__ = ["Commit", "GroupCommit", "Job", "OpenBatch", "RunBatch"]

_log = logging.getLogger("gongji.journal")

#: How long the committer thread leaves queued jobs to the loop that is to open them:
#: past it (a loop stopped with the opening never run), it leads them itself. Longer
#: than a busy loop's turn; only a loop gone for good makes the jobs wait this long.
OPENING_PATIENCE = 0.25  # float-ok: seconds


@define
class Job:
    """One write: ``work(db)`` inside the batch's transaction."""

    work: Callable[[Any], Any]
    durable: bool
    done: bool = False
    value: Any = None
    error: BaseException | None = None
    #: The batch runner of the journal it writes (whoever leads runs the batch with it),
    #: and, for a job handed over with ``submit_later``, whom to tell, the journal's
    #: batch opener and the loop that may open its batch.
    run_batch: RunBatch | None = None
    tell: Tell | None = None
    open_batch: OpenBatch | None = None
    soon: Soon | None = None

    def result(self) -> Any:
        if self.error is not None:
            raise self.error
        return self.value


#: Runs the jobs queued together in one transaction: it sets each job's ``value`` or
#: ``error``, or raises when the whole transaction failed (every job then fails so).
RunBatch = Callable[[list[Job]], None]
#: A batch's commit, made after its statements (it raises when nothing was committed).
Commit = Callable[[], None]
#: Runs a batch's statements where it is called, setting each job's ``value`` or
#: ``error``, and returns the commit to make elsewhere; None when the database could not
#: be written without waiting (nothing was done: the batch is then run whole). It raises
#: when nothing could be done.
OpenBatch = Callable[[list[Job]], "Commit | None"]


class GroupCommit:
    """The queue of a journal object's writes, and whose turn it is to commit them."""

    def __init__(self) -> None:
        self._queue: list[Job] = []
        self._turn = threading.Condition(threading.Lock())
        self._committing = False
        #: The loop an opening is scheduled on (``_open``) and since when; a batch opened
        #: there, with its commit (None: to be run whole), for the committer thread.
        self._opening: Soon | None = None
        self._opening_since = 0.0
        self._opened: tuple[list[Job], Commit | None] | None = None
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
        self,
        run_batch: RunBatch,
        work: Callable[[Any], Any],
        *,
        durable: bool,
        tell: Tell,
        open_batch: OpenBatch | None = None,
        soon: Soon | None = None,
    ) -> None:
        """Queue ``work`` and return at once; ``tell`` hears its outcome once its
        transaction has committed (led by the committer thread, or by a waiting caller).
        With ``open_batch`` and ``soon``, its batch is opened on the caller's loop."""
        if open_batch is None:
            soon = None
        job = Job(work, durable, run_batch=run_batch, tell=tell, open_batch=open_batch, soon=soon)
        with self._turn:
            if self._stopping:
                job.error = JournalUnavailable("The journal is closed.")
            else:
                self._queue.append(job)
                # A loop of its own is asked even while another's opening is due: that
                # loop may have stopped for good with the opening never run.
                opening = soon is not None and not self._committing and self._opening != soon
                if opening:
                    self._opening, self._opening_since = soon, time.monotonic()
                if self._committer is None:
                    self._committer = threading.Thread(
                        target=self._commit_later, name="gongji-journal-commit", daemon=True
                    )
                    self._committer.start()
                elif not self._committing and soon is None:  # else its leader comes back for it
                    self._turn.notify()
        if job.error is not None:
            tell(None, job.error)
        elif opening:
            assert soon is not None
            self._start_opening(soon)

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
        """The committer thread: commits the batches opened on a loop, and leads a batch
        whenever jobs wait, no one commits and no loop is about to open them."""
        while True:
            with self._turn:
                while self._opened is None and (
                    self._committing or not self._queue or self._opening_due()
                ):
                    if self._stopping and not (self._queue or self._committing):
                        self._committer = None
                        return
                    self._turn.wait(timeout=OPENING_PATIENCE if self._opening else None)
                if self._opened is not None:
                    batch, commit = self._opened
                    self._opened = None
                else:
                    self._committing = True
                    batch, self._queue = self._queue, []
                    commit = None
            if commit is not None:
                self._commit(batch, commit)
            else:
                run_batch = batch[0].run_batch
                assert run_batch is not None
                self._lead(run_batch, batch)
                del run_batch
            del batch, commit  # hold no journal between batches: it may be dropped

    def _opening_due(self) -> bool:
        """Whether a loop is about to open the queued jobs (``_turn`` held): not once the
        journal stops, nor once it has let ``OPENING_PATIENCE`` pass (a loop stopped
        without running it, or closed): the committer thread then leads them itself."""
        if self._opening is None or self._stopping:
            return False
        if time.monotonic() - self._opening_since < OPENING_PATIENCE:
            return True
        self._opening = None
        return False

    def _start_opening(self, soon: Soon) -> None:
        try:
            soon(self._open)
        except Exception:  # the loop is closed: the committer thread leads its jobs
            with self._turn:
                if self._opening == soon:
                    self._opening = None
                for job in self._queue:
                    if job.soon == soon:
                        job.soon = None
                self._turn.notify_all()

    def _open(self) -> None:
        """On the loop: run the queued jobs' statements, and hand the commit over."""
        with self._turn:
            self._opening = None
            if self._committing or not self._queue or self._stopping:
                return  # another leader took them (stopping: the committer thread does)
            self._committing = True
            batch, self._queue = self._queue, []
        open_batch = next((job.open_batch for job in batch if job.open_batch is not None), None)
        for job in batch:
            job.value, job.error = None, None
        try:
            commit = None if open_batch is None else open_batch(batch)
        except Exception as error:  # nothing of the batch was done
            for job in batch:
                job.value, job.error = None, error
            self._end(batch)
            return
        except BaseException:
            for job in batch:
                job.value, job.error = None, JournalUnavailable("A journal write was interrupted.")
            self._end(batch)
            raise
        with self._turn:
            self._opened = (batch, commit)
            self._turn.notify_all()

    def _commit(self, batch: list[Job], commit: Commit) -> None:
        """The committer thread: commit a batch opened on a loop, then answer its jobs."""
        try:
            commit()
        except Exception as error:  # nothing of the batch committed
            for job in batch:
                job.value, job.error = None, error
        else:
            self.commits += 1
            self.durable_commits += any(job.durable for job in batch)
        finally:
            self._end(batch)

    def _lead(self, run_batch: RunBatch, batch: list[Job]) -> None:
        """Run ``batch`` in one transaction, then hand the turn on and answer its jobs."""
        try:
            self._run(run_batch, batch)
        finally:
            self._end(batch)

    def _end(self, batch: list[Job]) -> None:
        """Hand the turn on (to a loop, when a queued job has one) and answer ``batch``."""
        soon = None
        with self._turn:
            self._committing = False
            for done in batch:
                done.done = True
            if self._opening is None and not self._stopping:
                soon = next((job.soon for job in self._queue if job.soon is not None), None)
                if soon is not None:
                    self._opening, self._opening_since = soon, time.monotonic()
            self._turn.notify_all()
        for job in batch:
            if job.tell is not None:
                try:
                    job.tell(job.value, job.error)
                except Exception:  # one caller gone (its loop closed) stops no other
                    _log.warning("A journal write's outcome could not be told", exc_info=True)
        if soon is not None:
            self._start_opening(soon)

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
