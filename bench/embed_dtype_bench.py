"""Embedding in float32 or bfloat16: speed and retrieval quality, measured side by side.

    python bench/embed_dtype_bench.py CORPUS_DIR [--chunks FILE] [--queries N] [--limit N]

CORPUS_DIR is bench/make_corpus.py's corpus. Its files are parsed and chunked exactly as
ragkit-ingest does (ragkit.ingestion.workers.process, default settings), in this process;
``--chunks FILE`` keeps the chunk texts in a JSON file and reuses them on the next run.

Prints one table:
- chunks/s of ragkit's SentenceTransformerEmbedder in float32 and in bfloat16, encoding the
  same batches of 512 chunks (ragkit-ingest's batch), the two dtypes interleaved batch by
  batch (first one, then the other, alternately), so machine noise hits both alike;
- cosine between each chunk's float32 and bfloat16 vector (mean, min), and between the two
  vectors of each query;
- on the corpus's chunks (over 5,000): N queries (words 10-22 of a random chunk, whose
  chunk is the one relevant answer): top-10 overlap of the bfloat16 ranking with the
  float32 one, also for bfloat16 queries against float32 chunks (a knowledge base made
  in one dtype, queried in the other), and nDCG@10 of each;
- on the project's retrieval set (tests/retrieval_set.py, 36 documents, 18 queries):
  nDCG@10 of `ragkit eval retrieval` (dense and hybrid) with each dtype, and the top-10
  overlap of the dense rankings;
- padding: the share of the tokens computed that are padding, for batches of 64 in the
  given order, in sentence-transformers' order (it sorts each encode call's texts by
  character length) and in word-piece order.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import ragkit
from ragkit import RAG, Settings
from ragkit._dtype import resolve_dtype
from ragkit.backends.sentence_transformers import SentenceTransformerEmbedder
from ragkit.ingestion.workers import ChunkConfig, Job, process

ROOT = Path(__file__).resolve().parents[1]
MODEL = "bundled:all-MiniLM-L6-v2"
BATCH = 512  # ragkit-ingest's ingest_batch: the texts of one encode call


def make_chunks(corpus: Path, embedder: SentenceTransformerEmbedder) -> list[str]:
    s = Settings()
    config = ChunkConfig(languages=s.languages, max_tokens=min(s.chunk_size, embedder.max_tokens),
                         overlap=s.chunk_overlap, fingerprint="bench", tokenizer="")
    texts: list[str] = []
    for path in sorted(p for p in corpus.rglob("*") if p.is_file()):
        st = path.stat()  # process() checks the file did not change while it was read
        job = Job(path, st.st_size, st.st_mtime_ns, path.name, ())
        parsed = process(job, config, embedder.count_tokens)
        if parsed.error:
            print(f"{path}: {parsed.error}", file=sys.stderr)
        texts += [c.text for c in parsed.chunks]
    return texts


def load_chunks(args: argparse.Namespace,
                embedder: SentenceTransformerEmbedder) -> tuple[list[str], list[str]]:
    """All chunk texts in file order (as ragkit-ingest embeds them), and the ones to encode."""
    if args.chunks and args.chunks.is_file():
        texts: list[str] = json.loads(args.chunks.read_text(encoding="utf-8"))
    else:
        start = time.perf_counter()
        texts = make_chunks(args.corpus, embedder)
        print(f"parsed and chunked in {time.perf_counter() - start:.0f} s", file=sys.stderr)
        if args.chunks:
            args.chunks.write_text(json.dumps(texts, ensure_ascii=False), encoding="utf-8")
    if args.limit and args.limit < len(texts):  # a seeded sample: every format keeps its share
        return texts, random.Random(1).sample(texts, args.limit)
    return texts, texts


def timed_interleaved(models: dict[str, SentenceTransformerEmbedder],
                      texts: list[str]) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """Each dtype's vectors of ``texts`` and its encode seconds, batch by batch, alternating."""
    vecs: dict[str, list[list[float]]] = {name: [] for name in models}
    secs = dict.fromkeys(models, 0.0)
    names = list(models)
    for i, start in enumerate(range(0, len(texts), BATCH)):
        part = texts[start:start + BATCH]
        for name in names if i % 2 == 0 else names[::-1]:
            t = time.perf_counter()
            vecs[name] += models[name].embed_documents(part)
            secs[name] += time.perf_counter() - t
        print(f"  batch {i + 1}: {start + len(part)} / {len(texts)}", file=sys.stderr)
    return {n: np.asarray(v, dtype=np.float32) for n, v in vecs.items()}, secs


