"""The monitors' background writer: one worker thread per process renders and writes what the monitors measured.

The training thread measures (forward passes, GPU work, at most one device-to-host copy per event) and hands a
:class:`WriteJob` to the process's :class:`BackgroundWriter`. The worker thread runs the job: descriptors that
need no GPU, colour maps, panels, matplotlib figures, PNG encoding and the sinks' writes. What a job returns
(its scalars) is logged through ``logger.log_metrics`` back on the training thread, at the next
:meth:`~BackgroundWriter.drain`, so that loggers never see two threads.

Guarantees:

- jobs run one at a time, in the order they were submitted, each exactly once, with the step it was given;
- the queue is bounded: when the worker falls behind, :meth:`~BackgroundWriter.submit` waits for a free slot
  instead of piling up images in memory;
- :meth:`~BackgroundWriter.flush` waits (with a time limit, so it never hangs) until everything submitted is
  written and its scalars logged; the monitors call it at the end of ``fit``/``validate``/``test``, on an
  exception or ``KeyboardInterrupt`` (``on_exception``) and at teardown;
- a job that raises is reported once per monitor as a warning on the training thread; the worker and the
  training go on;
- ``blocking=True`` runs the job on the calling thread after flushing the queue: the synchronous behaviour,
  for debugging and tests.

Only global rank zero submits jobs (the monitors check); the writer itself knows nothing about ranks.
"""

from __future__ import annotations

import atexit
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

__all__ = ["BackgroundWriter", "WriteJob", "get_writer"]

#: Jobs waiting for the worker at most; a further :meth:`BackgroundWriter.submit` waits for a free slot.
MAX_QUEUED_JOBS: int = 16

#: Seconds :meth:`BackgroundWriter.flush` waits for the worker before giving up with a warning.
FLUSH_TIMEOUT_S: float = 600.0


@dataclass
class WriteJob:
    """One monitor event to render and write.

    Args:
        owner: name of the monitor, used in warnings.
        step: ``trainer.global_step`` of the event; the scalars are logged at this step.
        scalars: called once on the worker thread (or the caller's, when blocking); returns the scalars to log
            (tag -> value; non-finite values are left out), or ``None``.
        loggers: the loggers that receive the scalars through ``log_metrics``.
        media: called once after ``scalars`` (whether or not it failed): draws and writes the images and
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


class BackgroundWriter:
    """A worker thread with a bounded queue that runs :class:`WriteJob` s in order.

    Use :func:`get_writer` for the process's writer; a separate instance is only useful in tests.

    Args:
        max_queued: queue bound (see :data:`MAX_QUEUED_JOBS`).
    """

    def __init__(self, max_queued: int = MAX_QUEUED_JOBS) -> None:
        self._queue: queue.Queue[WriteJob | _Marker | None] = queue.Queue(max_queued)
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._ready: deque[tuple[WriteJob, Mapping[str, float] | None]] = deque()
        self._errors: deque[tuple[WriteJob, BaseException, str]] = deque()
        self._warned: set[Any] = set()
        self._busy = 0.0
        self._jobs_done = 0

    # ------------------------------------------------------------------------------------------ public

    @property
    def busy_seconds(self) -> float:
        """Total time spent running jobs (on the worker and, when blocking, on the caller's thread)."""
        return self._busy

    @property
    def jobs_done(self) -> int:
        """Number of jobs run so far (failed ones included)."""
        return self._jobs_done

    def submit(self, job: WriteJob, blocking: bool = False) -> None:
        """Queue ``job`` for the worker, or with ``blocking=True`` run it here once the queue is empty.

        Also logs the scalars of jobs finished since the last call (see :meth:`drain`).
        """
        if blocking:
            self.flush()
            self._run(job)
            self.drain()
            return
        self.drain()
        self._ensure_thread()
        self._queue.put(job)

    def drain(self) -> None:
        """Log the scalars of finished jobs (in submission order) and warn about failed ones; call from the
        training thread."""
        while self._ready:
            job, scalars = self._ready.popleft()
            if not scalars:
                continue
            values = {tag: float(v) for tag, v in scalars.items() if math.isfinite(float(v))}
            if not values:
                continue
            for logger in job.loggers:
                logger.log_metrics(dict(values), step=job.step)
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
        """Wait until every submitted job has run, then :meth:`drain`. Returns ``False`` (with a warning) if
        the worker did not finish within ``timeout`` seconds."""
        finished = True
        thread = self._thread
        if thread is not None and thread.is_alive():
            marker = _Marker()
            self._queue.put(marker)
            if not marker.done.wait(timeout):
                finished = False
                warnings.warn(
                    f"The monitors' writer thread did not finish within {timeout:.0f} s; some images or"
                    " figures may be missing. Training is not held up any longer.",
                    UserWarning,
                    stacklevel=2,
                )
        self.drain()
        return finished

    def close(self) -> None:
        """Flush and stop the worker thread (a later :meth:`submit` starts a new one)."""
        self.flush()
        thread = self._thread
        if thread is not None and thread.is_alive():
            self._queue.put(None)
            thread.join(timeout=10.0)
        self._thread = None

    # ------------------------------------------------------------------------------------------ worker

    def _ensure_thread(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        with self._start_lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name="hyra-lightning-writer", daemon=True)
                self._thread.start()

    def _loop(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            if isinstance(item, _Marker):
                item.done.set()
                continue
            self._run(item)

    def _run(self, job: WriteJob) -> None:
        start = time.perf_counter()
        scalars = None
        for part in (job.scalars, job.media):
            if part is None:
                continue
            try:
                result = part()
            except Exception as err:  # a renderer's bug must never kill training: report it once
                self._errors.append((job, err, traceback.format_exc(limit=8)))
            else:
                if part is job.scalars:
                    scalars = result
        self._busy += time.perf_counter() - start
        self._jobs_done += 1
        self._ready.append((job, scalars))


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
