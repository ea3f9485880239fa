"""Injection detection (issue 14): recall and false flags per language, cost per passage.

    PYTHONPATH=. .venv/bin/python bench/injection_bench.py [--passages 2000] [--scorer]

1. Runs ``injection_flags`` on every item of tests/data/injection/labelled.jsonl and prints,
   for the ``train`` and the held-out ``test`` split, per language and overall: the number
   of injections and benign look-alikes, recall (injections with at least one flag) and
   the false-flag rate (benign items with a flag); then recall per kind of injection and
   false flags per kind of look-alike, and every held-out error.
2. Times ``injection_flags`` on ``--passages`` synthetic passages of about 100 words (half
   English, half Chinese; sentences of the benign *train* items drawn with a fixed seed,
   two passages in ten also holding a train injection) and prints the median, p95 and
   mean, CPU and wall time, and how many passages with and without an injection are
   flagged (a false-flag check on longer text; train items only, so not held out).

``--scorer`` measures the optional third layer the issue allows: a logistic regression
over hashed character 2-4-grams of ``canonical_text``, trained with numpy on the train
split only; its threshold is the lowest that gives no false flag in 5-fold
cross-validation on the train split. It prints held-out figures for the scorer alone and
for "rules or scorer".
"""

from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import time
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ragkit.safety import canonical_text, injection_flags

SET = Path(__file__).resolve().parents[1] / "tests" / "data" / "injection" / "labelled.jsonl"
LANGS = ("en", "zh", "mixed")
Row = dict[str, Any]


def load_rows(path: Path = SET) -> list[Row]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def rates(rows: Sequence[Row], flagged: Callable[[Row], bool]) -> dict[str, float]:
    """n of injections and benign items, recall, false-flag rate of ``flagged`` on ``rows``."""
    inj = [r for r in rows if r["label"] == 1]
    ben = [r for r in rows if r["label"] == 0]
    return {"n_inj": len(inj), "n_ben": len(ben),
            "recall": sum(map(flagged, inj)) / len(inj) if inj else float("nan"),
            "false": sum(map(flagged, ben)) / len(ben) if ben else float("nan")}


def table(rows: Sequence[Row], flagged: Callable[[Row], bool]) -> dict[str, dict[str, float]]:
    """{"split/lang": rates} for both splits, each language and all."""
    out = {}
    for split in ("train", "test"):
        part = [r for r in rows if r["split"] == split]
        for lang in (*LANGS, "all"):
            out[f"{split}/{lang}"] = rates([r for r in part if lang in ("all", r["lang"])],
                                           flagged)
    return out


def print_table(figures: dict[str, dict[str, float]]) -> None:
    print(f"  {'split/lang':<12} {'inj':>4} {'recall':>7} {'benign':>6} {'false':>6}")
    for key, f in figures.items():
        print(f"  {key:<12} {f['n_inj']:>4} {f['recall']:>7.3f} {f['n_ben']:>6} "
              f"{f['false']:>6.3f}")


def print_kinds(rows: Sequence[Row], flagged: Callable[[Row], bool]) -> None:
    for label, title in ((1, "recall per kind of injection"),
                         (0, "false flags per kind of look-alike")):
        print(f"\n{title} (train | test, all languages):")
        kinds = sorted({r["kind"] for r in rows if r["label"] == label})
        for kind in kinds:
            cells = []
            for split in ("train", "test"):
                part = [r for r in rows if r["kind"] == kind and r["label"] == label
                        and r["split"] == split]
                hit = sum(map(flagged, part))
                cells.append(f"{hit:>2}/{len(part):<2}")
            print(f"  {kind:<17} {cells[0]} | {cells[1]}")


def passages(n: int, rows: Sequence[Row], seed: int = 0) -> list[str]:
    """``n`` passages of about 100 words (Chinese: about 180 characters), alternately English
    and Chinese, made of sentences of the benign train items; two in ten also hold a train
    injection (the held-out items stay out, so the passages can serve in tuning)."""
    rng = random.Random(seed)
    pools: dict[str, list[str]] = {"en": [], "zh": []}
    rows = [r for r in rows if r["split"] == "train"]
    for r in rows:
        if r["label"] == 0 and r["lang"] in pools:
            pools[r["lang"]] += [s for s in re.split(r"(?<=[.!?。！？])\s*", r["text"]) if s]
    attacks = {lang: [r["text"] for r in rows if r["label"] == 1 and r["lang"] == lang]
               for lang in pools}
    out = []
    for i in range(n):
        lang = "en" if i % 2 == 0 else "zh"
        parts = [rng.choice(attacks[lang])] if i % 10 < 2 else []
        while _size("".join(parts), lang) < 100:
            parts.append(rng.choice(pools[lang]))
        rng.shuffle(parts)
        out.append("".join(p + ("" if lang == "zh" and p[-1] in "。！？" else
                                " " if p[-1] in ".!?" else "\n") for p in parts).strip())
    return out


def _size(text: str, lang: str) -> float:
    return len(text.split()) if lang == "en" else len(text) / 1.8


