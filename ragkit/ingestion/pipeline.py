"""The ingest run: discover → skip unchanged → parse + chunk (workers) → embed → store.

Order of writes, for crash safety and for readers: a batch's chunks are upserted into the
store, then the files' manifest rows (and keyword record) committed in one transaction,
and only then the files' stale chunks deleted from the store. Chunk ids are deterministic,
and every run starts with :func:`repair`, which deletes chunks no manifest row claims and
forgets rows whose chunks are missing. So a run killed anywhere and run again converges on
exactly the store a clean run gives.

Readers (asks in other threads or processes) see only what committed rows claim: dense hits
are filtered by the keyword record (:meth:`ragkit.retrieval.keyword.KeywordIndex.committed`).
Because the rows commit after their chunks are in the store and before the old chunks
go, a reader sees a changed file either whole as it was or whole as it is, never a mix.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

from ragkit._terms import TOKENIZER_VERSION, terms_of
from ragkit._types import Document
from ragkit.ingestion import pieces
from ragkit.ingestion.assemble import Assembler
from ragkit.ingestion.chunk import chunk_document
from ragkit.ingestion.discover import discover
from ragkit.ingestion.parse import file_hash, unavailable
from ragkit.ingestion.pool import Parsers
from ragkit.ingestion.report import Failure, IngestReport, Progress, Skipped
from ragkit.ingestion.workers import (
    ChunkConfig,
    Job,
    Parsed,
    chunk_parsed,
    parse_in_pool,
    parse_only,
    process,
    work_in_pool,
)
from ragkit.ingestion.writer import Writer
from ragkit.ports import Embedder, TokenizerFile, VectorStore
from ragkit.settings import Settings
from ragkit.storage import EmbeddingCache, FileRecord, ManifestStore

__all__ = ["Failure", "IngestReport", "Progress", "Refresh", "Skipped", "fingerprint",
           "ingest_documents", "repair", "run_ingest"]

log = logging.getLogger(__name__)

#: bump when ragkit's parsing or chunking logic changes what a file turns into
#: (3: scanned pages read by OCR; heading-only and near-empty chunks merged; 4: a line
#: ending in a Chinese comma is not a heading)
PIPELINE_VERSION = 4
#: rebuilds what derives from the manifest at this path (the BM25 scorer), after a run
Refresh = Callable[[Path], object]
#: fewer files than this to parse: parse in this process (starting workers costs seconds)
MIN_JOBS_FOR_POOL = 8


def fingerprint(settings: Settings, embedder: Embedder) -> dict[str, Any]:
    """Everything whose change means a file's chunks must be re-made and re-embedded."""
    import unstructured

    fp = {
        **settings.fingerprint(),
        "max_tokens": min(settings.chunk_size, embedder.max_tokens),
        "parser": f"unstructured {unstructured.__version__}; ragkit pipeline {PIPELINE_VERSION}",
    }
    fp.pop("embedding_dtype", None)  # the dtype the embedder really runs in, not the setting
    if (dtype := getattr(embedder, "dtype", "float32")) != "float32":
        fp["embedding_dtype"] = dtype
    return fp


def repair(store: VectorStore, manifest: ManifestStore) -> int:
    """Make store and manifest agree after a crash; return how many things were fixed."""
    claimed: set[str] = set()
    for record in manifest.records():
        claimed.update(record.chunk_ids)
    stored = store.ids()
    orphans = sorted(stored - claimed)
    if orphans:
        store.delete(orphans)
    incomplete = [r.source for r in manifest.records() if not set(r.chunk_ids) <= stored]
    for source in incomplete:
        manifest.delete(source)
    if orphans or incomplete:
        log.info("repaired: %d orphan chunks, %d incomplete files", len(orphans), len(incomplete))
    # the keyword index commits with the rows, so this finds nothing unless the knowledge
    # base predates the index or the tokenizer changed
    synced = manifest.sync_keyword(store.get, terms=terms_of, tokenizer=TOKENIZER_VERSION)
    if synced:
        log.info("keyword index: %d chunks added, removed or re-tokenized", synced)
    return len(orphans) + len(incomplete)


def _tokenizer_file(embedder: Embedder) -> str:
    """The tokenizer folder parser workers can load, or "" (:class:`TokenizerFile`)."""
    return embedder.tokenizer_path if isinstance(embedder, TokenizerFile) else ""


