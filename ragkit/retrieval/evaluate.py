"""``ragkit eval retrieval``: run a BEIR-format dataset through each retrieval mode."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, Protocol

from ragkit._types import Document, Hit
from ragkit.retrieval.beir import load_beir
from ragkit.retrieval.metrics import evaluate


def doc_ranking(sources: Sequence[str], k: int) -> list[str]:
    """Chunk sources, best first -> distinct document ids, best first (a document ranks
    where its best chunk does)."""
    seen: dict[str, None] = {}
    for s in sources:
        seen.setdefault(s)
        if len(seen) == k:
            break
    return list(seen)


class Searchable(Protocol):
    """What the evaluation needs of a knowledge base (``ragkit.RAG`` has it)."""

    def add_documents(self, documents: Iterable[Document]) -> Any: ...

    def retrieve(self, question: str, *, k: int | None = None,
                 mode: str | None = None) -> list[Hit]: ...


def evaluate_retrieval(
    dataset: str | Path,
    make_rag: Callable[[Path], Searchable],
    *,
    modes: Sequence[str] = ("dense", "bm25", "hybrid"),
    k: int = 100,
    kb: str | Path | None = None,
) -> dict[str, Any]:
    """Ingest the corpus (document ids kept as sources) into a temporary knowledge base,
    or ``kb``; run every query in each mode; return
    ``{"dataset", "queries", "documents", "results": {mode: metrics}, "seconds": {...}}``.

    ``make_rag(kb_path)`` opens the knowledge base (``ragkit.evaluate_retrieval`` passes
    ``RAG``; tests pass one sharing the loaded embedder); ``k`` documents are ranked per
    query (Recall@100 needs k >= 100).
    """
    ds = load_beir(dataset)
    with tempfile.TemporaryDirectory(prefix="ragkit-eval-") as tmp:
        folder = Path(kb) if kb is not None else Path(tmp) / "kb"
        rag = make_rag(folder)
        start = time.perf_counter()
        rag.add_documents(Document.from_text(doc_id, text, title)
                          for doc_id, (title, text) in ds.corpus.items())
        seconds: dict[str, float] = {"ingest": round(time.perf_counter() - start, 2)}
        results: dict[str, dict[str, float]] = {}
        # chunks per query: enough that k distinct documents survive de-duplication
        depth = max(k * 3, 30)
        for mode in modes:
            start = time.perf_counter()
            runs = {}
            for qid, text in ds.queries.items():
                hits = rag.retrieve(text, k=depth, mode=mode)
                runs[qid] = doc_ranking([h.chunk.source for h in hits], k)
            results[mode] = {m: round(v, 4) for m, v in evaluate(runs, ds.qrels).items()}
            seconds[mode] = round(time.perf_counter() - start, 2)
    return {"dataset": ds.name, "queries": len(ds.queries), "documents": len(ds.corpus),
            "results": results, "seconds": seconds}
