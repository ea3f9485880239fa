"""The manifest, keyword record and writer lock in PostgreSQL (setting ``database_url``,
docs/scale-out.md "Workers on different machines"), against a real server (tests/_postgres.py).

- the storage contract, run on both backends (SQLite and PostgreSQL) with the same
  assertions: rows, keyword rows, one transaction, generations, claims, filters,
  snapshots, sync;
- what only PostgreSQL has: its schema version, readers before any writer, the URL's
  password masked, psycopg never imported without ``database_url``;
- the writer lock across sessions: refused while held (naming the holder), taken over when
  the holder is killed.

The end-to-end test with two knowledge-base folders is tests/test_postgres_e2e.py.
"""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ragkit import Chunk, ConfigError, KnowledgeBase, LockedError
from ragkit._terms import TOKENIZER_VERSION, terms_of
from ragkit.errors import BackendError
from ragkit.retrieval.keyword import KeywordIndex
from ragkit.storage import FileRecord, chunk_filter, open_manifest, open_record
from ragkit.storage.pg import PG_SCHEMA_VERSION, PgManifest, pg_lock_holder

from ._postgres import PgServer, pg_server

ROOT = Path(__file__).resolve().parents[1]
A = Chunk("a1", "doc-a", "Error E42 on the ZX-9000 pump", "/d/a.md", 0, page=2,
          section="Faults")
A2 = Chunk("a2", "doc-a", "Reset the pump by holding the red button", "/d/a.md", 1, page=3,
           section="2")
B = Chunk("b1", "doc-b", "Llamas hum to their young", "/d/B.md", 0, section="Llamas")


@pytest.fixture(scope="module")
def pg() -> Iterator[PgServer]:
    with pg_server() as server:
        yield server


@pytest.fixture
def url(pg: PgServer) -> str:
    return pg.database()


@pytest.fixture(params=["sqlite", "postgres"])
def where(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Path, str]:
    """(manifest path in a local folder, database_url): the same contract on both."""
    path = tmp_path / "manifest.sqlite3"
    if request.param == "sqlite":
        return path, ""
    return path, request.getfixturevalue("pg").database()


def row(chunks: list[Chunk], source: str) -> FileRecord:
    return FileRecord(source, 10, 1, "h-" + source, "{}", tuple(c.id for c in chunks))


def put(m, *chunks: Chunk) -> None:  # noqa: ANN001 - either manifest
    by_source: dict[str, list[Chunk]] = {}
    for c in chunks:
        by_source.setdefault(c.source, []).append(c)
    m.put_many([row(cs, s) for s, cs in by_source.items()],
               index=[(c, terms_of(c.text)) for c in chunks])


