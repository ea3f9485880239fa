"""Standard retrieval metrics (as in BEIR / TREC): nDCG@k, Recall@k, MRR@k.

``ranked`` is the list of document ids a system returned, best first; ``qrels`` maps the
relevant document ids to their graded relevance (>0; ids with grade 0 are not relevant).

>>> ndcg_at_k(["a", "b"], {"b": 1}, 10)  # one relevant document, found at rank 2
0.6309297535714575
>>> recall_at_k(["a", "b"], {"b": 1, "c": 1}, 10)
0.5
>>> mrr_at_k(["a", "b"], {"b": 1}, 10)
0.5
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence


def _relevant(qrels: Mapping[str, int]) -> dict[str, int]:
    return {d: g for d, g in qrels.items() if g > 0}


def ndcg_at_k(ranked: Sequence[str], qrels: Mapping[str, int], k: int) -> float:
    """Normalised discounted cumulative gain with linear gains (BEIR's pytrec_eval)."""
    rel = _relevant(qrels)
    if not rel:
        return 0.0
    dcg = sum(rel.get(d, 0) / math.log2(i + 2) for i, d in enumerate(ranked[:k]))
    ideal = sorted(rel.values(), reverse=True)[:k]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg


def recall_at_k(ranked: Sequence[str], qrels: Mapping[str, int], k: int) -> float:
    """Share of the relevant documents found in the top ``k``."""
    rel = _relevant(qrels)
    if not rel:
        return 0.0
    return len(rel.keys() & set(ranked[:k])) / len(rel)


def mrr_at_k(ranked: Sequence[str], qrels: Mapping[str, int], k: int) -> float:
    """Reciprocal rank of the first relevant document in the top ``k`` (0 if none)."""
    rel = _relevant(qrels)
    for i, d in enumerate(ranked[:k]):
        if d in rel:
            return 1.0 / (i + 1)
    return 0.0


def evaluate(
    runs: Mapping[str, Sequence[str]], qrels: Mapping[str, Mapping[str, int]]
) -> dict[str, float]:
    """Mean nDCG@10, Recall@10, Recall@100 and MRR@10 over the queries in ``qrels``.

    A query with relevant documents but no run counts as zero, as in BEIR.
    """
    queries = [q for q, r in qrels.items() if _relevant(r)]
    if not queries:
        raise ValueError("no query has a relevant document")
    sums = dict.fromkeys(("ndcg@10", "recall@10", "recall@100", "mrr@10"), 0.0)
    for q in queries:
        ranked, rel = runs.get(q, []), qrels[q]
        sums["ndcg@10"] += ndcg_at_k(ranked, rel, 10)
        sums["recall@10"] += recall_at_k(ranked, rel, 10)
        sums["recall@100"] += recall_at_k(ranked, rel, 100)
        sums["mrr@10"] += mrr_at_k(ranked, rel, 10)
    return {name: total / len(queries) for name, total in sums.items()}
