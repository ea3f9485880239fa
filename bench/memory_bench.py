"""Peak memory of an ingest: the whole process tree, and each process in it.

    python bench/memory_bench.py [--files 240] [--scale 10] [--workers N] [--corpus DIR]
    python bench/memory_bench.py --files 240 --scale 10 --hash-embedder   # no model: minutes
    python bench/memory_bench.py --stages        # where one parser worker's memory goes
    python bench/memory_bench.py --pythonpath /tmp/head   # another ragkit (git archive)

Generates the bench corpus (bench/make_corpus.py, ``--files``) and, with ``--scale K``, a
K-times larger one (``--files`` x K), runs ``ragkit-ingest CORPUS --kb KB --json --quiet``
on each, and samples every 100 ms the RSS (and PSS, which splits the pages forked
processes share) of the ingest's process tree: the main process, the forkserver, the
resource tracker and each parser worker. It prints the peak of the sum over the tree, and
each process's peak by role. ``--stages`` imports, in a fresh process, what a parser worker
loads, in order, and prints the RSS after each step (with and without torch blocked).

Run it niced on a shared machine: ``nice bench/memory_bench.py``; it needs ragkit installed
in the venv (``pip install --no-deps --force-reinstall .``) for the ``ragkit-ingest``
command.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

import psutil

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent


def _role(proc: psutil.Process, root: int) -> str:
    """main, forkserver, resource_tracker or worker (a worker is forked by the forkserver,
    so it has the forkserver's command line: told apart by its parent)."""
    if proc.pid == root:
        return "main"
    try:
        cmd, parent = " ".join(proc.cmdline()), proc.ppid()
    except psutil.Error:
        return "?"
    if parent != root:
        return "worker"
    return "resource_tracker" if "resource_tracker" in cmd else "forkserver"


class Sampler:
    """Samples a process tree every ``interval`` seconds on a thread."""

    def __init__(self, pid: int, interval: float = 0.1) -> None:
        self.root = psutil.Process(pid)
        self.interval = interval
        self.peak_rss = self.peak_pss = 0
        #: role -> peak RSS of one process in that role; worker count seen
        self.by_role: dict[str, int] = defaultdict(int)
        self.workers: set[int] = set()
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                procs = [self.root, *self.root.children(recursive=True)]
            except psutil.Error:
                return
            rss = pss = 0
            for p in procs:
                try:
                    mem = p.memory_full_info()
                except psutil.Error:
                    continue
                role = _role(p, self.root.pid)
                if role == "worker":
                    self.workers.add(p.pid)
                rss += mem.rss
                pss += getattr(mem, "pss", mem.rss)
                self.by_role[role] = max(self.by_role[role], mem.rss)
            self.peak_rss, self.peak_pss = max(self.peak_rss, rss), max(self.peak_pss, pss)
            self.samples += 1
            time.sleep(self.interval)


def ingest(corpus: Path, workers: int | None, pythonpath: str | None = None,
           hash_embedder: bool = False) -> dict:
    kb = Path(tempfile.mkdtemp(prefix="membench-kb-"))
    cmd = [str(BIN / "ragkit-ingest"), str(corpus), "--kb", str(kb), "--json", "--quiet"]
    if hash_embedder:
        cmd = [sys.executable, str(HERE.parent / "tests" / "ingest_worker.py"), str(corpus),
               str(kb), "hash"]
    elif workers is not None:
        cmd += ["--workers", str(workers)]
    started = time.perf_counter()
    env = {**os.environ, **({"PYTHONPATH": pythonpath} if pythonpath else {})}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            env=env)
    with Sampler(proc.pid) as s:
        out, _ = proc.communicate()
    wall = time.perf_counter() - started
    shutil.rmtree(kb, ignore_errors=True)
    report = json.loads(out) if out.strip() else {}
    mb = 1024 * 1024
    return {
        "wall_s": round(wall, 1), "exit": proc.returncode,
        "chunks": report.get("chunks", {}).get("added"),
        "files": report.get("files"), "parse_workers": report.get("parse_workers"),
        "peak_tree_rss_mb": round(s.peak_rss / mb), "peak_tree_pss_mb": round(s.peak_pss / mb),
        "peak_rss_mb_by_role": {k: round(v / mb) for k, v in sorted(s.by_role.items())},
        "workers_seen": len(s.workers), "samples": s.samples,
    }


