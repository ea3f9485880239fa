"""Asks while an ingest runs: threads through one RAG, and separate processes (real Chroma,
real embedding model, real GGUF). Every answer must come from one committed state: no file
seen half in its old revision and half in its new one, no error.

The files change revision with every round of ingest (tests/concurrency_worker.py), so a
reader that sees a batch's chunks before their manifest rows commit, or a changed file's old
chunks after its new ones, finds two revisions of one file in its hits.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from ragkit import LockedError
from ragkit.retrieval.retriever import REOPEN_EVERY
from tests import concurrency_worker as worker
from tests.conftest import make_rag

WORKER = Path(worker.__file__)


def _ingest_rounds(folder: Path, kb: Path, rounds: int) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, str(WORKER), "write", str(folder), str(kb),
                             str(rounds)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def _finish(proc: subprocess.Popen[str], timeout: float = 600) -> list[dict]:
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err[-3000:]
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


@pytest.fixture
def kb_at_revision_1(tmp_path: Path, embedder) -> tuple[Path, Path]:
    folder, kb = tmp_path / "docs", tmp_path / "kb"
    worker.write_revision(folder, 1)
    report = make_rag(kb, embedder, **worker.SETTINGS).ingest(folder)
    assert report.ok and len(report.ingested) == worker.FILES
    return folder, kb


def test_threads_through_one_rag_while_another_process_ingests(kb_at_revision_1, embedder,
                                                               llm) -> None:
    folder, kb = kb_at_revision_1
    rag = make_rag(kb, embedder, llm, **worker.SETTINGS)
    writer = _ingest_rounds(folder, kb, rounds=3)
    errors: list[str] = []
    mixed: list[dict] = []
    revisions: set[str] = set()
    searches = [0]
    lock = threading.Lock()

    def reader(n: int) -> None:
        while writer.poll() is None:
            try:
                hits = rag.retrieve(worker.QUESTIONS[0], mode=("dense", "hybrid")[n % 2])
            except Exception as exc:  # noqa: BLE001 - reported below
                errors.append(repr(exc))
                return
            with lock:
                searches[0] += 1
                revisions.update(r for h in hits for r in worker.REVISION.findall(h.chunk.text))
                if bad := worker.mixed(hits):
                    mixed.append(bad)

    threads = [threading.Thread(target=reader, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    rounds = _finish(writer)
    for t in threads:
        t.join(timeout=120)
    assert [r["round"] for r in rounds] == [1, 2, 3]
    assert all(r["failures"] == 0 for r in rounds)
    assert not errors, errors[:3]
    assert not mixed, mixed[:5]
    assert searches[0] >= 8
    # the readers saw the other process's new revisions (the store was reopened), and once
    # the reopen interval has passed after the last round every hit is of revision 3
    assert len(revisions) >= 2, revisions
    time.sleep(REOPEN_EVERY)
    final = rag.retrieve(worker.QUESTIONS[0], mode="dense")
    assert final and {r for h in final for r in worker.REVISION.findall(h.chunk.text)} == {"3"}
    # 8 concurrent asks on the real model, against the committed final state
    answers: list = []
    asks = [threading.Thread(target=lambda: answers.append(
        rag.ask(worker.QUESTIONS[1], k=2, generation={"max_tokens": 8}))) for _ in range(8)]
    for t in asks:
        t.start()
    for t in asks:
        t.join(timeout=300)
    assert len(answers) == 8 and all(a.hits for a in answers)
    assert all(not worker.mixed(a.hits) for a in answers)


def test_asks_in_one_rag_while_it_ingests_in_a_thread(kb_at_revision_1, embedder, llm) -> None:
    """The UI's case: the ingest and the questions share one RAG (and one Chroma client)."""
    folder, kb = kb_at_revision_1
    rag = make_rag(kb, embedder, llm, **worker.SETTINGS)
    done = threading.Event()
    errors: list[str] = []
    mixed: list[dict] = []
    asked: list = []

    def ingest() -> None:
        try:
            for r in range(2, 5):
                worker.write_revision(folder, r)
                assert rag.ingest(folder).ok
        except Exception as exc:  # noqa: BLE001
            errors.append(repr(exc))
        finally:
            done.set()

    def reader(n: int) -> None:
        while not done.is_set():
            try:
                if n == 0 and len(asked) < 3:
                    answer = rag.ask(worker.QUESTIONS[1], k=2, generation={"max_tokens": 4})
                    asked.append(answer)
                    hits = answer.hits
                else:
                    hits = rag.retrieve(worker.QUESTIONS[0], mode=("dense", "hybrid")[n % 2])
            except Exception as exc:  # noqa: BLE001
                errors.append(repr(exc))
                return
            if bad := worker.mixed(hits):
                mixed.append(bad)

    threads = [threading.Thread(target=reader, args=(n,)) for n in range(8)]
    writer = threading.Thread(target=ingest)
    for t in [*threads, writer]:
        t.start()
    for t in [writer, *threads]:
        t.join(timeout=600)
    assert not errors, errors[:3]
    assert not mixed, mixed[:5]
    assert asked, "no ask finished while the ingest ran"


