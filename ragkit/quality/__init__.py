"""Answer quality: score ``ask`` on extractive QA datasets (SQuAD, XQuAD, CMRC2018, DRCD).

A stage: it measures whatever knowledge base ``make_rag`` opens and never imports the
façade (:mod:`ragkit.evaluation` passes ``ragkit.RAG``).
"""

from __future__ import annotations

from ragkit.quality.answers import evaluate_answers, score, summarise
from ragkit.quality.metrics import (
    contains,
    detect_lang,
    exact_match,
    f1,
    is_refusal,
    normalise,
    percentile,
)
from ragkit.quality.squad import Paragraph, Question, SquadSet, load_squad

__all__ = [
    "Paragraph",
    "Question",
    "SquadSet",
    "contains",
    "detect_lang",
    "evaluate_answers",
    "exact_match",
    "f1",
    "is_refusal",
    "load_squad",
    "normalise",
    "percentile",
    "score",
    "summarise",
]
