"""The ingest run: discover → (skip unchanged) → parse → chunk → embed in batches → store.

Order of writes, for crash safety: a batch's chunks are upserted into the store, then the
files' stale chunks deleted, then their manifest rows committed in one transaction. Chunk
ids are deterministic, so a run interrupted anywhere and run again converges on the same
store: upserts of the same ids replace, and a file without a row is simply redone.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ragkit._types import Chunk
from ragkit.errors import ParseError, RagkitError
from ragkit.ingestion.chunk import chunk_document
from ragkit.ingestion.discover import discover
from ragkit.ingestion.manifest import FileRecord, Manifest
from ragkit.ingestion.parse import SUPPORTED, file_hash, parse_file
from ragkit.ports import Embedder, VectorStore
from ragkit.settings import Settings

log = logging.getLogger(__name__)

#: chunks gathered (across files) before one embed + write
FLUSH_CHUNKS = 256


@dataclass
class Failure:
    path: str
    error: str


@dataclass
class Skipped:
    path: str
    reason: str


@dataclass
class IngestReport:
    """What one ingest run did; ``to_dict()`` is the ``ragkit-ingest --json`` object."""

    seen: int = 0
    ingested: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    chunks_added: int = 0
    chunks_removed: int = 0
    chunks_total: int = 0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failures

    def to_dict(self) -> dict[str, Any]:
        return {
            "files": {
                "seen": self.seen,
                "ingested": len(self.ingested),
                "unchanged": len(self.unchanged),
                "removed": len(self.removed),
                "failed": len(self.failures),
                "skipped": len(self.skipped),
            },
            "failures": [{"path": f.path, "error": f.error} for f in self.failures],
            "skipped": [{"path": s.path, "reason": s.reason} for s in self.skipped],
            "chunks": {
                "added": self.chunks_added,
                "removed": self.chunks_removed,
                "total": self.chunks_total,
            },
            "seconds": round(self.seconds, 3),
        }


@dataclass(frozen=True)
class Progress:
    """Sent to the progress callback after each file."""

    done: int
    total: int
    path: str
    chunks: int


@dataclass
class _Pending:
    record: FileRecord
    chunks: list[Chunk]
    stale: set[str]


def _fingerprint(settings: Settings, max_tokens: int) -> str:
    return json.dumps({**settings.fingerprint(), "max_tokens": max_tokens}, sort_keys=True)


class _Run:
    def __init__(self, settings: Settings, embedder: Embedder, store: VectorStore,
                 manifest: Manifest) -> None:
        self.settings, self.embedder = settings, embedder
        self.store, self.manifest = store, manifest
        self.max_tokens = min(settings.chunk_size, embedder.max_tokens)
        self.fingerprint = _fingerprint(settings, self.max_tokens)
        self.report = IngestReport()
        self.pending: list[_Pending] = []

    def file(self, path: Path) -> None:
        source = str(path)
        if path.suffix.lower() not in SUPPORTED:
            reason = f"unsupported file type {path.suffix or '(none)'!r}"
            self.report.skipped.append(Skipped(source, reason))
            return
        st = path.stat()
        limit = self.settings.max_file_mb * 1024 * 1024
        if st.st_size > limit:
            raise ParseError(
                f"file is {st.st_size / 1048576:.1f} MB, over max_file_mb="
                f"{self.settings.max_file_mb:g}; raise the setting to ingest it"
            )
        row = self.manifest.get(source)
        same_fp = row is not None and row.fingerprint == self.fingerprint
        if row and same_fp and (row.size, row.mtime_ns) == (st.st_size, st.st_mtime_ns):
            self.report.unchanged.append(source)
            return
        digest = file_hash(path)
        if row and same_fp and row.hash == digest:
            self.manifest.put_many([FileRecord(source, st.st_size, st.st_mtime_ns, digest,
                                               self.fingerprint, row.chunk_ids)])
            self.report.unchanged.append(source)
            return
        doc = parse_file(path, source=source, doc_id=digest, languages=self.settings.languages)
        chunks = chunk_document(doc, max_tokens=self.max_tokens,
                                count=self.embedder.count_tokens, fingerprint=self.fingerprint)
        record = FileRecord(source, st.st_size, st.st_mtime_ns, digest, self.fingerprint,
                            tuple(c.id for c in chunks))
        stale = set(row.chunk_ids) - set(record.chunk_ids) if row else set()
        self.pending.append(_Pending(record, chunks, stale))
        if sum(len(p.chunks) for p in self.pending) >= FLUSH_CHUNKS:
            self.flush()

    def flush(self) -> None:
        if not self.pending:
            return
        chunks = [c for p in self.pending for c in p.chunks]
        vectors = self.embedder.embed_documents([c.text for c in chunks])
        self.store.add(chunks, vectors)
        stale = sorted(set().union(*(p.stale for p in self.pending)))
        if stale:
            self.store.delete(stale)
        self.manifest.put_many([p.record for p in self.pending])
        self.report.ingested.extend(p.record.source for p in self.pending)
        self.report.chunks_added += len(chunks)
        self.report.chunks_removed += len(stale)
        self.pending = []

    def remove_missing(self, roots: Iterable[Path], seen: set[str]) -> None:
        """Drop files that were ingested from these folders before and are gone now."""
        folders = [str(r.resolve()) + "/" for r in roots if r.is_dir()]
        for source in self.manifest.sources():
            if source in seen or not any(source.startswith(f) for f in folders):
                continue
            if Path(source).exists():  # excluded by the patterns now, but still there: keep
                continue
            row = self.manifest.get(source)
            if row is not None:
                self.store.delete(list(row.chunk_ids))
                self.report.chunks_removed += len(row.chunk_ids)
            self.manifest.delete(source)
            self.report.removed.append(source)


def run_ingest(
    paths: Iterable[str | Path],
    *,
    settings: Settings,
    embedder: Embedder,
    store: VectorStore,
    manifest: Manifest,
    progress: Callable[[Progress], None] | None = None,
) -> IngestReport:
    """Ingest files and folders; a file that fails is reported and the rest go on.

    Raises:
        NotFoundError: a path does not exist (nothing is ingested).
        BackendError: the embedding model or the store failed (the run stops; what was
            committed before stays consistent).
    """
    started = time.perf_counter()
    roots = [Path(p).expanduser() for p in paths]
    files = discover(roots, settings.include, settings.exclude)
    run = _Run(settings, embedder, store, manifest)
    run.report.seen = len(files)
    for done, path in enumerate(files, start=1):
        try:
            run.file(path)
        except (RagkitError, OSError) as exc:
            if isinstance(exc, OSError):
                reason = f"{type(exc).__name__}: {exc.strerror or exc}"
            else:
                reason = str(exc)
            log.info("failed: %s: %s", path, reason)
            run.report.failures.append(Failure(str(path), reason))
        if progress:
            progress(Progress(done, len(files), str(path),
                              run.report.chunks_added + sum(len(p.chunks) for p in run.pending)))
    run.flush()
    run.remove_missing(roots, {str(f) for f in files})
    run.report.chunks_total = store.count()
    run.report.seconds = time.perf_counter() - started
    return run.report