def time_flags(texts: Sequence[str]) -> tuple[list[float], list[float]]:
    """(wall, CPU) microseconds per call of ``injection_flags``, one pair per text. CPU
    time (``process_time``) leaves out the time the process waited for a core."""
    wall, cpu = [], []
    for text in texts:
        w, c = time.perf_counter_ns(), time.process_time_ns()
        injection_flags(text)
        cpu.append((time.process_time_ns() - c) / 1000)
        wall.append((time.perf_counter_ns() - w) / 1000)
    return wall, cpu


def print_cost(texts: Sequence[str]) -> None:
    injection_flags(texts[0])
    wall, cpu = time_flags(texts)
    attacked = [bool(injection_flags(t)) for i, t in enumerate(texts) if i % 10 < 2]
    clean = [bool(injection_flags(t)) for i, t in enumerate(texts) if i % 10 >= 2]
    print(f"\ncost per passage, {len(texts)} passages of ~100 words (half English, half "
          f"Chinese; {sum(map(len, texts)) // len(texts)} characters on average):")
    for name, us in (("CPU", sorted(cpu)), ("wall", sorted(wall))):
        print(f"  {name:<4} median {statistics.median(us):>5.0f} µs, p95 "
              f"{us[int(0.95 * len(us))]:>5.0f} µs, mean {statistics.fmean(us):>5.0f} µs")
    print(f"  flagged: {sum(attacked)} of the {len(attacked)} passages holding an injection, "
          f"{sum(clean)} of the {len(clean)} without")


def scorer_experiment(rows: Sequence[Row]) -> None:
    import numpy as np

    dim = 1 << 14

    def feats(text: str) -> Any:
        t = f" {canonical_text(text).lower()} "
        v = np.zeros(dim)
        for n in (2, 3, 4):
            for i in range(len(t) - n + 1):
                v[zlib.crc32(t[i:i + n].encode()) % dim] += 1
        return v / (np.linalg.norm(v) + 1e-9)

    def fit(x: Any, y: Any) -> Callable[[Any], Any]:
        w, b = np.zeros(x.shape[1]), 0.0
        for _ in range(400):  # gradient descent, L2 1e-3
            p = 1 / (1 + np.exp(-(x @ w + b)))
            w -= 2.0 * (x.T @ (p - y) / len(y) + 1e-3 * w)
            b -= 2.0 * float((p - y).mean())
        return lambda z: 1 / (1 + np.exp(-(z @ w + b)))

    train = [r for r in rows if r["split"] == "train"]
    x = np.array([feats(r["text"]) for r in train])
    y = np.array([r["label"] for r in train], dtype=float)
    folds, cv = np.arange(len(train)) % 5, np.zeros(len(train))
    for k in range(5):
        cv[folds == k] = fit(x[folds != k], y[folds != k])(x[folds == k])
    threshold = float(cv[y == 0].max()) + 0.005
    print(f"\nscorer (char 2-4-grams, logistic regression on train): 5-fold CV on train at "
          f"0.5: recall {np.mean(cv[y == 1] >= 0.5):.3f}, false {np.mean(cv[y == 0] >= 0.5):.3f}"
          f"; threshold for no CV false flag: {threshold:.3f} "
          f"(CV recall there {np.mean(cv[y == 1] >= threshold):.3f})")
    model = fit(x, y)
    score = {id(r): float(model(feats(r["text"]))) for r in rows if r["split"] == "test"}
    test = [r for r in rows if r["split"] == "test"]
    alone = table(test, lambda r: score[id(r)] >= threshold)
    both = table(test, lambda r: score[id(r)] >= threshold or bool(injection_flags(r["text"])))
    print("  held out         scorer alone: recall  false   rules or scorer: recall  false")
    for lang in (*LANGS, "all"):
        a, b = alone[f"test/{lang}"], both[f"test/{lang}"]
        print(f"  test/{lang:<10} {a['recall']:>21.3f} {a['false']:>6.3f} {b['recall']:>24.3f} "
              f"{b['false']:>6.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--passages", type=int, default=2000, help="passages to time")
    parser.add_argument("--scorer", action="store_true", help="measure the n-gram scorer")
    args = parser.parse_args()
    rows = load_rows()
    flags = {id(r): injection_flags(r["text"]) for r in rows}

    def flagged(r: Row) -> bool:
        return bool(flags[id(r)])

    counts = {s: sum(r["split"] == s for r in rows) for s in ("train", "test")}
    print(f"{len(rows)} labelled items ({sum(r['label'] for r in rows)} injections, "
          f"{sum(1 - r['label'] for r in rows)} benign look-alikes): train {counts['train']}, "
          f"test {counts['test']}\n")
    print_table(table(rows, flagged))
    print_kinds(rows, flagged)
    print("\nheld-out errors (lang, kind, flags, text):")
    for r in rows:
        if r["split"] == "test" and flagged(r) != bool(r["label"]):
            print(f"  {'missed' if r['label'] else 'false flag':<10} {r['lang']:<5} "
                  f"{r['kind']:<15} {flags[id(r)]} {r['text'][:70]!r}")
    print_cost(passages(args.passages, rows))
    if args.scorer:
        scorer_experiment(rows)


if __name__ == "__main__":
    main()