class _Run:
    #: what the pool runs for each job (a module-level function, so it pickles by name)
    work = staticmethod(work_in_pool)
    #: what the one parser process of a small run runs for each job
    parse_work = staticmethod(parse_in_pool)

    def __init__(self, settings: Settings, embedder: Embedder, store: VectorStore,
                 manifest: ManifestStore, progress: Callable[[Progress], None] | None,
                 cache: EmbeddingCache | None = None) -> None:
        self.settings, self.embedder = settings, embedder
        self.store, self.manifest = store, manifest
        self.progress = progress
        fp = fingerprint(settings, embedder)
        self.fp_json = json.dumps(fp, sort_keys=True)
        self.fp = fp
        self.config = ChunkConfig(
            languages=settings.languages,
            max_tokens=fp["max_tokens"],
            overlap=settings.chunk_overlap,
            fingerprint=self.fp_json,
            tokenizer=_tokenizer_file(embedder),
        )
        self.report = IngestReport()
        self.writer = Writer(embedder, store, manifest, cache, batch=settings.ingest_batch,
                             fingerprint=self.fp_json, report=self.report)
        self.assembler = Assembler(self.fp_json)
        self.pending: list[Parsed] = []
        self.done = 0
        self.total = 0
        self.changed_settings: set[str] = set()

    # -- stage 1: what needs parsing ----------------------------------------------------
    def plan(self, files: list[Path]) -> list[Job]:
        jobs = []
        limit = self.settings.max_file_mb * 1024 * 1024
        for path in files:
            source = str(path)
            try:
                if (why := unavailable(path)) is not None:
                    self.report.skipped.append(Skipped(source, why))
                    self.tick(source)
                    continue
                st = path.stat()
                if st.st_size > limit:
                    self.fail(source, f"file is {st.st_size / 1048576:.1f} MB, over max_file_mb"
                              f"={self.settings.max_file_mb:g}; raise the setting to ingest it")
                    continue
                row = self.manifest.get(source)
                same_fp = row is not None and row.fingerprint == self.fp_json
                if row is not None and not same_fp:
                    self.note_settings_change(row.fingerprint)
                if row and same_fp and (row.size, row.mtime_ns) == (st.st_size, st.st_mtime_ns):
                    self.unchanged(source)
                    continue
                digest = file_hash(path)
                if row and same_fp and row.hash == digest:
                    if not self.report.dry_run:
                        self.manifest.put_many([FileRecord(source, st.st_size, st.st_mtime_ns,
                                                           digest, self.fp_json, row.chunk_ids)])
                    self.unchanged(source)
                    continue
                job = Job(path, st.st_size, st.st_mtime_ns, digest, row.chunk_ids if row else ())
                spans = pieces.split(path, st.st_size)
                jobs += [replace(job, span=span, part=i, parts=len(spans))
                         for i, span in enumerate(spans)] or [job]
            except FileNotFoundError:
                self.fail(source, "file disappeared during the run")
            except OSError as exc:
                self.fail(source, f"{type(exc).__name__}: {exc.strerror or exc}")
        return jobs

    def note_settings_change(self, old_json: str) -> None:
        try:
            old = json.loads(old_json)
        except ValueError:
            old = {}
        self.changed_settings.update(k for k in self.fp if old.get(k) != self.fp[k])

    # -- stage 2: parse, in workers or here ---------------------------------------------
    def pool_size(self, jobs: int) -> int:
        """How many parser processes to start for ``jobs`` files (0: parse here); when
        workers would be used but the embedder cannot give them its tokenizer, say so."""
        workers = self.settings.workers
        if workers is None:
            # one CPU is the embedder's: on 2 CPUs one parser kept it busy (bench/README.md)
            # and a second cost 450 MB
            workers = min(max((os.cpu_count() or 1) - 1, 1), 4)
        if workers < 1 or jobs < MIN_JOBS_FOR_POOL:
            return 0
        if not self.config.tokenizer:
            name = getattr(self.embedder, "name", type(self.embedder).__name__)
            note = (f"parsed in-process: embedder {name!r} offers no tokenizer file for "
                    "parser workers (see ragkit.ports.TokenizerFile)")
            log.warning("%s; give the embedder a `tokenizer_path` (a local tokenizer.json "
                        "folder) to parse %d files in %d processes", note, jobs, workers)
            self.report.notes.append(note)
            return 0
        return workers

    def parsed(self, jobs: list[Job]) -> Iterator[Parsed]:
        """Each job parsed and chunked: in a pool of workers, else in one parser process
        that only parses (``parse_timeout_s`` > 0, docs/ingestion.md), else here."""
        workers = self.report.parse_workers = self.pool_size(len(jobs))
        timeout = self.settings.parse_timeout_s
        count, notes = self.embedder.count_tokens, self.report.notes
        if workers:
            here = partial(process, config=self.config, count=count)
            yield from Parsers(self.work, self.config, timeout, here=here,
                               notes=notes).run(jobs, workers)
        elif timeout and jobs:
            # the parser process only parses: it needs the languages, not the tokenizer
            parse = ChunkConfig(self.config.languages, max_tokens=0, overlap=0,
                                fingerprint="", tokenizer="")
            only = partial(parse_only, languages=self.config.languages)
            for item in Parsers(self.parse_work, parse, timeout, here=only, notes=notes,
                                reuse=True).run(jobs, 1):
                yield chunk_parsed(item, self.config, count)
        else:
            yield from (process(job, self.config, count) for job in jobs)

    # -- stage 3: embed and write, in batches ---------------------------------------------
    def embed_all(self, jobs: list[Job]) -> None:
        """Parse ``jobs`` and embed and write their chunks as they come; the time spent
        waiting for the parsers is ``timings["wait"]`` (the embedder's idle time)."""
        items = self.parsed(jobs)
        while True:
            t = time.perf_counter()
            item = next(items, None)
            self.report.timings["wait"] += time.perf_counter() - t
            if item is None:
                break
            self.take(item)
        self.flush()

    def take(self, item: Parsed) -> None:
        self.report.timings["parse"] += item.parse_s
        self.report.timings["chunk"] += item.chunk_s
        source = str(item.job.path)
        if (whole := self.assembler.take(item)) is None:
            return  # a later piece of a file that failed
        if whole.error is not None:
            if whole.job.parts > 1:  # its earlier pieces: out of the batch and the store
                self.pending = [p for p in self.pending if str(p.job.path) != source]
                self.writer.discard(source)
            self.fail(source, whole.error)
            return
        self.pending.append(whole)
        if sum(len(p.chunks) for p in self.pending) >= self.settings.ingest_batch:
            self.flush()
        if whole.job.last:
            self.tick(source)

    def flush(self) -> None:
        """Embed and write the pending files (:meth:`ragkit.ingestion.writer.Writer.write`)."""
        if self.pending:
            batch, self.pending = self.pending, []
            self.writer.write(batch)

    def remove_missing(self, roots: Iterable[Path], seen: set[str]) -> None:
        """Drop files that were ingested from these folders before and are gone now."""
        folders = [os.path.abspath(r) + os.sep for r in roots if r.is_dir()]
        for record in self.manifest.records():
            source = record.source
            if source in seen or not any(source.startswith(f) for f in folders):
                continue
            if os.path.lexists(source):  # excluded by the patterns now, but still there: keep
                continue
            self.report.removed.append(source)
            if self.report.dry_run:
                continue
            self.manifest.delete(source)  # first: a crash leaves orphans, which repair drops
            self.store.delete(list(record.chunk_ids))
            self.report.chunks_removed += len(record.chunk_ids)

    def finish(self, started: float, refresh: Refresh | None) -> IngestReport:
        """Rebuild what derives from the manifest once (``refresh``; not in a dry run), and
        total up."""
        if refresh is not None and not self.report.dry_run:
            t = time.perf_counter()
            refresh(self.manifest.path)
            self.report.timings["keyword_index"] = time.perf_counter() - t
        self.writer.close()
        self.report.chunks_total = self.store.count()
        if not self.report.dry_run:
            self.writer.prune_cache(self.report.chunks_total)
        self.report.seconds = time.perf_counter() - started
        return self.report

    # -- bookkeeping --------------------------------------------------------------------
    def unchanged(self, source: str) -> None:
        self.report.unchanged.append(source)
        self.tick(source)

    def fail(self, source: str, reason: str) -> None:
        log.info("failed: %s: %s", source, reason)
        self.report.failures.append(Failure(source, reason))
        self.tick(source)

    def tick(self, source: str) -> None:
        self.done += 1
        if self.progress:
            pending = sum(len(p.chunks) for p in self.pending)
            self.progress(Progress(self.done, self.total, source,
                                   self.report.chunks_added + pending))


