"""The ingest manifest: one SQLite row per ingested file, in the knowledge-base folder.

A row is committed only after the file's chunks are in the vector store, so the manifest
never claims chunks that are not there. The keyword index (:mod:`ragkit.retrieval.keyword`)
lives in the same database and changes in the same transactions as the rows.
"""

from __future__ import annotations

import functools
import json
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from ragkit._types import Chunk
from ragkit.retrieval import keyword

_T = TypeVar("_T")

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


def _locked(method: Callable[..., _T]) -> Callable[..., _T]:
    """One call at a time: the ingest writer thread and the main thread share the
    connection."""

    @functools.wraps(method)
    def wrapper(self: Manifest, *args: Any, **kwargs: Any) -> _T:
        with self._lock:
            return method(self, *args, **kwargs)

    return wrapper


class Manifest:
    """File path → content hash, settings fingerprint and chunk ids. Thread-safe."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(_SCHEMA)
        keyword.create(self._db)
        self._db.commit()

    @_locked
    def get(self, source: str) -> FileRecord | None:
        row = self._db.execute(
            "SELECT source, size, mtime_ns, hash, fingerprint, chunk_ids FROM files WHERE source=?",
            (source,),
        ).fetchone()
        if row is None:
            return None
        source, size, mtime_ns, digest, fingerprint, ids = row
        return FileRecord(source, size, mtime_ns, digest, fingerprint, tuple(json.loads(ids)))

    @_locked
    def records(self) -> list[FileRecord]:
        rows = self._db.execute(
            "SELECT source, size, mtime_ns, hash, fingerprint, chunk_ids FROM files "
            "ORDER BY source"
        ).fetchall()
        return [FileRecord(a, b, c, d, e, tuple(json.loads(f))) for a, b, c, d, e, f in rows]

    @_locked
    def put_many(
        self,
        records: list[FileRecord],
        index: Sequence[tuple[Chunk, str]] = (),
        unindex: Sequence[str] = (),
    ) -> None:
        """Insert or replace ``records``, add ``index`` (chunk, terms) to the keyword index
        and remove the chunks ``unindex`` from it: all in one transaction."""
        now = time.time()
        with self._db:
            keyword.remove(self._db, unindex)
            keyword.put(self._db, index)
            if index or unindex:
                keyword.touch(self._db)
            self._db.executemany(
                "INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    (r.source, r.size, r.mtime_ns, r.hash, r.fingerprint,
                     json.dumps(list(r.chunk_ids)), now)
                    for r in records
                ],
            )

    @_locked
    def delete(self, source: str) -> None:
        """Forget ``source`` and drop its chunks from the keyword index (one transaction)."""
        with self._db:
            self._db.execute("DELETE FROM files WHERE source=?", (source,))
            keyword.remove_source(self._db, source)
            keyword.touch(self._db)

    @_locked
    def sync_keyword(self, fetch: Callable[[list[str]], list[Chunk]]) -> int:
        """Make the keyword index hold exactly the chunks the rows claim; return the number
        of chunks added, removed or re-tokenized.

        Needed for knowledge bases ingested before the index existed, and after a tokenizer
        change; in normal operation the index changes with the rows and this finds nothing.
        ``fetch`` returns the stored chunks (text and metadata) for a list of ids.
        """
        claimed: set[str] = set()
        for record in self.records():
            claimed.update(record.chunk_ids)
        with self._db:
            have = keyword.chunk_ids(self._db)
            extra = sorted(have - claimed)
            keyword.remove(self._db, extra)
            missing = sorted(claimed - have)
            fixed = len(extra) + keyword.retokenize_if_stale(self._db)
            for start in range(0, len(missing), 1000):
                chunks = fetch(missing[start:start + 1000])
                keyword.put(self._db, [(c, keyword.terms_of(c.text)) for c in chunks])
                fixed += len(chunks)
            if fixed:
                keyword.touch(self._db)
        return fixed

    @_locked
    def close(self) -> None:
        self._db.close()
