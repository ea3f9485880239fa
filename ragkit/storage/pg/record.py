"""The keyword record in PostgreSQL: the writing functions (inside the manifest's
transactions) and :class:`PgKeywordRecord`, the reader, with the methods and meaning of
:class:`ragkit.storage.KeywordRecord`.

Differences from SQLite, none visible to callers: metadata is ``JSONB`` and a filter's
``key = value`` is ``meta -> key = value::jsonb`` (typed, as SQLite's ``json_extract``
comparison is: ``2`` is not ``"2"``); a replaced chunk keeps its rowid (SQLite's
``INSERT OR REPLACE`` gives it a new one; rowids only mean something within one
generation); a snapshot is a ``REPEATABLE READ READ ONLY`` transaction on a connection of
its own, so the scorer's rebuild does not hold up other threads' reads.
"""

from __future__ import annotations

import json
import os
import socket
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from ragkit._types import Chunk
from ragkit.settings import mask_url
from ragkit.storage.files import FileRecord
from ragkit.storage.keyword_record import SqlFilter
from ragkit.storage.pg import schema


# -- writing: inside PgManifest's transactions ------------------------------------------------
def many(db: Any, sql: str, rows: Iterable[Sequence[Any]]) -> None:
    """``sql`` once per row (psycopg pipelines them: one round trip, not one per row);
    ``rows`` may be an iterator, read once."""
    with db.cursor() as cur:
        cur.executemany(sql, rows)


def touch(db: Any) -> None:
    """Mark the record changed, and by which process (``pid`` as SQLite's record does; the
    host is in ``writer_host``)."""
    db.execute("UPDATE kw_meta SET value = (value::bigint + 1)::text WHERE key='generation'")
    many(db, "INSERT INTO kw_meta VALUES (%s, %s) ON CONFLICT (key) DO UPDATE "
                   "SET value = EXCLUDED.value",
                   [("writer", str(os.getpid())), ("writer_host", socket.gethostname())])


def put(db: Any, rows: Iterable[tuple[Chunk, str]]) -> None:
    """Insert or replace chunks with their terms (no commit: the caller's transaction)."""
    many(db, 
        "INSERT INTO kw_chunks(chunk_id, source, text, meta, terms) VALUES (%s, %s, %s, %s, %s) "
        "ON CONFLICT (chunk_id) DO UPDATE SET source = EXCLUDED.source, text = EXCLUDED.text, "
        "meta = EXCLUDED.meta, terms = EXCLUDED.terms",
        ((c.id, c.source, c.text, json.dumps(c.metadata(), ensure_ascii=False), terms)
         for c, terms in rows),
    )


def remove(db: Any, chunk_ids: Iterable[str]) -> None:
    """Remove chunks by id; unknown ids are ignored."""
    ids = list(chunk_ids)
    if ids:
        db.execute("DELETE FROM kw_chunks WHERE chunk_id = ANY(%s)", (ids,))


def remove_source(db: Any, source: str) -> None:
    db.execute("DELETE FROM kw_chunks WHERE source = %s", (source,))


def chunk_ids(db: Any) -> set[str]:
    return {r[0] for r in db.execute("SELECT chunk_id FROM kw_chunks")}


def texts(db: Any, after: int, limit: int) -> list[tuple[int, str]]:
    """Up to ``limit`` (rowid, text) pairs with rowid above ``after``, by rowid."""
    return list(db.execute("SELECT rowid, text FROM kw_chunks WHERE rowid > %s ORDER BY rowid "
                           "LIMIT %s", (after, limit)))


def retokenize(db: Any, terms: Callable[[str], str], tokenizer: str) -> int:
    """Remake every chunk's terms unless they were made by ``tokenizer``; record it."""
    row = db.execute("SELECT value FROM kw_meta WHERE key='tokenizer'").fetchone()
    if row is not None and row[0] == tokenizer:
        return 0
    rows = db.execute("SELECT rowid, text FROM kw_chunks").fetchall()
    many(db, "UPDATE kw_chunks SET terms = %s WHERE rowid = %s",
                   [(terms(text), rowid) for rowid, text in rows])
    db.execute("INSERT INTO kw_meta VALUES ('tokenizer', %s) ON CONFLICT (key) DO UPDATE "
               "SET value = EXCLUDED.value", (tokenizer,))
    return len(rows)


def where_sql(where: SqlFilter) -> tuple[str, list[Any]]:
    """``where`` as PostgreSQL: made from its conditions, not from its SQLite text."""
    if where.sources is None and not where.meta:
        raise ValueError("this SqlFilter carries no conditions (make it with chunk_filter)")
    parts: list[str] = []
    params: list[Any] = []
    if where.sources is not None:
        parts.append("c.source = ANY(%s)")
        params.append(list(where.sources))
    for key, value in where.meta:
        if not key.isidentifier():
            raise ValueError(f"metadata key {key!r} is not an identifier")
        parts.append("c.meta -> %s = %s::jsonb")
        params += [key, json.dumps(value, ensure_ascii=False)]
    return " AND ".join(parts), params


