"""The keyword (BM25) index: terms in the manifest's SQLite database, scored by bm25s.

Two layers, measured into this shape (bench/README.md):

- **The record** (``kw_chunks`` in ``manifest.sqlite3``): each indexed chunk's id, source,
  text, metadata (JSON) and terms (:func:`tokenize`, space-joined). It changes in the *same
  transaction* as the manifest rows that claim the chunks, so the crash-safety argument of
  ingestion (the manifest commits last) covers it with no extra step. ``kw_meta`` holds a
  ``generation`` counter, bumped by every transaction that changes the record, and the
  tokenizer version the terms were made with.
- **The scorer**: a ``bm25s`` index (k1 = 1.2, b = 0.75; sparse matrices, queries in well
  under a millisecond at 100k chunks) built from the record, saved beside it in
  ``bm25/<epoch>-<generation>/`` and memory-mapped by every reader. A reader whose generation is
  stale rebuilds it; the ingest rebuilds it once at the end of its run. SQLite's own FTS5
  ``bm25()`` was the first choice (incremental, no rebuild) and was dropped: 71 ms per
  query at 100k chunks, against 0.4 ms for bm25s on the same terms.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sqlite3
import tempfile
import threading
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from ragkit._types import Chunk, Hit
from ragkit.retrieval.filters import SqlFilter
from ragkit.retrieval.tokenize import query_terms, tokenize

log = logging.getLogger(__name__)

#: bump when :func:`tokenize` changes what a text turns into: the terms are rebuilt
TOKENIZER_VERSION = "1"
K1, B = 1.2, 0.75

SCHEMA = """
CREATE TABLE IF NOT EXISTS kw_chunks (
    rowid    INTEGER PRIMARY KEY,
    chunk_id TEXT NOT NULL UNIQUE,
    source   TEXT NOT NULL,
    text     TEXT NOT NULL,
    meta     TEXT NOT NULL,
    terms    TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS kw_chunks_source ON kw_chunks(source);
CREATE TABLE IF NOT EXISTS kw_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


def terms_of(text: str) -> str:
    """What the record stores for a chunk's text."""
    return " ".join(tokenize(text))


# -- writing: called by the Manifest inside its own transactions -----------------------------
def create(db: sqlite3.Connection) -> None:
    db.executescript(SCHEMA)
    db.execute("INSERT OR IGNORE INTO kw_meta VALUES ('tokenizer', ?)", (TOKENIZER_VERSION,))
    db.execute("INSERT OR IGNORE INTO kw_meta VALUES ('generation', '0')")
    # names this record: a re-created record never reuses another one's saved scorer
    db.execute("INSERT OR IGNORE INTO kw_meta VALUES ('epoch', ?)", (uuid.uuid4().hex[:12],))


def touch(db: sqlite3.Connection) -> None:
    """Mark the record changed (inside the changing transaction)."""
    db.execute("UPDATE kw_meta SET value = CAST(value AS INTEGER) + 1 WHERE key='generation'")


def put(db: sqlite3.Connection, rows: Iterable[tuple[Chunk, str]]) -> None:
    """Insert or replace chunks with their terms (no commit: the caller's transaction)."""
    db.executemany(
        "INSERT OR REPLACE INTO kw_chunks(chunk_id, source, text, meta, terms) "
        "VALUES (?, ?, ?, ?, ?)",
        [(c.id, c.source, c.text, json.dumps(c.metadata(), ensure_ascii=False), terms)
         for c, terms in rows],
    )


def remove(db: sqlite3.Connection, chunk_ids: Iterable[str]) -> None:
    db.executemany("DELETE FROM kw_chunks WHERE chunk_id=?", [(c,) for c in chunk_ids])


def remove_source(db: sqlite3.Connection, source: str) -> None:
    db.execute("DELETE FROM kw_chunks WHERE source=?", (source,))


def chunk_ids(db: sqlite3.Connection) -> set[str]:
    return {r[0] for r in db.execute("SELECT chunk_id FROM kw_chunks")}


def retokenize_if_stale(db: sqlite3.Connection) -> int:
    """Rebuild every chunk's terms if they were made by another tokenizer version."""
    row = db.execute("SELECT value FROM kw_meta WHERE key='tokenizer'").fetchone()
    if row is not None and row[0] == TOKENIZER_VERSION:
        return 0
    rows = db.execute("SELECT rowid, text FROM kw_chunks").fetchall()
    db.executemany("UPDATE kw_chunks SET terms=? WHERE rowid=?",
                   [(terms_of(text), rowid) for rowid, text in rows])
    db.execute("INSERT OR REPLACE INTO kw_meta VALUES ('tokenizer', ?)", (TOKENIZER_VERSION,))
    return len(rows)


# -- reading -----------------------------------------------------------------------------------
class _Scorer:
    """A bm25s index over one version (``<epoch>-<generation>``) of the record, and the
    rowid of each document."""

    def __init__(self, version: str, bm25: Any, rowids: np.ndarray, vocab: dict[str, int]):
        self.version, self.bm25, self.rowids, self.vocab = version, bm25, rowids, vocab

    @classmethod
    def build(cls, db: sqlite3.Connection, version: str) -> _Scorer | None:
        import bm25s

        rows = db.execute("SELECT rowid, terms FROM kw_chunks ORDER BY rowid").fetchall()
        if not rows:
            return None
        vocab: dict[str, int] = {}
        ids = [[vocab.setdefault(t, len(vocab)) for t in terms.split()] for _, terms in rows]
        if not vocab:  # only chunks without words (e.g. all punctuation): nothing to find
            return None
        bm25 = bm25s.BM25(k1=K1, b=B)
        bm25.index(bm25s.tokenization.Tokenized(ids=ids, vocab=vocab), show_progress=False)
        return cls(version, bm25, np.array([r for r, _ in rows], dtype=np.int64), vocab)

    def save(self, folder: Path) -> None:
        """Write to ``folder`` atomically (a temporary folder renamed into place)."""
        tmp: Path | None = None
        try:
            folder.parent.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=folder.parent))
            self.bm25.save(str(tmp), show_progress=False)
            np.save(tmp / "rowids.npy", self.rowids)
            (tmp / "terms.json").write_text(json.dumps(self.vocab, ensure_ascii=False))
            os.rename(tmp, folder)
        except OSError as exc:
            # another process saved this generation first, or the folder is read-only: the
            # scorer in memory serves this process either way
            log.debug("keyword scorer not saved to %s: %s", folder, exc)
            if tmp is not None:
                shutil.rmtree(tmp, ignore_errors=True)

    @classmethod
    def load(cls, folder: Path) -> _Scorer:
        import bm25s

        bm25 = bm25s.BM25.load(str(folder), mmap=True, show_progress=False, verbosity=0)
        rowids = np.load(folder / "rowids.npy")
        vocab = json.loads((folder / "terms.json").read_text())
        return cls(folder.name, bm25, rowids, vocab)

    def top(self, terms: list[str], k: int, mask: np.ndarray | None) -> list[tuple[int, float]]:
        ids = [self.vocab[t] for t in terms if t in self.vocab]
        if not ids:
            return []
        scores = self.bm25.get_scores_from_ids(ids)
        if mask is not None:
            scores = np.where(mask, scores, 0.0)
        positive = int(np.count_nonzero(scores > 0))
        k = min(k, positive)
        if k <= 0:
            return []
        best = np.argpartition(-scores, k - 1)[:k]
        best = best[np.argsort(-scores[best], kind="stable")]
        return [(int(self.rowids[i]), float(scores[i])) for i in best]