def make_corpus(out: Path, files: int) -> float:
    subprocess.run([sys.executable, str(HERE / "make_corpus.py"), str(out), "--files",
                    str(files)], check=True, stdout=subprocess.DEVNULL)
    return sum(p.stat().st_size for p in out.rglob("*") if p.is_file()) / 1e6


_STAGES = r"""
import sys, time, psutil
if BLOCK:
    sys.modules["torch"] = None
p = psutil.Process()
def step(name, f):
    t = time.perf_counter(); f()
    rss = p.memory_info().rss / 2**20
    print(f"  {name:44s} {time.perf_counter() - t:6.2f} s  RSS {rss:6.0f} MB")
def warm():
    from ragkit.ingestion._spacy import use_bundled_spacy_model
    from unstructured.partition.text import partition_text
    use_bundled_spacy_model()
    partition_text(text="Warm up.\n\nSecond paragraph here.", languages=["eng", "zho"])
def tok_fast():
    from ragkit._models import resolve_model
    from ragkit.ingestion.workers import token_counter
    token_counter(resolve_model("bundled:all-MiniLM-L6-v2"))("hello")
def tok_transformers():
    from transformers import AutoTokenizer
    from ragkit._models import resolve_model
    AutoTokenizer.from_pretrained(resolve_model("bundled:all-MiniLM-L6-v2"))
step("python + psutil", lambda: None)
step("import ragkit.ingestion.workers", lambda: __import__("ragkit.ingestion.workers"))
step("import unstructured.partition.text (spaCy)",
     lambda: __import__("unstructured.partition.text"))
step("spaCy model loaded (first paragraph)", warm)
step("tokenizer via `tokenizers`", tok_fast)
step("import docx, pdfminer, pptx partitioners", lambda: [__import__(m) for m in (
    "unstructured.partition.docx", "pdfminer.high_level", "unstructured.partition.pptx")])
step("import xlsx partitioner (pandas)", lambda: __import__("unstructured.partition.xlsx"))
step("tokenizer via transformers.AutoTokenizer", tok_transformers)
print("  torch imported:", bool(sys.modules.get("torch")))
"""


def stages() -> None:
    for block in (False, True):
        print(f"a parser worker's imports, torch {'blocked' if block else 'allowed'}:")
        code = f"BLOCK = {block}\n" + _STAGES
        subprocess.run([sys.executable, "-c", code], check=True, stderr=subprocess.DEVNULL)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--files", type=int, default=240, help="files in the base corpus")
    ap.add_argument("--scale", type=int, default=0, help="also run a corpus this many times "
                    "larger (0: only the base corpus)")
    ap.add_argument("--workers", type=int, default=None, help="ragkit-ingest --workers")
    ap.add_argument("--corpus", type=Path, help="ingest this folder instead of generating one")
    ap.add_argument("--stages", action="store_true", help="only the worker import breakdown")
    ap.add_argument("--hash-embedder", action="store_true", help="embed with a hash, not the "
                    "model (tests/ingest_worker.py): everything else as ragkit-ingest, in minutes")
    ap.add_argument("--pythonpath", help="PYTHONPATH for the ingest (e.g. an older ragkit and "
                    "ragkit_ingest unpacked with git archive, for a before/after figure)")
    args = ap.parse_args()
    if args.stages:
        stages()
        return
    work = Path(tempfile.mkdtemp(prefix="membench-"))
    try:
        runs = [(args.corpus, None)] if args.corpus else [(work / "base", args.files)]
        if args.scale and not args.corpus:
            runs.append((work / f"x{args.scale}", args.files * args.scale))
        for corpus, files in runs:
            size = make_corpus(corpus, files) if files else sum(
                p.stat().st_size for p in corpus.rglob("*") if p.is_file()) / 1e6
            result = ingest(corpus, args.workers, args.pythonpath, args.hash_embedder)
            print(f"corpus {corpus.name}: {files or '?'} files, {size:.1f} MB")
            print(json.dumps(result, indent=2))
            if files:
                shutil.rmtree(corpus, ignore_errors=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
