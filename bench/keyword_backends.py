"""Which BM25 engine for the keyword index? SQLite FTS5 against bm25s, same terms.

    python bench/keyword_backends.py CORPUS_DIR [--chunks 100000] [--queries 200]

Chunks: 8 random sentences of the corpus's .md/.txt/.rst/.json files each (fixed seed);
terms from ragkit's own tokenizer (jieba for Chinese). Queries: the first 8 words of random
sentences, stopwords removed (ragkit's query_terms). Prints tokenizing time, the build time
and size of each index, and query latency p50/p95 for the top 100.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import sqlite3
import tempfile
import time
from pathlib import Path

import bm25s
import numpy as np

from ragkit.retrieval.tokenize import query_terms, tokenize


def pct(ms: list[float]) -> str:
    ms = sorted(ms)
    return f"p50 {ms[len(ms) // 2]:.1f} ms p95 {ms[int(len(ms) * 0.95)]:.1f} ms"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("corpus", type=Path)
    ap.add_argument("--chunks", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=200)
    args = ap.parse_args()
    sents = []
    for p in sorted(args.corpus.rglob("*")):
        if p.suffix in (".md", ".txt", ".rst", ".json"):
            text = p.read_text(errors="replace")
            sents += [s for s in re.split(r"(?<=[.!?。！？])\s*", text) if len(s) > 20]
    rnd = random.Random(0)
    docs = [" ".join(rnd.choice(sents) for _ in range(8)) for _ in range(args.chunks)]
    t = time.perf_counter()
    toks = [tokenize(d) for d in docs]
    print(f"{len(docs)} chunks from {len(sents)} sentences; tokenized in "
          f"{time.perf_counter() - t:.1f} s")
    queries = [query_terms(" ".join(rnd.choice(sents).split()[:8])) for _ in range(args.queries)]
    queries = [q for q in queries if q]

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "kw.sqlite3")
        db = sqlite3.connect(path)
        db.execute("CREATE VIRTUAL TABLE kw USING fts5(terms, tokenize='unicode61')")
        t = time.perf_counter()
        with db:
            db.executemany("INSERT INTO kw(rowid, terms) VALUES (?, ?)",
                           ((i, " ".join(x)) for i, x in enumerate(toks)))
        print(f"FTS5: built in {time.perf_counter() - t:.1f} s, "
              f"{os.path.getsize(path) / 1e6:.0f} MB on disk")
        lat = []
        for q in queries:
            expr = " OR ".join('"' + w.replace('"', "") + '"' for w in q)
            t = time.perf_counter()
            db.execute("SELECT rowid FROM kw WHERE kw MATCH ? ORDER BY rank LIMIT 100",
                       (expr,)).fetchall()
            lat.append((time.perf_counter() - t) * 1000)
        print(f"FTS5 bm25() query: {pct(lat)}")

        t = time.perf_counter()
        vocab: dict[str, int] = {}
        ids = [[vocab.setdefault(w, len(vocab)) for w in x] for x in toks]
        index = bm25s.BM25(k1=1.2, b=0.75)
        index.index(bm25s.tokenization.Tokenized(ids=ids, vocab=vocab), show_progress=False)
        print(f"bm25s: built in {time.perf_counter() - t:.1f} s")
        index.save(os.path.join(tmp, "bm25s"), show_progress=False)
        size = sum(f.stat().st_size for f in Path(tmp, "bm25s").iterdir())
        print(f"bm25s: {size / 1e6:.0f} MB on disk")
        lat = []
        for q in queries:
            t = time.perf_counter()
            qi = [vocab[w] for w in q if w in vocab]
            if qi:
                s = index.get_scores_from_ids(qi)
                top = np.argpartition(-s, 100)[:100]
                top[np.argsort(-s[top])]
            lat.append((time.perf_counter() - t) * 1000)
        print(f"bm25s query: {pct(lat)}")


if __name__ == "__main__":
    main()
