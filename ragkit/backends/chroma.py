"""VectorStore port on Chroma: an embedded ``PersistentClient`` in the knowledge-base folder.

The collection records which embedding model (and dimension) filled it; opening it with
another model is a clear error instead of silently comparing vectors of different spaces.
It also records the number type the vectors were computed in (``embedding_dtype``; a
collection made before that was recorded holds float32). Another dtype is only a note, not
an error: bfloat16 and float32 vectors of the same model are the same space (cosine between
them >= 0.999 measured, see bench/embed_dtype_bench.py), so a knowledge base moves between
machines with and without native bfloat16. The record follows the latest vectors written.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from ragkit._types import Chunk, Hit
from ragkit.errors import BackendError, DimensionMismatchError

log = logging.getLogger(__name__)

#: PersistentClient rejects larger batches (about 5,400 records here); stay well below.
MAX_BATCH = 4000


_T = TypeVar("_T")


def _shared(method: Callable[..., _T]) -> Callable[..., _T]:
    """Run while no :meth:`ChromaStore.reopen` is swapping the client."""

    @functools.wraps(method)
    def wrapper(self: ChromaStore, *args: Any, **kwargs: Any) -> _T:
        with self._gate.shared():
            return method(self, *args, **kwargs)

    return wrapper


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
        dtype: str = "float32",
    ) -> None:
        """Open the embedded store in ``path``, or the Chroma server at ``url``; ``dtype``
        is the number type of the vectors this process writes and queries with.

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
        self._open_args = (path, settings, collection) if not url else None
        self._gate = _Gate()
        wanted = {"embedding_model": embedder_name, "dimension": dimension,
                  "embedding_dtype": dtype, "hnsw:space": "cosine"}
        col = self._client.get_or_create_collection(collection, metadata=wanted)
        have = col.metadata or {}
        self.dtype = dtype
        #: the dtype the stored vectors were computed in (float32 before it was recorded)
        self.recorded_dtype = str(have.get("embedding_dtype", "float32"))
        if have.get("embedding_model") != embedder_name or have.get("dimension") != dimension:
            raise DimensionMismatchError(
                f"The store {self.where} was built with embedding model "
                f"{have.get('embedding_model')!r} ({have.get('dimension')}-dim), but the settings "
                f"ask for {embedder_name!r} ({dimension}-dim). Use the original model, or "
                "re-ingest into a new knowledge-base folder (or collection)."
            )
        self._col = col
        if self.dtype_note:
            log.warning("%s", self.dtype_note)

    @property
    def dtype_note(self) -> str:
        """Why the stored vectors' dtype differs from this process's ("" when it does not)."""
        if self.recorded_dtype == self.dtype:
            return ""
        return (f"The store {self.where} holds {self.recorded_dtype} vectors; queries and new "
                f"vectors are computed in {self.dtype}. The two match closely (cosine >= "
                "0.999), so search works; files re-embedded are stored in the new dtype. Set "
                f"embedding_dtype = {self.recorded_dtype!r} to keep to the stored one.")

    def _record_dtype(self) -> None:
        """Record this process's dtype, before it writes vectors of it."""
        meta = {k: v for k, v in (self._col.metadata or {}).items()
                if not k.startswith("hnsw:")}  # Chroma refuses to "change" the distance
        self._col.modify(metadata={**meta, "embedding_dtype": self.dtype})
        self.recorded_dtype = self.dtype

    @_shared
    def add(self, chunks: Sequence[Chunk], vectors: Sequence[Sequence[float]]) -> None:
        if len(chunks) != len(vectors):
            raise BackendError(f"{len(chunks)} chunks but {len(vectors)} vectors")
        if chunks and self.dtype_note:
            self._record_dtype()
        for start in range(0, len(chunks), MAX_BATCH):
            part = chunks[start : start + MAX_BATCH]
            self._col.upsert(
                ids=[c.id for c in part],
                documents=[c.text for c in part],
                metadatas=[c.metadata() for c in part],  # type: ignore[misc]
                embeddings=[list(v) for v in vectors[start : start + MAX_BATCH]],  # type: ignore[arg-type]
            )

    @_shared
    def search(
        self, vector: Sequence[float], k: int, where: dict[str, Any] | None = None
    ) -> list[Hit]:
        # not capped by count(): that reads the database, which can be ahead of or behind
        # the vector index this process holds (another process's writes; see reopen)
        if k <= 0 or int(self._col.count()) == 0:
            return []
        res = self._col.query(
            query_embeddings=[list(vector)],  # type: ignore[arg-type]
            n_results=k,
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

    @_shared
    def delete(self, ids: Sequence[str]) -> None:
        for start in range(0, len(ids), MAX_BATCH):
            self._col.delete(ids=list(ids[start : start + MAX_BATCH]))

    @_shared
    def count(self) -> int:
        return int(self._col.count())

    @_shared
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

    @_shared
    def vectors(self, ids: Sequence[str]) -> dict[str, list[float]]:
        out: dict[str, list[float]] = {}
        for start in range(0, len(ids), MAX_BATCH):
            res = self._col.get(ids=list(ids[start : start + MAX_BATCH]), include=["embeddings"])
            embs = res["embeddings"]
            if embs is None:
                continue
            out.update({i: [float(x) for x in e] for i, e in zip(res["ids"], embs, strict=True)})
        return out

    @_shared
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

    def reopen(self) -> None:
        """Reload the collection from disk (:class:`ragkit.ports.Reopens`): an embedded
        client keeps its vector index in memory and does not see other processes' writes
        (measured with Chroma 1.5.9: a reader's queries kept returning deleted chunks and
        missed added ones until it reopened). Waits for calls in flight; a server-backed
        store is always current, so this does nothing there."""
        if self._open_args is None:
            return
        import chromadb
        from chromadb.api.shared_system_client import SharedSystemClient

        path, settings, collection = self._open_args
        with self._gate.exclusive():
            identifier = str(getattr(self._client, "_identifier", ""))
            close = getattr(self._client, "close", None)  # Client.close: Chroma >= 1.1
            if close is not None:
                close()
            # other clients of this path in this process keep the system alive: take it out
            # of Chroma's cache anyway (their count of references stays), so the new client
            # loads what is on disk and they move to it on their next call
            SharedSystemClient._identifier_to_system.pop(identifier, None)
            self._client = chromadb.PersistentClient(path=str(path), settings=settings)
            self._col = self._client.get_collection(collection)
        log.debug("reopened the store %s", self.where)


class _Gate:
    """Many calls at once, or one reopen alone (a readers-writer lock)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._active = 0
        self._closing = False

    @contextmanager
    def shared(self) -> Iterator[None]:
        with self._cond:
            self._cond.wait_for(lambda: not self._closing)
            self._active += 1
        try:
            yield
        finally:
            with self._cond:
                self._active -= 1
                self._cond.notify_all()

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        with self._cond:
            self._cond.wait_for(lambda: not self._closing)
            self._closing = True
            self._cond.wait_for(lambda: self._active == 0)
        try:
            yield
        finally:
            with self._cond:
                self._closing = False
                self._cond.notify_all()
