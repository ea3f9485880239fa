"""Stage 3 of an ingest: embed a batch of parsed files and write it, in the crash-safety
order (see :mod:`ragkit.ingestion.pipeline`): chunks into the store ``ingest_batch`` at a
time, then the files' manifest rows and keyword rows in one transaction, then the stale
chunks out of the store.

A large file parsed in pieces (:mod:`ragkit.ingestion.pieces`) arrives as several
:class:`Parsed` items: each piece's chunks go to the store as they come, the keyword rows of
all but the last wait in a :class:`ragkit.ingestion.spill.Spill`, and the last piece commits
the file's row, with every piece's chunk ids and keyword rows, in one transaction.

Vectors come from the embedding cache when the knowledge base has one
(:mod:`ragkit.storage.embedding_cache`): a text already embedded by the same model in the
same dtype is not embedded again.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

from ragkit._memory import release_memory
from ragkit._types import Chunk
from ragkit.ingestion.report import IngestReport
from ragkit.ingestion.space import batch_bytes, disk_full, require_space
from ragkit.ingestion.spill import Spill
from ragkit.ingestion.workers import Parsed
from ragkit.ports import Embedder, VectorStore
from ragkit.storage import EmbeddingCache, FileRecord, ManifestStore, model_key

_T = TypeVar("_T")


def cache_key(embedder: Embedder) -> str:
    """The embedding cache's model key for ``embedder`` (model, dtype, size, input limit)."""
    return model_key(getattr(embedder, "name", type(embedder).__name__),
                     getattr(embedder, "dtype", "float32"), embedder.dimension,
                     embedder.max_tokens)


class Writer:
    """Embeds and writes batches for one run; adds its figures to ``report``."""

    def __init__(self, embedder: Embedder, store: VectorStore, manifest: ManifestStore,
                 cache: EmbeddingCache | None, *, batch: int, fingerprint: str,
                 report: IngestReport) -> None:
        self.embedder, self.store, self.manifest, self.cache = embedder, store, manifest, cache
        self.batch, self.fingerprint, self.report = batch, fingerprint, report
        self.model = cache_key(embedder)
        self.folder: Path = manifest.path.parent
        self.spill = Spill(self.folder)

    def write(self, batch: list[Parsed]) -> None:
        """Embed ``batch``'s chunks and add them to the store ``self.batch`` at a time (a
        big file's vectors are never all in memory), then commit the files' manifest and
        keyword rows in one transaction, then delete stale chunks.

        Writing on a separate thread while the next batch embeds was tried and measured no
        faster on 2 cores (74.3 s against 72.9 s for 80 files): the CPU is the limit."""
        chunks = [c for p in batch for c in p.chunks]
        for start in range(0, len(chunks), self.batch):
            self.add(chunks[start : start + self.batch])
        t, need = time.perf_counter(), batch_bytes([c.text for c in chunks], 0)
        stale = self.guard_disk(self.commit, batch, need=need)
        self.report.timings["store"] += time.perf_counter() - t
        self.report.chunks_added += len(chunks)
        self.report.chunks_removed += len(stale)

    def vectors(self, texts: list[str]) -> list[list[float]]:
        if self.cache is None:
            self.report.embedded += len(texts)
            return self.embedder.embed_documents(texts)
        hits, misses = self.cache.hits, self.cache.misses
        vectors = self.cache.embed(self.model, texts, self.embedder.embed_documents)
        self.report.embedded += self.cache.misses - misses
        self.report.embeddings_reused += self.cache.hits - hits
        return vectors

    def add(self, chunks: list[Chunk]) -> None:
        t0 = time.perf_counter()
        vectors = self.vectors([c.text for c in chunks])
        release_memory()  # the model's activations, freed but kept by glibc (ragkit._memory)
        t1 = time.perf_counter()
        self.report.timings["embed"] += t1 - t0
        need = batch_bytes([c.text for c in chunks], len(vectors[0]) if len(vectors) else 0)
        require_space(self.folder, need)  # a full disk can break Chroma's index
        self.guard_disk(self.store.add, chunks, vectors, need=need)
        self.report.timings["store"] += time.perf_counter() - t1

    def guard_disk(self, write: Callable[..., _T], *args: Any, need: int) -> _T:
        """``write(*args)``, with a full disk raised as :class:`ragkit.errors.DiskFullError`."""
        try:
            return write(*args)
        except Exception as exc:
            if (full := disk_full(exc, self.folder, need)) is None:
                raise
            raise full from exc

    def commit(self, batch: list[Parsed]) -> set[str]:
        """Commit a batch's rows (its chunks are in the store), then delete the stale
        chunks; return their ids. A piece that does not complete its file is spilled."""
        records, stale = [], set()
        index: list[Iterable[tuple[Chunk, str]]] = []
        done = []
        for p in batch:
            source = str(p.job.path)
            if not p.job.last:
                self.spill.put(source, p.chunks, p.terms)
                continue
            ids = tuple(c.id for c in p.chunks)
            if p.job.parts > 1:
                ids = (*self.spill.ids(source), *ids)
                index.append(self.spill.rows(source))
                done.append(source)
            index.append(zip(p.chunks, p.terms, strict=True))
            stale.update(set(p.job.old_ids) - set(ids))
            records.append(FileRecord(source, p.job.size, p.job.mtime_ns,
                                      p.job.digest, self.fingerprint, ids))
        if records:
            self.manifest.put_many(records, index=itertools.chain.from_iterable(index),
                                   unindex=sorted(stale))
        for source in done:
            self.spill.drop(source)
        if stale:  # after the commit: until then readers still see the old version whole
            self.store.delete(sorted(stale))
        self.report.ingested.extend(r.source for r in records)
        return stale

    def discard(self, source: str) -> None:
        """Forget the pieces of ``source`` written so far (it failed): their chunks leave the
        store; no row ever claimed them."""
        if ids := self.spill.ids(source):
            self.store.delete(ids)
        self.spill.drop(source)

    def close(self) -> None:
        """Delete the spill file (the run is over)."""
        self.spill.remove()

    def prune_cache(self, live: int) -> None:
        """Keep the cache near the store's size (:meth:`EmbeddingCache.prune`)."""
        if self.cache is not None:
            self.report.timings["cache_prune"] = -time.perf_counter()
            self.cache.prune(self.model, self.manifest.chunk_texts, live=live)
            self.report.timings["cache_prune"] += time.perf_counter()
