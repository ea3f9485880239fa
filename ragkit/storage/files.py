"""The ``files`` table: one row per ingested file (path, size, mtime, hash, settings
fingerprint, chunk ids). Functions over a connection; :class:`~ragkit.storage.Manifest`
calls the writing ones inside its transactions.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass

_COLUMNS = "source, size, mtime_ns, hash, fingerprint, chunk_ids"


@dataclass(frozen=True)
class FileRecord:
    """What the manifest knows of one ingested file.

    ``fingerprint`` is the JSON of the settings the file was chunked and embedded with;
    ``chunk_ids`` are its chunks, in order.
    """

    source: str
    size: int
    mtime_ns: int
    hash: str
    fingerprint: str
    chunk_ids: tuple[str, ...]

    def __repr__(self) -> str:
        return (f"FileRecord({self.source!r}, size={self.size}, hash={self.hash[:12]}, "
                f"chunks={len(self.chunk_ids)})")


def _record(row: tuple[str, int, int, str, str, str]) -> FileRecord:
    source, size, mtime_ns, digest, fingerprint, ids = row
    return FileRecord(source, size, mtime_ns, digest, fingerprint, tuple(json.loads(ids)))


def get(db: sqlite3.Connection, source: str) -> FileRecord | None:
    """The row of ``source``, or None."""
    row = db.execute(f"SELECT {_COLUMNS} FROM files WHERE source=?", (source,)).fetchone()
    return None if row is None else _record(row)


def records(db: sqlite3.Connection) -> list[FileRecord]:
    """Every row, by source."""
    return [_record(r) for r in db.execute(f"SELECT {_COLUMNS} FROM files ORDER BY source")]


def all_sources(db: sqlite3.Connection) -> list[str]:
    """Every file's source path."""
    return [r[0] for r in db.execute("SELECT source FROM files")]


def put(db: sqlite3.Connection, rows: Iterable[FileRecord]) -> None:
    """Insert or replace rows, stamped with the current time (no commit)."""
    now = time.time()
    db.executemany(
        "INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?, ?, ?)",
        [(r.source, r.size, r.mtime_ns, r.hash, r.fingerprint, json.dumps(list(r.chunk_ids)),
          now) for r in rows],
    )


def delete(db: sqlite3.Connection, source: str) -> None:
    """Remove the row of ``source`` (no commit)."""
    db.execute("DELETE FROM files WHERE source=?", (source,))
