"""One writer at a time: an exclusive ``flock`` on a file in the knowledge-base folder.

The holder writes its PID and start time into the file, so a second writer is told who
holds the lock and since when. The kernel drops a ``flock`` when its process dies, so the
lock of a killed ingest is simply taken over by the next writer (the stale PID in the file
is overwritten); nothing needs cleaning up.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ragkit.errors import LockedError


def holder(path: Path) -> tuple[int, float] | None:
    """(PID, start time) written by the process holding (or last holding) the lock."""
    try:
        pid, since = path.read_text(encoding="ascii").split()[:2]
        return int(pid), float(since)
    except (OSError, ValueError):
        return None


@contextmanager
def writer_lock(path: Path) -> Iterator[None]:
    """Hold the write lock for the block; raise LockedError at once if another holds it."""
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            who = holder(path)
            by = (f"locked by PID {who[0]} since "
                  f"{time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(who[1]))}"
                  if who else "locked by another process")
            raise LockedError(
                f"The knowledge base {path.parent} is {by} (an ingest or a delete); wait for "
                "it to finish and run again. Readers (ask, the UI) are not affected."
            ) from exc
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()} {time.time():.3f}\n".encode("ascii"), 0)
        yield
    finally:
        os.close(fd)
