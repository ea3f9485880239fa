"""Questions per second while an ingest runs, against the same with no ingest, in one run.

    python bench/concurrency_bench.py [--threads 8] [--seconds 60] [--files 60] [--asks]

A knowledge base of the bundled samples answers; a second process ingests a generated corpus
(bench/make_corpus.py, --files files) into it meanwhile. Eight threads through one RAG
search (hybrid) — and, with --asks, ask the bundled model (k=2, 16 answer tokens) — for
--seconds with no ingest, then for as long as the ingest runs. Printed: searches and asks
per second, p50/p95 latency, errors, and hit lists that showed a file in two states.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import ragkit
from ragkit import RAG

ROOT = Path(__file__).resolve().parents[1]
QUESTIONS = ["What do llamas eat?", "大熊猫吃什么？", "How far is Mars from the Sun?",
             "What is the warranty period?"]


def load(rag: RAG, threads: int, until: threading.Event | float, asks: bool) -> dict:
    """Questions from ``threads`` threads until the event is set or the time is reached."""
    lat: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()

    def done() -> bool:
        return until.is_set() if isinstance(until, threading.Event) else time.monotonic() > until

    def worker(n: int) -> None:
        i = n
        while not done():
            q = QUESTIONS[i % len(QUESTIONS)]
            i += 1
            t = time.perf_counter()
            try:
                if asks:
                    rag.ask(q, k=2, generation={"max_tokens": 16})
                else:
                    rag.retrieve(q, mode="hybrid")
            except Exception as exc:  # noqa: BLE001 - counted and printed
                with lock:
                    errors.append(repr(exc))
                continue
            with lock:
                lat.append(time.perf_counter() - t)

    started = time.perf_counter()
    pool = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    wall = time.perf_counter() - started
    lat.sort()
    return {"n": len(lat), "per_s": len(lat) / wall, "wall": wall, "errors": errors,
            "p50": statistics.median(lat) if lat else float("nan"),
            "p95": lat[int(0.95 * (len(lat) - 1))] if lat else float("nan")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--files", type=int, default=60)
    ap.add_argument("--asks", action="store_true", help="ask the model, not only retrieve")
    args = ap.parse_args()
    ragkit.apply_offline_defaults()
    work = Path(tempfile.mkdtemp(prefix="ragkit-conc-"))
    corpus, kb = work / "corpus", work / "kb"
    subprocess.run([sys.executable, str(ROOT / "bench" / "make_corpus.py"), str(corpus),
                    "--files", str(args.files)], check=True, capture_output=True)
    rag = RAG(kb)
    rag.ingest(ROOT / "docs" / "samples")
    rag.retrieve(QUESTIONS[0])  # models loaded before the clock
    if args.asks:
        rag.ask(QUESTIONS[0], k=2, generation={"max_tokens": 4})
    kind = "asks" if args.asks else "searches"
    idle = load(rag, args.threads, time.monotonic() + args.seconds, args.asks)
    stop = threading.Event()
    t = time.perf_counter()
    ingest = subprocess.Popen([str(Path(sys.executable).parent / "ragkit-ingest"),
                               str(corpus), "--kb", str(kb), "--json"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    threading.Thread(target=lambda: (ingest.wait(), stop.set()), daemon=True).start()
    busy = load(rag, args.threads, stop, args.asks)
    ingest_s = time.perf_counter() - t
    print(f"{args.threads} threads, {kind}; ingest of {args.files} generated files took "
          f"{ingest_s:.1f} s (exit {ingest.returncode})")
    print(f"{'':14} {kind + '/s':>10} {'p50 s':>8} {'p95 s':>8} {'n':>6} {'errors':>7}")
    for name, r in (("no ingest", idle), ("during ingest", busy)):
        print(f"{name:14} {r['per_s']:10.2f} {r['p50']:8.3f} {r['p95']:8.3f} {r['n']:6d} "
              f"{len(r['errors']):7d}")
    print(f"ratio during/no ingest: {busy['per_s'] / idle['per_s']:.2f}")
    for e in (idle["errors"] + busy["errors"])[:5]:
        print("error:", e)
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
