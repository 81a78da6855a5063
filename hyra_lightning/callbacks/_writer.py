"""The monitors' background writer: one worker thread per process renders and writes what the monitors measured.

The training thread measures (forward passes, GPU work, at most one device-to-host copy per event) and hands a
:class:`WriteJob` to the process's :class:`BackgroundWriter`. The job's scalars are computed and logged through
``logger.log_metrics`` at once, on the training thread (loggers never see two threads), and made durable
(``logger.save()``, and a flush of a TensorBoard event file): a point is in the loggers when it is measured, not
an event later. The worker thread runs the rest of the job: colour maps, panels, matplotlib figures, PNG encoding
and the sinks' writes.

Guarantees:

- jobs run one at a time, in the order they were submitted, each at most once, with the step it was given;
- the queue is bounded: when the worker falls behind, :meth:`~BackgroundWriter.submit` waits for a free slot
  instead of piling up images in memory, but at most ``submit_timeout`` seconds: when no slot frees in that time
  (a logger that does not return) the job's pictures are dropped, counted and reported, and training goes on;
  until the worker finishes a job again, further jobs that find the queue full are dropped without waiting;
- :meth:`~BackgroundWriter.flush` waits until everything submitted is written, never longer than its
  ``timeout``, and then says which outputs were not written; once a flush has given up, later flushes wait at
  most a second until the worker has finished a job again;
- :meth:`~BackgroundWriter.close` never waits longer than its timeout either; the worker is a daemon thread, so a
  sink that never returns does not hold the interpreter's exit;
- a job that raises is reported once per monitor as a warning on the training thread; the worker and the
  training go on;
- ``blocking=True`` runs the job on the calling thread after flushing the queue: the synchronous behaviour,
  for debugging and tests.

Only global rank zero submits jobs (the monitors check); the writer itself knows nothing about ranks.
"""

from __future__ import annotations

import atexit
import itertools
import math
import os
import queue
import threading
import time
import traceback
import warnings
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from lightning.pytorch.loggers import TensorBoardLogger

__all__ = ["BackgroundWriter", "WriteJob", "get_writer", "log_scalars"]

#: Jobs waiting for the worker at most; a further :meth:`BackgroundWriter.submit` waits for a free slot.
MAX_QUEUED_JOBS: int = 16

#: Seconds :meth:`BackgroundWriter.submit` waits for a free slot before it drops the job's pictures.
SUBMIT_TIMEOUT_S: float = 10.0

#: Seconds :meth:`BackgroundWriter.flush` waits for the worker by default before giving up with a warning.
FLUSH_TIMEOUT_S: float = 600.0

#: Seconds a flush waits when an earlier flush gave up and the worker has finished no job since.
_STUCK_GRACE_S: float = 1.0

#: Seconds :meth:`BackgroundWriter.close` waits for the worker to stop after its flush.
CLOSE_TIMEOUT_S: float = 10.0


@dataclass
class WriteJob:
    """One monitor event to log and write.

    Args:
        owner: name of the monitor, used in warnings.
        step: ``trainer.global_step`` of the event; the scalars are logged at this step.
        scalars: called once on the calling thread when the job is submitted; returns the scalars to log (tag ->
            value; non-finite values are left out), or ``None``. They are logged at once.
        loggers: the loggers that receive the scalars through ``log_metrics``.
        media: called once on the worker thread (or the caller's, when blocking): draws and writes the images and
            figures through the sinks.
        key: identifies the monitor instance for the once-per-monitor error warning (``owner`` when ``None``).
    """

    owner: str
    step: int
    scalars: Callable[[], Mapping[str, float] | None] | None = None
    loggers: Sequence[Any] = ()
    media: Callable[[], None] | None = None
    key: Any = None


@dataclass
class _Marker:
    """Queued by :meth:`BackgroundWriter.flush`; set when the worker reaches it."""

    done: threading.Event = field(default_factory=threading.Event)


def log_scalars(loggers: Sequence[Any], values: Mapping[str, float], step: int) -> None:
    """Log ``values`` (non-finite ones left out) to every logger at ``step`` and make them durable: each logger's
    ``save()`` (as Lightning does after ``log_metrics``) and, for a TensorBoard logger, a flush of its event file,
    so that a killed process keeps them."""
    finite = {tag: float(v) for tag, v in values.items() if math.isfinite(float(v))}
    if not finite:
        return
    for logger in loggers:
        logger.log_metrics(dict(finite), step=step)
        logger.save()
        if isinstance(logger, TensorBoardLogger):
            logger.experiment.flush()


def _steps(steps: Sequence[int]) -> str:
    shown = ", ".join(str(s) for s in steps[:8])
    return shown + (f", ... ({len(steps)} in all)" if len(steps) > 8 else "")


def _describe(jobs: Sequence[tuple[str, int]]) -> str:
    """``"ImpulseResponseMonitor at steps 1, 2, 3; HyRAMonitor at step 3"``."""
    by_owner: dict[str, list[int]] = {}
    for owner, step in jobs:
        by_owner.setdefault(owner, []).append(step)
    return "; ".join(
        f"{owner} at step{'s' if len(steps) > 1 else ''} {_steps(steps)}" for owner, steps in by_owner.items()
    )


