"""How long a worker takes to get a BM25 scorer for a knowledge base shared by workers
(docs/scale-out.md): from the local keyword record, from a saved scorer, or rebuilt from the
chunk texts held by a Chroma server.

    python bench/keyword_rebuild_bench.py [--chunks 5000 50000] [--repeats 3]

Chunks: 8 random sentences of the English and Chinese sample documents each plus 12 random
rare words (fixed seed; about 130 terms, 900 characters a chunk), written once to a Chroma
server (`chroma run` on loopback, random 384-dim vectors, each chunk's terms also in its
metadata) and to a keyword record in a manifest.sqlite3 (ragkit's own writer). Per size,
the median of ``--repeats`` runs of each path:

- **record → scorer**: what a worker does today when the generation changed and no saved
  scorer is there: read the terms from the record (SQLite) and index them with bm25s;
- **saved scorer (mmap)**: what a worker does when another process saved it in ``bm25/``;
- **Chroma texts → scorer**: option (b): page every chunk's text out of the Chroma server
  (4,000 a page), make the terms (jieba for Chinese), index;
- **Chroma terms → scorer**: the same with the terms precomputed at ingest and stored in
  the chunk's metadata (no tokenizing in the worker).

``--postgres DSN`` (psycopg needed) adds option (a): the record's rows copied into a
PostgreSQL table, then **PostgreSQL record → scorer** (the same read and index over a
connection), and the round trip of what a worker would do per request or per write: read
the generation, take and release ``pg_advisory_lock``.
"""

from __future__ import annotations

import argparse
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import bm25s
import numpy as np

from ragkit._terms import terms_of
from ragkit._types import Chunk
from ragkit.retrieval.keyword import _Scorer
from ragkit.storage import FileRecord, KeywordRecord, Manifest

SAMPLES = Path(__file__).resolve().parents[1] / "docs" / "samples"
PAGE = 4000


def sentences() -> list[str]:
    out: list[str] = []
    for name in ("coffee_notes.txt", "llamas.md", "giant_panda_zh.md", "great_wall_zh.txt"):
        text = (SAMPLES / name).read_text(encoding="utf-8")
        out += [s.strip() for s in re.split(r"(?<=[.!?。！？])\s*", text) if len(s.strip()) > 8]
    return out


def corpus(n: int) -> list[Chunk]:
    rng = random.Random(0)
    pool = sentences()
    chunks = []
    for i in range(n):
        rare = " ".join(f"w{rng.randrange(200_000)}" for _ in range(12))
        text = " ".join(rng.choices(pool, k=8)) + " " + rare
        chunks.append(Chunk(id=f"c{i:07d}", doc_id=f"d{i // 20}", text=text,
                            source=f"/docs/f{i // 20:05d}.md", index=i % 20))
    return chunks


def index(token_lists: list[list[str]]) -> bm25s.BM25:
    vocab: dict[str, int] = {}
    ids = [[vocab.setdefault(t, len(vocab)) for t in terms] for terms in token_lists]
    bm25 = bm25s.BM25(k1=1.2, b=0.75)
    bm25.index(bm25s.tokenization.Tokenized(ids=ids, vocab=vocab), show_progress=False)
    return bm25


def from_chroma(col: object, include: str) -> tuple[bm25s.BM25, float, float]:
    """Scorer from the server's texts (or metadata terms); (scorer, fetch s, tokenize s)."""
    t = time.perf_counter()
    got: list[str] = []
    offset = 0
    while True:
        page = col.get(include=[include], limit=PAGE, offset=offset)  # type: ignore[attr-defined]
        items = page["documents"] if include == "documents" else [
            m["terms"] for m in page["metadatas"]]
        got += items
        offset += PAGE
        if len(page["ids"]) < PAGE:
            break
    fetched = time.perf_counter() - t
    t = time.perf_counter()
    terms = [terms_of(x).split() if include == "documents" else x.split() for x in got]
    tokenized = time.perf_counter() - t
    return index(terms), fetched, tokenized


def timed(fn: Callable[[], object], repeats: int) -> float:
    out = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return statistics.median(out)


def fill(chunks: list[Chunk], col: object, kb: Path) -> None:
    rng = np.random.default_rng(0)
    terms = [terms_of(c.text) for c in chunks]
    for s in range(0, len(chunks), PAGE):
        part = chunks[s:s + PAGE]
        vec = rng.standard_normal((len(part), 384)).astype(np.float32)
        vec /= np.linalg.norm(vec, axis=1, keepdims=True)
        col.upsert(ids=[c.id for c in part], documents=[c.text for c in part],  # type: ignore[attr-defined]
                   metadatas=[c.metadata() | {"terms": t} for c, t in
                              zip(part, terms[s:s + PAGE], strict=True)],
                   embeddings=vec.tolist())
    manifest = Manifest(kb / "manifest.sqlite3")
    by_source: dict[str, list[Chunk]] = {}
    for c in chunks:
        by_source.setdefault(c.source, []).append(c)
    for source, cs in by_source.items():
        rec = FileRecord(source, 1, 1, source, "{}", tuple(c.id for c in cs))
        manifest.put_many([rec], index=[(c, terms_of(c.text)) for c in cs])
    manifest.close()


