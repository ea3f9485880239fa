"""The per-file parse deadline (setting ``parse_timeout_s``): a file whose parser hangs is
reported with its path and the reason, its parser process is killed, and the run goes on,
in a pool of workers (8 files or more) and in the one parser process of a small run.

The hang is a loop in C that holds the GIL and never checks for signals (tests/
hanging_worker.py), so only killing the process stops it: the run's wall time is bounded
only if the deadline works."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest
from pydantic import ValidationError

from ragkit import RAG, Settings
from ragkit.ingestion import pipeline, pool
from ragkit.ingestion.workers import ChunkConfig, Job, Parsed

from . import hanging_worker
from .conftest import SAMPLE_FILES

TIMEOUT = 2.0
#: a whole run (starting parser processes on this busy 2-core machine included) must end
#: within this; without the deadline the hung file would take hours
RUN_SECONDS = 150


def _docs(tmp_path: Path, samples: Path, copies: int) -> tuple[Path, Path]:
    docs = tmp_path / "docs"
    shutil.copytree(samples, docs)
    for i in range(copies):
        shutil.copy2(samples / "llamas.md", docs / f"copy_{i}.md")
    hung = docs / "hang.md"
    hung.write_text("# Hang\n\nThe parser never returns on this file.\n")
    return docs, hung


def _check(report, hung: Path, files: int, started: float) -> None:
    assert time.perf_counter() - started < RUN_SECONDS
    assert [(f.path, f.error) for f in report.failures] == [(str(hung), pool.timed_out(TIMEOUT))]
    assert report.failures[0].error.startswith(
        "parsing took longer than 2 s (setting parse_timeout_s); ")
    assert sorted(report.ingested) == sorted(
        str(p) for p in hung.parent.iterdir() if p != hung) and len(report.ingested) == files


class TestHungParser:
    @pytest.mark.slow  # starts two pools of two workers (like test_a_worker_dying_…)
    def test_in_a_pool_the_hung_file_is_reported_the_rest_ingested(
            self, tmp_path: Path, samples: Path, embedder,
            monkeypatch: pytest.MonkeyPatch) -> None:
        docs, hung = _docs(tmp_path, samples, copies=3)  # 11 files: a pool of 2 workers
        monkeypatch.setattr(pipeline._Run, "work", staticmethod(hanging_worker.hang_in_pool))
        rag = RAG(tmp_path / "kb", settings=Settings(workers=2, parse_timeout_s=TIMEOUT),
                  embedder=embedder)
        started = time.perf_counter()
        report = rag.ingest(docs)
        _check(report, hung, len(SAMPLE_FILES) + 3, started)
        assert report.parse_workers == 2
        assert str(hung) not in {d.source for d in rag.documents()}

    def test_in_a_small_run_the_hung_file_is_reported_the_rest_ingested(
            self, tmp_path: Path, samples: Path, embedder,
            monkeypatch: pytest.MonkeyPatch) -> None:
        docs, hung = _docs(tmp_path, samples, copies=0)  # 8 files, but workers=0
        monkeypatch.setattr(pipeline._Run, "parse_work",
                            staticmethod(hanging_worker.hang_in_parser))
        rag = RAG(tmp_path / "kb", settings=Settings(workers=0, parse_timeout_s=TIMEOUT),
                  embedder=embedder)
        started = time.perf_counter()
        report = rag.ingest(docs)
        _check(report, hung, len(SAMPLE_FILES), started)
        assert report.parse_workers == 0 and report.notes == []
        # the next run starts a fresh parser process, and takes the file once it parses
        monkeypatch.undo()
        again = rag.ingest(docs)
        assert again.ok and again.ingested == [str(hung)]


def test_the_deadline_runs_from_a_files_start_not_from_its_submission() -> None:
    """One worker, 1.5 s per file, a 2 s deadline: the fourth file waits 4.5 s in the
    queue (all four are submitted at once) and still ends in time."""
    jobs = [Job(Path(f"/nowhere/{i}.md"), 0, 0, "", ()) for i in range(4)]
    config = ChunkConfig(["eng"], max_tokens=0, overlap=0, fingerprint="", tokenizer="")
    notes: list[str] = []
    parsers = pool.Parsers(hanging_worker.slow, config, TIMEOUT, here=_not_here, notes=notes)
    results = list(parsers.run(jobs, 1))
    assert [(r.job, r.error) for r in results] == [(j, None) for j in jobs] and notes == []


def _not_here(job: Job) -> Parsed:
    raise AssertionError("parsed in this process")


def test_zero_means_no_limit_and_parsing_in_this_process(
        tmp_path: Path, samples: Path, embedder, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_pool(*args: object, **kwargs: object) -> None:
        raise AssertionError("a parser process was started")

    monkeypatch.setattr(pipeline, "Parsers", no_pool)
    docs = tmp_path / "docs"
    docs.mkdir()
    shutil.copy2(samples / "llamas.md", docs)
    report = RAG(tmp_path / "kb", settings=Settings(parse_timeout_s=0),
                 embedder=embedder).ingest(docs)
    assert report.ok and report.ingested == [str(docs / "llamas.md")]


def test_the_setting() -> None:
    assert Settings().parse_timeout_s == 120
    with pytest.raises(ValidationError, match="parse_timeout_s"):
        Settings(parse_timeout_s=-1)
