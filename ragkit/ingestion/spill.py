"""Where the keyword rows of a large file's earlier pieces wait, on disk, for its last piece.

A file parsed in pieces (:mod:`ragkit.ingestion.pieces`) commits its manifest row and its
keyword rows in one transaction after its last piece, so that readers see all of it or none
of it. Its earlier pieces' chunks are in the store by then; their keyword rows (text,
metadata and terms) wait here, in a SQLite file in the knowledge-base folder, and are read
back one at a time into that transaction. The file is deleted when the run ends, or, after
a crash, by the next run that spills (only a writer, which holds the knowledge base's lock,
spills). A crashed run's rows belong to no committed file, and their chunks are orphans
that :func:`ragkit.ingestion.pipeline.repair` removes.
"""

from __future__ import annotations

import contextlib
import pickle
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path

from ragkit._types import Chunk

FILE_NAME = "ingest-spill.sqlite3"


class Spill:
    """Keyword rows by source, in arrival order; opened on first use."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / FILE_NAME
        self._db: sqlite3.Connection | None = None

    def _open(self) -> sqlite3.Connection:
        if self._db is None:
            self.remove()  # a crashed run's leftovers
            self._db = sqlite3.connect(self.path)
            self._db.execute("PRAGMA journal_mode=OFF")
            self._db.execute("PRAGMA synchronous=OFF")  # scratch: a crash discards it anyway
            self._db.execute("CREATE TABLE IF NOT EXISTS rows(seq INTEGER PRIMARY KEY, "
                             "source TEXT NOT NULL, chunk_id TEXT NOT NULL, row BLOB NOT NULL)")
            self._db.execute("CREATE INDEX IF NOT EXISTS by_source ON rows(source, seq)")
        return self._db

    def put(self, source: str, chunks: Sequence[Chunk], terms: Sequence[str]) -> None:
        db = self._open()
        with db:
            db.executemany("INSERT INTO rows(source, chunk_id, row) VALUES (?, ?, ?)",
                           ((source, c.id, pickle.dumps((c, t), protocol=5))
                            for c, t in zip(chunks, terms, strict=True)))

    def ids(self, source: str) -> list[str]:
        """The chunk ids spilled for ``source``, in order."""
        if self._db is None:
            return []
        return [r[0] for r in self._db.execute(
            "SELECT chunk_id FROM rows WHERE source=? ORDER BY seq", (source,))]

    def rows(self, source: str) -> Iterator[tuple[Chunk, str]]:
        """The (chunk, terms) rows spilled for ``source``, in order, read lazily."""
        if self._db is None:
            return
        cursor = self._db.execute("SELECT row FROM rows WHERE source=? ORDER BY seq", (source,))
        for (blob,) in cursor:
            yield pickle.loads(blob)  # noqa: S301 - our own rows, written by this process

    def drop(self, source: str) -> None:
        if self._db is not None:
            with self._db:
                self._db.execute("DELETE FROM rows WHERE source=?", (source,))

    def remove(self) -> None:
        """Close and delete the file."""
        if self._db is not None:
            self._db.close()
            self._db = None
        for suffix in ("", "-journal", "-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                Path(f"{self.path}{suffix}").unlink()
