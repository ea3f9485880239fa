"""Read a SQuAD-format JSON file: SQuAD v1.1/v2.0, XQuAD, CMRC2018, DRCD.

All share ``{"data": [{"title", "paragraphs": [{"context", "qas": [{"id", "question",
"answers": [{"text", ...}]}]}]}]}``. SQuAD v2.0 questions marked ``is_impossible`` (no
answers) are skipped: extractive EM/F1 cannot score them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from ragkit.errors import NotFoundError, ValidationError
from ragkit.quality.metrics import detect_lang


class Paragraph(NamedTuple):
    """A context, ingested as one document under ``source_id`` (``"{title}#{i}"``)."""

    source_id: str
    title: str
    context: str


@dataclass(frozen=True)
class Question:
    """A question with its gold answers (distinct, in file order) and its language."""

    id: str
    question: str
    answers: list[str]
    source_id: str  #: the paragraph that answers it
    lang: str  #: "zh" if the question has a Han character, else "en"


@dataclass(frozen=True)
class SquadSet:
    """A loaded dataset; ``name`` is the file's stem."""

    name: str
    paragraphs: list[Paragraph]
    questions: list[Question]
    version: str = ""

    def __repr__(self) -> str:
        return (f"SquadSet({self.name!r}, paragraphs={len(self.paragraphs)}, "
                f"questions={len(self.questions)})")


def load_squad(path: str | Path) -> SquadSet:
    """Load ``path``; raises NotFoundError if it does not exist and ValidationError naming
    the file and the JSON location of anything malformed.

    >>> ds = load_squad("tests/data/squad_en.json")  # doctest: +SKIP
    >>> ds.questions[0].answers  # doctest: +SKIP
    ['1889']
    """
    path = Path(path)
    root = _read_json(path)
    data = root.get("data")
    if not isinstance(data, list):
        raise ValidationError(f"{path}: no \"data\" list; a SQuAD-format file is "
                              "{\"data\": [{\"title\", \"paragraphs\": [...]}]}")
    paragraphs: list[Paragraph] = []
    questions: list[Question] = []
    for a, article in enumerate(data):
        where = f"{path}: data[{a}]"
        article = _mapping(article, where)
        title = str(article.get("title") or "").strip()
        for p, para in enumerate(_list(article, "paragraphs", where)):
            para_where = f"{where}.paragraphs[{p}]"
            para = _mapping(para, para_where)
            context = para.get("context")
            if not isinstance(context, str) or not context.strip():
                raise ValidationError(f"{para_where}: \"context\" must be non-empty text")
            source_id = f"{title or path.stem}#{len(paragraphs)}"
            paragraphs.append(Paragraph(source_id, title, context))
            for q, qa in enumerate(_list(para, "qas", para_where)):
                question = _question(qa, f"{para_where}.qas[{q}]", source_id, q)
                if question is not None:
                    questions.append(question)
    if not questions:
        raise ValidationError(f"{path}: no answerable question; each qas[] item needs a "
                              "\"question\" and at least one answers[].text")
    return SquadSet(path.stem, paragraphs, questions, str(root.get("version") or ""))


def _read_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise NotFoundError(f"{path} does not exist or is not a file; pass a SQuAD-format "
                            "JSON file (SQuAD, XQuAD, CMRC2018, DRCD)")
    try:
        root = json.loads(path.read_text(encoding="utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise ValidationError(f"{path}: not UTF-8 text ({exc.reason}); "
                              "re-save it as UTF-8") from exc
    except json.JSONDecodeError as exc:
        raise ValidationError(f"{path}:{exc.lineno}:{exc.colno}: not JSON ({exc.msg})") from exc
    if not isinstance(root, dict):
        raise ValidationError(f"{path}: the top level must be an object with a \"data\" list")
    return root


def _mapping(value: object, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValidationError(f"{where}: expected an object, got {type(value).__name__}")
    return value


def _list(obj: dict[str, Any], key: str, where: str) -> list[Any]:
    value = obj.get(key, [])
    if not isinstance(value, list):
        raise ValidationError(f"{where}: {key!r} must be a list, got {type(value).__name__}")
    return value


def _question(qa: object, where: str, source_id: str, index: int) -> Question | None:
    """The question at ``where``; None for an unanswerable one (SQuAD v2.0)."""
    qa = _mapping(qa, where)
    text = qa.get("question")
    if not isinstance(text, str) or not text.strip():
        raise ValidationError(f"{where}: \"question\" must be non-empty text")
    answers: dict[str, None] = {}
    for i, ans in enumerate(_list(qa, "answers", where)):
        value = ans.get("text") if isinstance(ans, dict) else ans
        if not isinstance(value, str):
            raise ValidationError(f"{where}.answers[{i}]: expected {{\"text\": ...}}, "
                                  f"got {ans!r}")
        if value.strip():
            answers.setdefault(value.strip())
    if not answers:
        if qa.get("is_impossible"):
            return None
        raise ValidationError(f"{where}: no answers[].text; mark an unanswerable question "
                              "\"is_impossible\": true")
    qid = str(qa.get("id") or f"{source_id}/{index}")
    return Question(qid, text.strip(), list(answers), source_id, detect_lang(text))
