"""Writing generated questions as evaluation sets: BEIR (``corpus.jsonl``,
``queries.jsonl``, ``qrels/test.tsv``) for ``ragkit eval retrieval`` and SQuAD
(``squad.json``) for ``ragkit eval answers``; see docs/eval-generate.md."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from ragkit._types import Chunk
from ragkit.errors import ValidationError
from ragkit.quality.generate import Generated


def _title(source: str) -> str:
    return Path(source).name or source


def _write_lines(path: Path, lines: Iterable[str]) -> None:
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")


def write_beir(out: str | Path, corpus_chunks: Sequence[Chunk],
               generated: Sequence[Generated]) -> list[Path]:
    """Write into ``out`` ``corpus.jsonl`` (every chunk: ``_id`` its id, ``title`` its file
    name, its text), ``queries.jsonl`` (ids ``q1``, ``q2``, ...) and ``qrels/test.tsv``
    (each question's source chunk, score 1); return the paths. Raises ValidationError if a
    question's chunk is not among ``corpus_chunks``."""
    root = Path(out)
    corpus = {c.id: c for c in corpus_chunks}
    missing = sorted({g.chunk_id for g in generated} - set(corpus))
    if missing:
        raise ValidationError(f"chunks {missing[:3]} of the questions are not in the corpus; "
                              "pass every chunk of the knowledge base")
    (root / "qrels").mkdir(parents=True, exist_ok=True)
    paths = [root / "corpus.jsonl", root / "queries.jsonl", root / "qrels" / "test.tsv"]
    _write_lines(paths[0], (json.dumps({"_id": c.id, "title": _title(c.source),
                                        "text": c.text}, ensure_ascii=False)
                            for c in corpus.values()))
    _write_lines(paths[1], (json.dumps({"_id": f"q{i}", "text": g.question}, ensure_ascii=False)
                            for i, g in enumerate(generated, 1)))
    _write_lines(paths[2], ["query-id\tcorpus-id\tscore",
                            *(f"q{i}\t{g.chunk_id}\t1" for i, g in enumerate(generated, 1))])
    return paths


def write_squad(path: str | Path, generated: Sequence[Generated],
                corpus_chunks: Sequence[Chunk] = ()) -> Path:
    """Write ``generated`` as a SQuAD-format file: an article per source file (title: its
    name), a paragraph per source chunk (context: its text), its questions as ``qas``
    (ids ``q1``, ``q2``, ... as in :func:`write_beir`, with ``answer_start``). The other
    ``corpus_chunks`` are added as paragraphs without questions, so ``ragkit eval answers``
    retrieves among the whole knowledge base."""
    articles: dict[str, dict[str, dict[str, Any]]] = {}
    for i, g in enumerate(generated, 1):
        para = articles.setdefault(g.source, {}).setdefault(
            g.chunk_id, {"context": g.text, "qas": []})
        para["qas"].append({"id": f"q{i}", "question": g.question,
                            "answers": [{"text": g.answer, "answer_start": g.answer_start}]})
    for c in corpus_chunks:
        if c.text.strip():
            articles.setdefault(c.source, {}).setdefault(c.id, {"context": c.text, "qas": []})
    data = [{"title": _title(source), "paragraphs": list(paras.values())}
            for source, paras in articles.items()]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"version": "ragkit-generated", "data": data},
                               ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return path
