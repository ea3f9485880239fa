"""ragkit's storage on PostgreSQL (setting ``database_url``) against manifest.sqlite3:
what a worker pays per write, per BM25 rebuild and per search (docs/scale-out.md).

    python bench/pg_storage_bench.py --postgres postgresql://ragkit@127.0.0.1:5432/postgres \
        [--chunks 5000] [--repeats 3] [--queries 200]

The chunks are keyword_rebuild_bench.py's (8 sample sentences and 12 rare words each, 20
chunks a file, fixed seed). For each backend, through ragkit's own classes
(``open_manifest``, ``KeywordIndex``), on a fresh database (``--postgres`` names a server
and a database to connect to for ``CREATE DATABASE``):

- **write**: every file's row and keyword rows committed, one transaction per file
  (``put_many``; the ingest commits one per batch of 512 chunks), total seconds;
- **rebuild**: a worker's scorer after a write with no saved scorer (``bm25/`` emptied):
  the terms read from the record and indexed, median of ``--repeats``;
- **search**: ``KeywordIndex.search`` (the generation read in a snapshot, the scoring, the
  hits' chunks read back) with a warm scorer, top 50, median and p95 ms over ``--queries``
  questions of 3 corpus words; **claim check**: ``committed`` for those 50 ids (the
  retriever's filter on every search); **filtered**: the same search restricted to 10 files.
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from keyword_rebuild_bench import corpus

from ragkit._terms import terms_of
from ragkit.retrieval.keyword import KeywordIndex
from ragkit.storage import FileRecord, chunk_filter, open_manifest


def fresh_database(server: str) -> str:
    import psycopg

    name = f"ragkit_bench_{int(time.time())}"
    with psycopg.connect(server, autocommit=True) as db:
        db.execute(f'CREATE DATABASE "{name}"')
    return server.rsplit("/", 1)[0] + "/" + name


def ms(values: list[float]) -> str:
    values = sorted(v * 1000 for v in values)
    return f"{statistics.median(values):.2f} / {values[int(len(values) * 0.95) - 1]:.2f}"


def run(name: str, url: str, chunks: list, repeats: int, queries: list[str]) -> list[str]:
    folder = Path(tempfile.mkdtemp(prefix=f"pgbench-{name}-"))
    path = folder / "manifest.sqlite3"
    try:
        manifest = open_manifest(path, url)
        by_source: dict[str, list] = {}
        for c in chunks:
            by_source.setdefault(c.source, []).append(c)
        items = [(c, terms_of(c.text)) for c in chunks]
        terms = dict(zip((c.id for c in chunks), (t for _, t in items), strict=True))
        t = time.perf_counter()
        for source, cs in by_source.items():
            manifest.put_many([FileRecord(source, 1, 1, source, "{}", tuple(c.id for c in cs))],
                              index=[(c, terms[c.id]) for c in cs])
        write = time.perf_counter() - t
        manifest.close()
        rebuilds = []
        for _ in range(repeats):
            shutil.rmtree(folder / "bm25", ignore_errors=True)
            index = KeywordIndex(path, database_url=url)
            t = time.perf_counter()
            index.scorer()
            rebuilds.append(time.perf_counter() - t)
            index.close()
        index = KeywordIndex(path, database_url=url)
        index.scorer()
        sources = sorted(by_source)[:10]
        where = chunk_filter(sources, [])
        search, claim, filtered = [], [], []
        for q in queries:
            t = time.perf_counter()
            hits = index.search(q, 50)
            search.append(time.perf_counter() - t)
            t = time.perf_counter()
            index.committed([h.chunk.id for h in hits])
            claim.append(time.perf_counter() - t)
            t = time.perf_counter()
            index.search(q, 50, where)
            filtered.append(time.perf_counter() - t)
        index.close()
        return [name, f"{write:.2f} s", f"{statistics.median(rebuilds):.2f} s", ms(search),
                ms(claim), ms(filtered)]
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--postgres", required=True, metavar="URL")
    ap.add_argument("--chunks", type=int, default=5000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--queries", type=int, default=200)
    args = ap.parse_args()
    chunks = corpus(args.chunks)
    rng = random.Random(1)
    words = [w for c in chunks[:500] for w in c.text.split() if w.isalpha() and len(w) > 3]
    queries = [" ".join(rng.sample(words, 3)) for _ in range(args.queries)]
    print(f"{args.chunks} chunks; python {sys.version.split()[0]}")
    print("| backend | write (all files) | rebuild | search ms p50 / p95 | claim check ms "
          "p50 / p95 | filtered search ms p50 / p95 |")
    print("|---|---|---|---|---|---|")
    for name, url in (("SQLite", ""), ("PostgreSQL", fresh_database(args.postgres))):
        print("| " + " | ".join(run(name, url, chunks, args.repeats, queries)) + " |",
              flush=True)


if __name__ == "__main__":
    main()
