"""One retrieval call: filters → dense and/or BM25 → fusion → rerank → MMR → top k."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ragkit._types import Hit
from ragkit.errors import ValidationError
from ragkit.ports import Embedder, Reranker, VectorStore
from ragkit.retrieval.filters import Filters, parse_filters, resolve
from ragkit.retrieval.fusion import mmr as mmr_select
from ragkit.retrieval.fusion import rrf
from ragkit.retrieval.keyword import KeywordIndex
from ragkit.settings import Settings

MODES = ("dense", "bm25", "hybrid")


class Retriever:
    """Finds the chunks for a question in one knowledge base.

    The embedding model loads only when a dense search (or MMR) needs it, so ``bm25``
    retrieval starts fast. ``timings`` holds the milliseconds of the last call's stages.
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
        self.timings: dict[str, float] = {}

    def _filters(self, filters: Iterable[str] | Mapping[str, str] | None) -> Filters | None:
        checked = parse_filters(filters)
        return resolve(checked, self.keyword.sources()) if checked else None

    def retrieve(
        self,
        question: str,
        *,
        k: int | None = None,
        mode: str | None = None,
        filters: Iterable[str] | Mapping[str, str] | None = None,
        mmr: bool | None = None,
    ) -> list[Hit]:
        s = self.settings
        k = k or s.top_k
        mode = mode or s.retrieval_mode
        if mode not in MODES:
            raise ValidationError(f"retrieval mode {mode!r}: use one of {', '.join(MODES)}")
        use_mmr = s.mmr if mmr is None else mmr
        reranker = self._reranker()
        timings: dict[str, float] = {}
        self.timings = timings
        f = self._filters(filters)
        if f is not None and f.empty:
            return []
        # more than k from each retriever when anything re-orders them afterwards
        n = max(k, s.candidates) if (mode == "hybrid" or use_mmr or reranker) else k
        query_vector: list[float] | None = None
        rankings: list[list[Hit]] = []
        if mode in ("dense", "hybrid"):
            t = time.perf_counter()
            query_vector = self._embedder().embed_query(question)
            timings["embed_ms"] = _ms(t)
            t = time.perf_counter()
            rankings.append(self._store().search(query_vector, n, where=f.chroma() if f else None))
            timings["dense_ms"] = _ms(t)
        if mode in ("bm25", "hybrid"):
            t = time.perf_counter()
            rankings.append(self.keyword.search(question, n, where=f.sql() if f else None))
            timings["bm25_ms"] = _ms(t)
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
            if query_vector is None:
                query_vector = self._embedder().embed_query(question)
            vectors = self._store().vectors([h.chunk.id for h in hits])
            kept = [h for h in hits if h.chunk.id in vectors]
            hits = mmr_select(query_vector, kept, [vectors[h.chunk.id] for h in kept], k,
                              s.mmr_lambda)
            timings["mmr_ms"] = _ms(t)
        return hits[:k]


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 2)


def describe(hit: Hit) -> dict[str, Any]:
    """A hit as the ``ragkit retrieve --json`` row."""
    c = hit.chunk
    return {"chunk_id": c.id, "source": c.source, "page": c.page, "section": c.section,
            "score": round(hit.score, 6), "text": c.text, "flags": list(hit.flags)}