def test_reader_processes_while_an_ingest_runs(kb_at_revision_1, tmp_path: Path) -> None:
    folder, kb = kb_at_revision_1
    stop = tmp_path / "stop"
    readers = [subprocess.Popen([sys.executable, str(WORKER), "read", str(kb), str(stop), "1"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for _ in range(8)]
    deadline = time.monotonic() + 300
    while len(list(tmp_path.glob("ready-*"))) < 8 and time.monotonic() < deadline:
        assert all(r.poll() is None for r in readers), "a reader died while starting"
        time.sleep(0.5)
    writer = _ingest_rounds(folder, kb, rounds=3)
    rounds = _finish(writer)
    time.sleep(REOPEN_EVERY + 1)  # the readers catch up with the last round
    stop.touch()
    results = [_finish(r)[-1] for r in readers]
    assert [r["round"] for r in rounds] == [1, 2, 3]
    assert all(r["errors"] == [] for r in results), [r["errors"][:1] for r in results]
    assert all(r["mixed"] == [] for r in results), [r["mixed"][:3] for r in results]
    assert all(r["asks"] == 1 for r in results)
    # each reader searched while the files changed, and saw the revisions change
    assert all(r["searches"] >= 4 and len(r["revisions"]) >= 2 for r in results), \
        [(r["searches"], r["revisions"]) for r in results]


def test_a_second_ingest_is_refused_and_changes_nothing(kb_at_revision_1, embedder) -> None:
    folder, kb = kb_at_revision_1
    rag = make_rag(kb, embedder, **worker.SETTINGS)
    before = sorted(rag.store.ids())
    with rag.knowledge_base.writing():
        worker.write_revision(folder, 2)
        other = make_rag(kb, embedder, **worker.SETTINGS)
        with pytest.raises(LockedError, match=r"locked by PID \d+ since"):
            other.ingest(folder)
    assert sorted(rag.store.ids()) == before


def test_a_reader_that_never_writes_sees_another_process_delete(kb_at_revision_1,
                                                                embedder) -> None:
    """Chroma's embedded client keeps its vector index in memory: without reopening, a
    long-lived reader kept returning chunks another process had deleted."""
    folder, kb = kb_at_revision_1
    rag = make_rag(kb, embedder, **worker.SETTINGS)
    assert rag.retrieve(worker.QUESTIONS[0], mode="dense")
    for f in folder.iterdir():
        f.unlink()
    (folder / "other.md").write_text("Bananas are yellow fruit grown in warm places.\n")
    _finish(subprocess.Popen(
        [sys.executable, "-c", "import sys, ragkit; ragkit.apply_offline_defaults(); "
         "from ragkit import RAG; r = RAG(sys.argv[1], chunk_size=48, chunk_overlap=0, "
         "workers=0); assert r.ingest(sys.argv[2]).ok", str(kb), str(folder)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    hits = rag.retrieve(worker.QUESTIONS[0], mode="dense")
    assert {h.chunk.source for h in hits} == {str(folder / "other.md")}
