"""Evaluation over the façade: ``ragkit eval ...`` and the Python API share these.

The measuring itself is in the stages (:mod:`ragkit.retrieval.evaluate`,
:mod:`ragkit.retrieval.metrics`); this module only opens knowledge bases for them, so the
stages never import the façade.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ragkit._rag import RAG
from ragkit.options import AskOptions
from ragkit.quality.answers import evaluate_answers as _evaluate_answers
from ragkit.retrieval.evaluate import evaluate_retrieval as _evaluate_retrieval


def evaluate_retrieval(
    dataset: str | Path,
    *,
    modes: Sequence[str] = ("dense", "bm25", "hybrid"),
    k: int = 100,
    kb: str | Path | None = None,
    make_rag: Callable[[Path], RAG] | None = None,
) -> dict[str, Any]:
    """nDCG@10, Recall@10/100 and MRR@10 of each mode on a BEIR-format ``dataset``: the
    corpus is ingested into ``kb`` (default: a temporary knowledge base, deleted after).

    Returns ``{"dataset", "queries", "documents", "results": {mode: metrics}, "seconds"}``.
    """
    return _evaluate_retrieval(dataset, make_rag or RAG, modes=modes, k=k, kb=kb)


def evaluate_answers(
    dataset: str | Path,
    *,
    n: int | None = None,
    kb: str | Path | None = None,
    options: AskOptions | None = None,
    make_rag: Callable[[Path], RAG] | None = None,
    **settings: Any,
) -> dict[str, Any]:
    """Exact match, F1, citation hit rate, supported share, refusals and latency per
    language on a SQuAD-format ``dataset`` (SQuAD, XQuAD, CMRC2018, DRCD): its paragraphs are
    ingested into ``kb`` (default: a temporary knowledge base) and its first ``n``
    questions asked with ``options``; ``settings`` override the knowledge base's (e.g.
    ``best_of=3``, ``reasoning="cot"``).

    Returns ``{"dataset", "questions", "results": {lang: {"em", "f1", "citation_hit",
    "supported_share", "refusals", "ttft_p50", "latency_p50", "latency_p95"}}, "seconds"}``.
    """
    def opener(path: Path) -> RAG:
        return make_rag(path) if make_rag is not None else RAG(path, **settings)

    return _evaluate_answers(dataset, opener, n=n, kb=kb, ask_options=options)
