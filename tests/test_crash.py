"""Crash safety: SIGKILL a real ingest at many moments; the next run must equal a clean run."""

from __future__ import annotations

import os
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest

from ragkit import RAG
from ragkit.storage import Manifest, keyword_record

DRIVER = textwrap.dedent(
    """
    import sys
    from ragkit import RAG
    def tick(p):
        print(f"tick {p.done}", flush=True)
    RAG(sys.argv[1]).ingest(sys.argv[2], progress=tick)
    print("finished", flush=True)
    """
)
SETTINGS = "ingest_batch = 12\nworkers = 2\n"  # many small batches: many commit moments


def make_corpus(samples: Path, folder: Path, copies: int = 4) -> None:
    """The samples, each in several variants (so the chunks differ), 28 files."""
    folder.mkdir()
    for i in range(copies):
        for f in samples.iterdir():
            dst = folder / f"{f.stem}_{i}{f.suffix}"
            shutil.copy2(f, dst)
            if f.suffix in {".md", ".txt"}:
                with dst.open("a", encoding="utf-8") as out:
                    out.write(f"\n\nVariant {i} of this file, written for the crash test.\n")


def state(kb: Path, rag: RAG) -> tuple[set[str], int, dict[str, tuple[str, ...]], set[str]]:
    """Chroma's ids and count, the manifest's rows, the keyword index's ids."""
    manifest = Manifest(kb / "manifest.sqlite3")
    try:
        rows = {Path(r.source).name: tuple(sorted(r.chunk_ids)) for r in manifest.records()}
    finally:
        manifest.close()
    with sqlite3.connect(kb / "manifest.sqlite3") as db:
        indexed = keyword_record.chunk_ids(db)
    return rag.store.ids(), rag.count(), rows, indexed


def kill_at(kb: Path, docs: Path, tick: int, delay: float) -> str:
    """Run the driver and SIGKILL it ``delay`` s after it reports file ``tick`` done."""
    proc = subprocess.Popen([sys.executable, "-c", DRIVER, str(kb), str(docs)],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    seen = "start"
    for line in proc.stdout:
        seen = line.strip()
        if seen == f"tick {tick}" or seen == "finished":
            break
    if delay:
        time.sleep(delay)
    children = psutil.Process(proc.pid).children(recursive=True)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    # parser workers and the forkserver must not outlive the killed ingest
    _, alive = psutil.wait_procs(children, timeout=10)
    assert not alive, f"orphaned processes after SIGKILL: {[p.pid for p in alive]}"
    return seen


@pytest.mark.slow
def test_sigkill_at_many_moments_then_rerun_equals_clean_run(
    tmp_path: Path, samples: Path, embedder
) -> None:
    docs = tmp_path / "docs"
    make_corpus(samples, docs)
    n_files = len(list(docs.iterdir()))

    clean_kb = tmp_path / "clean"
    clean_kb.mkdir()
    (clean_kb / "ragkit.toml").write_text(SETTINGS)
    clean_rag = RAG(clean_kb, embedder=embedder)
    assert clean_rag.ingest(docs).ok
    clean = state(clean_kb, clean_rag)
    assert clean[1] == len(clean[0]) > n_files and clean[3] == clean[0]

    rng = random.Random(7)
    moments = [(t, rng.choice([0.0, 0.005, 0.02, 0.05])) for t in range(0, n_files, 2)]
    mid_run = 0
    for tick, delay in moments:
        kb = tmp_path / f"kb_{tick}"
        kb.mkdir()
        (kb / "ragkit.toml").write_text(SETTINGS)
        killed_after = kill_at(kb, docs, tick, delay)
        mid_run += killed_after.startswith("tick")
        rag = RAG(kb, embedder=embedder, workers=0)  # the re-run parses in-process: faster
        report = rag.ingest(docs)
        assert report.ok, report.failures
        assert state(kb, rag) == clean, f"killed after {killed_after!r} (+{delay} s)"
    assert mid_run >= 10, f"only {mid_run} kills landed before the run finished"


class TestWriterLock:
    def test_second_writer_is_told_who_holds_the_lock_and_exits_2(
        self, tmp_path: Path, samples: Path
    ) -> None:
        """`ragkit-ingest` while another process holds the lock: a clear message with the
        holder's PID and start time, exit 2, nothing changed."""
        from ragkit._lock import writer_lock

        kb = tmp_path / "kb"
        kb.mkdir()
        with writer_lock(kb / "ingest.lock"):
            out = subprocess.run(
                [str(Path(sys.executable).parent / "ragkit-ingest"), str(samples), "--kb",
                 str(kb), "--json"], capture_output=True, text=True, timeout=300,
                stdin=subprocess.DEVNULL)
        assert out.returncode == 2, out.stderr
        said = " ".join(out.stderr.split())
        assert re.search(rf"locked by PID {os.getpid()} since \d{{4}}-\d\d-\d\d \d\d:\d\d",
                         said), said
        assert not (kb / "manifest.sqlite3").exists(), "nothing was written"

    def test_the_lock_of_a_killed_process_is_taken_over(self, tmp_path: Path) -> None:
        from ragkit._lock import holder, writer_lock

        lock = tmp_path / "ingest.lock"
        code = ("import sys, time; from pathlib import Path; from ragkit._lock import "
                "writer_lock\nwith writer_lock(Path(sys.argv[1])):\n    print('held', "
                "flush=True); time.sleep(60)")
        proc = subprocess.Popen([sys.executable, "-c", code, str(lock)],
                                stdout=subprocess.PIPE, text=True)
        assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
        dead = proc.pid
        assert holder(lock) is not None and holder(lock)[0] == dead  # type: ignore[index]
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        with writer_lock(lock):  # stale: taken over at once
            assert holder(lock)[0] == os.getpid()  # type: ignore[index]
