"""The ingest manifest: one SQLite row per ingested file, in the knowledge-base folder.

A row is committed only after the file's chunks are in the vector store, so the manifest
never claims chunks that are not there. The keyword record
(:mod:`ragkit.storage.keyword_record`) lives in the same database and changes in the same
transactions as the rows.
"""

from __future__ import annotations

import functools
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

from ragkit._types import Chunk
from ragkit.storage import files, schema
from ragkit.storage import keyword_record as kw
from ragkit.storage._shared import Counted, paged_texts, sync_record
from ragkit.storage.files import FileRecord

_T = TypeVar("_T")


def _locked(method: Callable[..., _T]) -> Callable[..., _T]:
    """One call at a time: the ingest writer thread and the main thread share the
    connection."""

    @functools.wraps(method)
    def wrapper(self: Manifest, *args: Any, **kwargs: Any) -> _T:
        with self._lock:
            return method(self, *args, **kwargs)

    return wrapper


class Manifest:
    """File path → content hash, settings fingerprint and chunk ids. Thread-safe.

    Opening creates the database, or migrates an older one to the current schema
    (:mod:`ragkit.storage.schema`). Raises ConfigError for a database made by a newer
    ragkit.

    >>> import tempfile
    >>> m = Manifest(Path(tempfile.mkdtemp()) / "manifest.sqlite3")
    >>> m.put_many([FileRecord("/docs/a.md", 10, 1, "ab12", "{}", ("c1",))])
    >>> m.get("/docs/a.md").chunk_ids
    ('c1',)
    >>> m.close()
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.RLock()
        self._db: sqlite3.Connection = schema.connect(self.path)

    @_locked
    def get(self, source: str) -> FileRecord | None:
        """The row of ``source``, or None if it was never ingested."""
        return files.get(self._db, source)

    @_locked
    def records(self) -> list[FileRecord]:
        """Every row, by source."""
        return files.records(self._db)

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
        with self._db:
            kw.remove(self._db, unindex)
            added = Counted(index)
            kw.put(self._db, added)
            if added.count or unindex:
                kw.touch(self._db)
            files.put(self._db, records)

    @_locked
    def delete(self, source: str) -> None:
        """Forget ``source`` and drop its chunks from the keyword record (one transaction)."""
        with self._db:
            files.delete(self._db, source)
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
        by ``tokenizer``; return the number of chunks added, removed or re-tokenized.

        Needed for knowledge bases ingested before the record existed, and after a
        tokenizer change; in normal operation the record changes with the rows and this
        finds nothing. ``fetch`` returns the stored chunks (text and metadata) for a list of
        ids; ``terms`` makes a text's terms, ``tokenizer`` names its version
        (:func:`ragkit._terms.terms_of`, :data:`ragkit._terms.TOKENIZER_VERSION`).
        """
        claimed: set[str] = set()
        for record in files.records(self._db):
            claimed.update(record.chunk_ids)
        with self._db:
            return sync_record(kw, self._db, claimed, fetch, terms, tokenizer)

    def chunk_texts(self) -> Iterator[str]:
        """The text of every chunk in the keyword record, read a page at a time."""
        return paged_texts(kw, self._db, self._lock)

    @_locked
    def close(self) -> None:
        self._db.close()
