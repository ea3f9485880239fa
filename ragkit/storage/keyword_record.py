"""The keyword record: each indexed chunk's text, metadata and terms, in ``manifest.sqlite3``.

``kw_chunks`` holds one row per chunk (id, source, text, metadata as JSON, terms
space-joined); ``kw_meta`` a ``generation`` counter, bumped by every transaction that
changes the record, the record's ``epoch`` (a random name given at creation) and the
``tokenizer`` version the terms were made with. The record stores the terms it is given:
how text becomes terms is :mod:`ragkit._terms`, scoring is :mod:`ragkit.retrieval.keyword`.

Writing: the functions below take the connection of :class:`~ragkit.storage.Manifest`,
which calls them inside its own transactions (no commit here). Reading:
:class:`KeywordRecord`, a read-only connection that never blocks a writer.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ragkit._types import Chunk
from ragkit.storage import schema
from ragkit.storage.files import all_sources


@dataclass(frozen=True)
class SqlFilter:
    """A condition on the record's rows (alias ``c``), made by :func:`chunk_filter`: the
    SQLite text and parameters, and the conditions themselves (``sources``: None for any;
    ``meta``: key/value pairs), from which the PostgreSQL record makes its own SQL."""

    sql: str
    params: list[Any]
    sources: tuple[str, ...] | None = None
    meta: tuple[tuple[str, str | int], ...] = ()


def chunk_filter(
    sources: Iterable[str] | None, meta: Sequence[tuple[str, str | int]]
) -> SqlFilter | None:
    """Chunks whose source is one of ``sources`` (None: any) and whose metadata has each
    ``(key, value)`` of ``meta``; None when there is no condition. Keys must be checked
    identifiers (:func:`ragkit.retrieval.filters.parse_filters` does that).

    >>> chunk_filter(["/a.pdf"], [("page", 2)]).params
    ['/a.pdf', 2]
    """
    parts: list[str] = []
    params: list[Any] = []
    listed: list[str] | None = None
    if sources is not None:
        listed = sorted(sources)
        parts.append(f"c.source IN ({','.join('?' * len(listed))})")
        params += listed
    for key, value in meta:
        if not key.isidentifier():
            raise ValueError(f"metadata key {key!r} is not an identifier")
        parts.append(f"json_extract(c.meta, '$.{key}') = ?")
        params.append(value)
    if not parts:
        return None
    return SqlFilter(" AND ".join(parts), params, None if listed is None else tuple(listed),
                     tuple(meta))


# -- writing: inside the Manifest's transactions ----------------------------------------------
def touch(db: sqlite3.Connection) -> None:
    """Mark the record changed (inside the changing transaction), and by which process."""
    db.execute("UPDATE kw_meta SET value = CAST(value AS INTEGER) + 1 WHERE key='generation'")
    db.execute("INSERT OR REPLACE INTO kw_meta VALUES ('writer', ?)", (str(os.getpid()),))


def put(db: sqlite3.Connection, rows: Iterable[tuple[Chunk, str]]) -> None:
    """Insert or replace chunks with their terms (no commit: the caller's transaction)."""
    db.executemany(
        "INSERT OR REPLACE INTO kw_chunks(chunk_id, source, text, meta, terms) "
        "VALUES (?, ?, ?, ?, ?)",
        ((c.id, c.source, c.text, json.dumps(c.metadata(), ensure_ascii=False), terms)
         for c, terms in rows),
    )


def remove(db: sqlite3.Connection, chunk_ids: Iterable[str]) -> None:
    """Remove chunks by id; unknown ids are ignored."""
    db.executemany("DELETE FROM kw_chunks WHERE chunk_id=?", [(c,) for c in chunk_ids])


def remove_source(db: sqlite3.Connection, source: str) -> None:
    """Remove every chunk of ``source``."""
    db.execute("DELETE FROM kw_chunks WHERE source=?", (source,))


def chunk_ids(db: sqlite3.Connection) -> set[str]:
    """Every chunk id in the record."""
    return {r[0] for r in db.execute("SELECT chunk_id FROM kw_chunks")}


def texts(db: sqlite3.Connection, after: int, limit: int) -> list[tuple[int, str]]:
    """Up to ``limit`` (rowid, text) pairs with rowid above ``after``, by rowid."""
    return list(db.execute("SELECT rowid, text FROM kw_chunks WHERE rowid > ? ORDER BY rowid "
                           "LIMIT ?", (after, limit)))


def retokenize(db: sqlite3.Connection, terms: Callable[[str], str], tokenizer: str) -> int:
    """Remake every chunk's terms with ``terms`` unless they were made by ``tokenizer``
    (a version name); record it; return the number of chunks remade."""
    row = db.execute("SELECT value FROM kw_meta WHERE key='tokenizer'").fetchone()
    if row is not None and row[0] == tokenizer:
        return 0
    rows = db.execute("SELECT rowid, text FROM kw_chunks").fetchall()
    db.executemany("UPDATE kw_chunks SET terms=? WHERE rowid=?",
                   [(terms(text), rowid) for rowid, text in rows])
    db.execute("INSERT OR REPLACE INTO kw_meta VALUES ('tokenizer', ?)", (tokenizer,))
    return len(rows)


# -- reading -----------------------------------------------------------------------------------
class KeywordRecord:
    """Read-only view of the record (and of the files it belongs to). Thread-safe.

    An ingest running in another process does not block it (SQLite WAL), and it sees only
    committed transactions. Until the database and its record exist it reads as empty.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._db: sqlite3.Connection | None = None
        self._opening = threading.Lock()

    def _conn(self) -> sqlite3.Connection | None:
        with self._opening:
            if self._db is None:
                self._db = schema.connect_readonly(self.path)
            return self._db

    @property
    def exists(self) -> bool:
        """True once the database holds a record (possibly empty)."""
        return self._conn() is not None

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """Read one committed state for the whole block (a read transaction)."""
        db = self._conn()
        if db is None:
            yield
            return
        db.execute("BEGIN")
        try:
            yield
        finally:
            db.execute("COMMIT")

    def version(self) -> str:
        """``<epoch>-<generation>`` of the committed record: changes with every write."""
        db = self._conn()
        if db is None:
            return "0-0"
        meta = dict(db.execute("SELECT key, value FROM kw_meta").fetchall())
        return f"{meta.get('epoch', '0')}-{int(meta.get('generation', 0))}"

    def state(self) -> tuple[str, int | None]:
        """:meth:`version`, and the process id of the last process that changed the record
        (None: unknown), read in one statement."""
        db = self._conn()
        if db is None:
            return "0-0", None
        meta = dict(db.execute("SELECT key, value FROM kw_meta").fetchall())
        writer = str(meta.get("writer", ""))
        return (f"{meta.get('epoch', '0')}-{int(meta.get('generation', 0))}",
                int(writer) if writer.isdigit() else None)

    def claimed(self, chunk_ids: Sequence[str]) -> set[str] | None:
        """Which of ``chunk_ids`` committed rows claim; None when the record is empty (a
        knowledge base from before the record, or one filled some other way: claims
        unknown)."""
        db = self._conn()
        if db is None or db.execute("SELECT 1 FROM kw_chunks LIMIT 1").fetchone() is None:
            return None
        out: set[str] = set()
        ids = list(chunk_ids)
        for start in range(0, len(ids), 500):
            part = ids[start:start + 500]
            marks = ",".join("?" * len(part))
            out.update(r[0] for r in db.execute(
                f"SELECT chunk_id FROM kw_chunks WHERE chunk_id IN ({marks})", part))
        return out

    def terms(self) -> list[tuple[int, str]]:
        """``(rowid, terms)`` of every chunk, by rowid."""
        db = self._conn()
        if db is None:
            return []
        return db.execute("SELECT rowid, terms FROM kw_chunks ORDER BY rowid").fetchall()

    def rowids(self, where: SqlFilter) -> list[int]:
        """The rowids of the chunks ``where`` holds for."""
        db = self._conn()
        if db is None:
            return []
        sql = f"SELECT rowid FROM kw_chunks c WHERE {where.sql}"
        return [r[0] for r in db.execute(sql, where.params)]

    def chunks(self, rowids: Sequence[int]) -> dict[int, Chunk]:
        """The chunks (text and metadata) of ``rowids``; missing ones are left out."""
        db = self._conn()
        if db is None or not rowids:
            return {}
        marks = ",".join("?" * len(rowids))
        rows = db.execute(
            f"SELECT rowid, chunk_id, text, meta FROM kw_chunks WHERE rowid IN ({marks})",
            list(rowids))
        return {r: Chunk.from_metadata(cid, text, json.loads(meta)) for r, cid, text, meta in rows}

    def count(self) -> int:
        """The number of chunks in the record."""
        db = self._conn()
        return 0 if db is None else int(db.execute("SELECT count(*) FROM kw_chunks").fetchone()[0])

    def sources(self) -> list[str]:
        """Every file of the knowledge base (from the manifest's rows)."""
        db = self._conn()
        return [] if db is None else all_sources(db)

    def close(self) -> None:
        with self._opening:
            if self._db is not None:
                self._db.close()
                self._db = None
