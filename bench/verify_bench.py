"""Citation verification (issue 13): threshold, held-out precision/recall, cost per answer.

    PYTHONPATH=. .venv/bin/python bench/verify_bench.py [--embed]

1. Scores every pair of tests/data/support_pairs.jsonl with ``support_score``, sweeps the
   threshold (0.00-1.00, step 0.01) on the pairs marked ``"split": "tune"`` and keeps the
   one with the highest F1 (ties: higher accuracy, then the lower threshold).
2. Prints precision, recall, F1 and accuracy at that threshold on the held-out pairs
   (``"split": "test"``), per language, and checks that ``DEFAULT_THRESHOLD`` is it.
3. Times ``verify_answer`` on 50 synthetic answers (4 sentences with markers, 4 passages
   of about 200 words, half English and half Chinese), caches cleared before each answer.

``--embed`` also measures whether the bundled embedding model (all-MiniLM-L6-v2) helps:
the score becomes ``(1 - a) * lexical + a * cosine`` (a number the passage lacks still
gives 0), with the threshold chosen on the tuning half for each ``a``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ragkit import verify

PAIRS = Path(__file__).resolve().parents[1] / "tests" / "data" / "support_pairs.jsonl"
Row = dict[str, Any]
Scored = list[tuple[Row, float]]


def load_pairs(path: Path = PAIRS) -> list[Row]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def metrics(scored: Scored, threshold: float) -> dict[str, float]:
    """Precision, recall, F1 and accuracy of ``score >= threshold`` as "supported"."""
    tp = sum(1 for r, s in scored if s >= threshold and r["supported"])
    fp = sum(1 for r, s in scored if s >= threshold and not r["supported"])
    fn = sum(1 for r, s in scored if s < threshold and r["supported"])
    p = tp / (tp + fp) if tp + fp else 0.0
    rc = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * p * rc / (p + rc) if p + rc else 0.0
    acc = (len(scored) - fp - fn) / len(scored) if scored else 0.0
    return {"n": len(scored), "precision": p, "recall": rc, "f1": f1, "accuracy": acc}


def choose_threshold(scored: Scored) -> float:
    """The threshold with the best F1 on ``scored`` (ties: accuracy, then the lowest)."""
    grid = [i / 100 for i in range(101)]
    return max(grid, key=lambda t: (metrics(scored, t)["f1"], metrics(scored, t)["accuracy"],
                                    -t))


def by_split(scored: Scored, split: str, lang: str | None = None) -> Scored:
    return [(r, s) for r, s in scored
            if r["split"] == split and (lang is None or r["lang"] == lang)]


def evaluate(rows: Sequence[Row],
             score: Callable[[Row], float] | None = None) -> tuple[float, dict[str, Any]]:
    """(threshold chosen on tune, {split/lang: metrics}) for ``score`` (default: lexical)."""
    scored = [(r, score(r) if score else verify.support_score(r["sentence"], r["passage"]))
              for r in rows]
    threshold = choose_threshold(by_split(scored, "tune"))
    table = {f"{split}/{lang or 'all'}": metrics(by_split(scored, split, lang), threshold)
             for split in ("tune", "test") for lang in ("en", "zh", None)}
    table["errors"] = [(r["lang"], r["kind"], r["supported"], s, r["sentence"])
                       for r, s in by_split(scored, "test")
                       if (s >= threshold) != r["supported"]]
    return threshold, table


def print_table(threshold: float, table: dict[str, Any]) -> None:
    print(f"threshold chosen on tune (max F1): {threshold:.2f}   "
          f"DEFAULT_THRESHOLD = {verify.DEFAULT_THRESHOLD:.2f}"
          + ("" if threshold == verify.DEFAULT_THRESHOLD else "   <- DIFFERS: update it"))
    print(f"  {'split/lang':<10} {'n':>4} {'precision':>9} {'recall':>7} {'F1':>6} {'accuracy':>8}")
    for key, m in table.items():
        if key != "errors":
            print(f"  {key:<10} {m['n']:>4} {m['precision']:>9.3f} {m['recall']:>7.3f} "
                  f"{m['f1']:>6.3f} {m['accuracy']:>8.3f}")
    print("  held-out errors (lang, kind, gold, score, sentence):")
    for lang, kind, gold, s, sentence in table["errors"]:
        print(f"    {lang} {kind:<14} {'supported' if gold else 'not':<9} {s:.2f}  {sentence}")


def synthetic_answers(rows: Sequence[Row], n: int = 50) -> list[tuple[str, list[tuple[int, str]]]]:
    """``n`` answers of 4 cited sentences over 4 passages of ~200 words (or 400 Han
    characters): each passage joins three of the set's passages of one language."""
    out = []
    for i in range(n):
        lang = "en" if i % 2 == 0 else "zh"
        same = [r for r in rows if r["lang"] == lang]
        texts = sorted({r["passage"] for r in same})
        passages = [(k + 1, " ".join(texts[(i + k + j) % len(texts)] for j in range(3)))
                    for k in range(4)]
        picks = [same[(7 * i + 13 * k) % len(same)] for k in range(4)]
        answer = " ".join(f"{r['sentence'].rstrip('.。')} [{k % 4 + 1}]."
                          for k, r in enumerate(picks))
        out.append((answer, passages))
    return out