def ndcg10(top: np.ndarray, relevant: list[int]) -> float:
    """Mean nDCG@10 with one relevant item per query (grade 1): 1 / log2(rank + 1)."""
    gains = [next((1 / math.log2(r + 2) for r, j in enumerate(row) if j == rel), 0.0)
             for row, rel in zip(top, relevant, strict=True)]
    return float(np.mean(gains))


def overlap10(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean([len(set(x) & set(y)) / 10 for x, y in zip(a, b, strict=True)]))


def top10(queries: np.ndarray, docs: np.ndarray) -> np.ndarray:
    return np.argsort(-(queries @ docs.T), axis=1)[:, :10]


def corpus_quality(models: dict[str, SentenceTransformerEmbedder], texts: list[str],
                   vecs: dict[str, np.ndarray], n: int) -> dict[str, float]:
    rng = random.Random(0)
    pool = [i for i, t in enumerate(texts) if len(t.split()) >= 24]
    picked = rng.sample(pool, min(n, len(pool)))
    queries = [" ".join(texts[i].split()[10:22]) for i in picked]
    q = {name: np.asarray(m.embed_documents(queries), dtype=np.float32)
         for name, m in models.items()}
    f32, b16 = vecs["float32"], vecs["bfloat16"]
    cos = (f32 * b16).sum(1)
    qcos = (q["float32"] * q["bfloat16"]).sum(1)
    top_f, top_b = top10(q["float32"], f32), top10(q["bfloat16"], b16)
    top_x = top10(q["bfloat16"], f32)  # a float32 knowledge base queried in bfloat16
    return {"chunks": len(texts), "queries": len(queries),
            "cos_mean": float(cos.mean()), "cos_min": float(cos.min()),
            "qcos_mean": float(qcos.mean()), "qcos_min": float(qcos.min()),
            "overlap": overlap10(top_f, top_b), "overlap_cross": overlap10(top_f, top_x),
            "ndcg_f32": ndcg10(top_f, picked), "ndcg_bf16": ndcg10(top_b, picked),
            "ndcg_cross": ndcg10(top_x, picked)}