def _dtype_notes(embedder: Embedder, store: VectorStore) -> list[str]:
    """What the ingest report says about the embedding dtype (issue 15): bfloat16 in use and
    why, and stored vectors of another dtype."""
    notes = []
    dtype = getattr(embedder, "dtype", "float32")
    if dtype != "float32" and (reason := getattr(embedder, "dtype_reason", "")):
        notes.append(f"embedding in {dtype} ({reason})")
    if note := getattr(store, "dtype_note", ""):
        notes.append(note)
    return notes


def ingest_documents(
    documents: Iterable[Document],
    *,
    settings: Settings,
    embedder: Embedder,
    store: VectorStore,
    manifest: ManifestStore,
    refresh: Refresh | None = None,
    cache: EmbeddingCache | None = None,
) -> IngestReport:
    """Add already-parsed documents (no files: e.g. records from another app or a BEIR
    corpus). Each ``Document.source`` is its key: the same source with the same id is left
    unchanged, with another id it is replaced. Same batches, manifest, keyword record and
    ``refresh`` as :func:`run_ingest`; nothing is removed."""
    started = time.perf_counter()
    run = _Run(settings, embedder, store, manifest, None, cache)
    if repair(store, manifest):
        run.report.notes.append("repaired the store after an interrupted run")
    for doc in documents:
        run.report.seen += 1
        row = manifest.get(doc.source)
        if row is not None and row.hash == doc.id and row.fingerprint == run.fp_json:
            run.report.unchanged.append(doc.source)
            continue
        job = Job(Path(doc.source), len(doc.text.encode()), 0, doc.id,
                  row.chunk_ids if row else ())
        t = time.perf_counter()
        chunks = chunk_document(doc, max_tokens=run.config.max_tokens,
                                count=embedder.count_tokens, fingerprint=run.fp_json,
                                overlap=run.config.overlap)
        terms = [terms_of(c.text) for c in chunks]
        run.take(Parsed(job, chunks, None, 0.0, time.perf_counter() - t, terms))
    run.flush()
    return run.finish(started, refresh)


