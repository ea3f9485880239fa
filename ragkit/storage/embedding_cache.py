"""The embedding cache: chunk texts' vectors by content hash and model (``embeddings.sqlite3``).

A text is embedded once per model: repeated headers and boilerplate, the same file in two
folders, and the paragraphs of a changed file that stayed as they were all reuse the
stored vector instead of running the model again (issue 15). The key is the SHA-256 of the
text and a model key that names everything the vector depends on: the model, the dtype it
ran in, its dimension and its input limit (:func:`model_key`). A vector for another model
or dtype is never returned, so switching either re-embeds everything, as it must.

Crash safety: an entry is a pure function of its key, written in one SQLite transaction,
so a run killed at any moment leaves only complete, correct entries; whatever the store or
manifest hold does not matter to the cache. The cache can be deleted at any time (the next
ingest is just slower). :meth:`EmbeddingCache.prune` keeps it near the size of the store.

>>> import tempfile
>>> from pathlib import Path
>>> cache = EmbeddingCache(Path(tempfile.mkdtemp()) / "embeddings.sqlite3")
>>> calls = []
>>> def embed(texts):
...     calls.append(list(texts))
...     return [[float(len(t)), 1.0] for t in texts]
>>> cache.embed("m", ["ab", "ab", "abc"], embed)
[[2.0, 1.0], [2.0, 1.0], [3.0, 1.0]]
>>> cache.embed("m", ["abc", "d"], embed)
[[3.0, 1.0], [1.0, 1.0]]
>>> calls
[['ab', 'abc'], ['d']]
>>> cache.close()
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np

from ragkit.errors import BackendError

CACHE_FILE = "embeddings.sqlite3"
Embed = Callable[[Sequence[str]], Sequence[Sequence[float]]]
_SCHEMA = """
CREATE TABLE IF NOT EXISTS vectors (
    model  TEXT NOT NULL,
    hash   BLOB NOT NULL,   -- SHA-256 of the text, first 16 bytes
    vector BLOB NOT NULL,   -- float32, little-endian
    PRIMARY KEY (model, hash)
) WITHOUT ROWID;
"""
#: SQLite's default limit on host parameters is 32,766; stay far below it
_LOOKUP = 500


def model_key(name: str, dtype: str, dimension: int, max_tokens: int) -> str:
    """What a stored vector depends on besides the text.

    >>> model_key("all-MiniLM-L6-v2", "bfloat16", 384, 254)
    'all-MiniLM-L6-v2|bfloat16|384|254'
    """
    return f"{name}|{dtype}|{dimension}|{max_tokens}"


def text_hash(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()[:16]


class EmbeddingCache:
    """Vectors by (model key, text hash). Thread-safe; one writer process at a time (the
    knowledge base's writer lock)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=30)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise BackendError(f"cannot open the embedding cache {self.path}: {exc}") from exc
        #: texts served from the cache and texts embedded, since this object was made
        self.hits = 0
        self.misses = 0

    def embed(self, model: str, texts: Sequence[str], embed: Embed) -> list[list[float]]:
        """One vector per text, in order: stored ones from the cache, the rest from
        ``embed`` (each distinct text once), which are then stored."""
        keys = [text_hash(t) for t in texts]
        found = self._get(model, set(keys))
        todo: dict[bytes, str] = {}
        for key, text in zip(keys, texts, strict=True):
            if key not in found:
                todo.setdefault(key, text)
        if todo:
            fresh = embed(list(todo.values()))
            if len(fresh) != len(todo):
                raise BackendError(f"embedder returned {len(fresh)} vectors for {len(todo)} texts")
            new = {k: np.asarray(v, dtype="<f4") for k, v in zip(todo, fresh, strict=True)}
            self._put(model, new)
            found.update(new)
        self.hits += len(texts) - len(todo)
        self.misses += len(todo)
        return [found[k].tolist() for k in keys]

    def _get(self, model: str, keys: set[bytes]) -> dict[bytes, np.ndarray]:
        out: dict[bytes, np.ndarray] = {}
        wanted = list(keys)
        with self._lock:
            for start in range(0, len(wanted), _LOOKUP):
                part = wanted[start : start + _LOOKUP]
                rows = self._db.execute(
                    f"SELECT hash, vector FROM vectors WHERE model = ? AND hash IN "
                    f"({','.join('?' * len(part))})", [model, *part])
                out.update((h, np.frombuffer(v, dtype="<f4")) for h, v in rows)
        return out

    def _put(self, model: str, vectors: dict[bytes, np.ndarray]) -> None:
        with self._lock, self._db:
            self._db.executemany(
                "INSERT OR REPLACE INTO vectors (model, hash, vector) VALUES (?, ?, ?)",
                [(model, k, v.tobytes()) for k, v in vectors.items()])

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM vectors").fetchone()[0])

    def prune(self, model: str, texts: Callable[[], Iterable[str]], *, live: int) -> int:
        """Drop entries of other models; and when the cache holds more than twice the
        ``live`` chunks (plus 1,000), drop every entry whose text ``texts()`` (the texts of
        the chunks in the store) no longer has. Return how many entries went.

        The full sweep reads every stored text, so it runs only when the garbage has grown
        as large as the store: its cost is spread over the runs that made the garbage."""
        with self._lock, self._db:
            gone = self._db.execute("DELETE FROM vectors WHERE model != ?", [model]).rowcount
        if len(self) <= 2 * live + 1000:
            return gone
        keep = {text_hash(t) for t in texts()}
        with self._lock, self._db:
            stale = [h for (h,) in self._db.execute(
                "SELECT hash FROM vectors WHERE model = ?", [model]) if h not in keep]
            self._db.executemany("DELETE FROM vectors WHERE model = ? AND hash = ?",
                                 [(model, h) for h in stale])
        return gone + len(stale)

    def close(self) -> None:
        with self._lock:
            self._db.close()