class TestContract:
    def test_rows_get_records_delete(self, where: tuple[Path, str]) -> None:
        m = open_manifest(*where)
        put(m, A, A2, B)
        assert m.get("/d/a.md") == row([A, A2], "/d/a.md") and m.get("/nope") is None
        assert [r.source for r in m.records()] == ["/d/B.md", "/d/a.md"]  # byte order
        r = open_record(*where)
        assert r.count() == 3 and sorted(r.sources()) == ["/d/B.md", "/d/a.md"]
        m.delete("/d/a.md")
        assert [x.source for x in m.records()] == ["/d/B.md"] and r.count() == 1
        m.close()
        r.close()

    def test_row_and_keyword_rows_commit_together(self, where: tuple[Path, str]) -> None:
        m = open_manifest(*where)
        errors: tuple[type[BaseException], ...] = (sqlite3.IntegrityError,)
        if where[1]:
            import psycopg

            errors = (psycopg.errors.IntegrityError,)
        with pytest.raises(errors):  # terms NOT NULL: the whole batch fails
            m.put_many([row([A], "/d/a.md")], index=[(A, None)])  # type: ignore[list-item]
        assert m.records() == [] and open_record(*where).count() == 0
        put(m, A)
        assert m.get("/d/a.md") is not None
        m.close()

    def test_every_change_bumps_the_generation(self, where: tuple[Path, str]) -> None:
        m = open_manifest(*where)
        r = open_record(*where)
        before = r.version()
        put(m, A)
        after, writer = r.state()
        assert after.split("-")[0] == before.split("-")[0] and after != before
        assert writer == os.getpid() and r.version() == after
        m.put_many([row([A], "/d/a.md")])  # a row alone: the record did not change
        assert r.version() == after
        m.delete("/d/a.md")
        assert int(r.version().split("-")[1]) == int(after.split("-")[1]) + 1
        m.close()

    def test_claims_terms_and_chunks(self, where: tuple[Path, str]) -> None:
        m = open_manifest(*where)
        r = open_record(*where)
        assert r.claimed(["a1"]) is None  # empty record: claims unknown
        put(m, A, B)
        assert r.claimed(["a1", "b1", "zz"]) == {"a1", "b1"}
        rows = r.terms()
        assert [t for _, t in rows] == [terms_of(A.text), terms_of(B.text)]
        got = r.chunks([rid for rid, _ in rows] + [10**9])
        assert [(c.id, c.text, c.source, c.page, c.section) for c in got.values()] == [
            (A.id, A.text, A.source, 2, "Faults"), (B.id, B.text, B.source, None, "Llamas")]
        m.close()

    def test_filters_select_the_same_chunks(self, where: tuple[Path, str]) -> None:
        m = open_manifest(*where)
        r = open_record(*where)
        put(m, A, A2, B)
        ids = {rid: c.id for rid, c in r.chunks([rid for rid, _ in r.terms()]).items()}

        def chosen(sources: list[str] | None, meta: list[tuple[str, str | int]]) -> set[str]:
            f = chunk_filter(sources, meta)
            assert f is not None
            return {ids[rid] for rid in r.rowids(f)}

        assert chosen(["/d/a.md"], []) == {"a1", "a2"}
        assert chosen(None, [("page", 2)]) == {"a1"}
        assert chosen(None, [("section", "2")]) == {"a2"}  # a string, not the number 2
        assert chosen(None, [("section", 2)]) == set()
        assert chosen(["/d/a.md", "/d/B.md"], [("kind", "Text"), ("page", 3)]) == {"a2"}
        assert chosen([], []) == set()
        m.close()

    def test_sync_keyword(self, where: tuple[Path, str]) -> None:
        m = open_manifest(*where)
        put(m, A, B)
        m.put_many([row([A, A2], "/d/a.md")], unindex=["b1"])
        m.put_many([], index=[(B, terms_of(B.text))])  # a chunk no row claims
        stored = {c.id: c for c in (A, A2, B)}
        fetch = lambda ids: [stored[i] for i in ids]  # noqa: E731
        # B's row still claims b1, so b1 stays; a2 is claimed but missing: added; no
        # tokenizer recorded yet: the two chunks there are re-tokenized too
        assert m.sync_keyword(fetch, terms=terms_of, tokenizer=TOKENIZER_VERSION) == 3
        m.delete("/d/B.md")
        m.put_many([], index=[(B, terms_of(B.text))])
        assert m.sync_keyword(fetch, terms=terms_of, tokenizer=TOKENIZER_VERSION) == 1
        assert m.sync_keyword(fetch, terms=terms_of, tokenizer=TOKENIZER_VERSION) == 0
        assert open_record(*where).claimed(["a1", "a2", "b1"]) == {"a1", "a2"}
        # another tokenizer version: every chunk's terms are made again, once
        assert m.sync_keyword(fetch, terms=str.upper, tokenizer="other") == 2
        assert m.sync_keyword(fetch, terms=str.upper, tokenizer="other") == 0
        assert sorted(t for _, t in open_record(*where).terms()) == sorted(
            [A.text.upper(), A2.text.upper()])
        m.close()

    def test_a_snapshot_sees_one_committed_state(self, where: tuple[Path, str]) -> None:
        m = open_manifest(*where)
        put(m, A)
        r = open_record(*where)
        with r.snapshot():
            version, count = r.version(), r.count()
            put(m, B)  # commits meanwhile (another connection)
            assert (r.version(), r.count(), r.claimed(["b1"])) == (version, count, set())
        assert r.version() != version and r.count() == count + 1
        m.close()
        r.close()

    def test_chunk_texts_pages_through_everything(self, where: tuple[Path, str]) -> None:
        m = open_manifest(*where)
        many = [Chunk(f"c{i}", "d", f"text {i}", "/d/many.md", i) for i in range(2100)]
        put(m, *many)
        assert list(m.chunk_texts()) == [c.text for c in many]
        m.close()

    def test_keyword_index_searches_the_record(self, where: tuple[Path, str]) -> None:
        path, url = where
        m = open_manifest(path, url)
        put(m, A, A2, B)
        index = KeywordIndex(path, database_url=url)
        assert [h.chunk.id for h in index.search("zx-9000 pump", 5)][0] == "a1"
        only = chunk_filter(None, [("page", 3)])
        assert [h.chunk.id for h in index.search("pump", 5, only)] == ["a2"]
        assert (path.parent / "bm25" / index.version()[0]).is_dir()  # saved locally
        m.delete("/d/a.md")
        assert index.search("pump", 5) == []
        m.close()
        index.close()


