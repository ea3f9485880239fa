"""Parse and chunk one file: in the calling process, or in a pool of worker processes.

Workers are started with ``forkserver`` (never a plain fork of a process that already runs
torch threads) and each loads only the embedding model's *tokenizer*, to size chunks in
its tokens; the model itself stays in the main process, which embeds while the workers
parse the next files.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ragkit import _offline
from ragkit._terms import terms_of
from ragkit._types import Chunk, Document
from ragkit.errors import RagkitError
from ragkit.ingestion._spacy import use_bundled_spacy_model
from ragkit.ingestion.chunk import chunk_document
from ragkit.ingestion.parse import parse_file

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ChunkConfig:
    """What a worker needs to turn a file into chunks (picklable)."""

    languages: list[str]
    max_tokens: int
    overlap: int
    fingerprint: str
    #: the embedder's tokenizer folder (:class:`ragkit.ports.TokenizerFile`), loaded by each
    #: worker; "" when it has none, and then only :func:`process` with a counter is used
    tokenizer: str


@dataclass(frozen=True)
class Job:
    path: Path
    size: int
    mtime_ns: int
    digest: str
    old_ids: tuple[str, ...]
    #: a piece of a large file (:mod:`ragkit.ingestion.pieces`): its byte or page range,
    #: its place and how many pieces the file has; None for a file parsed whole
    span: tuple[int, int] | None = None
    part: int = 0
    parts: int = 1

    @property
    def last(self) -> bool:
        """Whether this job completes its file (a whole file, or its last piece)."""
        return self.part == self.parts - 1

    @property
    def cost(self) -> int:
        """About how many bytes of the file this job reads (bounds the parse-ahead)."""
        return self.size // self.parts


@dataclass(frozen=True)
class Parsed:
    job: Job
    chunks: list[Chunk]
    error: str | None = None
    parse_s: float = 0.0
    chunk_s: float = 0.0
    #: each chunk's keyword-index terms (made here, in the worker, off the main process)
    terms: list[str] = field(default_factory=list)
    #: the parsed document, between :func:`parse_only` and :func:`chunk_parsed`
    doc: Document | None = None


#: why a file whose size or modification time moved while it was parsed is not ingested
CHANGED = "file changed while it was read; run again to ingest the new version"


def _unchanged(job: Job) -> bool:
    """Whether the file still has the size and modification time it was hashed with (else
    the chunks could hold content the recorded hash does not describe)."""
    st = job.path.stat()
    return (st.st_size, st.st_mtime_ns) == (job.size, job.mtime_ns)


def _still(job: Job) -> bool:
    """:func:`_unchanged`, and True when that cannot be told (the error then stands)."""
    try:
        return _unchanged(job)
    except OSError:
        return True


def _failed(job: Job, exc: Exception) -> Parsed:
    """``exc``, met while parsing or chunking ``job``, as the file's one-line failure."""
    if isinstance(exc, RagkitError):  # a parser choking on a half-written file: say why
        return Parsed(job, [], str(exc) if _still(job) else CHANGED)
    if isinstance(exc, FileNotFoundError):
        return Parsed(job, [], "file disappeared during the run")
    if isinstance(exc, OSError):
        return Parsed(job, [], f"{type(exc).__name__}: {exc.strerror or exc}")
    if isinstance(exc, MemoryError | RecursionError):
        return Parsed(job, [], f"{type(exc).__name__} while parsing; the file is too complex")
    log.debug("unexpected error on %s", job.path, exc_info=True)
    reason = " ".join(str(exc).split())[:200]
    return Parsed(job, [], f"internal error ({type(exc).__name__}: {reason}); please "
                  "report it with the file (ragkit-ingest -vv shows the traceback)")


def parse_only(job: Job, languages: list[str]) -> Parsed:
    """Parse ``job`` into ``Parsed.doc`` (no chunks yet); a failure becomes ``error``."""
    try:
        start = time.perf_counter()
        doc = parse_file(job.path, source=str(job.path), doc_id=job.digest,
                         languages=languages, span=job.span)
        return Parsed(job, [], None, time.perf_counter() - start, doc=doc)
    except Exception as exc:  # noqa: BLE001 - a bug met on one file must not stop the run
        return _failed(job, exc)


def chunk_parsed(parsed: Parsed, config: ChunkConfig, count: Callable[[str], int]) -> Parsed:
    """Chunk what :func:`parse_only` gave (a failure passes through), dropping the document.

    A file changed (or replaced) since it was hashed is reported (:data:`CHANGED`), so the
    manifest never records one version's hash with another version's chunks."""
    job, doc = parsed.job, parsed.doc
    if parsed.error is not None or doc is None:
        return Parsed(job, [], parsed.error, parsed.parse_s)
    try:
        if not _unchanged(job):
            return Parsed(job, [], CHANGED, parsed.parse_s)
        start = time.perf_counter()
        chunks = chunk_document(doc, max_tokens=config.max_tokens, count=count,
                                fingerprint=config.fingerprint, overlap=config.overlap)
        terms = [terms_of(c.text) for c in chunks]
        return Parsed(job, chunks, None, parsed.parse_s, time.perf_counter() - start, terms)
    except Exception as exc:  # noqa: BLE001 - a bug met on one file must not stop the run
        return _failed(job, exc)


