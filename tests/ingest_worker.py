"""An ingest in a process of its own, for tests/test_memory.py and bench/memory_bench.py
(run as a script): ``python tests/ingest_worker.py DOCS KB hash|model [--test]``.

``hash`` embeds with :class:`HashEmbedder` (no model: the whole pipeline — parser processes,
chunking, Chroma, the keyword record, the BM25 refresh — without the model's time), ``model``
with the bundled model. Prints the ingest report as ``ragkit-ingest --json`` does; with
``--test``, parses in the pool for a single file too (one file or sixteen pieces take the
same route), allows 900 s a file, fails unless every file went in, and prints only the
number of chunks added.
"""

from __future__ import annotations

import hashlib
import json
import sys

import numpy as np

import ragkit
from ragkit import RAG, Settings
from ragkit._models import resolve_model
from ragkit.ingestion.workers import token_counter


class HashEmbedder:
    """Unit vectors seeded by each text's hash; the bundled model's tokenizer for sizes."""

    name, dimension, max_tokens = "hash", 384, 254
    tokenizer_path = resolve_model("bundled:all-MiniLM-L6-v2")
    count_tokens = staticmethod(token_counter(tokenizer_path))

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        out = []
        for t in texts:
            seed = int.from_bytes(hashlib.sha256(t.encode()).digest()[:4], "little")
            v = np.random.default_rng(seed).standard_normal(self.dimension)
            out.append((v / np.linalg.norm(v)).tolist())
        return out

    def embed_query(self, text: str) -> list[float]:
        return self.embed_documents([text])[0]


def main(docs: str, kb: str, embedding: str, test: bool) -> None:
    ragkit.apply_offline_defaults()
    embedder: object = HashEmbedder()
    if embedding == "model":
        from ragkit.backends.sentence_transformers import SentenceTransformerEmbedder

        embedder = SentenceTransformerEmbedder("bundled:all-MiniLM-L6-v2", dtype="auto")
    settings = Settings()
    if test:
        from ragkit.ingestion import pipeline

        pipeline.MIN_JOBS_FOR_POOL = 1
        settings = Settings(parse_timeout_s=900)
    report = RAG(kb, settings=settings, embedder=embedder).ingest(docs)
    if not test:
        print(json.dumps(report.to_dict()))
        return
    assert report.ok, report.failures
    print(report.chunks_added)


if __name__ == "__main__":
    main(*sys.argv[1:4], test="--test" in sys.argv[4:])
