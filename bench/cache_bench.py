"""Response cache (issue 13): what a hit saves, and how often a replayed log hits, rightly
or wrongly.

    PYTHONPATH=. .venv/bin/python bench/cache_bench.py [--similarity 0.85 0.90 0.95]

Knowledge base: ``docs/samples`` ingested once into a temporary folder; every ``RAG`` on it
is ``RAG(kb, cache=..., cache_similarity=..., max_tokens=48)``, other settings default (the
bundled SmolLM2-135M, hybrid retrieval, 4 passages, temperature 0). The cache file is
cleared before each configuration.

(a) Hit latency, ``cache="exact"`` and ``cache="semantic"`` (at the default
    ``cache_similarity``): each of 8 questions asked twice in a row; the first ask is a miss
    (it generates and stores), the second a hit. Medians of ``total_ms`` and ``cache_ms``
    (key, embedding of the question in semantic mode, lookup) over the 8.
(b) A replayed log: 12 base questions (7 English, 5 Chinese), each with 1 exact repeat and 2
    paraphrases, and 9 near-misses (similar wording, another meaning: "How much does an adult
    alpaca weigh?" after "... llama ..."). Asked in this order: the 12 bases, the 9
    near-misses, the 12 first paraphrases, the 12 repeats, the 12 second paraphrases (57
    asks), once with ``cache="exact"`` and once with ``cache="semantic"`` per
    ``--similarity``. A hit is judged by the question whose entry served it (the row whose
    hit count rose): a **false hit** is a hit served by an entry of another meaning (a
    near-miss served the base's answer, or the reverse); ``answer.timings["cache_hit"]``
    says whether it hit.
    For reading the thresholds, each paraphrase and near-miss is also listed with the cosine
    of its embedding to its base question's (the bundled all-MiniLM-L6-v2, as the cache
    uses) and whether it retrieved the same passages in the same order (the semantic key).
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import tempfile
import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ragkit import RAG
from ragkit.cache import CACHE_FILE, ResponseCache

ROOT = Path(__file__).resolve().parents[1]

#: (id, base question, paraphrase 1, paraphrase 2)
BASES = [
    ("llama", "How much does an adult llama weigh?",
     "What is the weight of a grown llama?", "How heavy is an adult llama?"),
    ("jupiter", "How many moons does Jupiter have?",
     "What is the number of Jupiter's moons?", "How many moons orbit Jupiter?"),
    ("tea-uk", "When did tea reach Britain?",
     "When did tea first arrive in Britain?", "In which decade did tea come to Britain?"),
    ("volcano", "Which is the largest active volcano on Earth?",
     "What is the biggest active volcano in the world?",
     "Name the largest active volcano on Earth."),
    ("coffee", "Where was coffee first cultivated?",
     "Where was coffee first grown?", "In which country did people first cultivate coffee?"),
    ("espresso", "At what pressure is espresso brewed?",
     "What pressure is used to brew espresso?", "How many bars of pressure does espresso need?"),
    ("court", "Who popularised tea at the English court?",
     "Who made tea popular at the English court?",
     "Which queen made tea fashionable at the English court?"),
    ("panda-time", "大熊猫每天花多少时间吃竹子？",
     "大熊猫一天要用多长时间吃竹子？", "大熊猫每天吃竹子要花几个小时？"),
    ("panda-where", "大熊猫主要分布在哪里？",
     "大熊猫主要生活在哪些地方？", "野生大熊猫分布在中国哪些省份？"),
    ("wall-length", "明长城全长多少公里？",
     "明长城有多长？", "明朝修建的长城总长度是多少公里？"),
    ("wall-start", "长城始建于什么时期？",
     "长城最早是什么时候开始修建的？", "长城是从哪个时期开始修筑的？"),
    ("panda-weight", "成年大熊猫体重是多少？",
     "一只成年大熊猫有多重？", "成年大熊猫大约重多少公斤？"),
]
#: (the base it resembles, a question of another meaning)
NEAR_MISSES = [
    ("llama", "How much does an adult alpaca weigh?"),
    ("jupiter", "How many moons does Saturn have?"),
    ("tea-uk", "When did tea reach Europe?"),
    ("coffee", "Where was tea first cultivated?"),
    ("espresso", "At what temperature is espresso brewed?"),
    ("volcano", "Which is the tallest volcano in the Solar System?"),
    ("panda-time", "大熊猫每天吃多少公斤竹子？"),
    ("wall-length", "明长城东起哪里？"),
    ("panda-weight", "刚出生的大熊猫幼崽体重是多少？"),
]
#: part (a): 4 English and 4 Chinese base questions
LATENCY = [b[1] for b in BASES[:4]] + [b[1] for b in BASES[7:11]]


@dataclass(frozen=True)
class Entry:
    kind: str  #: base, near-miss, paraphrase, repeat
    group: str  #: meaning: the base id, or "<base>~miss" for a near-miss
    base: str  #: the base id it belongs to or resembles
    question: str


def replay_log() -> list[Entry]:
    log = [Entry("base", b, b, q) for b, q, _, _ in BASES]
    log += [Entry("near-miss", f"{b}~miss", b, q) for b, q in NEAR_MISSES]
    log += [Entry("paraphrase", b, b, p1) for b, _, p1, _ in BASES]
    log += [Entry("repeat", b, b, q) for b, q, _, _ in BASES]
    log += [Entry("paraphrase", b, b, p2) for b, _, _, p2 in BASES]
    return log


def load() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def lang(text: str) -> str:
    return "zh" if any("CJK" in unicodedata.name(c, "") for c in text) else "en"


def open_rag(kb: Path, cache: str, similarity: float = 0.95) -> RAG:
    ResponseCache(kb / CACHE_FILE).clear()
    return RAG(kb, cache=cache, cache_similarity=similarity, max_tokens=48)


def hit_counts(kb: Path) -> dict[str, int]:
    db = sqlite3.connect(kb / CACHE_FILE)
    try:
        return {f"{k}|{q}": h for k, q, h in db.execute("SELECT key, question, hits FROM answers")}
    finally:
        db.close()


def latency(kb: Path) -> None:
    print("(a) hit latency: each question asked twice in a row, medians over "
          f"{len(LATENCY)} questions (load average before: {load()})")
    print(f"  {'mode':<10}{'miss total':>12}{'hit total':>11}{'hit/miss':>10}"
          f"{'miss cache_ms':>15}{'hit cache_ms':>14}  hits")
    for mode in ("exact", "semantic"):
        rag = open_rag(kb, mode)
        rag.ask("What is a volcano?")  # warm-up: models loaded, first call paid
        miss: list[dict[str, float]] = []
        hit: list[dict[str, float]] = []
        for q in LATENCY:
            miss.append(rag.ask(q).timings)
            hit.append(rag.ask(q).timings)
        med = {name: {k: statistics.median(t.get(k, 0.0) for t in rows)
                      for k in ("total_ms", "cache_ms")} for name, rows in
               (("miss", miss), ("hit", hit))}
        hits = sum(int(t.get("cache_hit", 0)) for t in hit)
        misses = sum(1 - int(t.get("cache_hit", 0)) for t in miss)
        print(f"  {mode:<10}{med['miss']['total_ms']:>10.0f}ms{med['hit']['total_ms']:>9.0f}ms"
              f"{med['hit']['total_ms'] / med['miss']['total_ms']:>10.3f}"
              f"{med['miss']['cache_ms']:>13.1f}ms{med['hit']['cache_ms']:>12.1f}ms"
              f"  {hits}/{len(hit)} second asks hit, {misses}/{len(miss)} first asks missed")
        del rag
    print(f"  load average after: {load()}")


def replay(kb: Path, cache: str, similarity: float, log: list[Entry]) -> list[dict[str, Any]]:
    rag = open_rag(kb, cache, similarity)
    group_of = {e.question: e.group for e in log}
    out = []
    for e in log:
        before = hit_counts(kb) if (kb / CACHE_FILE).exists() else {}
        answer = rag.ask(e.question)
        after = hit_counts(kb)
        served = [q for q, h in after.items() if h > before.get(q, 0)]
        hit = bool(answer.timings.get("cache_hit"))
        source = served[0].split("|", 1)[1] if served else None
        out.append({"entry": e, "hit": hit, "source": source,
                    "false": hit and source is not None and group_of[source] != e.group,
                    "chunks": [h.chunk.id for h in answer.hits],
                    "total_ms": answer.timings["total_ms"]})
    del rag
    return out


def share(rows: list[dict[str, Any]], kind: str, language: str | None = None) -> str:
    sel = [r for r in rows if r["entry"].kind == kind
           and (language is None or lang(r["entry"].question) == language)]
    n = sum(r["hit"] for r in sel)
    return f"{n}/{len(sel)}"


def report(results: dict[str, list[dict[str, Any]]], kb: Path) -> None:
    print(f"\n  {'config':<16}{'repeat':>8}{'paraphrase':>12}{'(en':>6}{'zh)':>6}"
          f"{'near-miss':>11}{'false hits':>12}{'all hits':>10}{'seconds':>9}")
    for name, rows in results.items():
        false = sum(r["false"] for r in rows)
        seconds = sum(r["total_ms"] for r in rows) / 1000
        print(f"  {name:<16}{share(rows, 'repeat'):>8}{share(rows, 'paraphrase'):>12}"
              f"{share(rows, 'paraphrase', 'en'):>6}{share(rows, 'paraphrase', 'zh'):>6}"
              f"{share(rows, 'near-miss'):>11}{false:>12}"
              f"{sum(r['hit'] for r in rows):>10}{seconds:>9.0f}")
    for name, rows in results.items():
        for r in rows:
            if r["false"]:
                print(f"  false hit ({name}): {r['entry'].question!r} served the answer of "
                      f"{r['source']!r}")

    # why: cosine to the base question, and whether the same passages came back
    rag = RAG(kb)
    embed = rag.embedder.embed_query
    rows = next(iter(results.values()))
    chunks = {r["entry"].question: r["chunks"] for r in rows}
    base_q = {b: q for b, q, _, _ in BASES}
    print("\n  paraphrases and near-misses against their base question: cosine (all-MiniLM-L6-v2)"
          ", same passages in the same order (= same semantic key), hit at each threshold")
    semantic = [n for n in results if n.startswith("semantic")]
    print(f"  {'kind':<11}{'cosine':>7}{'same':>6}  " + "".join(f"{n[9:]:>6}" for n in semantic)
          + "  question")
    hit_of = {n: {r["entry"].question: r["hit"] for r in results[n]} for n in semantic}
    for r in rows:
        e = r["entry"]
        if e.kind not in ("paraphrase", "near-miss"):
            continue
        a, b = np.asarray(embed(e.question)), np.asarray(embed(base_q[e.base]))
        cos = float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))
        same = chunks[e.question] == chunks[base_q[e.base]]
        marks = "".join(f"{'hit' if hit_of[n][e.question] else '-':>6}" for n in semantic)
        print(f"  {e.kind:<11}{cos:>7.3f}{'yes' if same else 'no':>6}  {marks}  {e.question}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--samples", type=Path, default=ROOT / "docs" / "samples")
    ap.add_argument("--similarity", type=float, nargs="+", default=[0.85, 0.90, 0.95])
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="cache-bench-") as tmp:
        kb = Path(tmp) / "kb"
        t = time.perf_counter()
        rag = RAG(kb)
        rag.ingest(args.samples)
        n = rag.count()
        del rag
        print(f"docs/samples: {n} chunks in {time.perf_counter() - t:.1f} s; max_tokens 48; "
              f"load average {load()}\n")
        latency(kb)
        log = replay_log()
        print(f"\n(b) replayed log: {len(log)} asks ({len(BASES)} bases, "
              f"{len(NEAR_MISSES)} near-misses, {len(BASES)} repeats, {2 * len(BASES)} "
              f"paraphrases); load average before: {load()}")
        results = {"exact": replay(kb, "exact", 0.95, log)}
        print(f"  exact done, load average {load()}", flush=True)
        for s in args.similarity:
            results[f"semantic {s:.2f}"] = replay(kb, "semantic", s, log)
            print(f"  semantic {s:.2f} done, load average {load()}", flush=True)
        report(results, kb)
    print(f"\nload average (1, 5, 15 min) at the end: {load()}")


if __name__ == "__main__":
    main()
