"""Parse and chunk one file: in the calling process, or in a pool of worker processes.

Workers are started with ``forkserver`` (never a plain fork of a process that already runs
torch threads) and each loads only the embedding model's *tokenizer*, to size chunks in
its tokens; the model itself stays in the main process, which embeds while the workers
parse the next files.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from ragkit import _offline
from ragkit._terms import terms_of
from ragkit._types import Chunk
from ragkit.errors import RagkitError
from ragkit.ingestion.chunk import chunk_document
from ragkit.ingestion.parse import parse_file


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


@dataclass(frozen=True)
class Parsed:
    job: Job
    chunks: list[Chunk]
    error: str | None = None
    parse_s: float = 0.0
    chunk_s: float = 0.0
    #: each chunk's keyword-index terms (made here, in the worker, off the main process)
    terms: list[str] = field(default_factory=list)


def process(job: Job, config: ChunkConfig, count: Callable[[str], int]) -> Parsed:
    """Parse and chunk ``job``; a failure becomes ``Parsed.error`` (one line), never raises."""
    try:
        start = time.perf_counter()
        doc = parse_file(job.path, source=str(job.path), doc_id=job.digest,
                         languages=config.languages)
        parsed = time.perf_counter()
        chunks = chunk_document(doc, max_tokens=config.max_tokens, count=count,
                                fingerprint=config.fingerprint, overlap=config.overlap)
        terms = [terms_of(c.text) for c in chunks]
        return Parsed(job, chunks, None, parsed - start, time.perf_counter() - parsed, terms)
    except RagkitError as exc:
        return Parsed(job, [], str(exc))
    except OSError as exc:
        if isinstance(exc, FileNotFoundError):
            return Parsed(job, [], "file disappeared during the run")
        return Parsed(job, [], f"{type(exc).__name__}: {exc.strerror or exc}")
    except (MemoryError, RecursionError) as exc:
        return Parsed(job, [], f"{type(exc).__name__} while parsing; the file is too complex")


# -- worker-process side ----------------------------------------------------------------
_config: ChunkConfig | None = None
_count: Callable[[str], int] | None = None


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


def _init_worker(config: ChunkConfig, parent_pid: int) -> None:
    global _config, _count
    threading.Thread(target=_exit_with, args=(parent_pid,), daemon=True).start()
    _offline.apply_offline_defaults()  # before transformers reads the environment
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(config.tokenizer, local_files_only=True)
    _config = config
    _count = lambda text: len(tok(text, add_special_tokens=False, verbose=False)["input_ids"])  # noqa: E731


def _work(job: Job) -> Parsed:
    assert _config is not None and _count is not None, "worker not initialised"
    return process(job, _config, _count)


def make_pool(workers: int, config: ChunkConfig) -> Executor:
    ctx = multiprocessing.get_context("forkserver")
    return ProcessPoolExecutor(max_workers=workers, mp_context=ctx,
                               initializer=_init_worker, initargs=(config, os.getpid()))


def work_in_pool(job: Job) -> Parsed:
    """The function submitted to the pool (module-level, so it pickles by name)."""
    return _work(job)