# -- reading -----------------------------------------------------------------------------------
class PgKeywordRecord:
    """Read-only view of the record and of the files it belongs to, in PostgreSQL.
    Thread-safe; sees only committed transactions; reads as empty until a writer has made
    the schema. Never migrates.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self._db: Any = None
        self._snap_db: Any = None
        self._opening = threading.Lock()
        self._snapping = threading.Lock()
        self._local = threading.local()

    def __repr__(self) -> str:
        return f"PgKeywordRecord({mask_url(self.url)!r})"

    def _conn(self) -> Any:
        """The connection of this thread's snapshot, else the shared one; None while the
        database holds no ragkit schema."""
        inside = getattr(self._local, "db", None)
        if inside is not None:
            return inside
        with self._opening:
            if self._db is not None and self._db.closed:
                self._db = None  # the server went away: connect again
            if self._db is None:
                db = schema.connect(self.url, purpose="reader")
                try:
                    found = schema.stored_version(db)
                    schema.check_known(found, self.url)
                except BaseException:
                    db.close()
                    raise
                if found is None:
                    db.close()
                    return None
                self._db = db
            return self._db

    @property
    def exists(self) -> bool:
        """True once the database holds a record (possibly empty)."""
        return self._conn() is not None

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """Read one committed state for the whole block (a REPEATABLE READ, READ ONLY
        transaction), in this thread."""
        if getattr(self._local, "db", None) is not None or self._conn() is None:
            yield  # nested, or nothing to read yet
            return
        with self._snapping:
            if self._snap_db is None or self._snap_db.closed:
                self._snap_db = schema.connect(self.url, purpose="reader snapshot")
            db = self._snap_db
            db.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            self._local.db = db
            try:
                yield
            finally:
                self._local.db = None
                if not db.closed:
                    db.execute("COMMIT")

    def _meta(self) -> dict[str, str]:
        db = self._conn()
        return {} if db is None else dict(db.execute("SELECT key, value FROM kw_meta").fetchall())

    def version(self) -> str:
        """``<epoch>-<generation>`` of the committed record: changes with every write."""
        meta = self._meta()
        return f"{meta.get('epoch', '0')}-{int(meta.get('generation', 0))}"

    def state(self) -> tuple[str, int | None]:
        """:meth:`version` and the process id of the last writer (None: unknown; on
        another machine it is that machine's process id)."""
        meta = self._meta()
        writer = str(meta.get("writer", ""))
        return (f"{meta.get('epoch', '0')}-{int(meta.get('generation', 0))}",
                int(writer) if writer.isdigit() else None)

    def claimed(self, chunk_ids: Sequence[str]) -> set[str] | None:
        """Which of ``chunk_ids`` committed rows claim; None when the record is empty."""
        db = self._conn()
        if db is None or db.execute("SELECT 1 FROM kw_chunks LIMIT 1").fetchone() is None:
            return None
        return {r[0] for r in db.execute(
            "SELECT chunk_id FROM kw_chunks WHERE chunk_id = ANY(%s)", (list(chunk_ids),))}

    def terms(self) -> list[tuple[int, str]]:
        """``(rowid, terms)`` of every chunk, by rowid."""
        db = self._conn()
        if db is None:
            return []
        return list(db.execute("SELECT rowid, terms FROM kw_chunks ORDER BY rowid"))

    def rowids(self, where: SqlFilter) -> list[int]:
        """The rowids of the chunks ``where`` holds for."""
        db = self._conn()
        if db is None:
            return []
        sql, params = where_sql(where)
        return [r[0] for r in db.execute(f"SELECT rowid FROM kw_chunks c WHERE {sql}", params)]

    def chunks(self, rowids: Sequence[int]) -> dict[int, Chunk]:
        """The chunks (text and metadata) of ``rowids``; missing ones are left out."""
        db = self._conn()
        if db is None or not rowids:
            return {}
        rows = db.execute("SELECT rowid, chunk_id, text, meta FROM kw_chunks "
                          "WHERE rowid = ANY(%s)", (list(rowids),))
        return {r: Chunk.from_metadata(cid, text, meta) for r, cid, text, meta in rows}

    def count(self) -> int:
        db = self._conn()
        return 0 if db is None else int(db.execute("SELECT count(*) FROM kw_chunks").fetchone()[0])

    def sources(self) -> list[str]:
        """Every file of the knowledge base (from the manifest's rows)."""
        db = self._conn()
        return [] if db is None else [r[0] for r in db.execute("SELECT source FROM files")]

    def close(self) -> None:
        with self._opening, self._snapping:
            for db in (self._db, self._snap_db):
                if db is not None:
                    db.close()
            self._db = self._snap_db = None


def read_state(url: str) -> tuple[int, int, list[FileRecord], set[str]]:
    """See :func:`ragkit.storage.backend.read_state`: the same, from PostgreSQL."""
    db = schema.connect(url, purpose="doctor")
    try:
        found = schema.stored_version(db) or 0
        if found > schema.PG_SCHEMA_VERSION or found == 0:
            return found, schema.PG_SCHEMA_VERSION, [], set()
        with db.transaction():
            db.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            rows = [FileRecord(s, size, mtime, h, fp, tuple(json.loads(ids))) for
                    s, size, mtime, h, fp, ids in db.execute(
                        "SELECT source, size, mtime_ns, hash, fingerprint, chunk_ids FROM files "
                        "ORDER BY source COLLATE \"C\"")]
            return found, schema.PG_SCHEMA_VERSION, rows, chunk_ids(db)
    finally:
        db.close()
