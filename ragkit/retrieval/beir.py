"""Read a BEIR-format dataset folder: corpus.jsonl, queries.jsonl, qrels/test.tsv."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

from ragkit.errors import ValidationError


@dataclass(frozen=True)
class BeirDataset:
    name: str
    corpus: dict[str, tuple[str, str]]  #: doc id -> (title, text)
    queries: dict[str, str]  #: query id -> text (only those in the qrels)
    qrels: dict[str, dict[str, int]]  #: query id -> doc id -> relevance


def _jsonl(path: Path) -> list[dict[str, object]]:
    if not path.is_file():
        raise ValidationError(f"{path} is missing: a BEIR folder holds corpus.jsonl, "
                              "queries.jsonl and qrels/test.tsv")
    rows = []
    with path.open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValidationError(f"{path}:{n}: not JSON ({exc.msg})") from None
            if not isinstance(row, dict) or "_id" not in row:
                raise ValidationError(f"{path}:{n}: a row needs an \"_id\"")
            rows.append(row)
    return rows


def load_beir(folder: str | Path, split: str = "test") -> BeirDataset:
    """Load ``folder``; raises ValidationError naming the file and line of any problem."""
    root = Path(folder)
    corpus = {str(r["_id"]): (str(r.get("title") or ""), str(r.get("text") or ""))
              for r in _jsonl(root / "corpus.jsonl")}
    all_queries = {str(r["_id"]): str(r.get("text") or "") for r in _jsonl(root / "queries.jsonl")}
    qrels_path = root / "qrels" / f"{split}.tsv"
    if not qrels_path.is_file():
        raise ValidationError(f"{qrels_path} is missing")
    qrels: dict[str, dict[str, int]] = {}
    with qrels_path.open(encoding="utf-8", newline="") as f:
        for n, row in enumerate(csv.reader(f, delimiter="\t"), 1):
            if not row or (n == 1 and row[0] in ("query-id", "query_id", "qid")):
                continue
            if len(row) < 3:
                raise ValidationError(f"{qrels_path}:{n}: expected query-id, corpus-id, score")
            try:
                score = int(float(row[2]))
            except ValueError:
                raise ValidationError(
                    f"{qrels_path}:{n}: score {row[2]!r} is not a number") from None
            qrels.setdefault(row[0], {})[row[1]] = score
    missing = [q for q in qrels if q not in all_queries]
    if missing:
        raise ValidationError(f"{qrels_path}: query ids not in queries.jsonl: {missing[:5]}")
    queries = {q: all_queries[q] for q in qrels}
    return BeirDataset(root.name, corpus, queries, qrels)
