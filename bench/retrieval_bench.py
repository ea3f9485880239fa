"""Retrieval latency of dense, bm25 and hybrid at 10k and 100k chunks; keyword-index size;
cost of updating 1 % of the documents in the keyword index.

    python bench/retrieval_bench.py CORPUS_DIR [--sizes 10000 100000] [--queries 200]

Chunk texts: sentences of the corpus's .md/.txt/.rst/.json files (bench/make_corpus.py),
8 sentences a chunk, drawn with a fixed seed, so every chunk is different text. Vectors:
the first 10,000 chunks are embedded with the real model; beyond that, chunk i gets the
vector of chunk i mod 10,000 plus small noise (re-normalised): embedding 100k chunks would
take this CPU over half an hour and HNSW latency does not depend on where vectors came from.
Chunks go into Chroma and the keyword index through ragkit's own store and manifest code,
100 chunks per "document". Queries: the first 8 words of random sentences, asked through
``RAG.retrieve`` (query embedding included), after 10 warm-up queries.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import psutil

import ragkit  # noqa: F401
from ragkit import RAG, Chunk
from ragkit._terms import terms_of
from ragkit.retrieval.keyword import refresh
from ragkit.storage import FileRecord, Manifest

PER_DOC = 100


def sentences(corpus: Path) -> list[str]:
    out: list[str] = []
    for p in sorted(corpus.rglob("*")):
        if p.suffix in (".md", ".txt", ".rst", ".json"):
            text = p.read_text(errors="replace")
            out += [s.strip() for s in re.split(r"(?<=[.!?。！？])\s*", text) if len(s) > 30]
    return out


def build(kb: Path, n: int, pool: list[str], vectors: np.ndarray, rag: RAG) -> float:
    rng = np.random.default_rng(0)
    manifest = Manifest(kb / "manifest.sqlite3")
    start = time.perf_counter()
    for d in range(0, n, PER_DOC):
        source = f"/bench/doc{d // PER_DOC:05d}.txt"
        chunks = [Chunk(f"c{i:07d}", f"d{d}", pool[i], source, i - d)
                  for i in range(d, min(d + PER_DOC, n))]
        vecs = []
        for c in chunks:
            i = int(c.id[1:])
            v = vectors[i % len(vectors)]
            if i >= len(vectors):
                v = v + rng.normal(0, 0.02, v.shape).astype(np.float32)
                v = v / np.linalg.norm(v)
            vecs.append(v.tolist())
        rag.store.add(chunks, vecs)
        manifest.put_many([FileRecord(source, 1, 1, source, "bench", tuple(c.id for c in chunks))],
                          index=[(c, terms_of(c.text)) for c in chunks])
    manifest.close()
    return time.perf_counter() - start


def percentiles(ms: list[float]) -> tuple[float, float]:
    ms = sorted(ms)
    return statistics.median(ms), ms[int(0.95 * (len(ms) - 1))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("corpus", type=Path)
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--embedded", type=int, default=10_000)
    args = ap.parse_args()
    sents = sentences(args.corpus)
    rnd = random.Random(0)
    biggest = max(args.sizes)
    pool = [" ".join(rnd.choice(sents) for _ in range(8)) for _ in range(biggest)]
    queries = [" ".join(rnd.choice(sents).split()[:8]) for _ in range(args.queries)]
    summary: dict[str, object] = {}
    with tempfile.TemporaryDirectory(prefix="ragkit-rbench-") as tmp:
        probe = RAG(Path(tmp) / "probe")
        t = time.perf_counter()
        vectors = np.asarray(probe.embedder.embed_documents(pool[: args.embedded]),
                             dtype=np.float32)
        print(f"embedded {len(vectors)} chunks in {time.perf_counter() - t:.0f} s")
        for n in args.sizes:
            kb = Path(tmp) / f"kb{n}"
            rag = RAG(kb, embedder=probe.embedder)
            secs = build(kb, n, pool, vectors, rag)
            db_mb = os.path.getsize(kb / "manifest.sqlite3") / 1e6
            proc = psutil.Process()
            row: dict[str, object] = {"build_s": round(secs, 1), "keyword_db_mb": round(db_mb, 1)}
            print(f"\n{n} chunks: built in {secs:.0f} s; manifest + keyword index {db_mb:.0f} MB")
            for mode in ("dense", "bm25", "hybrid"):
                for q in queries[:10]:
                    rag.retrieve(q, mode=mode)
                rss0 = proc.memory_info().rss
                ms = []
                for q in queries:
                    t = time.perf_counter()
                    rag.retrieve(q, mode=mode)
                    ms.append((time.perf_counter() - t) * 1000)
                p50, p95 = percentiles(ms)
                row[mode] = {"p50_ms": round(p50, 1), "p95_ms": round(p95, 1)}
                rss = proc.memory_info().rss
                print(f"  {mode:6} p50 {p50:6.1f} ms  p95 {p95:6.1f} ms  (RSS {rss / 1e6:.0f} MB, "
                      f"+{(rss - rss0) / 1e6:.0f} MB while querying)")
            dense50 = row["dense"]["p50_ms"]  # type: ignore[index]
            hyb50 = row["hybrid"]["p50_ms"]  # type: ignore[index]
            print(f"  hybrid / dense p50 = {hyb50 / dense50:.2f} (target <= 1.5); hybrid p50 "
                  f"{hyb50} ms (target <= 30 ms at 100k)")
            # 1 % of the documents change: their chunks replaced in the keyword index
            manifest = Manifest(kb / "manifest.sqlite3")
            docs = list(range(0, n, PER_DOC))[:: 100] or [0]
            t = time.perf_counter()
            for d in docs:
                old = [f"c{i:07d}" for i in range(d, min(d + PER_DOC, n))]
                source = f"/bench/doc{d // PER_DOC:05d}.txt"
                new = [Chunk(f"n{i:07d}", f"d{d}", pool[i] + " revised", source, i - d)
                       for i in range(d, min(d + PER_DOC, n))]
                record = FileRecord(source, 2, 2, "new", "bench", tuple(c.id for c in new))
                manifest.put_many([record], index=[(c, terms_of(c.text)) for c in new],
                                  unindex=old)
            upd = time.perf_counter() - t
            manifest.close()
            t = time.perf_counter()
            refresh(kb / "manifest.sqlite3")  # what the ingest does last: rebuild the scorer
            rebuild = time.perf_counter() - t
            scorer_mb = sum(f.stat().st_size for f in (kb / "bm25").rglob("*") if f.is_file())
            row["update_1pct_keyword_s"] = round(upd, 2)
            row["scorer_rebuild_s"] = round(rebuild, 2)
            row["scorer_mb"] = round(scorer_mb / 1e6, 1)
            print(f"  updating 1 % of documents ({len(docs)} docs, {len(docs) * PER_DOC} chunks) "
                  f"in the keyword record: {upd:.2f} s; rebuilding the BM25 scorer: "
                  f"{rebuild:.2f} s; scorer on disk (memory-mapped): {scorer_mb / 1e6:.0f} MB")
            summary[str(n)] = row
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
