"""A pool task that kills its worker process on one file (tests/test_ingest.py)."""

from __future__ import annotations

import os

from ragkit.ingestion.workers import Job, Parsed, work_in_pool


def die_on_poison(job: Job) -> Parsed:
    if job.path.name.startswith("poison"):
        os._exit(9)  # what an out-of-memory kill or a segfault in a C parser looks like
    return work_in_pool(job)
