"""Evaluation over the façade: ``ragkit eval ...`` and the Python API share these.

The measuring itself is in the stages (:mod:`ragkit.retrieval.evaluate`,
:mod:`ragkit.retrieval.metrics`); this module only opens knowledge bases for them, so the
stages never import the façade.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ragkit._rag import RAG
from ragkit.errors import NotFoundError, ValidationError
from ragkit.options import AskOptions
from ragkit.prompt import Templates
from ragkit.quality.answers import evaluate_answers as _evaluate_answers
from ragkit.quality.generate import generate_questions
from ragkit.quality.writers import write_beir, write_squad
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


def generate_eval_set(
    kb: str | Path,
    out: str | Path,
    *,
    n: int = 50,
    seed: int = 0,
    make_rag: Callable[[Path], RAG] | None = None,
) -> dict[str, Any]:
    """Write an evaluation set of the knowledge base ``kb`` into the folder ``out``: the LLM
    writes a question and its answer about each of up to ``n * 3`` sentences of chunks
    sampled by ``seed``; those passing the filters (at most ``n``) become ``corpus.jsonl``
    (every chunk), ``queries.jsonl``, ``qrels/test.tsv`` (BEIR, for
    :func:`evaluate_retrieval`) and ``squad.json`` (for :func:`evaluate_answers`).
    docs/eval-generate.md has the filters.

    Returns ``{"kb", "out", "questions", "tried", "eligible", "chunks", "rejected": {reason:
    count}, "languages": {lang: count}, "files", "seconds"}`` (``tried``: replies asked for).
    Raises NotFoundError if ``kb`` does not exist or holds no chunks, ValidationError if no
    question passed the filters (nothing is written then).

    >>> ragkit.generate_eval_set("kb", "kb-eval", n=20)  # doctest: +SKIP
    """
    start = time.perf_counter()
    path = Path(kb)
    if not path.is_dir():
        raise NotFoundError(f"Knowledge base {str(path)!r} does not exist; ingest documents "
                            "into it first (ragkit-ingest PATH --kb DIR).")
    rag = make_rag(path) if make_rag is not None else RAG(path)
    ids = sorted(rag.store.ids())
    chunks = [c for i in range(0, len(ids), 500) for c in rag.store.get(ids[i:i + 500])]
    if not chunks:
        raise NotFoundError(f"Knowledge base {str(path)!r} holds no chunks; ingest documents "
                            "into it first (ragkit-ingest PATH --kb DIR).")
    folder = rag.settings.prompt_dir
    templates = Templates(rag.knowledge_base.resolve(folder) if folder else None)
    llm = rag.llm

    def complete(messages: list[dict[str, str]]) -> str:
        return "".join(llm.stream(messages, max_tokens=64, temperature=0.0, seed=seed,
                                  repeat_penalty=1.0, stop=["\n\n"]))

    result = generate_questions(chunks, complete, templates=templates, n=n, seed=seed)
    if not result.questions:
        raise ValidationError(
            f"No generated question passed the filters ({result.tried} replies from "
            f"{result.eligible} of {len(chunks)} chunks long enough; rejected: "
            f"{result.rejected}); try another --seed, more documents or a larger model.")
    out_path = Path(out)
    files = write_beir(out_path, chunks, result.questions)
    files.append(write_squad(out_path / "squad.json", result.questions, chunks))
    languages = Counter(g.lang for g in result.questions)
    return {"kb": str(path), "out": str(out_path), "questions": len(result.questions),
            "tried": result.tried, "eligible": result.eligible, "chunks": len(chunks),
            "rejected": result.rejected, "languages": dict(sorted(languages.items())),
            "files": [str(f) for f in files], "seconds": round(time.perf_counter() - start, 2)}
