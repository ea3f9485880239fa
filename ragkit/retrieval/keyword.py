"""The keyword (BM25) index: SQLite FTS5 tables inside the knowledge base's manifest.

Why FTS5: its ``bm25()`` is a maintained BM25 (k1 = 1.2, b = 0.75) that updates row by row,
so adding, replacing and removing a file's chunks is cheap; and because the tables live in
the manifest's database, they change in the *same transaction* as the manifest rows that
claim the chunks. The crash-safety argument of the ingest pipeline (the manifest commits
last) therefore covers the keyword index with no extra step. Measured against bm25s in
bench/README.md.

Tables:

- ``kw_chunks(rowid, chunk_id UNIQUE, source, text, meta)``: each indexed chunk, its text
  and its metadata (JSON), so a keyword hit needs no call to the vector store;
- ``kw_terms(terms)``: FTS5, same rowid, the chunk's terms from :func:`tokenize` joined by
  spaces, with FTS5's ``porter unicode61`` tokenizer on top (English stems; a Chinese word
  from jieba stays one term);
- ``kw_meta(key, value)``: the tokenizer version the terms were made with.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from ragkit._types import Chunk, Hit
from ragkit.retrieval.filters import SqlFilter
from ragkit.retrieval.tokenize import query_terms, tokenize

#: bump when :func:`tokenize` changes what a text turns into: the terms are rebuilt
TOKENIZER_VERSION = "1"

SCHEMA = """
CREATE TABLE IF NOT EXISTS kw_chunks (
    rowid    INTEGER PRIMARY KEY,
    chunk_id TEXT NOT NULL UNIQUE,
    source   TEXT NOT NULL,
    text     TEXT NOT NULL,
    meta     TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS kw_chunks_source ON kw_chunks(source);
CREATE VIRTUAL TABLE IF NOT EXISTS kw_terms USING fts5(
    terms, tokenize = 'porter unicode61 remove_diacritics 2'
);
CREATE TABLE IF NOT EXISTS kw_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


def terms_of(text: str) -> str:
    """What the index stores for a chunk's text."""
    return " ".join(tokenize(text))


# -- writing: called by the Manifest inside its own transactions -----------------------------
def create(db: sqlite3.Connection) -> None:
    db.executescript(SCHEMA)
    if db.execute("SELECT value FROM kw_meta WHERE key='tokenizer'").fetchone() is None:
        db.execute("INSERT INTO kw_meta VALUES ('tokenizer', ?)", (TOKENIZER_VERSION,))


def put(db: sqlite3.Connection, rows: Iterable[tuple[Chunk, str]]) -> None:
    """Insert or replace chunks with their terms (no commit: the caller's transaction)."""
    for chunk, terms in rows:
        remove(db, [chunk.id])
        cur = db.execute(
            "INSERT INTO kw_chunks(chunk_id, source, text, meta) VALUES (?, ?, ?, ?)",
            (chunk.id, chunk.source, chunk.text, json.dumps(chunk.metadata(), ensure_ascii=False)),
        )
        db.execute("INSERT INTO kw_terms(rowid, terms) VALUES (?, ?)", (cur.lastrowid, terms))


def remove(db: sqlite3.Connection, chunk_ids: Iterable[str]) -> None:
    for cid in chunk_ids:
        row = db.execute("SELECT rowid FROM kw_chunks WHERE chunk_id=?", (cid,)).fetchone()
        if row is not None:
            db.execute("DELETE FROM kw_terms WHERE rowid=?", row)
            db.execute("DELETE FROM kw_chunks WHERE rowid=?", row)


def remove_source(db: sqlite3.Connection, source: str) -> None:
    db.execute("DELETE FROM kw_terms WHERE rowid IN (SELECT rowid FROM kw_chunks WHERE source=?)",
               (source,))
    db.execute("DELETE FROM kw_chunks WHERE source=?", (source,))


def chunk_ids(db: sqlite3.Connection) -> set[str]:
    return {r[0] for r in db.execute("SELECT chunk_id FROM kw_chunks")}


def retokenize_if_stale(db: sqlite3.Connection) -> int:
    """Rebuild every chunk's terms if they were made by another tokenizer version."""
    row = db.execute("SELECT value FROM kw_meta WHERE key='tokenizer'").fetchone()
    if row is not None and row[0] == TOKENIZER_VERSION:
        return 0
    rows = db.execute("SELECT rowid, text FROM kw_chunks").fetchall()
    db.execute("DELETE FROM kw_terms")
    db.executemany("INSERT INTO kw_terms(rowid, terms) VALUES (?, ?)",
                   [(rowid, terms_of(text)) for rowid, text in rows])
    db.execute("INSERT OR REPLACE INTO kw_meta VALUES ('tokenizer', ?)", (TOKENIZER_VERSION,))
    return len(rows)


# -- reading -----------------------------------------------------------------------------------
def _match_expression(question: str) -> str:
    """An FTS5 query matching any of the question's terms (each quoted: no FTS syntax)."""
    return " OR ".join('"' + t.replace('"', "") + '"' for t in query_terms(question))


class KeywordIndex:
    """Read side: BM25 search over the chunks of one knowledge base.

    Opens the manifest database read-only; an ingest running in another process does not
    block it (SQLite WAL) and it sees only committed files.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._db: sqlite3.Connection | None = None

    def _conn(self) -> sqlite3.Connection | None:
        if self._db is None:
            if not self.path.exists():
                return None
            db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=30,
                                 check_same_thread=False)
            has = db.execute(
                "SELECT 1 FROM sqlite_master WHERE name='kw_terms'").fetchone()
            if has is None:
                db.close()
                return None
            self._db = db
        return self._db

    def sources(self) -> list[str]:
        """Every file of the knowledge base (from the manifest's rows)."""
        db = self._conn()
        return [] if db is None else [r[0] for r in db.execute("SELECT source FROM files")]

    def count(self) -> int:
        db = self._conn()
        return 0 if db is None else int(db.execute("SELECT count(*) FROM kw_chunks").fetchone()[0])

    def search(self, question: str, k: int, where: SqlFilter | None = None) -> list[Hit]:
        """The ``k`` best chunks by BM25, best first; ``Hit.score`` is the BM25 score."""
        db = self._conn()
        expr = _match_expression(question)
        if db is None or not expr or k <= 0:
            return []
        sql = ("SELECT c.chunk_id, c.text, c.meta, bm25(kw_terms) AS s FROM kw_terms "
               "JOIN kw_chunks c ON c.rowid = kw_terms.rowid WHERE kw_terms MATCH ?")
        params: list[Any] = [expr]
        if where is not None:
            sql += " AND " + where.sql
            params += where.params
        sql += " ORDER BY s LIMIT ?"
        params.append(k)
        rows = db.execute(sql, params).fetchall()
        return [Hit(Chunk.from_metadata(cid, text, json.loads(meta)), -float(score))
                for cid, text, meta, score in rows]

    def get(self, ids: Sequence[str]) -> dict[str, Chunk]:
        db = self._conn()
        if db is None or not ids:
            return {}
        out: dict[str, Chunk] = {}
        for start in range(0, len(ids), 500):
            part = list(ids[start:start + 500])
            marks = ",".join("?" * len(part))
            for cid, text, meta in db.execute(
                f"SELECT chunk_id, text, meta FROM kw_chunks WHERE chunk_id IN ({marks})", part
            ):
                out[cid] = Chunk.from_metadata(cid, text, json.loads(meta))
        return out

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
