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

    def __init__(
        self,
        path: str | Path | None = None,
        *,
        url: str | None = None,
        collection: str,
        embedder_name: str,
        dimension: int,
    ) -> None:
        """Open the embedded store in ``path``, or the Chroma server at ``url``.

        Raises BackendError when the server cannot be reached, DimensionMismatchError when
        the collection was filled by another embedding model.
        """
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
        self.where = url or str(path)
        if url:
            from urllib.parse import urlparse

            u = urlparse(url)
            try:
                self._client = chromadb.HttpClient(
                    host=u.hostname or "127.0.0.1", port=u.port or 8000,
                    ssl=u.scheme == "https", settings=settings,
                )
            except Exception as exc:  # noqa: BLE001 - connection errors of many kinds
                raise BackendError(
                    f"Cannot reach the Chroma server at {url!r}: {exc}. Start it with "
                    "`chroma run --path DIR --port N`, or unset chroma_url."
                ) from exc
        else:
            self._client = chromadb.PersistentClient(path=str(path), settings=settings)
        wanted = {"embedding_model": embedder_name, "dimension": dimension, "hnsw:space": "cosine"}
        col = self._client.get_or_create_collection(collection, metadata=wanted)
        have = col.metadata or {}
        if have.get("embedding_model") != embedder_name or have.get("dimension") != dimension:
            raise DimensionMismatchError(
                f"The store {self.where} was built with embedding model "
                f"{have.get('embedding_model')!r} ({have.get('dimension')}-dim), but the settings "
                f"ask for {embedder_name!r} ({dimension}-dim). Use the original model, or "
                "re-ingest into a new knowledge-base folder (or collection)."
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

    def get(self, ids: Sequence[str]) -> list[Chunk]:
        out: list[Chunk] = []
        for start in range(0, len(ids), MAX_BATCH):
            res = self._col.get(ids=list(ids[start : start + MAX_BATCH]),
                                include=["documents", "metadatas"])
            docs = res["documents"] or []
            metas = res["metadatas"] or []
            out += [Chunk.from_metadata(i, d or "", dict(m or {}))
                    for i, d, m in zip(res["ids"], docs, metas, strict=True)]
        return out

    def vectors(self, ids: Sequence[str]) -> dict[str, list[float]]:
        out: dict[str, list[float]] = {}
        for start in range(0, len(ids), MAX_BATCH):
            res = self._col.get(ids=list(ids[start : start + MAX_BATCH]), include=["embeddings"])
            embs = res["embeddings"]
            if embs is None:
                continue
            out.update({i: [float(x) for x in e] for i, e in zip(res["ids"], embs, strict=True)})
        return out

    def ids(self) -> set[str]:
        """Every chunk id stored (for consistency checks and repair), read in pages."""
        out: set[str] = set()
        offset = 0
        while True:
            page = self._col.get(include=[], limit=MAX_BATCH, offset=offset)["ids"]
            out.update(page)
            if len(page) < MAX_BATCH:
                return out
            offset += MAX_BATCH
