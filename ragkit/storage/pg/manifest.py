"""The manifest in PostgreSQL: :class:`PgManifest`, the writer, with the methods and
meaning of :class:`ragkit.storage.Manifest` (a file's row and its keyword rows commit in
one transaction, after its chunks are in the vector store).
"""

from __future__ import annotations

import functools
import json
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

from ragkit._types import Chunk
from ragkit.settings import mask_url
from ragkit.storage._shared import Counted, paged_texts, sync_record
from ragkit.storage.files import FileRecord
from ragkit.storage.pg import record as kw
from ragkit.storage.pg import schema

_T = TypeVar("_T")
_COLUMNS = "source, size, mtime_ns, hash, fingerprint, chunk_ids"


def _locked(method: Callable[..., _T]) -> Callable[..., _T]:
    """One call at a time: the ingest writer thread and the main thread share the
    connection."""

    @functools.wraps(method)
    def wrapper(self: PgManifest, *args: Any, **kwargs: Any) -> _T:
        with self._lock:
            return method(self, *args, **kwargs)

    return wrapper


def _record(row: tuple[str, int, int, str, str, str]) -> FileRecord:
    source, size, mtime_ns, digest, fingerprint, ids = row
    return FileRecord(source, size, mtime_ns, digest, fingerprint, tuple(json.loads(ids)))


class PgManifest:
    """File path → content hash, settings fingerprint and chunk ids, in PostgreSQL.
    Thread-safe.

    ``path`` is the local knowledge-base folder's manifest path, as for
    :class:`ragkit.storage.Manifest`: its folder is where the local files go (the saved
    BM25 scorers, the embedding cache) and whose free space the ingest checks; nothing is
    written at ``path`` itself. Opening creates the schema or migrates it; ConfigError for
    a database made by a newer ragkit.
    """

    def __init__(self, url: str, path: str | Path) -> None:
        self.url = url
        self.path = Path(path)
        self._lock = threading.RLock()
        self._db: Any = schema.connect_migrated(url, purpose="writer")

    def __repr__(self) -> str:
        return f"PgManifest({mask_url(self.url)!r})"

    @_locked
    def get(self, source: str) -> FileRecord | None:
        """The row of ``source``, or None if it was never ingested."""
        row = self._db.execute(f"SELECT {_COLUMNS} FROM files WHERE source = %s",
                               (source,)).fetchone()
        return None if row is None else _record(row)

    @_locked
    def records(self) -> list[FileRecord]:
        """Every row, by source."""
        return [_record(r) for r in self._db.execute(
            f"SELECT {_COLUMNS} FROM files ORDER BY source COLLATE \"C\"")]

    def _put_files(self, records: list[FileRecord]) -> None:
        now = time.time()
        kw.many(self._db,
            "INSERT INTO files VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (source) DO "
            "UPDATE SET size = EXCLUDED.size, mtime_ns = EXCLUDED.mtime_ns, hash = "
            "EXCLUDED.hash, fingerprint = EXCLUDED.fingerprint, chunk_ids = EXCLUDED.chunk_ids,"
            " ingested_at = EXCLUDED.ingested_at",
            [(r.source, r.size, r.mtime_ns, r.hash, r.fingerprint,
              json.dumps(list(r.chunk_ids)), now) for r in records])

    @_locked
    def put_many(
        self,
        records: list[FileRecord],
        index: Iterable[tuple[Chunk, str]] = (),
        unindex: Sequence[str] = (),
    ) -> None:
        """Insert or replace ``records``, add ``index`` (chunk, terms; may be an iterator,
        read once) to the keyword record and remove the chunks ``unindex`` from it: all in
        one transaction."""
        with self._db.transaction():
            kw.remove(self._db, unindex)
            added = Counted(index)
            kw.put(self._db, added)
            if added.count or unindex:
                kw.touch(self._db)
            if records:
                self._put_files(records)

    @_locked
    def delete(self, source: str) -> None:
        """Forget ``source`` and drop its chunks from the keyword record (one transaction)."""
        with self._db.transaction():
            self._db.execute("DELETE FROM files WHERE source = %s", (source,))
            kw.remove_source(self._db, source)
            kw.touch(self._db)

    @_locked
    def sync_keyword(
        self,
        fetch: Callable[[list[str]], list[Chunk]],
        *,
        terms: Callable[[str], str],
        tokenizer: str,
    ) -> int:
        """Make the keyword record hold exactly the chunks the rows claim, with terms made
        by ``tokenizer``; return the number of chunks added, removed or re-tokenized (see
        :meth:`ragkit.storage.Manifest.sync_keyword`)."""
        claimed: set[str] = set()
        for row in self.records():
            claimed.update(row.chunk_ids)
        with self._db.transaction():
            return sync_record(kw, self._db, claimed, fetch, terms, tokenizer)

    def chunk_texts(self) -> Iterator[str]:
        """The text of every chunk in the keyword record, read a page at a time."""
        return paged_texts(kw, self._db, self._lock)

    @_locked
    def close(self) -> None:
        self._db.close()
