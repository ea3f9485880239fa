"""``ragkit eval answers``: ask a SQuAD-format dataset's questions and score the answers.

Every context is ingested as one document (``Document.from_text(source_id, context,
title)``), so retrieval has the whole dataset to choose from; each question is then asked
and scored against its gold answers, per language and over all questions.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from ragkit._types import Document
from ragkit.quality.metrics import contains, exact_match, f1, is_refusal, mean, percentile
from ragkit.quality.squad import Question, load_squad

logger = logging.getLogger(__name__)


class CitationLike(Protocol):
    """What is read of a citation (``ragkit.Citation`` has it)."""

    @property
    def text(self) -> str: ...

    @property
    def cited(self) -> bool: ...


class AnswerLike(Protocol):
    """What is read of an answer (``ragkit.Answer`` has it)."""

    @property
    def text(self) -> str: ...

    @property
    def citations(self) -> Sequence[CitationLike]: ...

    @property
    def timings(self) -> Mapping[str, float]: ...

    @property
    def supported_share(self) -> float | None: ...


class Answerer(Protocol):
    """What the evaluation needs of a knowledge base (``ragkit.RAG`` has it)."""

    def add_documents(self, documents: Iterable[Document]) -> Any: ...

    def ask(self, question: str, options: Any = None) -> AnswerLike: ...


@dataclass(frozen=True)
class Score:
    """One question's scores."""

    lang: str
    em: float
    f1: float
    citation_hit: bool  #: a passage the answer cites holds a gold answer
    passage_hit: bool  #: a passage the answer was given holds a gold answer
    cited: bool  #: the answer cites at least one passage
    refusal: bool
    supported_share: float | None
    ttft_ms: float | None
    total_ms: float | None


def score(question: Question, answer: AnswerLike) -> Score:
    """Score ``answer`` against ``question``'s gold answers (in the question's language).

    >>> from types import SimpleNamespace as NS
    >>> q = Question("q1", "When?", ["1889"], "Eiffel#0", "en")
    >>> a = NS(text="In 1889 [1].", citations=[NS(text="Built in 1889.", cited=True)],
    ...        timings={"first_token_ms": 80.0, "total_ms": 400.0}, supported_share=1.0)
    >>> s = score(q, a)
    >>> s.em, round(s.f1, 2), s.citation_hit, s.refusal
    (0.0, 0.67, True, False)
    """
    golds, lang = question.answers, question.lang
    cited = [c for c in answer.citations if c.cited]
    timings = answer.timings or {}
    return Score(
        lang=lang,
        em=exact_match(answer.text, golds, lang),
        f1=f1(answer.text, golds, lang),
        citation_hit=any(contains(c.text, golds, lang) for c in cited),
        passage_hit=any(contains(c.text, golds, lang) for c in answer.citations),
        cited=bool(cited),
        refusal=is_refusal(answer.text),
        supported_share=getattr(answer, "supported_share", None),
        ttft_ms=timings.get("first_token_ms"),
        total_ms=timings.get("total_ms"),
    )


def _r(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits)


def summarise(scores: Sequence[Score]) -> dict[str, Any]:
    """The means and latency percentiles of ``scores``: the ``results[lang]`` object.

    Rates are shares (0-1); ``supported_share`` is the mean over the answers that were
    verified (None if none were); times are milliseconds (None if no answer reported them).
    """
    ttft = [s.ttft_ms for s in scores if s.ttft_ms is not None]
    total = [s.total_ms for s in scores if s.total_ms is not None]
    support = [s.supported_share for s in scores if s.supported_share is not None]
    return {
        "questions": len(scores),
        "em": _r(mean([s.em for s in scores])),
        "f1": _r(mean([s.f1 for s in scores])),
        "citation_hit": _r(mean([float(s.citation_hit) for s in scores])),
        "passage_hit": _r(mean([float(s.passage_hit) for s in scores])),
        "cited": _r(mean([float(s.cited) for s in scores])),
        "supported_share": _r(mean(support)),
        "refusals": _r(mean([float(s.refusal) for s in scores])),
        "ttft_p50": _r(percentile(ttft, 50), 1),
        "ttft_p95": _r(percentile(ttft, 95), 1),
        "latency_p50": _r(percentile(total, 50), 1),
        "latency_p95": _r(percentile(total, 95), 1),
    }


def evaluate_answers(
    dataset: str | Path,
    make_rag: Callable[[Path], Answerer],
    *,
    n: int | None = None,
    kb: str | Path | None = None,
    ask_options: Any = None,
) -> dict[str, Any]:
    """Ingest the contexts of ``dataset`` into a temporary knowledge base, or ``kb``; ask its
    first ``n`` questions (all if None); return ``{"dataset", "questions", "paragraphs",
    "results": {lang: metrics, "all": metrics}, "seconds": {"ingest", "ask"}}``.

    ``make_rag(kb_path)`` opens the knowledge base (``ragkit.evaluate_answers`` passes
    ``RAG``; tests pass a fake); ``ask_options`` is passed to each ``ask`` as its options.
    ``results`` has a key per language present ("en", "zh") and "all"; see :func:`summarise`.
    """
    if n is not None and n < 1:
        raise ValueError(f"n={n!r}: ask at least one question (or None for all)")
    ds = load_squad(dataset)
    questions = ds.questions[:n] if n is not None else ds.questions
    with tempfile.TemporaryDirectory(prefix="ragkit-eval-") as tmp:
        rag = make_rag(Path(kb) if kb is not None else Path(tmp) / "kb")
        start = time.perf_counter()
        rag.add_documents(Document.from_text(p.source_id, p.context, p.title)
                          for p in ds.paragraphs)
        seconds = {"ingest": round(time.perf_counter() - start, 2)}
        start = time.perf_counter()
        scores = []
        for i, q in enumerate(questions, 1):
            answer = rag.ask(q.question) if ask_options is None else rag.ask(q.question,
                                                                             ask_options)
            scores.append(score(q, answer))
            logger.debug("question %d/%d %s: f1=%.2f", i, len(questions), q.id, scores[-1].f1)
        seconds["ask"] = round(time.perf_counter() - start, 2)
    results = {lang: summarise([s for s in scores if s.lang == lang])
               for lang in sorted({s.lang for s in scores})}
    results["all"] = summarise(scores)
    logger.info("answers of %s: %d questions, f1=%s", ds.name, len(scores), results["all"]["f1"])
    return {"dataset": ds.name, "questions": len(questions), "paragraphs": len(ds.paragraphs),
            "results": results, "seconds": seconds}
