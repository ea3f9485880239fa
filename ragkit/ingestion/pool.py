"""Parser processes, and a deadline for each file they parse.

:class:`Parsers` runs jobs on a pool of worker processes (:mod:`ragkit.ingestion.workers`)
and yields their results in order, so the main process embeds while the workers parse
ahead. Two things can go wrong in a worker, and each fails only the file it happened on:

- **A worker dies** (out of memory, a crash in a C parser): the pool breaks, and the files
  that were in flight are parsed again one at a time, each in a pool of its own, so only
  the file that kills its worker fails (:data:`DIED`).
- **A file takes longer than the deadline** (``parse_timeout_s``), counted from when a
  worker *started* it (each worker reports its starts, :func:`~workers.run_job`; a file
  that waits in the queue while others parse is not charged for it): the pool's workers
  are killed (SIGKILL, which also stops a parser stuck in C code that never returns to
  Python), the file is reported (:func:`timed_out`), and the other files in flight are
  put back in front of the queue for a fresh pool.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import Future
from concurrent.futures.process import BrokenProcessPool

from ragkit.ingestion.workers import ChunkConfig, Job, Parsed, make_pool, run_job, start_queue

__all__ = ["DIED", "PARSE_AHEAD", "Parsers", "timed_out"]

log = logging.getLogger(__name__)

#: files submitted to the workers ahead of the one the main process waits for: enough for
#: the workers to keep parsing while the main process embeds a whole batch (a file's chunks
#: wait in memory, so this bounds memory, not the corpus size)
PARSE_AHEAD = 32
#: and no more bytes of files than this beyond one job per worker (large files come in
#: pieces of ~1 MiB, :mod:`ragkit.ingestion.pieces`; their chunks wait in memory too)
PARSE_AHEAD_BYTES = 8 << 20
#: how often the wait for a file no worker has started yet looks again
POLL_S = 0.2
DIED = "the parser process died on this file (out of memory, or a crash in a parser library)"

_keys = itertools.count()
#: one idle pool kept for the next run by a ``Parsers(reuse=True)`` (its workers are warm:
#: unstructured and spaCy loaded), with the config it was started with
_idle: list[tuple[ChunkConfig | None, int, _Workers]] = []
_idle_lock = threading.Lock()
#: set when parser processes died before running anything (:meth:`Parsers.run`)
_cannot_start = False


def timed_out(seconds: float) -> str:
    """The failure of a file that parsed for longer than ``seconds``."""
    return (f"parsing took longer than {seconds:g} s (setting parse_timeout_s); the parser "
            "was stopped. Raise the setting, or split or convert the file, to ingest it")


class _Workers:
    """One executor, and what its workers reported: which job each started, and when."""

    def __init__(self, workers: int, config: ChunkConfig | None) -> None:
        self.starts = start_queue()
        self.executor = make_pool(workers, config, self.starts)
        #: job key -> (pid of the worker running it, time.monotonic() it started at)
        self.started: dict[int, tuple[int, float]] = {}
        #: whether any worker ever started a job (else a broken pool never ran: see run)
        self.ran = False

    def submit(self, work: Callable[[Job], Parsed], job: Job) -> tuple[int, Future[Parsed]]:
        key = next(_keys)
        return key, self.executor.submit(run_job, work, key, job)

    def drain(self) -> None:
        # a report is one write of a few dozen bytes to a pipe: atomic, never half there
        while not self.starts.empty():
            key, pid, began = self.starts.get()
            self.started[key] = (pid, began)
            self.ran = True

    def broken(self) -> bool:
        return bool(getattr(self.executor, "_broken", False))

    def kill(self) -> None:
        """Stop every worker now, and settle every future (the unfinished ones fail)."""
        pids = {pid for pid, _ in self.started.values()}
        pids.update(getattr(self.executor, "_processes", None) or {})
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.close()

    def close(self) -> None:
        self.executor.shutdown(wait=True, cancel_futures=True)
        self.starts.close()


class Parsers:
    """Runs jobs on parser processes, each file within ``timeout`` seconds of its start.

    ``work`` is what a worker runs per job (a module-level function of
    :mod:`~ragkit.ingestion.workers`, so it pickles by name); ``config`` starts the workers
    (``None``: no tokenizer, for ``work`` that only parses); ``timeout`` 0: no deadline.
    With ``reuse`` the pool is kept after a clean run for the next one with the same
    config (the one-worker parser of small runs, whose start costs seconds).
    """

    def __init__(self, work: Callable[[Job], Parsed], config: ChunkConfig | None,
                 timeout: float, *, here: Callable[[Job], Parsed], notes: list[str],
                 reuse: bool = False) -> None:
        self.work, self.config, self.timeout, self.reuse = work, config, timeout, reuse
        self.here, self.notes = here, notes

    def run(self, jobs: list[Job], workers: int) -> Iterator[Parsed]:
        """Each job's result, in order; a failure is the file's ``Parsed.error``.

        When the workers die before any starts a job, the fault is not in a file: the rest
        is parsed in this process by ``here``, without a deadline, and ``notes`` says why."""
        global _cannot_start
        todo = deque(jobs)
        while todo:
            suspects = None if _cannot_start else (yield from self._run(todo, workers))
            if suspects is None:
                _cannot_start = True  # for the rest of this process: each try costs seconds
                note = ("parser processes could not start, so files were parsed in this "
                        "process without parse_timeout_s; a script that ingests must guard "
                        "it with `if __name__ == '__main__':` (Python's multiprocessing "
                        "imports the script again in each parser process)")
                log.warning(note)
                self.notes.append(note)
                yield from map(self.here, todo)
                return
            # a worker died (out of memory, a crash in a C parser) with these files in
            # flight: parse each alone, so only the file that kills a worker fails
            for job in suspects:
                yield from self._run(deque([job]), 1, alone=True)

    def _run(
        self, todo: deque[Job], workers: int, alone: bool = False
    ) -> Generator[Parsed, None, list[Job] | None]:
        """Parse ``todo`` in a pool; return the jobs in flight if the pool broke (None, with
        them back in ``todo``, if it broke before running any). After a file times out,
        the pool is gone and the others in flight are back in ``todo``."""
        pool = self._open(workers)
        inflight: deque[tuple[Job, int, Future[Parsed]]] = deque()
        clean = False
        try:
            while todo or inflight:
                try:
                    while todo and self._room(inflight, todo[0], workers):
                        inflight.append((todo[0], *pool.submit(self.work, todo[0])))
                        todo.popleft()
                    job, key, future = inflight[0]
                    result = self._result(pool, key, future)
                except BrokenProcessPool:
                    pool.drain()
                    if not pool.ran:
                        todo.extendleft(reversed([j for j, _, _ in inflight]))
                        return None
                    if alone:
                        yield Parsed(inflight[0][0] if inflight else todo.popleft(), [], DIED)
                        return []
                    return [j for j, _, _ in inflight]
                inflight.popleft()
                if result is None:
                    yield from self._timed_out(pool, job, inflight, todo)
                    return []
                yield result
            clean = True
            return []
        finally:
            self._close(pool, workers, clean)

    @staticmethod
    def _room(inflight: deque[tuple[Job, int, Future[Parsed]]], job: Job, workers: int) -> bool:
        """Whether ``job`` may be submitted now: one job a worker always, and up to
        PARSE_AHEAD jobs while they hold under PARSE_AHEAD_BYTES."""
        if len(inflight) < workers:
            return True
        ahead = sum(j.cost for j, _, _ in inflight) + job.cost
        return len(inflight) < max(workers * 4, PARSE_AHEAD) and ahead <= PARSE_AHEAD_BYTES

    def _result(self, pool: _Workers, key: int, future: Future[Parsed]) -> Parsed | None:
        """The job's result, or None once it has run ``timeout`` seconds in a worker."""
        if not self.timeout:
            return future.result()
        while not future.done():
            pool.drain()
            began = pool.started.get(key)
            wait = POLL_S if began is None else began[1] + self.timeout - time.monotonic()
            if wait <= 0:
                return None
            with contextlib.suppress(TimeoutError):
                future.result(timeout=wait)
        pool.started.pop(key, None)
        return future.result()

    def _timed_out(self, pool: _Workers, job: Job,
                   inflight: deque[tuple[Job, int, Future[Parsed]]],
                   todo: deque[Job]) -> Iterator[Parsed]:
        """Kill the pool, report ``job``; keep what the others finished, requeue the rest."""
        pool.kill()
        yield Parsed(job, [], timed_out(self.timeout))
        again = []
        for other, _, future in inflight:
            if future.done() and not future.cancelled() and future.exception() is None:
                yield future.result()
            else:
                again.append(other)
        todo.extendleft(reversed(again))

    def _open(self, workers: int) -> _Workers:
        if self.reuse:
            with _idle_lock:
                for i, (config, n, pool) in enumerate(_idle):
                    if config == self.config and n == workers:
                        del _idle[i]
                        if not pool.broken():
                            return pool
                        pool.close()
                        break
        return _Workers(workers, self.config)

    def _close(self, pool: _Workers, workers: int, clean: bool) -> None:
        if self.reuse and clean and not pool.broken():
            with _idle_lock:
                if not _idle:
                    pool.started.clear()
                    _idle.append((self.config, workers, pool))
                    return
        pool.close()