def time_answers(rows: Sequence[Row]) -> dict[str, float]:
    """Milliseconds per answer: median and p95 over all, median per language."""
    answers = synthetic_answers(rows)
    times = []
    for text, passages in answers:
        verify._features.cache_clear()  # a new answer brings new passages
        verify._parts.cache_clear()
        start = time.perf_counter()
        verify.verify_answer(text, passages)
        times.append(1000 * (time.perf_counter() - start))
    return {"median": statistics.median(times), "p95": sorted(times)[int(0.95 * len(times)) - 1],
            "mean": statistics.mean(times), "en": statistics.median(times[::2]),
            "zh": statistics.median(times[1::2]),
            "en_words": statistics.mean(len(p.split()) for _, ps in answers[::2] for _, p in ps),
            "zh_chars": statistics.mean(len(p) for _, ps in answers[1::2] for _, p in ps)}


def embedding_scores(rows: Sequence[Row]) -> Callable[[float], Callable[[Row], float]]:
    """``a -> score(row)`` mixing the lexical score with the bundled model's cosine."""
    import numpy as np

    from ragkit._models import BUNDLED_EMBEDDING, resolve_model
    from ragkit.backends.sentence_transformers import SentenceTransformerEmbedder

    embedder = SentenceTransformerEmbedder(resolve_model(BUNDLED_EMBEDDING))
    texts = sorted({t for r in rows for t in (r["sentence"], r["passage"])})
    vecs = np.asarray(embedder.embed_documents(texts), dtype=float)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    index = {t: i for i, t in enumerate(texts)}

    def mixed(a: float) -> Callable[[Row], float]:
        def score(r: Row) -> float:
            lex = verify.support_score(r["sentence"], r["passage"])
            gate = verify._features(r["sentence"]).numbers <= verify._features(
                r["passage"]).numbers
            cos = float(vecs[index[r["sentence"]]] @ vecs[index[r["passage"]]])
            return ((1 - a) * lex + a * cos) if gate else 0.0
        return score
    return mixed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--embed", action="store_true",
                        help="also measure lexical + embedding-cosine mixes")
    args = parser.parse_args()
    start = time.perf_counter()
    verify.verify_answer("长城不短 [1]。", [(1, "长城不短。")])  # loads jieba's dictionary
    cold = time.perf_counter() - start
    rows = load_pairs()
    print(f"{len(rows)} labelled pairs: "
          + ", ".join(f"{s}/{lang} {sum(r['split'] == s and r['lang'] == lang for r in rows)}"
                      for s in ("tune", "test") for lang in ("en", "zh")) + "\n")
    print_table(*evaluate(rows))
    c = time_answers(rows)
    print(f"\ncost per answer, 50 answers of 4 sentences x 4 passages (English passages "
          f"~{c['en_words']:.0f} words, Chinese ~{c['zh_chars']:.0f} characters):\n"
          f"  median {c['median']:.1f} ms (English {c['en']:.1f}, Chinese {c['zh']:.1f}), "
          f"p95 {c['p95']:.1f} ms, mean {c['mean']:.1f} ms; "
          f"first call of the process (loads jieba's dictionary) {cold:.2f} s")
    if args.embed:
        mixed = embedding_scores(rows)
        print("\nlexical + embedding (bundled all-MiniLM-L6-v2), threshold chosen on tune:")
        print(f"  {'a':>4} {'thr':>5} {'tune F1':>7} {'test F1':>7} {'test P':>6} "
              f"{'test R':>6} {'en acc':>6} {'zh acc':>6}")
        for a in (0.0, 0.2, 0.3, 0.5, 1.0):
            th, t = evaluate(rows, mixed(a))
            print(f"  {a:>4.1f} {th:>5.2f} {t['tune/all']['f1']:>7.3f} {t['test/all']['f1']:>7.3f} "
                  f"{t['test/all']['precision']:>6.3f} {t['test/all']['recall']:>6.3f} "
                  f"{t['test/en']['accuracy']:>6.3f} {t['test/zh']['accuracy']:>6.3f}")


if __name__ == "__main__":
    main()
