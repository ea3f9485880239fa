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
