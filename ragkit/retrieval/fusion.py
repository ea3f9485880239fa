"""Combining ranked lists: Reciprocal Rank Fusion, and MMR for diversity."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ragkit._types import Hit


def rrf(
    rankings: Sequence[Sequence[Hit]], *, k: int = 60, weights: Sequence[float] | None = None
) -> list[Hit]:
    """Reciprocal Rank Fusion (Cormack et al., 2009): ``score = sum w_i / (k + rank_i)``.

    ``rank_i`` is 1-based; a chunk missing from a list adds nothing for it. Ties keep the
    order of first appearance. The returned hits carry the fused score.

    >>> from ragkit._types import Chunk
    >>> a, b = (Hit(Chunk(i, "d", i, "s", 0), 0.0) for i in "ab")
    >>> [(h.chunk.id, round(h.score, 4)) for h in rrf([[a, b], [b]], k=60)]
    [('b', 0.0325), ('a', 0.0164)]
    """
    weights = list(weights) if weights is not None else [1.0] * len(rankings)
    if len(weights) != len(rankings):
        raise ValueError(f"{len(rankings)} rankings but {len(weights)} weights")
    scores: dict[str, float] = {}
    first: dict[str, Hit] = {}
    for ranking, weight in zip(rankings, weights, strict=True):
        for rank, hit in enumerate(ranking, 1):
            cid = hit.chunk.id
            scores[cid] = scores.get(cid, 0.0) + weight / (k + rank)
            first.setdefault(cid, hit)
    order = sorted(scores, key=lambda cid: -scores[cid])  # stable: first appearance on ties
    return [Hit(first[cid].chunk, scores[cid]) for cid in order]


def mmr(
    query: Sequence[float],
    hits: Sequence[Hit],
    vectors: Sequence[Sequence[float]],
    k: int,
    lambda_: float = 0.5,
) -> list[Hit]:
    """Maximal Marginal Relevance (Carbonell & Goldstein, 1998) over ``hits``.

    Picks, one at a time, the hit maximising ``lambda * sim(query, d) - (1 - lambda) *
    max sim(d, picked)`` (cosine on normalised vectors). ``lambda_ = 1`` keeps the
    relevance order; lower values trade relevance for diversity.
    """
    if not hits:
        return []
    v = np.asarray(vectors, dtype=np.float32)
    v /= np.clip(np.linalg.norm(v, axis=1, keepdims=True), 1e-12, None)
    q = np.asarray(query, dtype=np.float32)
    q /= max(float(np.linalg.norm(q)), 1e-12)
    rel = v @ q
    picked: list[int] = []
    redundancy = np.full(len(hits), -np.inf)
    candidates = set(range(len(hits)))
    while candidates and len(picked) < k:
        best = max(candidates, key=lambda i: lambda_ * rel[i] - (1 - lambda_) * (
            redundancy[i] if picked else 0.0))
        picked.append(best)
        candidates.discard(best)
        redundancy = np.maximum(redundancy, v @ v[best])
    return [hits[i] for i in picked]
