"""Few-shot examples from a YAML or JSONL file; all of them, or the k most similar to the
question by embedding similarity."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ragkit.errors import ConfigError


@dataclass(frozen=True)
class Example:
    """One worked example: a question, an optional context, the answer to imitate."""

    question: str
    answer: str
    context: str = ""


def load_examples(path: str | Path) -> list[Example]:
    """Read ``path``: JSONL (one ``{"question", "answer", "context"?}`` object a line) or YAML
    (a list of such mappings, or ``{"examples": [...]}``).

    Raises ConfigError naming the file and the line or item that is wrong.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"Cannot read the few-shot file {p}: {exc}") from exc
    items: list[object]
    if p.suffix.lower() in (".jsonl", ".ndjson"):
        items = []
        for n, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    items.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise ConfigError(f"{p}:{n} is not JSON: {exc}") from exc
    elif p.suffix.lower() in (".yaml", ".yml"):
        import yaml

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ConfigError(f"{p} is not valid YAML: {exc}") from exc
        if isinstance(data, dict):
            data = data.get("examples")
        if not isinstance(data, list):
            raise ConfigError(f"{p} must hold a list of examples (or 'examples: [...]').")
        items = data
    else:
        raise ConfigError(f"Few-shot file {p} must end in .jsonl, .yaml or .yml.")
    out = []
    for n, item in enumerate(items, 1):
        if not (isinstance(item, dict) and isinstance(item.get("question"), str)
                and isinstance(item.get("answer"), str)):
            raise ConfigError(f"{p}: example {n} needs string 'question' and 'answer' fields.")
        out.append(Example(item["question"].strip(), item["answer"].strip(),
                           str(item.get("context") or "").strip()))
    return out


class ExampleSelector:
    """Orders examples for a question: file order (``k=0``: all of them), or the ``k``
    most similar questions first (cosine similarity of ``embed`` vectors)."""

    def __init__(
        self,
        examples: Sequence[Example],
        k: int = 0,
        embed: Callable[[list[str]], list[list[float]]] | None = None,
    ) -> None:
        self.examples = list(examples)
        self.k = k
        self._embed = embed
        self._vectors: np.ndarray | None = None

    def select(self, question: str, query_vector: Sequence[float] | None = None) -> list[Example]:
        if not self.k or self.k >= len(self.examples) and self._embed is None:
            return list(self.examples)
        if self._embed is None or query_vector is None:
            return self.examples[: self.k]
        if self._vectors is None:
            self._vectors = np.asarray(self._embed([e.question for e in self.examples]))
        scores = self._vectors @ np.asarray(query_vector)
        order = np.argsort(-scores, kind="stable")[: self.k]
        return [self.examples[i] for i in order]