class TestPostgresOnly:
    def test_schema_version_and_a_newer_one_refused(self, url: str, tmp_path: Path) -> None:
        import psycopg

        reader = open_record(tmp_path / "manifest.sqlite3", url)
        assert not reader.exists and reader.count() == 0 and reader.version() == "0-0"
        PgManifest(url, tmp_path / "manifest.sqlite3").close()
        assert open_record(tmp_path, url).exists
        with psycopg.connect(url, autocommit=True) as db:
            assert db.execute("SELECT version FROM ragkit_schema").fetchall() == [
                (PG_SCHEMA_VERSION,)]
            db.execute("UPDATE ragkit_schema SET version = version + 1")
        with pytest.raises(ConfigError, match=r"newer than this ragkit.*upgrade ragkit"):
            PgManifest(url, tmp_path / "manifest.sqlite3")
        with pytest.raises(ConfigError, match="newer"):
            open_record(tmp_path, url).count()

    def test_two_processes_migrating_at_once_migrate_once(self, url: str,
                                                          tmp_path: Path) -> None:
        import psycopg

        opened: list[object] = []
        threads = [threading.Thread(target=lambda: opened.append(
            PgManifest(url, tmp_path / "m"))) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(opened) == 3
        with psycopg.connect(url) as db:
            assert db.execute("SELECT count(*) FROM ragkit_schema").fetchone() == (1,)
            assert db.execute("SELECT count(*) FROM kw_meta WHERE key='epoch'").fetchone() == (1,)

    def test_the_password_is_never_shown(self, pg: PgServer, tmp_path: Path) -> None:
        from ragkit import Settings

        bad = f"postgresql://ragkit:hunter2@127.0.0.1:{pg.port}/no_such_db"
        with pytest.raises(BackendError) as info:
            open_manifest(tmp_path / "m", bad)
        assert "hunter2" not in str(info.value) and "ragkit:***@" in str(info.value)
        assert "hunter2" not in repr(Settings(database_url=bad))
        with pytest.raises(ConfigError) as bad_scheme:
            Settings.load(database_url="mysql://u:hunter2@h/db")
        assert "hunter2" not in str(bad_scheme.value)

    def test_without_database_url_psycopg_is_never_imported(self, tmp_path: Path) -> None:
        code = ("import sys; from ragkit import KnowledgeBase\n"
                "kb = KnowledgeBase(sys.argv[1])\n"
                "with kb.writing() as m: m.put_many([])\n"
                "from ragkit.retrieval.keyword import KeywordIndex\n"
                "KeywordIndex(kb.manifest_path).search('x', 3)\n"
                "assert 'psycopg' not in sys.modules, 'psycopg imported'\n")
        out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "kb")],
                             capture_output=True, text=True, timeout=120,
                             env={**os.environ, "PYTHONPATH": str(ROOT)})
        assert out.returncode == 0, out.stderr


HOLD = """
import sys, time
from ragkit import KnowledgeBase
with KnowledgeBase(sys.argv[1], database_url=sys.argv[2]).writing():
    print("held", flush=True)
    time.sleep(600)
"""


class TestWriterLock:
    def test_a_second_writer_is_refused_while_the_first_holds_it(self, url: str,
                                                                 tmp_path: Path) -> None:
        one = KnowledgeBase(tmp_path / "machine-a", database_url=url)
        two = KnowledgeBase(tmp_path / "machine-b", database_url=url)  # another folder
        with one.writing() as manifest:
            put(manifest, A)
            by = f"locked by PID {os.getpid()} on {socket.gethostname()} since"
            with pytest.raises(LockedError, match=by), two.writing():
                pass
            assert pg_lock_holder(url) is not None and by in str(pg_lock_holder(url))
        assert pg_lock_holder(url) is None
        with two.writing() as manifest:  # released with the block
            assert manifest.get("/d/a.md") is not None
        assert not (tmp_path / "machine-a" / "ingest.lock").exists()

    def test_a_killed_holders_lock_is_taken_over(self, url: str, tmp_path: Path) -> None:
        proc = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path / "a"), url],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env={**os.environ, "PYTHONPATH": str(ROOT)})
        try:
            assert proc.stdout is not None and proc.stdout.readline() == "held\n", (
                proc.stderr.read() if proc.stderr else "")
            kb = KnowledgeBase(tmp_path / "b", database_url=url)
            with pytest.raises(LockedError, match=f"locked by PID {proc.pid} "):
                kb.writing().__enter__()
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
            deadline = time.monotonic() + 20  # the server notices the closed connection
            while True:
                try:
                    with kb.writing():
                        break
                except LockedError:
                    assert time.monotonic() < deadline, "the dead writer's lock stayed"
                    time.sleep(0.2)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