def postgres(dsn: str, n: int, record: KeywordRecord, repeats: int) -> str:
    """Option (a): median seconds to build the scorer from a PostgreSQL copy of the record;
    milliseconds of a generation read and of an advisory lock + unlock."""
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as db:
        table = f"kw_bench_{n}"
        db.execute(f"DROP TABLE IF EXISTS {table}")
        db.execute(f"CREATE TABLE {table} (rowid bigint PRIMARY KEY, terms text NOT NULL)")
        db.execute("CREATE TABLE IF NOT EXISTS kw_meta (key text PRIMARY KEY, value text)")
        db.execute("INSERT INTO kw_meta VALUES ('generation', '1') ON CONFLICT DO NOTHING")
        with db.cursor().copy(f"COPY {table} (rowid, terms) FROM STDIN") as copy:
            for row in record.terms():
                copy.write_row(row)

        def build() -> None:
            rows = db.execute(f"SELECT rowid, terms FROM {table} ORDER BY rowid").fetchall()
            index([t.split() for _, t in rows])

        built = timed(build, repeats)
        gen = timed(lambda: db.execute(
            "SELECT value FROM kw_meta WHERE key = 'generation'").fetchone(), 50)
        lock = timed(lambda: (db.execute("SELECT pg_advisory_lock(42)"),
                              db.execute("SELECT pg_advisory_unlock(42)")), 50)
    return f" {built:.2f} | {gen * 1000:.2f} / {lock * 1000:.2f} |"


def run(n: int, client: object, root: Path, repeats: int, dsn: str | None = None) -> str:
    chunks = corpus(n)
    kb = root / f"kb{n}"
    kb.mkdir()
    col = client.create_collection(f"bench{n}", metadata={"hnsw:space": "cosine"})  # type: ignore[attr-defined]
    t = time.perf_counter()
    fill(chunks, col, kb)
    filled = time.perf_counter() - t
    record = KeywordRecord(kb / "manifest.sqlite3")
    version = record.version()
    built = timed(lambda: _Scorer.build(record, version), repeats)
    scorer = _Scorer.build(record, version)
    assert scorer is not None
    scorer.save(kb / "bm25" / version)
    loaded = timed(lambda: _Scorer.load(kb / "bm25" / version), repeats)
    fetch, tok, tot = [], [], []
    for _ in range(repeats):
        t = time.perf_counter()
        _, f, k = from_chroma(col, "documents")
        tot.append(time.perf_counter() - t)
        fetch.append(f)
        tok.append(k)
    pre = timed(lambda: from_chroma(col, "metadatas"), repeats)
    pg = postgres(dsn, n, record, repeats) if dsn else ""
    record.close()
    med = statistics.median
    return (f"| {n:,} | {filled:.1f} | {built:.2f} | {loaded:.3f} | {med(tot):.2f} "
            f"({med(fetch):.2f} fetch + {med(tok):.2f} terms) | {pre:.2f} |{pg}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--chunks", type=int, nargs="+", default=[5000, 50000])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--postgres", metavar="DSN", help="Also time option (a) on this "
                    "PostgreSQL server, e.g. 'host=127.0.0.1 port=5432 user=postgres'.")
    args = ap.parse_args()
    import socket

    import chromadb
    from chromadb.config import Settings as ChromaSettings

    root = Path(tempfile.mkdtemp(prefix="kw-rebuild-"))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = (root / "chroma.log").open("w")
    proc = subprocess.Popen([str(Path(sys.executable).parent / "chroma"), "run", "--path",
                             str(root / "chroma"), "--port", str(port)], stdout=log, stderr=log)
    try:
        client = None
        for _ in range(300):
            try:
                client = chromadb.HttpClient(host="127.0.0.1", port=port,
                                             settings=ChromaSettings(anonymized_telemetry=False))
                break
            except Exception:  # noqa: BLE001 - not listening yet
                time.sleep(0.2)
        assert client is not None, "chroma run did not start"
        terms_of("预热 warm up")  # load jieba's dictionary before the clock
        pg = (" PostgreSQL record → scorer s | PG generation read / lock+unlock ms |"
              if args.postgres else "")
        print("| chunks | fill s (Chroma + record) | record → scorer s | saved scorer "
              "(mmap) s | Chroma texts → scorer s | Chroma terms → scorer s |" + pg +
              "\n|---|---|---|---|---|---|" + ("---|---|" if pg else ""))
        for n in args.chunks:
            print(run(n, client, root, args.repeats, args.postgres), flush=True)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