def run_ingest(
    paths: Iterable[str | Path],
    *,
    settings: Settings,
    embedder: Embedder,
    store: VectorStore,
    manifest: ManifestStore,
    progress: Callable[[Progress], None] | None = None,
    dry_run: bool = False,
    refresh: Refresh | None = None,
    cache: EmbeddingCache | None = None,
) -> IngestReport:
    """Ingest files and folders; a file that fails is reported and the rest go on.

    With ``dry_run`` nothing is parsed or written: the report lists what would be
    ingested (new or changed files) and removed. ``refresh`` is called once at the end
    with the manifest's path, to rebuild what derives from it (the façade passes
    :func:`ragkit.retrieval.keyword.refresh`, so the first question after an ingest does
    not build the BM25 scorer); its time is ``timings["keyword_index"]``. ``cache``: the
    knowledge base's embedding cache (texts embedded before are not embedded again).

    Raises:
        NotFoundError: a path does not exist (nothing is ingested).
        BackendError: the embedding model or the store failed (the run stops; what was
            committed before stays consistent).
    """
    started = time.perf_counter()
    roots = [Path(p).expanduser() for p in paths]
    found = discover(roots, settings.include, settings.exclude)
    run = _Run(settings, embedder, store, manifest, progress, cache)
    run.report.notes += _dtype_notes(embedder, store)
    run.report.dry_run = dry_run
    run.report.seen = len(found.files) + len(found.problems) + len(found.skipped)
    run.total = run.report.seen
    for path, reason in found.problems:
        run.fail(path, reason)
    for path, reason in found.skipped:
        run.report.skipped.append(Skipped(path, reason))
        run.tick(path)
    if not dry_run:
        run.writer.spill.remove()  # an interrupted run's; this run holds the writer lock
        if repair(store, manifest):
            run.report.notes.append("repaired the store after an interrupted run")
    jobs = run.plan(found.files)
    if run.changed_settings:
        keys = ", ".join(sorted(run.changed_settings))
        run.report.notes.append(
            f"settings changed since the last ingest ({keys}): re-chunking and re-embedding "
            "the files ingested with the old settings"
        )
    if dry_run:
        run.report.ingested = [str(j.path) for j in jobs if j.last]
    else:
        run.embed_all(jobs)
    run.remove_missing(roots, {str(f) for f in found.files})
    return run.finish(started, refresh)
