"""Answer quality (issue 13): ``ragkit.evaluate_answers`` per configuration and language.

    PYTHONPATH=. .venv/bin/python bench/answers_bench.py [--n 12] [--dump answers.jsonl]

For each of the project's SQuAD-format sets (``tests/data/squad_en.json``,
``tests/data/squad_zh.json``) the paragraphs are ingested once into a temporary knowledge
base (default settings: the bundled SmolLM2-135M, all-MiniLM-L6-v2, hybrid retrieval), and
one ``RAG`` on it answers every configuration (``make_rag=lambda path: rag``; the
re-ingest ``evaluate_answers`` starts with finds every paragraph unchanged). A warm-up
(ingest, models loaded, the first and the last question asked) is not measured. Then the
first ``--n`` questions of each set are asked with, in this order:

- ``default``: ``AskOptions(use_cache=False)``, i.e. best_of 1, reasoning "none";
- ``best_of=3``: three candidates (the greedy one, then seeds 1 and 2 at
  ``best_of_temperature`` 0.7), the best supported kept;
- ``cot`` and ``least_to_most``: ``reasoning=...``, one answer.

One table: em, f1, citation_hit, supported_share, refusals (shares, 0-1), ttft_p50,
latency_p50, latency_p95 (ms, ``first_token_ms`` and ``total_ms`` of each answer: with
best_of the first token is the whole chosen answer; with a reasoning mode it is the model's
first token, of the reasoning, which the reader does not see), and ``cost``: the
configuration's latency_p50 over the default's, same language, same run.
``--dump`` writes every answer (question, gold answers, text, reasoning, support share,
timings) as JSON lines, for reading the errors.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ragkit import RAG, AskOptions, evaluate_answers
from ragkit.quality import load_squad

ROOT = Path(__file__).resolve().parents[1]
DATASETS = [ROOT / "tests" / "data" / "squad_en.json", ROOT / "tests" / "data" / "squad_zh.json"]
CONFIGS: dict[str, dict[str, Any]] = {
    "default": {},
    "best_of=3": {"best_of": 3},
    "cot": {"reasoning": "cot"},
    "least_to_most": {"reasoning": "least_to_most"},
}
COLUMNS = ("em", "f1", "citation_hit", "supported_share", "refusals", "ttft_p50",
           "latency_p50", "latency_p95")


class Recorder:
    """The one ``RAG``, handed to ``evaluate_answers``; keeps each answer for ``--dump``."""

    def __init__(self, rag: RAG) -> None:
        self.rag = rag
        self.answers: list[Any] = []

    def add_documents(self, documents: Iterable[Any]) -> Any:
        report = self.rag.add_documents(documents)
        self.report = report
        return report

    def ask(self, question: str, options: Any = None) -> Any:
        answer = self.rag.ask(question, options)
        self.answers.append(answer)
        return answer


def load() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def fmt(value: float | None, ms: bool = False) -> str:
    if value is None:
        return "–"
    return f"{value:.0f}" if ms else f"{value:.3f}"


def run_dataset(dataset: Path, names: list[str], n: int, dump: Any) -> list[tuple]:
    """Every configuration on one dataset, in one knowledge base and one ``RAG``."""
    questions = load_squad(dataset).questions
    golds = {q.question: q.answers for q in questions}
    rows = []
    with tempfile.TemporaryDirectory(prefix="answers-bench-") as tmp:
        kb = Path(tmp) / "kb"
        rec = Recorder(RAG(kb))
        # warm-up, not measured: ingest, load the models, ask the first question, then the
        # last one (so the first measured ask does not find its own prompt cached)
        evaluate_answers(dataset, n=1, kb=kb, options=AskOptions(use_cache=False),
                         make_rag=lambda _path: rec)  # type: ignore[arg-type]
        rec.rag.ask(questions[-1].question, AskOptions(use_cache=False))
        for name in names:
            options = AskOptions(use_cache=False, **CONFIGS[name])
            before = load()
            t = time.perf_counter()
            rec.answers = []
            result = evaluate_answers(dataset, n=n, kb=kb, options=options,
                                      make_rag=lambda _path: rec)  # type: ignore[arg-type]
            wall = time.perf_counter() - t
            lang = next(k for k in result["results"] if k != "all")
            rows.append((name, lang, result["results"][lang]))
            print(f"{dataset.name} {name}: {result['questions']} questions in {wall:.0f} s "
                  f"({len(rec.report.unchanged)} of {rec.report.seen} paragraphs unchanged "
                  f"at its ingest); answers with a reasoning part "
                  f"{sum(a.reasoning is not None for a in rec.answers)}; load average "
                  f"before {before}, after {load()}", flush=True)
            for a in rec.answers if dump else []:
                dump.write(json.dumps({
                    "dataset": dataset.name, "config": name, "question": a.question,
                    "gold": golds.get(a.question), "answer": a.text,
                    "reasoning": a.reasoning, "supported_share": a.supported_share,
                    "cited": [c.n for c in a.citations if c.cited],
                    "candidates": a.candidates, "timings": a.timings,
                }, ensure_ascii=False) + "\n")
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=12, help="questions per dataset")
    ap.add_argument("--config", action="append", choices=list(CONFIGS),
                    help="configuration(s) to run (default: all; 'default' always runs)")
    ap.add_argument("--dump", type=Path, help="write every answer here (JSON lines)")
    args = ap.parse_args()
    names = ["default"] + [c for c in (args.config or CONFIGS) if c != "default"]

    dump = args.dump.open("w", encoding="utf-8") if args.dump else None
    rows = [row for dataset in DATASETS for row in run_dataset(dataset, names, args.n, dump)]
    if dump:
        dump.close()

    base = {lang: r["latency_p50"] for name, lang, r in rows if name == "default"}
    head = f"{'config':<14}{'lang':<5}" + "".join(f"{c:>16}" for c in COLUMNS) + f"{'cost':>7}"
    print()
    print(head)
    print("-" * len(head))
    for name, lang, r in sorted(rows, key=lambda x: (x[1], names.index(x[0]))):
        cost = (r["latency_p50"] / base[lang]) if base.get(lang) and r["latency_p50"] else None
        cells = "".join(f"{fmt(r[c], c.startswith(('ttft', 'latency'))):>16}" for c in COLUMNS)
        print(f"{name:<14}{lang:<5}{cells}{'–' if cost is None else f'{cost:.2f}x':>7}")
    print(f"\nload average (1, 5, 15 min) at the end: {load()}")


if __name__ == "__main__":
    main()