class BackgroundWriter:
    """A worker thread with a bounded queue that runs :class:`WriteJob` s in order.

    Use :func:`get_writer` for the process's writer; a separate instance is only useful in tests.

    Args:
        max_queued: queue bound (see :data:`MAX_QUEUED_JOBS`).
        submit_timeout: seconds :meth:`submit` waits for a free slot (see :data:`SUBMIT_TIMEOUT_S`).
    """

    def __init__(self, max_queued: int = MAX_QUEUED_JOBS, submit_timeout: float = SUBMIT_TIMEOUT_S) -> None:
        self._max_queued = max_queued
        self._submit_timeout = submit_timeout
        self._queue: queue.Queue[tuple[int, WriteJob] | _Marker | None] = queue.Queue(max_queued)
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._lock = threading.Lock()
        self._errors: deque[tuple[WriteJob, BaseException, str]] = deque()
        self._warned: set[Any] = set()
        self._busy = 0.0
        self._jobs_done = 0
        self._ids = itertools.count()
        #: Jobs queued and not finished: id -> (owner, step); the one running: (owner, step, start time).
        self._unfinished: dict[int, tuple[str, int]] = {}
        self._running: tuple[str, int, float] | None = None
        #: Set when a submit timed out; cleared when the worker finishes a job.
        self._stalled = False
        #: ``jobs_done`` when a flush last gave up (``None`` after the worker finished a job since).
        self._gave_up_at: int | None = None
        self._dropped: list[tuple[str, int]] = []
        self._dropped_reported = 0
        self._last_report: Any = None

    # ------------------------------------------------------------------------------------------ public

    @property
    def busy_seconds(self) -> float:
        """Total time spent running jobs (on the worker and, when blocking, on the caller's thread)."""
        return self._busy

    @property
    def jobs_done(self) -> int:
        """Number of jobs run so far (failed ones included)."""
        return self._jobs_done

    @property
    def dropped(self) -> list[tuple[str, int]]:
        """``(owner, step)`` of every job whose pictures were dropped because the queue stayed full."""
        return list(self._dropped)

    @property
    def unfinished(self) -> list[tuple[str, int]]:
        """``(owner, step)`` of every job submitted and not yet written (the running one first)."""
        with self._lock:
            return list(self._unfinished.values())

    def submit(self, job: WriteJob, blocking: bool = False) -> None:
        """Log ``job``'s scalars now, then queue its pictures for the worker (or with ``blocking=True`` write them
        here once the queue is empty). Also reports failed jobs (see :meth:`drain`).

        When the queue is full, waits at most ``submit_timeout`` seconds for a slot (no wait while the worker has
        not finished a job since the last such timeout); then the pictures are dropped with a warning (the first
        time) and counted in :attr:`dropped`.
        """
        self.drain()
        self._log(job)
        if job.media is None:
            return
        if blocking:
            self.flush()
            self._run(job)
            self.drain()
            return
        self._ensure_thread()
        ident = next(self._ids)
        with self._lock:
            self._unfinished[ident] = (job.owner, job.step)
        try:
            self._queue.put((ident, job), timeout=0.0 if self._stalled else self._submit_timeout)
        except BaseException as err:  # Ctrl-C while waiting: the job is not queued
            with self._lock:
                self._unfinished.pop(ident, None)
            self._dropped.append((job.owner, job.step))
            if not isinstance(err, queue.Full):
                raise
            self._stalled = True
            if len(self._dropped) == 1:
                warnings.warn(
                    f"{job.owner}'s images and figures of step {job.step} were dropped: the monitors' writer"
                    f" queue stayed full for {self._submit_timeout:.0f} s ({self._running_text()}). Its scalars"
                    " were logged. Training goes on; further dropped outputs are counted and reported when the"
                    " run ends.",
                    UserWarning,
                    stacklevel=2,
                )

    def drain(self) -> None:
        """Warn about failed jobs (once per monitor); call from the training thread."""
        while self._errors:
            job, err, trace = self._errors.popleft()
            key = job.key if job.key is not None else job.owner
            if key in self._warned:
                continue
            self._warned.add(key)
            warnings.warn(
                f"{job.owner} could not write its output of step {job.step} ({type(err).__name__}: {err})."
                " Training goes on; later outputs of this monitor are still attempted, and this warning is not"
                " repeated. Pass `blocking=True` to the monitor to run its writing in the training thread"
                f" while debugging. Traceback of the writer thread:\n{trace}",
                UserWarning,
                stacklevel=2,
            )

    def flush(self, timeout: float = FLUSH_TIMEOUT_S) -> bool:
        """Wait until every submitted job has run, at most ``timeout`` seconds, then :meth:`drain`.

        Returns ``False`` if the worker did not finish in time, with a warning that names the outputs not written
        (and those dropped earlier). A flush after one that gave up returns at once while the worker has finished
        no job since (it is stuck in a sink that does not return).
        """
        if self._gave_up_at is not None and self._gave_up_at == self._jobs_done:
            timeout = min(timeout, _STUCK_GRACE_S)  # no job finished since the last flush gave up
        deadline = time.monotonic() + max(0.0, timeout)
        finished = True
        thread = self._thread
        if thread is not None and thread.is_alive() and (self._unfinished or not self._queue.empty()):
            marker = _Marker()
            try:
                self._queue.put(marker, timeout=max(0.0, deadline - time.monotonic()))
            except queue.Full:
                finished = False
            else:
                finished = marker.done.wait(max(0.0, deadline - time.monotonic()))
            if not finished:
                self._gave_up_at = self._jobs_done
                self._report_unfinished(timeout)
        self.drain()
        if finished and len(self._dropped) > self._dropped_reported:
            self._report_unfinished(timeout, waited=False)
        return finished

    def close(self, timeout: float = CLOSE_TIMEOUT_S) -> None:
        """Flush (at most ``timeout`` seconds) and stop the worker thread (a later :meth:`submit` starts a new one).

        A worker stuck in a sink is left behind (a daemon thread, with the jobs it still holds); the writer goes
        on with a new queue.
        """
        deadline = time.monotonic() + max(0.0, timeout)
        self.flush(timeout)
        thread = self._thread
        if thread is not None and thread.is_alive():
            try:
                self._queue.put(None, timeout=max(0.0, deadline - time.monotonic()))
            except queue.Full:
                pass
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
            if thread.is_alive():
                self._queue = queue.Queue(self._max_queued)
                with self._lock:
                    self._unfinished.clear()
        self._thread = None
        self._stalled = False
        self._gave_up_at = None

    # ------------------------------------------------------------------------------------------ reports

    def _running_text(self) -> str:
        running = self._running
        if running is None:
            return "the writer thread is not running a job"
        owner, step, start = running
        return (
            f"the writer thread has been writing {owner}'s output of step {step} for"
            f" {time.monotonic() - start:.0f} s; a logger that does not return?"
        )

    def _report_unfinished(self, timeout: float, waited: bool = True) -> None:
        unfinished = self.unfinished
        dropped = self._dropped
        report = (tuple(unfinished), len(dropped))
        if report == self._last_report:
            return  # said already
        self._last_report = report
        self._dropped_reported = len(dropped)
        parts = []
        if waited:
            parts.append(
                f"The monitors' writer did not finish within {timeout:.0f} s ({self._running_text()})."
            )
        if unfinished:
            parts.append(f"Not written: the images and figures of {_describe(unfinished)}.")
        if dropped:
            parts.append(
                f"Dropped earlier because the writer's queue stayed full: the images and figures of"
                f" {_describe(dropped)}."
            )
        parts.append("Their scalars were logged. Training is not held up any longer.")
        warnings.warn(" ".join(parts), UserWarning, stacklevel=3)

    # ------------------------------------------------------------------------------------------ worker

    def _log(self, job: WriteJob) -> None:
        if job.scalars is None:
            return
        try:
            values = job.scalars()
            if values:
                log_scalars(job.loggers, values, job.step)
        except Exception as err:  # a descriptor's or a logger's bug must never kill training: report it once
            self._errors.append((job, err, traceback.format_exc(limit=8)))
            self.drain()

    def _ensure_thread(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        with self._start_lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._loop, args=(self._queue,), name="hyra-lightning-writer", daemon=True
                )
                self._thread.start()

    def _loop(self, jobs: queue.Queue[tuple[int, WriteJob] | _Marker | None]) -> None:
        while True:
            item = jobs.get()
            if item is None:
                return
            if isinstance(item, _Marker):
                item.done.set()
                continue
            ident, job = item
            self._running = (job.owner, job.step, time.monotonic())
            try:
                self._run(job)
            finally:
                self._running = None
                with self._lock:
                    self._unfinished.pop(ident, None)
                self._stalled = False
                self._gave_up_at = None

    def _run(self, job: WriteJob) -> None:
        start = time.perf_counter()
        if job.media is not None:
            try:
                job.media()
            except Exception as err:  # a renderer's bug must never kill training: report it once
                self._errors.append((job, err, traceback.format_exc(limit=8)))
        self._busy += time.perf_counter() - start
        self._jobs_done += 1


_writer: BackgroundWriter | None = None
_writer_pid: int | None = None
_writer_lock = threading.Lock()


def get_writer() -> BackgroundWriter:
    """The writer of this process (a new one after a fork, whose child has no worker thread)."""
    global _writer, _writer_pid
    pid = os.getpid()
    if _writer is None or _writer_pid != pid:
        with _writer_lock:
            if _writer is None or _writer_pid != pid:
                _writer, _writer_pid = BackgroundWriter(), pid
    return _writer


@atexit.register
def _flush_at_exit() -> None:  # pragma: no cover - interpreter shutdown
    if _writer is not None and _writer_pid == os.getpid():
        _writer.flush(timeout=60.0)