def process(job: Job, config: ChunkConfig, count: Callable[[str], int]) -> Parsed:
    """Parse and chunk ``job``; a failure becomes ``Parsed.error`` (one line), never raises
    (:func:`parse_only`, then :func:`chunk_parsed`)."""
    return chunk_parsed(parse_only(job, config.languages), config, count)


# -- worker-process side ----------------------------------------------------------------
_config: ChunkConfig | None = None
_count: Callable[[str], int] | None = None
#: where this worker says which job it starts, and when (:func:`run_job`)
_starts: Any = None


def _exit_with(parent_pid: int) -> None:
    """Exit when the ingesting process is gone (e.g. SIGKILLed): a pool worker holds both
    ends of its task queue, so it would otherwise wait for work forever."""
    while True:
        time.sleep(0.5)
        try:
            os.kill(parent_pid, 0)
        except ProcessLookupError:
            os._exit(0)
        except PermissionError:
            pass


def _init_worker(config: ChunkConfig | None, parent_pid: int, starts: Any) -> None:
    global _config, _count, _starts
    threading.Thread(target=_exit_with, args=(parent_pid,), daemon=True).start()
    # spaCy's thinc imports torch whenever it is installed, for nothing a parser uses:
    # 5 s and about 300 MB per worker, measured (bench/memory_bench.py)
    sys.modules.setdefault("torch", None)  # type: ignore[arg-type]
    _offline.apply_offline_defaults()  # before transformers or spaCy read the environment
    if config is not None and config.tokenizer:  # this worker chunks, too
        _count = token_counter(config.tokenizer)
        terms_of("加载分词词典")  # jieba loads its dictionary on first use: seconds
    _warm_up(config.languages if config is not None else ["eng"])
    _config, _starts = config, starts


def token_counter(folder: str) -> Callable[[str], int]:
    """Counts word pieces as the embedder's tokenizer does (no special tokens), with the
    ``tokenizers`` library alone when the folder has a ``tokenizer.json`` (transformers
    takes seconds and a few hundred MB to import)."""
    path = Path(folder) / "tokenizer.json"
    if path.is_file():
        from tokenizers import Tokenizer

        tok = Tokenizer.from_file(str(path))
        tok.no_truncation()  # tokenizer.json may cut at the model's length, or pad to it
        tok.no_padding()
        return lambda text: len(tok.encode(text, add_special_tokens=False).ids)
    from transformers import AutoTokenizer

    auto = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    return lambda text: len(auto(text, add_special_tokens=False, verbose=False)["input_ids"])


def _warm_up(languages: list[str]) -> None:
    """Load unstructured and spaCy before the first job, so that no file's deadline
    (``parse_timeout_s``, counted from its start) pays the seconds it takes."""
    from unstructured.partition.md import partition_md  # noqa: F401 - imported to load it
    from unstructured.partition.text import partition_text

    use_bundled_spacy_model()
    partition_text(text="Warm up the element classifier.\n\nIt loads spaCy on first use.",
                   languages=languages)


def _work(job: Job) -> Parsed:
    assert _config is not None and _count is not None, "worker not initialised"
    return process(job, _config, _count)


def make_pool(workers: int, config: ChunkConfig | None, starts: Any = None) -> Executor:
    """``workers`` parser processes; each loads ``config.tokenizer`` (none: parse only)
    and reports the jobs :func:`run_job` starts on ``starts`` (a ``SimpleQueue``)."""
    ctx = multiprocessing.get_context("forkserver")
    return ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_init_worker,
                               initargs=(config, os.getpid(), starts))


def start_queue() -> Any:
    """The channel a pool's workers report job starts on (``(key, pid, monotonic time)``)."""
    return multiprocessing.get_context("forkserver").SimpleQueue()


def run_job(work: Callable[[Job], Parsed], key: int, job: Job) -> Parsed:
    """What the pool runs: report that job ``key`` starts here now, then ``work(job)``
    (the deadline of a file runs from its start, not from when it was queued)."""
    if _starts is not None:
        _starts.put((key, os.getpid(), time.monotonic()))
    return work(job)


def work_in_pool(job: Job) -> Parsed:
    """Parse and chunk in a worker (module-level, so it pickles by name)."""
    return _work(job)


def parse_in_pool(job: Job) -> Parsed:
    """Parse only, in a worker started without a tokenizer (:func:`parse_only`)."""
    assert _config is not None, "worker not initialised"
    return parse_only(job, _config.languages)
