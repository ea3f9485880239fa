"""Pool tasks that hang on one file, the way a parser stuck in a loop does
(tests/test_parse_timeout.py). Module-level, so the parser processes import them by name."""

from __future__ import annotations

import itertools
import time

from ragkit.ingestion.workers import Job, Parsed, parse_in_pool, work_in_pool


def _spin() -> None:
    """A loop in C that holds the GIL and never looks at signals (about 3 hours here), so
    neither SIGALRM nor a watchdog thread could stop it: only killing the process can."""
    sum(itertools.repeat(1, 10**12))


def hang_in_pool(job: Job) -> Parsed:
    if job.path.name.startswith("hang"):
        _spin()
    return work_in_pool(job)


def hang_in_parser(job: Job) -> Parsed:
    if job.path.name.startswith("hang"):
        _spin()
    return parse_in_pool(job)


def slow(job: Job) -> Parsed:
    """Takes 1.5 s per file and parses nothing (for the deadline-from-start test)."""
    time.sleep(1.5)
    return Parsed(job, [])
