"""Ingestion benchmark: ragkit-ingest against LangChain's usual pipeline, in one run.

    python bench/ingest_bench.py CORPUS_DIR [--langchain-python PY] [--skip-langchain]

Prints one line per measurement and a JSON summary at the end:
- LangChain (DirectoryLoader + UnstructuredFileLoader, RecursiveCharacterTextSplitter,
  HuggingFaceEmbeddings with the same model, Chroma.from_documents) vs ragkit-ingest,
  wall time of each command, imports and model loading included;
- ragkit's ingest time (its own ``seconds``, model loading excluded) over a bare
  ``SentenceTransformer.encode`` of ragkit's own chunks (model loading excluded): the floor,
  in the dtype ragkit ran in (``--dtype``) and in float32; the embedder's idle time;
- re-ingest of the unchanged corpus over the first ingest; and after changing 1 % of files;
- peak RSS of each command's whole process tree (workers included), sampled every 50 ms.

CORPUS_DIR is copied first (the 1 % change edits the copy). Everything runs offline.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import psutil

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent


def run(cmd: list[str]) -> tuple[float, int, str]:
    """Run ``cmd``; return (wall seconds, peak RSS of its process tree in MB, stdout)."""
    out = tempfile.TemporaryFile(mode="w+")
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.DEVNULL,
                            stdin=subprocess.DEVNULL)
    ps = psutil.Process(proc.pid)
    peak = 0
    while proc.poll() is None:
        try:
            rss = sum(p.memory_info().rss for p in [ps, *ps.children(recursive=True)])
            peak = max(peak, rss)
        except psutil.Error:
            pass
        time.sleep(0.05)
    wall = time.perf_counter() - start
    out.seek(0)
    text = out.read()
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{cmd[0]} failed with {proc.returncode}:\n{text[-2000:]}")
    return wall, peak // (1024 * 1024), text


FLOOR = textwrap.dedent(
    """
    import json, sys, time
    import ragkit
    from ragkit import RAG
    rag = RAG(sys.argv[1])
    store = rag.store
    texts = []
    offset = 0
    while True:
        page = store._col.get(include=["documents"], limit=4000, offset=offset)["documents"]
        texts += page
        if len(page) < 4000:
            break
        offset += 4000
    embedder = rag.embedder
    if sys.argv[2] != embedder.dtype:  # the same model in another dtype
        from ragkit.backends.sentence_transformers import SentenceTransformerEmbedder
        embedder = SentenceTransformerEmbedder(rag.settings.embedding_model, dtype=sys.argv[2])
    start = time.perf_counter()
    embedder._model.encode(texts, batch_size=rag.settings.embedding_batch_size,
                           normalize_embeddings=True, show_progress_bar=False)
    print(json.dumps({"chunks": len(texts), "seconds": time.perf_counter() - start,
                      "dtype": embedder.dtype}))
    """
)


def mutate(corpus: Path, fraction: float) -> int:
    cmd = [sys.executable, str(HERE / "make_corpus.py"), str(corpus), "--mutate", str(fraction)]
    subprocess.run(cmd, check=True, capture_output=True)
    return 0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("corpus", type=Path)
    ap.add_argument("--langchain-python", default=sys.executable,
                    help="Python of a venv with bench/requirements-langchain.txt installed")
    ap.add_argument("--skip-langchain", action="store_true")
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--dtype", default="bfloat16",
                    help="the dtype ragkit-ingest embeds in here (auto picks bfloat16 on a CPU "
                         "with native bf16): the floor is measured in it and in float32")
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="ragkit-bench-"))
    corpus = work / "corpus"
    shutil.copytree(args.corpus, corpus, symlinks=True)
    paths = [p for p in corpus.rglob("*") if p.is_file()]
    files = len(paths)
    print(f"corpus: {files} files, {sum(p.stat().st_size for p in paths) / 1e6:.1f} MB")
    summary: dict[str, object] = {"files": files}

    ingest = [str(BIN / "ragkit-ingest"), str(corpus), "--kb", str(work / "kb"), "--json",
              "--quiet"]
    if args.workers is not None:
        ingest += ["--workers", str(args.workers)]
    wall, rss, out = run(ingest)
    first = json.loads(out)
    summary["ragkit"] = {"wall_s": round(wall, 1), "seconds": first["seconds"],
                         "chunks": first["chunks"]["total"], "failed": first["files"]["failed"],
                         "peak_rss_mb": rss, "timings": first.get("timings")}
    print(f"ragkit-ingest: {wall:.1f} s wall ({first['seconds']:.1f} s pipeline), "
          f"{first['chunks']['total']} chunks, {first['chunks']['total'] / first['seconds']:.1f} "
          f"chunks/s, {first['files']['failed']} failed, peak RSS {rss} MB")
    print(f"  stages (s): {first.get('timings')}")

    chunks = first["chunks"]
    wait = (first.get("timings") or {}).get("wait", 0.0)
    print(f"  embedded {chunks.get('embedded')}, reused from the embedding cache "
          f"{chunks.get('embeddings_reused')}; embedder idle (waiting for parsers) "
          f"{wait:.1f} s = {100 * wait / first['seconds']:.1f} %")
    for dtype in (args.dtype, "float32") if args.dtype != "float32" else ("float32",):
        _, _, out = run([sys.executable, "-c", FLOOR, str(work / "kb"), dtype])
        floor = json.loads(out)
        ratio = first["seconds"] / floor["seconds"]
        summary[f"floor_{floor['dtype']}"] = {"encode_s": round(floor["seconds"], 1),
                                              "ratio": round(ratio, 3)}
        print(f"bare SentenceTransformer.encode ({floor['dtype']}) of the same "
              f"{floor['chunks']} chunks: {floor['seconds']:.1f} s -> ragkit / floor = "
              f"{ratio:.2f} (target <= 1.1 in the same dtype)")

    wall2, rss2, out = run(ingest)
    again = json.loads(out)
    r2 = again["seconds"] / first["seconds"]
    summary["reingest"] = {"seconds": again["seconds"], "ratio": round(r2, 4),
                           "unchanged": again["files"]["unchanged"], "peak_rss_mb": rss2}
    print(f"re-ingest unchanged: {again['seconds']:.2f} s ({wall2:.1f} s wall) = "
          f"{100 * r2:.2f} % of the first ingest (target <= 2 %)")

    mutate(corpus, 0.01)
    wall3, _, out = run(ingest)
    changed = json.loads(out)
    r3 = changed["seconds"] / first["seconds"]
    summary["one_percent"] = {"seconds": changed["seconds"], "ratio": round(r3, 4),
                              "ingested": changed["files"]["ingested"]}
    print(f"after changing 1 % of files ({changed['files']['ingested']} re-ingested): "
          f"{changed['seconds']:.2f} s = {100 * r3:.1f} % of the first ingest")

    if not args.skip_langchain:
        lc = [args.langchain_python, str(HERE / "langchain_ingest.py"), str(args.corpus),
              "--persist", str(work / "lc")]
        wall_lc, rss_lc, out = run(lc)
        lc_result = json.loads(out.strip().splitlines()[-1])
        speedup = wall_lc / wall
        summary["langchain"] = {"wall_s": round(wall_lc, 1), **lc_result, "peak_rss_mb": rss_lc,
                                "ragkit_speedup": round(speedup, 2)}
        print(f"LangChain pipeline: {wall_lc:.1f} s wall, {lc_result.get('chunks')} chunks, "
              f"{lc_result.get('files_failed')} files failed, peak RSS {rss_lc} MB")
        print(f"ragkit is {speedup:.1f}x faster (wall, target >= 3x)")
    print(json.dumps(summary))
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
