"""Ingest memory grows far less than the file: a 4 MB text file against a 0.5 MB one, each
ingested by a fresh process (real parsing in the parser process, real chunking, Chroma and
the keyword record; a hash embedder, so the test measures ragkit and not the model, whose
memory does not depend on the file). Peak RSS of the process tree is sampled, not timed.

Before vectors were embedded and stored ``ingest_batch`` at a time within a file, a file's
vectors were all in memory at once (as Python floats: 32 bytes per dimension)."""

from __future__ import annotations

import random
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

ROOT = Path(__file__).resolve().parents[1]
SMALL_MB, LARGE_MB = 0.5, 4

SCRIPT = r"""
import hashlib, sys
from pathlib import Path
import numpy as np
import ragkit
from ragkit import RAG, Settings
from ragkit._models import resolve_model
from ragkit.ingestion.workers import token_counter

class HashEmbedder:
    name, dimension, max_tokens = "hash", 384, 254
    tokenizer_path = resolve_model("bundled:all-MiniLM-L6-v2")
    count_tokens = staticmethod(token_counter(tokenizer_path))
    def embed_documents(self, texts):
        out = []
        for t in texts:
            seed = int.from_bytes(hashlib.sha256(t.encode()).digest()[:4], "little")
            v = np.random.default_rng(seed).standard_normal(self.dimension)
            out.append((v / np.linalg.norm(v)).tolist())
        return out
    def embed_query(self, text):
        return self.embed_documents([text])[0]

if __name__ == "__main__":
    ragkit.apply_offline_defaults()
    embedder = HashEmbedder()
    if sys.argv[3] == "model":
        from ragkit.backends.sentence_transformers import SentenceTransformerEmbedder
        embedder = SentenceTransformerEmbedder("bundled:all-MiniLM-L6-v2", dtype="auto")
    rag = RAG(sys.argv[2], settings=Settings(parse_timeout_s=900), embedder=embedder)
    report = rag.ingest(sys.argv[1])
    assert report.ok, report.failures
    print(report.chunks_added)
"""


def _text(path: Path, mb: float) -> None:
    """Bulleted lines of words (unstructured classifies them by pattern, not with spaCy,
    so parsing 20 MB stays quick), in paragraphs of five."""
    rng = random.Random(7)
    words = [f"{w}{i}" for w in ("valve", "pump", "basin", "sensor", "ledger") for i in range(200)]
    with path.open("w") as f:
        while f.tell() < mb * 1_000_000:
            for _ in range(5):
                f.write("- " + " ".join(rng.choices(words, k=12)) + "\n")
            f.write("\n")


def _peak_rss_mb(tmp_path: Path, name: str, mb: float,
                 embedder: str = "hash") -> tuple[float, int]:
    """Ingest a ``mb`` MB text file in a fresh process (``embedder`` "hash" or "model", the
    bundled one); peak RSS of its tree, chunks."""
    docs = tmp_path / name
    docs.mkdir()
    _text(docs / f"{name}.txt", mb)
    script = tmp_path / "ingest_one.py"
    script.write_text(SCRIPT)
    proc = subprocess.Popen([sys.executable, str(script), str(docs), str(tmp_path / f"kb-{name}"),
                             embedder],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    root, peak = psutil.Process(proc.pid), 0
    while proc.poll() is None:
        try:
            tree = [root, *root.children(recursive=True)]
            peak = max(peak, sum(p.memory_info().rss for p in tree))
        except psutil.Error:
            pass
        time.sleep(0.1)
    out, err = proc.communicate()
    assert proc.returncode == 0, err[-2000:]
    return peak / 2**20, int(out.split()[-1])


@pytest.mark.slow  # two fresh ingest processes, 4.5 MB of text through unstructured
def test_peak_memory_grows_much_less_than_the_file(tmp_path: Path) -> None:
    small, small_chunks = _peak_rss_mb(tmp_path, "small", SMALL_MB)
    large, large_chunks = _peak_rss_mb(tmp_path, "large", LARGE_MB)
    print(f"peak RSS: {SMALL_MB} MB file {small:.0f} MB, {LARGE_MB} MB file {large:.0f} MB")
    assert large_chunks > 7 * small_chunks  # the large file really is eight times the work
    # measured: 0.5 MB -> 477-482 MB, 4 MB -> 578-581 MB (about 28 MB per MB of text, most
    # of it the parser's elements of the whole file: large files are not parsed in pieces,
    # bench/README.md); a file's vectors all in memory at once added about 100 MB more here
    assert large - small < 150, (small, large)


@pytest.mark.slow  # two fresh ingest processes with the real model, about 2,300 chunks
def test_embedding_many_batches_does_not_grow_the_process(tmp_path: Path) -> None:
    """With the real model the process used to grow by about 80 MB per 512 chunks: glibc
    kept the heap pages torch freed (ragkit/_memory.py). A trim after each batch gives them
    back."""
    small, small_chunks = _peak_rss_mb(tmp_path, "small", 0.1, "model")
    large, large_chunks = _peak_rss_mb(tmp_path, "large", 1.0, "model")
    print(f"peak RSS with the model: {small_chunks} chunks {small:.0f} MB, "
          f"{large_chunks} chunks {large:.0f} MB")
    assert large_chunks > 5 * small_chunks and large_chunks - small_chunks > 1500
    # measured: +247 MB without the trims (1,058 -> 1,305 MB), +131 MB with them (1,075 ->
    # 1,206 MB: the parser's elements of the larger file, Chroma's index and caches)
    assert large - small < 180, (small, large)
