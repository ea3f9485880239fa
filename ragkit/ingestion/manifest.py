"""The ingest manifest: one SQLite row per ingested file, in the knowledge-base folder.

A row is committed only after the file's chunks are in the vector store, so the manifest
never claims chunks that are not there.
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS files (
    source      TEXT PRIMARY KEY,
    size        INTEGER NOT NULL,
    mtime_ns    INTEGER NOT NULL,
    hash        TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    chunk_ids   TEXT NOT NULL,
    ingested_at REAL NOT NULL
)
"""


@dataclass(frozen=True)
class FileRecord:
    source: str
    size: int
    mtime_ns: int
    hash: str
    fingerprint: str
    chunk_ids: tuple[str, ...]


class Manifest:
    """File path → content hash, settings fingerprint and chunk ids."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._db = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(_SCHEMA)
        self._db.commit()

    def get(self, source: str) -> FileRecord | None:
        row = self._db.execute(
            "SELECT source, size, mtime_ns, hash, fingerprint, chunk_ids FROM files WHERE source=?",
            (source,),
        ).fetchone()
        if row is None:
            return None
        source, size, mtime_ns, digest, fingerprint, ids = row
        return FileRecord(source, size, mtime_ns, digest, fingerprint, tuple(json.loads(ids)))

    def records(self) -> list[FileRecord]:
        rows = self._db.execute(
            "SELECT source, size, mtime_ns, hash, fingerprint, chunk_ids FROM files "
            "ORDER BY source"
        ).fetchall()
        return [FileRecord(a, b, c, d, e, tuple(json.loads(f))) for a, b, c, d, e, f in rows]

    def put_many(self, records: list[FileRecord]) -> None:
        """Insert or replace ``records`` in one transaction."""
        now = time.time()
        with self._db:
            self._db.executemany(
                "INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    (r.source, r.size, r.mtime_ns, r.hash, r.fingerprint,
                     json.dumps(list(r.chunk_ids)), now)
                    for r in records
                ],
            )

    def delete(self, source: str) -> None:
        with self._db:
            self._db.execute("DELETE FROM files WHERE source=?", (source,))

    def close(self) -> None:
        self._db.close()
