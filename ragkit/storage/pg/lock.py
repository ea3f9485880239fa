"""One writer at a time across machines: a session-level ``pg_advisory_lock``.

The lock is held by a connection of its own, opened for the writer's block; PostgreSQL
releases it when that connection ends, so the lock of a killed writer (its connection
gone with its process, or its machine) is simply taken over by the next one, as a
``flock`` is on one machine (:mod:`ragkit._lock`). The holder writes its process id, host
and start time into ``ragkit_writer``, so a refused writer is told who holds the lock.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ragkit.errors import LockedError
from ragkit.settings import mask_url
from ragkit.storage.pg import schema


def _holder(db: Any) -> str:
    row = db.execute("SELECT pid, host, since FROM ragkit_writer").fetchone()
    if row is None:
        return "locked by another process"
    pid, host, since = row
    return (f"locked by PID {pid} on {host} since "
            f"{time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(since))}")


@contextmanager
def pg_writer_lock(url: str) -> Iterator[None]:
    """Hold the write lock of the database ``url`` for the block; raise LockedError at
    once if another session holds it. Creates (migrates) the schema if needed."""
    db = schema.connect_migrated(url, purpose="writer lock")
    try:
        if not db.execute("SELECT pg_try_advisory_lock(%s)", (schema.WRITER_KEY,)).fetchone()[0]:
            raise LockedError(
                f"The knowledge base in {mask_url(url)} is {_holder(db)} (an ingest or a "
                "delete); wait for it to finish and run again. Readers (ask, the UI) are "
                "not affected.")
        db.execute("INSERT INTO ragkit_writer VALUES (1, %s, %s, %s) ON CONFLICT (id) DO "
                   "UPDATE SET pid = EXCLUDED.pid, host = EXCLUDED.host, since = EXCLUDED.since",
                   (os.getpid(), socket.gethostname(), time.time()))
        yield
    finally:
        db.close()  # ends the session: the lock goes with it


def pg_lock_holder(url: str) -> str | None:
    """"locked by …" while a writer holds the lock, else None (takes and drops it at once)."""
    db = schema.connect(url, purpose="doctor")
    try:
        if schema.stored_version(db) is None:
            return None
        if db.execute("SELECT pg_try_advisory_lock(%s)", (schema.WRITER_KEY,)).fetchone()[0]:
            db.execute("SELECT pg_advisory_unlock(%s)", (schema.WRITER_KEY,))
            return None
        return _holder(db)
    finally:
        db.close()
