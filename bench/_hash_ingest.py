"""Ingest a folder with a hash embedder (no model): ``python bench/_hash_ingest.py DOCS KB``.

For bench/memory_bench.py ``--hash-embedder``: the whole pipeline (parser processes,
chunking, Chroma, the keyword record, the BM25 refresh) without the model's time, so that a
corpus ten times the benchmark's ingests in minutes. Prints the ingest report as
``ragkit-ingest --json`` does.
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


if __name__ == "__main__":
    ragkit.apply_offline_defaults()
    rag = RAG(sys.argv[2], settings=Settings(), embedder=HashEmbedder())
    print(json.dumps(rag.ingest(sys.argv[1]).to_dict()))
