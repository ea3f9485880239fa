"""One writer at a time: an exclusive ``flock`` on a file in the knowledge-base folder."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ragkit.errors import LockedError


@contextmanager
def writer_lock(path: Path) -> Iterator[None]:
    """Hold the write lock for the block; raise LockedError at once if another holds it.

    The kernel drops a ``flock`` when its process dies, so a killed ingest never leaves a
    stale lock behind.
    """
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise LockedError(
                f"Another process is writing to the knowledge base ({path}); wait for it to "
                "finish and run again. Readers (ask, the UI) are not affected."
            ) from exc
        yield
    finally:
        os.close(fd)
