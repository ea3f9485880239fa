"""One retrieval call: filters → dense and/or BM25 → fusion → rerank → MMR → top k."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ragkit._types import Hit, Retrieval
from ragkit.errors import ValidationError
from ragkit.ports import Embedder, Reopens, Reranker, VectorStore
from ragkit.retrieval.filters import Filters, parse_filters, resolve
from ragkit.retrieval.fusion import mmr as mmr_select
from ragkit.retrieval.fusion import rrf
from ragkit.retrieval.keyword import KeywordIndex
from ragkit.settings import Settings

MODES = ("dense", "bm25", "hybrid")
#: seconds between two reopenings of a store another process is writing to
REOPEN_EVERY = 1.0

FilterSpec = Iterable[str] | Mapping[str, str] | None


def check_mode(mode: str) -> str:
    """Return ``mode`` if it is a retrieval mode; raise ValidationError otherwise."""
    if mode not in MODES:
        raise ValidationError(f"retrieval mode {mode!r}: use one of {', '.join(MODES)}")
    return mode


class Retriever:
    """Finds the chunks for a question in one knowledge base.

    Holds no per-call state: each :meth:`search` returns its own timings, so one Retriever
    serves concurrent requests. The embedding model loads only when a dense search (or MMR)
    needs it, so ``bm25`` retrieval starts fast.
    """

    def __init__(
        self,
        settings: Settings,
        keyword: KeywordIndex,
        embedder: Callable[[], Embedder],
        store: Callable[[], VectorStore],
        reranker: Callable[[], Reranker | None],
    ) -> None:
        self.settings = settings
        self.keyword = keyword
        self._embedder, self._store, self._reranker = embedder, store, reranker
        self._seen: str | None = None  # the record version the store was last opened at
        self._reopened = 0.0
        self._seen_lock = threading.Lock()

    def _filters(self, filters: FilterSpec) -> Filters | None:
        checked = parse_filters(filters)
        return resolve(checked, self.keyword.sources()) if checked else None

    def retrieve(self, question: str, *, k: int | None = None, mode: str | None = None,
                 filters: FilterSpec = None, mmr: bool | None = None) -> list[Hit]:
        """The hits of :meth:`search`."""
        return self.search(question, k=k, mode=mode, filters=filters, mmr=mmr).hits

    def search(self, question: str, *, k: int | None = None, mode: str | None = None,
               filters: FilterSpec = None, mmr: bool | None = None) -> Retrieval:
        """The ``k`` (default: setting ``passages``) best chunks for ``question``."""
        s = self.settings
        k = k or s.passages
        mode = check_mode(mode or s.retrieval_mode)
        use_mmr = s.mmr if mmr is None else mmr
        reranker = self._reranker()
        timings: dict[str, float] = {}
        f = self._filters(filters)
        if f is not None and f.empty:
            return Retrieval([], mode, timings)
        # more than k from each retriever when anything re-orders them afterwards
        n = max(k, s.candidates) if (mode == "hybrid" or use_mmr or reranker) else k
        query_vector: list[float] | None = None
        rankings: list[list[Hit]] = []
        if mode in ("dense", "hybrid"):
            t = time.perf_counter()
            query_vector = self._embedder().embed_query(question)
            timings["embed_ms"] = _ms(t)
            t = time.perf_counter()
            rankings.append(self._dense(query_vector, n, f.chroma() if f else None))
            timings["dense_ms"] = _ms(t)
        if mode in ("bm25", "hybrid"):
            t = time.perf_counter()
            rankings.append(self.keyword.search(question, n, where=f.sql() if f else None))
            timings["bm25_ms"] = _ms(t)
        rankings = self._committed(rankings)
        if mode == "hybrid":
            t = time.perf_counter()
            hits = rrf(rankings, k=s.rrf_k, weights=[s.dense_weight, s.bm25_weight])
            timings["fuse_ms"] = _ms(t)
        else:
            hits = rankings[0]
        if reranker is not None:
            t = time.perf_counter()
            hits = reranker.rerank(question, hits[: s.candidates])
            timings["rerank_ms"] = _ms(t)
        if use_mmr and hits:
            t = time.perf_counter()
            hits = self._mmr(question, query_vector, hits, k)
            timings["mmr_ms"] = _ms(t)
        return Retrieval(hits[:k], mode, timings)

    def _dense(self, vector: list[float], n: int, where: dict[str, Any] | None) -> list[Hit]:
        """The store's top ``n`` that committed rows claim: while an ingest runs, its
        uncommitted chunks (and a stale view's deleted ones) take places, so ask for more,
        a few times at most."""
        store = self._store()
        self._catch_up(store)
        want = n
        for _ in range(4):
            hits = store.search(vector, want, where=where)
            claimed = self.keyword.committed([h.chunk.id for h in hits])
            if claimed is None:
                return hits
            kept = [h for h in hits if h.chunk.id in claimed]
            if len(kept) >= n or len(hits) < want:
                return kept
            want = want * 2 + (want - len(kept))
        return kept

    def _committed(self, rankings: list[list[Hit]]) -> list[list[Hit]]:
        """Keep only hits that committed manifest rows claim, all read in one snapshot: an
        ingest writes a batch's chunks to the store before its rows commit and deletes a
        changed file's old chunks after, so this is what makes every answer come from one
        committed state, with no file half old and half new."""
        ids = list({h.chunk.id for ranking in rankings for h in ranking})
        claimed = self.keyword.committed(ids) if ids else None
        if claimed is None or len(claimed) == len(ids):
            return rankings
        return [[h for h in ranking if h.chunk.id in claimed] for ranking in rankings]

    def _catch_up(self, store: VectorStore) -> None:
        """Reopen a store whose view can go stale (:class:`ragkit.ports.Reopens`) when
        another process changed the knowledge base since the last reopen (an embedded
        Chroma keeps its vector index in memory and does not see other processes' writes);
        at most every REOPEN_EVERY seconds while an ingest runs: what readers see is made
        safe by :meth:`_committed`, this only makes it fresh."""
        if not isinstance(store, Reopens):
            return
        version, writer = self.keyword.version()
        with self._seen_lock:
            if self._seen is None or writer == os.getpid():
                self._seen = version
            if self._seen == version or time.monotonic() - self._reopened < REOPEN_EVERY:
                return
            self._seen, self._reopened = version, time.monotonic()
        store.reopen()

    def _mmr(self, question: str, query_vector: list[float] | None, hits: list[Hit],
             k: int) -> list[Hit]:
        if query_vector is None:
            query_vector = self._embedder().embed_query(question)
        vectors = self._store().vectors([h.chunk.id for h in hits])
        kept = [h for h in hits if h.chunk.id in vectors]
        return mmr_select(query_vector, kept, [vectors[h.chunk.id] for h in kept], k,
                          self.settings.mmr_lambda)


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 2)


def describe(hit: Hit) -> dict[str, Any]:
    """A hit as the ``ragkit retrieve --json`` row (:meth:`Hit.to_dict`)."""
    return hit.to_dict()
