"""The keyword (BM25) index: the record in ``manifest.sqlite3`` (or PostgreSQL, setting
``database_url``), scored by bm25s.

Two layers, measured into this shape (bench/README.md):

- **The record** (:mod:`ragkit.storage.keyword_record`): each indexed chunk's id, source,
  text, metadata and terms (:func:`ragkit._terms.terms_of`). It changes in the *same
  transaction* as the manifest rows that claim the chunks, so the crash-safety argument of
  ingestion (the manifest commits last) covers it with no extra step. Every transaction
  that changes it bumps its generation.
- **The scorer** (this module): a ``bm25s`` index (k1 = 1.2, b = 0.75; sparse matrices,
  queries in well under a millisecond at 100k chunks) built from the record, saved beside it
  in ``bm25/<epoch>-<generation>/`` and memory-mapped by every reader. A reader whose
  generation is stale rebuilds it; the ingest rebuilds it once at the end of its run
  (:func:`refresh`). SQLite's own FTS5 ``bm25()`` was the first choice (incremental, no
  rebuild) and was dropped: 71 ms per query at 100k chunks, against 0.4 ms for bm25s on the
  same terms.

The record is read only through :func:`ragkit.storage.open_record` (a
:class:`ragkit.storage.KeywordRecord`, or its PostgreSQL twin). The saved scorers are
always local, beside the folder's manifest path: with PostgreSQL each machine keeps its own.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from ragkit._types import Hit
from ragkit.retrieval.tokenize import query_terms
from ragkit.storage import RecordReader, SqlFilter, open_record

log = logging.getLogger(__name__)

K1, B = 1.2, 0.75
#: a ``bm25/.tmp-*`` folder untouched this long is left by a save that died (killed, disk
#: full), not one being written by another process: it is removed (as `ragkit doctor` does)
STALE_TMP_SECONDS = 60.0


def _last_touched(path: Path) -> float:
    """The newest modification time of ``path`` and the files directly in it."""
    newest = path.lstat().st_mtime
    if path.is_dir() and not path.is_symlink():
        for entry in os.scandir(path):
            newest = max(newest, entry.stat(follow_symlinks=False).st_mtime)
    return newest


def sweep_leftovers(folder: Path) -> int:
    """Remove the stale ``.tmp-*`` leftovers of interrupted saves in ``folder`` (the
    ``bm25/`` folder); return how many were removed."""
    removed = 0
    try:
        leftovers = list(folder.glob(".tmp-*"))
    except OSError:
        return 0
    for tmp in leftovers:
        try:
            if time.time() - _last_touched(tmp) <= STALE_TMP_SECONDS:
                continue
            if tmp.is_dir() and not tmp.is_symlink():
                shutil.rmtree(tmp)
            else:
                tmp.unlink()
            removed += 1
        except OSError as exc:  # gone meanwhile (another sweeper), or not ours to remove
            log.debug("leftover %s not removed: %s", tmp, exc)
    if removed:
        log.info("removed %d leftover temporary folders in %s", removed, folder)
    return removed


class _Scorer:
    """A bm25s index over one version (``<epoch>-<generation>``) of the record, and the
    rowid of each document."""

    def __init__(self, version: str, bm25: Any, rowids: np.ndarray, vocab: dict[str, int]):
        self.version, self.bm25, self.rowids, self.vocab = version, bm25, rowids, vocab

    @classmethod
    def build(cls, record: RecordReader, version: str) -> _Scorer | None:
        import bm25s

        rows = record.terms()
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
            # another process saved this generation first, the folder is read-only or the
            # disk is full: the scorer in memory serves this process either way
            full = exc.errno in (errno.ENOSPC, errno.EDQUOT)
            log.log(logging.WARNING if full else logging.DEBUG,
                    "keyword scorer not saved to %s: %s", folder, exc)
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

    Reads the manifest database read-only (:func:`ragkit.storage.open_record`): an ingest
    running in another process does not block it (SQLite WAL; PostgreSQL's MVCC), and it
    sees only committed files. ``path`` is the folder's manifest path: the scorers are
    saved beside it, also when the record is in PostgreSQL (``database_url``).
    """

    def __init__(self, path: str | Path, *, database_url: str = "") -> None:
        self.path = Path(path)
        self.cache = self.path.parent / "bm25"
        self._record = open_record(self.path, database_url)
        self._scorer: _Scorer | None = None
        self._lock = threading.Lock()

    def scorer(self) -> _Scorer | None:
        """The scorer for the committed record: loaded from ``bm25/``, or built (and saved)."""
        if not self._record.exists:
            return None
        with self._lock, self._record.snapshot():  # one snapshot: generation and rows
            version = self._record.version()
            if self._scorer is not None and self._scorer.version == version:
                return self._scorer
            folder = self.cache / version
            scorer: _Scorer | None
            if (folder / "rowids.npy").exists():
                scorer = _Scorer.load(folder)
            else:
                scorer = _Scorer.build(self._record, version)
                if scorer is not None:
                    scorer.save(folder)
                if self.cache.is_dir():  # also when the record became empty
                    self._prune(keep=folder)
            self._scorer = scorer
            return scorer

    def _prune(self, keep: Path) -> None:
        """Remove saved scorers of older generations and of other records, and stale
        leftovers of interrupted saves (best effort)."""
        sweep_leftovers(self.cache)
        epoch, _, gen = keep.name.partition("-")
        for old in list(self.cache.iterdir()):
            name_epoch, _, name_gen = old.name.partition("-")
            if not name_gen.isdigit() or old == keep:
                continue
            if name_epoch != epoch or int(name_gen) < int(gen):
                shutil.rmtree(old, ignore_errors=True)

    def committed(self, chunk_ids: list[str]) -> set[str] | None:
        """Which of ``chunk_ids`` committed manifest rows claim, read in one snapshot; None
        when unknown (no record yet): then every stored chunk counts."""
        return self._record.claimed(chunk_ids)

    def version(self) -> tuple[str, int | None]:
        """The committed record's version and the process id that wrote it last."""
        return self._record.state()

    def sources(self) -> list[str]:
        """Every file of the knowledge base (from the manifest's rows)."""
        return self._record.sources()

    def count(self) -> int:
        """The number of chunks in the keyword record."""
        return self._record.count()

    def search(self, question: str, k: int, where: SqlFilter | None = None) -> list[Hit]:
        """The ``k`` best chunks by BM25 (only chunks sharing a term with the question),
        best first; ``Hit.score`` is the BM25 score. ``where`` is applied before the top k."""
        terms = query_terms(question)
        scorer = self.scorer() if terms and k > 0 else None
        if scorer is None:
            return []
        mask = None
        if where is not None:
            allowed = self._record.rowids(where)
            mask = np.isin(scorer.rowids, np.array(allowed, dtype=np.int64))
        best = scorer.top(terms, k, mask)
        chunks = self._record.chunks([r for r, _ in best])
        return [Hit(chunks[r], s) for r, s in best if r in chunks]

    def close(self) -> None:
        self._record.close()


def refresh(kb_manifest: str | Path, *, database_url: str = "") -> None:
    """Build and save the scorer for the committed record (the ingest calls this last, so
    the first question after an ingest does not pay for it)."""
    index = KeywordIndex(kb_manifest, database_url=database_url)
    try:
        index.scorer()
        sweep_leftovers(index.cache)  # also when the scorer was saved already
    finally:
        index.close()