def retrieval_set(models: dict[str, SentenceTransformerEmbedder]) -> dict[str, float]:
    sys.path.insert(0, str(ROOT / "tests"))
    import retrieval_set as rs  # the project's own set (tests/retrieval_set.py)

    out: dict[str, float] = {}
    ranks: dict[str, list[list[str]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        dataset = rs.write(Path(tmp) / "set")
        for name, model in models.items():
            kb = Path(tmp) / f"kb-{name}"

            def make_rag(folder: Path, model: SentenceTransformerEmbedder = model) -> RAG:
                return RAG(folder, embedder=model, embedding_dtype=model.dtype)

            res = ragkit.evaluate_retrieval(dataset, modes=("dense", "hybrid"), kb=kb,
                                            make_rag=make_rag)
            for mode in ("dense", "hybrid"):
                out[f"{mode}_{name}"] = res["results"][mode]["ndcg@10"]
            rag = make_rag(kb)
            # chunk ids hold the settings fingerprint, which holds the dtype: compare sources
            ranks[name] = [[h.chunk.source for h in rag.retrieve(text, k=10, mode="dense")]
                           for text, _ in rs.QUERIES.values()]
    pairs = zip(ranks["float32"], ranks["bfloat16"], strict=True)
    out["overlap"] = float(np.mean([len(set(a) & set(b)) / len(a) for a, b in pairs]))
    return out


def padding(embedder: SentenceTransformerEmbedder, texts: list[str]) -> dict[str, float]:
    """Share of computed tokens that are padding, per order of the texts inside each call."""
    tok = embedder._model.tokenizer
    limit = embedder.max_tokens + 2
    lengths = [min(len(ids), limit) for ids in tok(texts, verbose=False)["input_ids"]]
    orders = {
        "as given": lambda idx: idx,
        "sentence-transformers (characters)": lambda idx: sorted(idx, key=lambda i: -len(texts[i])),
        "word pieces": lambda idx: sorted(idx, key=lambda i: -lengths[i]),
    }
    out = {}
    for name, order in orders.items():
        computed = 0
        for start in range(0, len(texts), BATCH):
            idx = order(list(range(start, min(start + BATCH, len(texts)))))
            for b in range(0, len(idx), embedder.batch_size):
                batch = [lengths[i] for i in idx[b:b + embedder.batch_size]]
                computed += max(batch) * len(batch)
        out[name] = 1 - sum(lengths) / computed
    return out


def padding_timing(embedder: SentenceTransformerEmbedder, texts: list[str]) -> dict[str, float]:
    """Seconds to encode ``texts`` in batches of 512 in sentence-transformers' order (one
    encode call per batch) and in ragkit's (embed_documents), interleaved batch by batch."""
    secs = {"sentence-transformers": 0.0, "ragkit": 0.0}
    for i, start in enumerate(range(0, len(texts), BATCH)):
        part = texts[start:start + BATCH]
        for name in list(secs) if i % 2 == 0 else list(secs)[::-1]:
            t = time.perf_counter()
            if name == "ragkit":
                embedder.embed_documents(part)
            else:
                embedder._model.encode(part, batch_size=embedder.batch_size,
                                       normalize_embeddings=True, show_progress_bar=False)
            secs[name] += time.perf_counter() - t
    return secs


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("corpus", type=Path)
    ap.add_argument("--chunks", type=Path, help="JSON file of chunk texts, made if missing")
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--limit", type=int, default=0, help="use N of the chunks (a seeded sample)")
    ap.add_argument("--pad-timing", type=int, default=2048,
                    help="chunks encoded (bfloat16) to time the two batch orders; 0: skip")
    args = ap.parse_args()
    ragkit.apply_offline_defaults()
    models = {d: SentenceTransformerEmbedder(MODEL, dtype=d) for d in ("float32", "bfloat16")}
    print("'auto' here: {} ({})".format(*resolve_dtype("auto", model=MODEL)))
    every, texts = load_chunks(args, models["float32"])
    if not texts:
        raise SystemExit("no chunks: is CORPUS_DIR bench/make_corpus.py's corpus?")
    vecs, secs = timed_interleaved(models, texts)
    speed = {n: len(texts) / s for n, s in secs.items()}
    q = corpus_quality(models, texts, vecs, args.queries)
    r = retrieval_set(models)
    pad = padding(models["float32"], every)
    sample = texts[: args.pad_timing]
    pad_s = padding_timing(models["bfloat16"], sample) if sample else {}
    rows = [
        ("chunks/s float32 / bfloat16", f"{speed['float32']:.1f} / {speed['bfloat16']:.1f}"),
        ("speed-up of bfloat16", f"{speed['bfloat16'] / speed['float32']:.2f}x"),
        (f"cosine f32~bf16, {q['chunks']} chunks: mean / min",
         f"{q['cos_mean']:.5f} / {q['cos_min']:.5f}"),
        (f"cosine f32~bf16, {q['queries']} queries: mean / min",
         f"{q['qcos_mean']:.5f} / {q['qcos_min']:.5f}"),
        ("top-10 overlap, corpus: bf16 / bf16 query on f32 KB",
         f"{q['overlap']:.3f} / {q['overlap_cross']:.3f}"),
        ("nDCG@10, corpus: f32 / bf16 / bf16 query on f32 KB",
         f"{q['ndcg_f32']:.4f} / {q['ndcg_bf16']:.4f} / {q['ndcg_cross']:.4f}"),
        ("top-10 overlap, retrieval set (dense)", f"{r['overlap']:.3f}"),
        ("nDCG@10 retrieval set dense: f32 / bf16",
         f"{r['dense_float32']:.4f} / {r['dense_bfloat16']:.4f}"),
        ("nDCG@10 retrieval set hybrid: f32 / bf16",
         f"{r['hybrid_float32']:.4f} / {r['hybrid_bfloat16']:.4f}"),
        *((f"padding share, all {len(every)} chunks, {name}", f"{100 * v:.1f} %")
          for name, v in pad.items()),
        *([(f"bf16 s, {len(sample)} chunks: characters / word-piece order",
            f"{pad_s['sentence-transformers']:.1f} / {pad_s['ragkit']:.1f}")] if pad_s else []),
    ]
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"{k:<{width}}  {v}")
    print(json.dumps({"speed": speed, "corpus": q, "retrieval_set": r, "padding": pad,
                      "padding_seconds": pad_s}))


if __name__ == "__main__":
    main()
