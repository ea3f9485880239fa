"""VectorStore port on Chroma: an embedded ``PersistentClient`` in the knowledge-base folder.

The collection records which embedding model (and dimension) filled it; opening it with
another model is a clear error instead of silently comparing vectors of different spaces.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ragkit._types import Chunk, Hit
from ragkit.errors import BackendError, DimensionMismatchError

log = logging.getLogger(__name__)

#: PersistentClient rejects larger batches (about 5,400 records here); stay well below.
MAX_BATCH = 4000


class ChromaStore:
    """Chunks and vectors in a Chroma collection, cosine distance."""

    def __init__(self, path: str | Path, *, collection: str, embedder_name: str, dimension: int):
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        self.path = Path(path)
        self._client = chromadb.PersistentClient(
            path=str(self.path),
            settings=ChromaSettings(anonymized_telemetry=False, allow_reset=False),
        )
        wanted = {"embedding_model": embedder_name, "dimension": dimension, "hnsw:space": "cosine"}
        col = self._client.get_or_create_collection(collection, metadata=wanted)
        have = col.metadata or {}
        if have.get("embedding_model") != embedder_name or have.get("dimension") != dimension:
            raise DimensionMismatchError(
                f"Knowledge base {self.path.parent} was built with embedding model "
                f"{have.get('embedding_model')!r} ({have.get('dimension')}-dim), but the settings "
                f"ask for {embedder_name!r} ({dimension}-dim). Use the original model, or "
                "re-ingest into a new knowledge-base folder."
            )
        self._col = col

    def add(self, chunks: Sequence[Chunk], vectors: Sequence[Sequence[float]]) -> None:
        if len(chunks) != len(vectors):
            raise BackendError(f"{len(chunks)} chunks but {len(vectors)} vectors")
        for start in range(0, len(chunks), MAX_BATCH):
            part = chunks[start : start + MAX_BATCH]
            self._col.upsert(
                ids=[c.id for c in part],
                documents=[c.text for c in part],
                metadatas=[c.metadata() for c in part],  # type: ignore[misc]
                embeddings=[list(v) for v in vectors[start : start + MAX_BATCH]],  # type: ignore[arg-type]
            )

    def search(
        self, vector: Sequence[float], k: int, where: dict[str, Any] | None = None
    ) -> list[Hit]:
        n = self.count()
        if n == 0:
            return []
        res = self._col.query(
            query_embeddings=[list(vector)],  # type: ignore[arg-type]
            n_results=min(k, n),
            where=where or None,
            include=["documents", "metadatas", "distances"],
        )
        ids = res["ids"][0]
        docs = (res["documents"] or [[]])[0]
        metas = (res["metadatas"] or [[]])[0]
        dists = (res["distances"] or [[]])[0]
        return [
            Hit(Chunk.from_metadata(i, d or "", dict(m or {})), 1.0 - float(dist))
            for i, d, m, dist in zip(ids, docs, metas, dists, strict=True)
        ]

    def delete(self, ids: Sequence[str]) -> None:
        for start in range(0, len(ids), MAX_BATCH):
            self._col.delete(ids=list(ids[start : start + MAX_BATCH]))

    def count(self) -> int:
        return int(self._col.count())

    def ids(self) -> set[str]:
        """Every chunk id stored (for consistency checks and repair)."""
        return set(self._col.get(include=[])["ids"])
