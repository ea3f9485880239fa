"""Disk and file faults: a full disk mid-ingest (a real small tmpfs), files that change or
vanish while they are read, symlink loops, unreadable files and folders, leftovers of
interrupted keyword-index saves."""

from __future__ import annotations

import errno
import hashlib
import os
import shlex
import shutil
import sqlite3
import subprocess
import sys
import time
from functools import cache
from pathlib import Path

import pytest

from ragkit import RAG, Settings, check_knowledge_base
from ragkit.errors import DiskFullError
from ragkit.ingestion import space, workers
from ragkit.retrieval.keyword import STALE_TMP_SECONDS, KeywordIndex, refresh, sweep_leftovers
from ragkit.storage import Manifest, keyword_record

BIN = Path(sys.executable).parent
WORDS = ("river mountain harbour lantern orchard glacier meadow copper violin saddle "
         "thunder pepper island canyon falcon marble willow ember").split()


def write_docs(folder: Path, n: int, paragraphs: int = 6) -> None:
    """``n`` text files of distinct sentences (a few chunks each)."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        paras = [" ".join(WORDS[(i + p + k * 7) % len(WORDS)] for k in range(40)) + "."
                 for p in range(paragraphs)]
        (folder / f"note{i:02d}.txt").write_text(f"Note {i}\n\n" + "\n\n".join(paras) + "\n")


def state(kb: Path, embedder) -> dict[str, object]:
    """The manifest's rows (file name → hash, chunk ids), Chroma's ids, the keyword ids."""
    manifest = Manifest(kb / "manifest.sqlite3")
    try:
        rows = {Path(r.source).name: (r.hash, tuple(sorted(r.chunk_ids)))
                for r in manifest.records()}
    finally:
        manifest.close()
    with sqlite3.connect(kb / "manifest.sqlite3") as db:
        keyword = keyword_record.chunk_ids(db)
    stored = RAG(kb, settings=Settings(workers=0), embedder=embedder).store.ids()
    return {"rows": rows, "store": stored, "keyword": keyword}


def problems(kb: Path, embedder) -> list[str]:
    diagnosis = check_knowledge_base(kb, embedder=embedder)
    return [c.name for c in diagnosis.checks if c.status == "problem"]


@pytest.fixture(scope="module")
def base_kb(tmp_path_factory: pytest.TempPathFactory, samples: Path, embedder) -> Path:
    """The samples ingested (the store before each faulty run); copy it, never change it."""
    kb = tmp_path_factory.mktemp("base") / "kb"
    kb.mkdir()
    (kb / "ragkit.toml").write_text("workers = 0\n")
    assert RAG(kb, embedder=embedder).ingest(samples).ok
    return kb


# -- a full disk ------------------------------------------------------------------------------
@cache
def _can_mount() -> str:
    """"" when a tmpfs can be mounted in a new mount namespace, else why not."""
    if os.geteuid() != 0 or not shutil.which("unshare"):
        return "needs root and unshare(1) to mount a small tmpfs in a mount namespace"
    probe = subprocess.run(["unshare", "-m", "sh", "-c", "mount -t tmpfs -o size=1M tmpfs /mnt"],
                           capture_output=True, text=True, timeout=60)
    return "" if probe.returncode == 0 else (
        f"mount namespaces unavailable here (unshare -m: {probe.stderr.strip()[:200]})")


def in_namespace(script: str, timeout: float = 900) -> None:
    """Run the shell ``script`` in its own mount namespace (its tmpfs vanishes after)."""
    if reason := _can_mount():
        pytest.skip(reason)
    out = subprocess.run(["unshare", "-m", "sh", "-c", "set -eu\n" + script],
                         capture_output=True, text=True, timeout=timeout,
                         stdin=subprocess.DEVNULL)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-3000:]


#: ragkit-ingest with the free-space check before each batch switched off, so the disk runs
#: out inside Chroma's or SQLite's writes
UNCHECKED = ("import sys; import ragkit.ingestion.pipeline as p; "
             "p.require_space = lambda *a, **k: None; "
             "from ragkit_ingest.cli import main; sys.argv[0] = 'ragkit-ingest'; main()")


def ingest_twice(tmp: Path, base: Path, docs: Path, size: str, first: list[str]) -> Path:
    """In a namespace: copy ``base`` onto a tmpfs of ``size``, run ``first`` (an ingest
    command) on it, copy the result out (``after``), grow the tmpfs, run ragkit-ingest
    again, copy that out (``final``). Each run's exit code, stdout and stderr are kept."""
    out = tmp / "out"
    out.mkdir()
    mnt = tmp / "mnt"
    mnt.mkdir()
    q = shlex.quote
    cmd = " ".join(q(c) for c in first)
    second = " ".join(q(c) for c in [str(BIN / "ragkit-ingest"), str(docs), "--kb",
                                     str(mnt / "kb"), "--json"])
    in_namespace(f"""
        mount -t tmpfs -o size={size} tmpfs {q(str(mnt))}
        cp -a {q(str(base))} {q(str(mnt / "kb"))}
        rc=0; {cmd} {q(str(docs))} --kb {q(str(mnt / "kb"))} --json \
            > {q(str(out / "run1.json"))} 2> {q(str(out / "run1.err"))} || rc=$?
        echo $rc > {q(str(out / "run1.rc"))}
        cp -a {q(str(mnt / "kb"))} {q(str(out / "after"))}
        mount -o remount,size=512M {q(str(mnt))}
        rc=0; {second} > {q(str(out / "run2.json"))} 2> {q(str(out / "run2.err"))} || rc=$?
        echo $rc > {q(str(out / "run2.rc"))}
        cp -a {q(str(mnt / "kb"))} {q(str(out / "final"))}
    """)
    return out