class KeywordIndex:
    """Read side: BM25 search over the chunks of one knowledge base.

    Reads the manifest database read-only: an ingest running in another process does not
    block it (SQLite WAL), and it sees only committed files.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.cache = self.path.parent / "bm25"
        self._db: sqlite3.Connection | None = None
        self._scorer: _Scorer | None = None
        self._lock = threading.Lock()

    def _conn(self) -> sqlite3.Connection | None:
        if self._db is None:
            if not self.path.exists():
                return None
            db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=30,
                                 check_same_thread=False, isolation_level=None)
            has = db.execute("SELECT 1 FROM sqlite_master WHERE name='kw_chunks'").fetchone()
            if has is None:
                db.close()
                return None
            self._db = db
        return self._db

    def _version(self, db: sqlite3.Connection) -> str:
        """``<epoch>-<generation>`` of the committed record: the scorer's folder name."""
        meta = dict(db.execute("SELECT key, value FROM kw_meta").fetchall())
        return f"{meta.get('epoch', '0')}-{int(meta.get('generation', 0))}"

    def scorer(self) -> _Scorer | None:
        """The scorer for the committed record: loaded from ``bm25/``, or built (and saved)."""
        db = self._conn()
        if db is None:
            return None
        with self._lock:
            db.execute("BEGIN")  # one snapshot for the generation and the rows
            try:
                version = self._version(db)
                if self._scorer is not None and self._scorer.version == version:
                    return self._scorer
                folder = self.cache / version
                scorer: _Scorer | None
                if (folder / "rowids.npy").exists():
                    scorer = _Scorer.load(folder)
                else:
                    scorer = _Scorer.build(db, version)
                    if scorer is not None:
                        scorer.save(folder)
                        self._prune(keep=folder)
            finally:
                db.execute("COMMIT")
            self._scorer = scorer
            return scorer

    def _prune(self, keep: Path) -> None:
        """Remove saved scorers of older generations and of other records (best effort)."""
        epoch, _, gen = keep.name.partition("-")
        for old in list(self.cache.iterdir()):
            name_epoch, _, name_gen = old.name.partition("-")
            if not name_gen.isdigit() or old == keep:
                continue
            if name_epoch != epoch or int(name_gen) < int(gen):
                shutil.rmtree(old, ignore_errors=True)

    def sources(self) -> list[str]:
        """Every file of the knowledge base (from the manifest's rows)."""
        db = self._conn()
        return [] if db is None else [r[0] for r in db.execute("SELECT source FROM files")]

    def count(self) -> int:
        db = self._conn()
        return 0 if db is None else int(db.execute("SELECT count(*) FROM kw_chunks").fetchone()[0])

    def search(self, question: str, k: int, where: SqlFilter | None = None) -> list[Hit]:
        """The ``k`` best chunks by BM25 (only chunks sharing a term with the question),
        best first; ``Hit.score`` is the BM25 score. ``where`` is applied before the top k."""
        terms = query_terms(question)
        scorer = self.scorer() if terms and k > 0 else None
        if scorer is None:
            return []
        db = self._conn()
        assert db is not None
        mask = None
        if where is not None:
            allowed = [r[0] for r in db.execute(
                f"SELECT rowid FROM kw_chunks c WHERE {where.sql}", where.params)]
            mask = np.isin(scorer.rowids, np.array(allowed, dtype=np.int64))
        best = scorer.top(terms, k, mask)
        if not best:
            return []
        marks = ",".join("?" * len(best))
        rows = {r[0]: r[1:] for r in db.execute(
            f"SELECT rowid, chunk_id, text, meta FROM kw_chunks WHERE rowid IN ({marks})",
            [r for r, _ in best])}
        return [Hit(Chunk.from_metadata(rows[r][0], rows[r][1], json.loads(rows[r][2])), s)
                for r, s in best if r in rows]

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None


def refresh(kb_manifest: str | Path) -> None:
    """Build and save the scorer for the committed record (the ingest calls this last, so
    the first question after an ingest does not pay for it)."""
    index = KeywordIndex(kb_manifest)
    try:
        index.scorer()
    finally:
        index.close()

