"""The LLM response cache: ``cache = "off" | "exact" | "semantic"``, in ``KB/cache.sqlite3``.

Every entry is stamped with the knowledge base's state (the keyword record's
``<epoch>-<generation>``, which changes with every committed write) and a key of what made
the answer: the model (path, size and modification time of its file, or the server's model
name), the generation options and the reasoning mode. An entry of another state is never
served, and is removed when met.

- **exact**: the key also holds the hash of the whole prompt (messages), so only the same
  prompt on the same knowledge base hits;
- **semantic**: the key holds the retrieved chunk ids instead, and a hit also needs the
  question's embedding within ``cache_similarity`` (cosine) of the cached question's: a
  paraphrase that retrieves the very same passages gets the cached answer.

The file holds at most ``cache_max_entries`` rows; the least recently used go first.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

CACHE_FILE = "cache.sqlite3"
MODES = ("off", "exact", "semantic")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS answers (
    key TEXT NOT NULL, state TEXT NOT NULL, question TEXT NOT NULL, vector BLOB,
    text TEXT NOT NULL, reasoning TEXT NOT NULL DEFAULT '', created REAL NOT NULL,
    used REAL NOT NULL, hits INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (key, question));
CREATE INDEX IF NOT EXISTS answers_used ON answers(used);
"""


@dataclass(frozen=True)
class CachedAnswer:
    text: str
    reasoning: str
    question: str  #: the question the answer was made for (a paraphrase in semantic mode)
    similarity: float  #: cosine of the two questions' embeddings (1.0 for exact hits)


def key_of(*parts: Any) -> str:
    """SHA-256 of ``parts`` as canonical JSON.

    >>> key_of("a", {"b": 1}) == key_of("a", {"b": 1})
    True
    """
    raw = json.dumps(parts, ensure_ascii=False, sort_keys=True, default=str)
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def model_identity(path_or_name: str) -> str:
    """A model file as path, size and modification time (no hashing of gigabytes on every
    start); any other string (a server's model name) as it is."""
    p = Path(path_or_name)
    if p.is_file():
        st = p.stat()
        return f"{p.resolve()}:{st.st_size}:{st.st_mtime_ns}"
    return path_or_name


class ResponseCache:
    """One knowledge base's cached answers. Thread-safe: one connection per call."""

    def __init__(self, path: str | Path, *, max_entries: int = 1000,
                 similarity: float = 0.95) -> None:
        self.path = Path(path)
        self.max_entries = max_entries
        self.similarity = similarity
        self._lock = threading.Lock()
        self._ready = False

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=30)
        try:
            if not self._ready:
                db.execute("PRAGMA journal_mode=WAL")
                db.executescript(_SCHEMA)
                self._ready = True
            with db:
                yield db
        finally:
            db.close()

    def get(self, key: str, state: str, question: str,
            vector: Sequence[float] | None = None) -> CachedAnswer | None:
        """The cached answer for ``key`` in knowledge-base ``state``: the same question
        (exact), or the most similar one above the threshold when ``vector`` is given."""
        with self._lock, self._db() as db:
            db.execute("DELETE FROM answers WHERE key = ? AND state != ?", (key, state))
            rows = db.execute("SELECT question, vector, text, reasoning FROM answers "
                              "WHERE key = ? AND state = ?", (key, state)).fetchall()
            best = _best(rows, question, vector, self.similarity)
            if best is None:
                return None
            db.execute("UPDATE answers SET used = ?, hits = hits + 1 WHERE key = ? AND "
                       "question = ?", (time.time(), key, best.question))
            return best

    def put(self, key: str, state: str, question: str, text: str, reasoning: str = "",
            vector: Sequence[float] | None = None) -> None:
        """Store an answer; drop the least recently used beyond ``max_entries``."""
        blob = np.asarray(vector, dtype=np.float32).tobytes() if vector is not None else None
        now = time.time()
        with self._lock, self._db() as db:
            db.execute("INSERT OR REPLACE INTO answers (key, state, question, vector, text, "
                       "reasoning, created, used) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                       (key, state, question, blob, text, reasoning, now, now))
            db.execute("DELETE FROM answers WHERE rowid IN (SELECT rowid FROM answers "
                       "ORDER BY used DESC LIMIT -1 OFFSET ?)", (self.max_entries,))

    def count(self) -> int:
        if not self.path.exists():
            return 0
        with self._db() as db:
            return int(db.execute("SELECT COUNT(*) FROM answers").fetchone()[0])

    def clear(self) -> None:
        with self._lock, self._db() as db:
            db.execute("DELETE FROM answers")


def _best(rows: list[tuple[str, bytes | None, str, str]], question: str,
          vector: Sequence[float] | None, threshold: float) -> CachedAnswer | None:
    for q, _, text, reasoning in rows:
        if q == question:
            return CachedAnswer(text, reasoning, q, 1.0)
    if vector is None:
        return None
    v = np.asarray(vector, dtype=np.float32)
    best: CachedAnswer | None = None
    for q, blob, text, reasoning in rows:
        if blob is None:
            continue
        w = np.frombuffer(blob, dtype=np.float32)
        if w.shape != v.shape:
            continue
        cos = float(v @ w / ((np.linalg.norm(v) * np.linalg.norm(w)) or 1.0))
        if cos >= threshold and (best is None or cos > best.similarity):
            best = CachedAnswer(text, reasoning, q, round(cos, 4))
    return best