def one_error_line(err: str) -> str:
    assert "Traceback" not in err, err[-3000:]
    lines = [line for line in err.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1, err[-3000:]
    assert "no space left on device" in lines[0].lower(), lines[0]
    return lines[0]


@pytest.mark.slow  # two ragkit-ingest processes (each loads the embedding model)
class TestDiskFull:
    def test_checked_before_the_batch_nothing_written_then_finishes(
            self, tmp_path: Path, base_kb: Path, embedder) -> None:
        """16 MB free is under the reserve: the batch is refused before it is written."""
        docs = tmp_path / "docs"
        write_docs(docs, 10)
        before = state(base_kb, embedder)
        out = ingest_twice(tmp_path, base_kb, docs, "16M", [str(BIN / "ragkit-ingest")])
        assert (out / "run1.rc").read_text().strip() == "1"
        line = one_error_line((out / "run1.err").read_text())
        assert "nothing of this batch was written" in line
        assert state(out / "after", embedder) == before  # the store as it was, exactly
        assert problems(out / "after", embedder) == []
        self._finished(out, docs, before, embedder)

    def test_full_inside_the_store_write_reported_and_repaired(
            self, tmp_path: Path, base_kb: Path, embedder) -> None:
        """Without the check, the disk runs out inside Chroma's write: still one line, the
        manifest and keyword record as before, and the next run (with space) finishes."""
        docs = tmp_path / "docs"
        write_docs(docs, 10)
        before = state(base_kb, embedder)
        room = space.store_bytes(base_kb) + 320 * 1024  # less than the batch takes
        out = ingest_twice(tmp_path, base_kb, docs, f"{room // 1024}k",
                           [sys.executable, "-c", UNCHECKED])
        assert (out / "run1.rc").read_text().strip() == "1"
        one_error_line((out / "run1.err").read_text())
        after = state(out / "after", embedder)
        assert after["rows"] == before["rows"] and after["keyword"] == before["keyword"]
        # Chroma may keep the failed batch (it applies its log when reopened): chunks no row
        # claims, which doctor reports and the next run's repair deletes
        assert before["store"] <= after["store"]  # type: ignore[operator]
        assert set(problems(out / "after", embedder)) <= {"orphans"}
        self._finished(out, docs, before, embedder)

    @staticmethod
    def _finished(out: Path, docs: Path, before: dict, embedder) -> None:
        assert (out / "run2.rc").read_text().strip() == "0", (out / "run2.err").read_text()
        final = state(out / "final", embedder)
        names = {p.name for p in docs.iterdir()}
        assert set(final["rows"]) == set(before["rows"]) | names
        assert problems(out / "final", embedder) == []


def test_keyword_scorer_on_a_full_disk(tmp_path: Path, base_kb: Path) -> None:
    """The BM25 scorer cannot be saved (its folder on a full 16 kB tmpfs): no error, no
    leftover, searches still answered from the scorer in memory, a one-line warning.

    Only ``bm25/`` is full: with the manifest's disk full too, SQLite cannot even open it
    read-only (WAL mode needs its -shm file), and every search fails with "disk I/O error";
    the free-space check before each batch keeps an ingest from getting there."""
    kb = tmp_path / "kb"
    shutil.copytree(base_kb, kb)
    for saved in (kb / "bm25").iterdir():
        shutil.rmtree(saved)
    res = tmp_path / "result.txt"
    code = ("import os, sys; from pathlib import Path; "
            "from ragkit.retrieval.keyword import KeywordIndex, refresh; kb = Path(sys.argv[1]); "
            "refresh(kb / 'manifest.sqlite3'); idx = KeywordIndex(kb / 'manifest.sqlite3'); "
            "hits = idx.search('llamas Andes', 3); "
            "Path(sys.argv[2]).write_text(f'{len(hits)} {sorted(os.listdir(kb / \"bm25\"))}')")
    q = shlex.quote
    in_namespace(f"""
        mount -t tmpfs -o size=16k tmpfs {q(str(kb / "bm25"))}
        {q(sys.executable)} -c {q(code)} {q(str(kb))} {q(str(res))} \
            2> {q(str(tmp_path / "err.txt"))}
    """, timeout=300)
    hits, listing = res.read_text().split(" ", 1)
    assert int(hits) > 0 and listing == "[]"  # nothing saved, nothing left behind
    err = (tmp_path / "err.txt").read_text()
    assert "Traceback" not in err and "No space left on device" in err


class TestSpaceCheck:
    def test_refuses_a_batch_beyond_the_free_space(self, tmp_path: Path) -> None:
        free = shutil.disk_usage(tmp_path).free
        with pytest.raises(DiskFullError, match="no space left on device.*nothing of this"):
            space.require_space(tmp_path, free)  # the batch alone would fill the disk
        if free > 2 * space.RESERVE_MIN:  # room for the reserve: an empty batch passes
            space.require_space(tmp_path, 0)

    def test_estimate_grows_with_chunks_dimension_and_text(self) -> None:
        one = space.batch_bytes(["a" * 1000], 384)
        assert space.batch_bytes(["a" * 1000] * 2, 384) == 2 * one
        assert space.batch_bytes(["a" * 1000], 768) > one
        assert space.batch_bytes(["大" * 1000], 384) > one  # bytes, not characters

    def test_reserve_counts_the_store_not_the_uploads(self, tmp_path: Path) -> None:
        (tmp_path / "chroma").mkdir()
        (tmp_path / "chroma" / "x.bin").write_bytes(b"x" * 100_000)
        (tmp_path / "documents").mkdir()
        (tmp_path / "documents" / "big.pdf").write_bytes(b"x" * 1_000_000)
        assert 100_000 <= space.store_bytes(tmp_path) < 1_000_000

    @pytest.mark.parametrize("exc", [
        OSError(errno.ENOSPC, "No space left on device"),
        sqlite3.OperationalError("database or disk is full"),
        RuntimeError("Query error: Database error: (code: 13) database or disk is full"),
    ])
    def test_a_write_error_that_says_disk_full(self, tmp_path: Path, exc: Exception) -> None:
        wrapped = RuntimeError("store failed")
        wrapped.__cause__ = exc
        for e in (exc, wrapped):
            full = space.disk_full(e, tmp_path, 0)
            assert isinstance(full, DiskFullError) and "no space left on device" in str(full)
            assert "\n" not in str(full)

    def test_an_unrelated_error_with_room_left_is_not_disk_full(self, tmp_path: Path) -> None:
        assert space.disk_full(ValueError("bad metadata"), tmp_path, 0) is None

    def test_a_vague_store_error_with_less_room_than_the_batch(self, tmp_path: Path) -> None:
        """Chroma's "Failed to apply logs to the metadata segment" does not say why."""
        exc = RuntimeError("Error in compaction: Failed to apply logs to the metadata segment")
        free = shutil.disk_usage(tmp_path).free
        assert isinstance(space.disk_full(exc, tmp_path, free), DiskFullError)


# -- files that change or vanish while they are read ------------------------------------------
def _hooked(monkeypatch: pytest.MonkeyPatch, victim: Path, what: str) -> None:
    """Make the parser of ``victim`` meet ``what`` happening to it."""
    real = workers.parse_file

    def parse(path: Path, **kw: object) -> object:
        if path != victim:
            return real(path, **kw)
        if what == "changed before parse":
            with path.open("a") as f:
                f.write("\n\nA paragraph written after the file was hashed.\n")
        elif what == "replaced before parse":
            tmp = path.with_suffix(".new")
            tmp.write_text("# Replaced\n\nA whole new file, renamed over the old one.\n")
            os.replace(tmp, path)
        elif what == "deleted before parse":
            path.unlink()
        doc = real(path, **kw)
        if what == "deleted after parse":
            path.unlink()
        return doc

    monkeypatch.setattr(workers, "parse_file", parse)


class TestFileChangesWhileRead:
    @pytest.mark.parametrize(("what", "reason"), [
        ("changed before parse", workers.CHANGED),
        ("replaced before parse", workers.CHANGED),
        ("deleted before parse", "file disappeared during the run"),
        ("deleted after parse", "file disappeared during the run"),
    ])
    def test_reported_with_path_and_reason_the_rest_go_in(
            self, tmp_path: Path, samples: Path, embedder, monkeypatch: pytest.MonkeyPatch,
            what: str, reason: str) -> None:
        docs = tmp_path / "docs"
        shutil.copytree(samples, docs)
        victim = docs / "llamas.md"
        _hooked(monkeypatch, victim, what)
        # parse_timeout_s=0: parse in this process, where the hook is (not in a parser process)
        rag = RAG(tmp_path / "kb", settings=Settings(workers=0, parse_timeout_s=0),
                  embedder=embedder)
        report = rag.ingest(docs)
        assert [(f.path, f.error) for f in report.failures] == [(str(victim), reason)]
        assert len(report.ingested) == len(list(samples.iterdir())) - 1
        assert str(victim) not in {d.source for d in rag.documents()}
        monkeypatch.undo()
        if victim.exists():  # the next run takes the file as it is now
            again = rag.ingest(docs)
            assert again.ok and again.ingested == [str(victim)]
            self._recorded_as_read(tmp_path / "kb", victim, rag)

    @staticmethod
    def _recorded_as_read(kb: Path, victim: Path, rag: RAG) -> None:
        """The manifest's hash is that of the bytes whose chunks are stored."""
        manifest = Manifest(kb / "manifest.sqlite3")
        try:
            row = manifest.get(str(victim))
        finally:
            manifest.close()
        assert row is not None
        assert row.hash == hashlib.sha256(victim.read_bytes()).hexdigest()
        text = " ".join(c.text for c in rag.store.get(list(row.chunk_ids)))
        last = victim.read_text().strip().splitlines()[-1]
        assert last in text

    def test_changed_between_stat_and_hash(self, tmp_path: Path, samples: Path, embedder,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
        """The file grows while it is hashed: the hash is of the new bytes, the size of the
        old; reported, never recorded half-and-half."""
        import ragkit.ingestion.pipeline as pipeline

        docs = tmp_path / "docs"
        shutil.copytree(samples, docs)
        victim = docs / "coffee_notes.txt"
        real = pipeline.file_hash

        def file_hash(path: Path) -> str:
            if path == victim:
                with path.open("a") as f:
                    f.write("\nWritten while the file was being hashed.\n")
            return real(path)

        monkeypatch.setattr(pipeline, "file_hash", file_hash)
        rag = RAG(tmp_path / "kb", settings=Settings(workers=0), embedder=embedder)
        report = rag.ingest(docs)
        assert [(f.path, f.error) for f in report.failures] == [(str(victim), workers.CHANGED)]


# -- symlink loops, unreadable files and folders ------------------------------------------------
def make_tricky(docs: Path) -> None:
    """A good file, a folder linked into itself, a link to an ancestor, a→b→a file links,
    a dangling link, a FIFO, an unreadable file, an unreadable folder."""
    (docs / "sub").mkdir(parents=True)
    (docs / "good.md").write_text("# Good\n\nThis file is fine and must be ingested.\n")
    (docs / "sub" / "inner.txt").write_text("An inner file that is fine as well.\n")
    os.symlink(docs, docs / "self")
    os.symlink("..", docs / "sub" / "up")
    os.symlink("b.md", docs / "a.md")
    os.symlink("a.md", docs / "b.md")
    os.symlink("nowhere.txt", docs / "dangling.txt")
    os.mkfifo(docs / "pipe.txt")
    (docs / "secret.md").write_text("# Secret\n\nNobody may read this.\n")
    os.chmod(docs / "secret.md", 0)
    (docs / "locked").mkdir()
    (docs / "locked" / "hidden.txt").write_text("In a folder nobody may list.\n")
    os.chmod(docs / "locked", 0)


class TestLinksAndPermissions:
    def test_loops_reported_no_hang_the_run_goes_on(self, tmp_path: Path, embedder) -> None:
        docs = tmp_path / "docs"
        make_tricky(docs)
        started = time.perf_counter()
        report = RAG(tmp_path / "kb", settings=Settings(workers=0), embedder=embedder).ingest(
            docs)
        assert time.perf_counter() - started < 120
        failed = {Path(f.path).name: f.error for f in report.failures}
        skipped = {Path(s.path).name: s.reason for s in report.skipped}
        assert {"a.md", "b.md", "dangling.txt"} <= set(failed)
        assert "loop" in failed["a.md"] and "loop" in failed["b.md"]
        assert "loops back" in skipped["self"] and "loops back" in skipped["up"]
        assert "not a regular file" in skipped["pipe.txt"]
        ingested = {Path(p).name for p in report.ingested}
        assert {"good.md", "inner.txt"} <= ingested
        # root reads anything: secret.md and locked/ are readable here (see the next test)

    @pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv"),
                        reason="needs root and setpriv(1) to drop the capability to read "
                               "any file (as another user chmod 000 works without it)")
    def test_unreadable_file_and_folder_reported_as_root_without_dac_override(
            self, tmp_path: Path) -> None:
        """Root bypasses permissions; without CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH it
        does not. Discovery and planning (no model needed) run in such a process."""
        docs = tmp_path / "docs"
        make_tricky(docs)
        code = ("import sys, json; from pathlib import Path; "
                "from ragkit.ingestion.discover import discover; "
                "from ragkit.ingestion.parse import file_hash\n"
                "d = discover([sys.argv[1]], ['**/*'], [])\n"
                "out = dict(d.problems)\n"
                "for f in d.files:\n"
                "    try: file_hash(f)\n"
                "    except OSError as e: out[str(f)] = e.strerror\n"
                "print(json.dumps(out))")
        run = subprocess.run(["setpriv", "--bounding-set", "-dac_override,-dac_read_search",
                              sys.executable, "-c", code, str(docs)],
                             capture_output=True, text=True, timeout=120)
        assert run.returncode == 0, run.stderr
        import json

        found = {Path(k).name: v for k, v in json.loads(run.stdout).items()}
        assert "cannot be read (Permission denied)" in found["locked"]
        assert found["secret.md"] == "Permission denied"


# -- leftovers of interrupted keyword-index saves ------------------------------------------------
def _leftover(bm25: Path, name: str, age: float) -> Path:
    tmp = bm25 / name
    tmp.mkdir(parents=True)
    (tmp / "data.csc.index.npy").write_bytes(b"half written")
    then = time.time() - age
    for p in (tmp / "data.csc.index.npy", tmp):
        os.utime(p, (then, then))
    return tmp


class TestKeywordLeftovers:
    def test_swept_when_older_than_a_minute(self, tmp_path: Path) -> None:
        old = _leftover(tmp_path, ".tmp-old", STALE_TMP_SECONDS + 30)
        fresh = _leftover(tmp_path, ".tmp-fresh", 5)  # another process may be saving it
        (tmp_path / "1-2").mkdir()
        assert sweep_leftovers(tmp_path) == 1
        assert not old.exists() and fresh.exists() and (tmp_path / "1-2").exists()

    def test_a_folder_still_being_written_is_kept(self, tmp_path: Path) -> None:
        tmp = _leftover(tmp_path, ".tmp-busy", STALE_TMP_SECONDS + 30)
        (tmp / "vocab.index.json").write_text("{}")  # a file written just now
        assert sweep_leftovers(tmp_path) == 0 and tmp.exists()

    def test_swept_by_the_next_ingest(self, tmp_path: Path, base_kb: Path, samples: Path,
                                      embedder) -> None:
        kb = tmp_path / "kb"
        shutil.copytree(base_kb, kb)
        old = _leftover(kb / "bm25", ".tmp-abc", STALE_TMP_SECONDS * 5)
        report = RAG(kb, embedder=embedder).ingest(samples)  # nothing changed: no new save
        assert report.ok and not report.ingested
        assert not old.exists()

    def test_swept_by_a_reader_that_saves_a_scorer(self, tmp_path: Path,
                                                   base_kb: Path) -> None:
        kb = tmp_path / "kb"
        shutil.copytree(base_kb, kb)
        for saved in (kb / "bm25").iterdir():
            shutil.rmtree(saved)
        old = _leftover(kb / "bm25", ".tmp-xyz", STALE_TMP_SECONDS * 5)
        index = KeywordIndex(kb / "manifest.sqlite3")
        try:
            assert index.search("llamas", 2)
        finally:
            index.close()
        assert not old.exists() and [p.name[0] for p in (kb / "bm25").iterdir()] != ["."]

    def test_refresh_leaves_a_fresh_one(self, tmp_path: Path, base_kb: Path) -> None:
        kb = tmp_path / "kb"
        shutil.copytree(base_kb, kb)
        fresh = _leftover(kb / "bm25", ".tmp-now", 1)
        refresh(kb / "manifest.sqlite3")
        assert fresh.exists()


def test_an_unexpected_error_on_one_file_is_reported_not_raised(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A bug met on one file (here: the chunker raising TypeError) ends as that file's
    failure, so the run goes on."""
    path = tmp_path / "a.txt"
    path.write_text("Some text.\n")
    st = path.stat()

    def broken(*args: object, **kwargs: object) -> list:
        raise TypeError("unexpected None")

    monkeypatch.setattr(workers, "chunk_document", broken)
    job = workers.Job(path, st.st_size, st.st_mtime_ns, "0" * 64, ())
    config = workers.ChunkConfig(["eng"], 200, 0, "{}", "")
    result = workers.process(job, config, lambda t: len(t.split()))
    assert result.chunks == [] and result.error is not None
    assert result.error.startswith("internal error (TypeError: unexpected None)")
