"""ragkit.storage: the schema of manifest.sqlite3, its migrations, and the manifest's
transactions (no models needed)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from ragkit import Chunk
from ragkit._terms import TOKENIZER_VERSION, terms_of
from ragkit.errors import ConfigError
from ragkit.retrieval.keyword import KeywordIndex
from ragkit.storage import (
    SCHEMA_VERSION,
    FileRecord,
    KeywordRecord,
    Manifest,
    chunk_filter,
    keyword_record,
    schema,
)

#: the DDL unversioned ragkit (before ragkit.storage) ran on every open: version 0
OLD_FILES = """
CREATE TABLE IF NOT EXISTS files (
    source      TEXT PRIMARY KEY,
    size        INTEGER NOT NULL,
    mtime_ns    INTEGER NOT NULL,
    hash        TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    chunk_ids   TEXT NOT NULL,
    ingested_at REAL NOT NULL
);
"""
OLD_KEYWORD = """
CREATE TABLE IF NOT EXISTS kw_chunks (
    rowid    INTEGER PRIMARY KEY,
    chunk_id TEXT NOT NULL UNIQUE,
    source   TEXT NOT NULL,
    text     TEXT NOT NULL,
    meta     TEXT NOT NULL,
    terms    TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS kw_chunks_source ON kw_chunks(source);
CREATE TABLE IF NOT EXISTS kw_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT OR IGNORE INTO kw_meta VALUES ('tokenizer', '1');
INSERT OR IGNORE INTO kw_meta VALUES ('generation', '0');
INSERT OR IGNORE INTO kw_meta VALUES ('epoch', 'oldepoch0000');
"""
CHUNK = Chunk("c1", "doc", "Error E42 on the ZX-9000 pump", "/d/a.md", 0)


def old_database(path: Path, *, with_keyword: bool = True) -> None:
    """A manifest as the code before versioned schemas left it: one file, one chunk."""
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.executescript(OLD_FILES + (OLD_KEYWORD if with_keyword else ""))
    with db:
        db.execute("INSERT INTO files VALUES ('/d/a.md', 10, 7, 'h', '{}', '[\"c1\"]', 1.0)")
        if with_keyword:
            db.execute("INSERT INTO kw_chunks(chunk_id, source, text, meta, terms) "
                       "VALUES ('c1', '/d/a.md', ?, '{\"source\": \"/d/a.md\"}', ?)",
                       (CHUNK.text, terms_of(CHUNK.text)))
            db.execute("UPDATE kw_meta SET value='3' WHERE key='generation'")
    db.close()


def version_of(path: Path) -> int:
    with sqlite3.connect(path) as db:
        return schema.user_version(db)


def sync(m: Manifest, stored: dict[str, Chunk]) -> int:
    return m.sync_keyword(lambda ids: [stored[i] for i in ids], terms=terms_of,
                          tokenizer=TOKENIZER_VERSION)


class TestSchema:
    def test_a_new_database_has_the_current_version(self, tmp_path: Path) -> None:
        db = tmp_path / "manifest.sqlite3"
        Manifest(db).close()
        assert version_of(db) == SCHEMA_VERSION >= 1
        assert KeywordRecord(db).exists

    def test_migrations_are_ordered_and_end_at_the_version(self) -> None:
        versions = [v for v, _ in schema.MIGRATIONS]
        assert versions == list(range(1, len(versions) + 1))
        assert versions[-1] == SCHEMA_VERSION

    def test_an_unversioned_database_migrates_keeping_its_data(self, tmp_path: Path) -> None:
        db = tmp_path / "manifest.sqlite3"
        old_database(db)
        assert version_of(db) == 0
        m = Manifest(db)
        assert version_of(db) == SCHEMA_VERSION
        assert m.records() == [FileRecord("/d/a.md", 10, 7, "h", "{}", ("c1",))]
        assert sync(m, {}) == 0  # the record already agrees with the rows
        record = KeywordRecord(db)
        assert record.version() == "oldepoch0000-3" and record.count() == 1
        assert [h.chunk.id for h in KeywordIndex(db).search("zx-9000", 5)] == ["c1"]
        m.close()
        Manifest(db).close()  # opening again: nothing left to do
        assert version_of(db) == SCHEMA_VERSION

    def test_a_database_from_before_the_keyword_record_gets_it(self, tmp_path: Path) -> None:
        db = tmp_path / "manifest.sqlite3"
        old_database(db, with_keyword=False)
        assert KeywordIndex(db).search("zx-9000", 5) == []  # a reader never migrates
        m = Manifest(db)
        assert version_of(db) == SCHEMA_VERSION
        assert sync(m, {"c1": CHUNK}) == 1
        assert [h.chunk.id for h in KeywordIndex(db).search("zx-9000", 5)] == ["c1"]
        m.close()

    def test_a_newer_database_is_refused(self, tmp_path: Path) -> None:
        db = tmp_path / "manifest.sqlite3"
        Manifest(db).close()
        with sqlite3.connect(db) as raw:
            raw.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
        with pytest.raises(ConfigError, match=r"newer than this ragkit.*upgrade ragkit"):
            Manifest(db)
        with pytest.raises(ConfigError, match="newer"):
            KeywordRecord(db).count()

    def test_a_failing_migration_changes_nothing(self, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
        db = tmp_path / "manifest.sqlite3"
        old_database(db, with_keyword=False)

        def broken(conn: sqlite3.Connection) -> None:
            conn.execute("CREATE TABLE half_done (x)")
            raise sqlite3.OperationalError("disk full")

        monkeypatch.setattr(schema, "MIGRATIONS", (*schema.MIGRATIONS, (2, broken)))
        monkeypatch.setattr(schema, "SCHEMA_VERSION", 2)
        with pytest.raises(sqlite3.OperationalError, match="disk full"):
            Manifest(db)
        assert version_of(db) == 0
        with sqlite3.connect(db) as raw:
            tables = {r[0] for r in raw.execute("SELECT name FROM sqlite_master")}
        assert "half_done" not in tables and "kw_chunks" not in tables

    def test_each_migration_runs_once(self, tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
        db = tmp_path / "manifest.sqlite3"
        Manifest(db).close()
        ran: list[int] = []
        monkeypatch.setattr(schema, "MIGRATIONS",
                            (*schema.MIGRATIONS, (2, lambda conn: ran.append(2))))
        monkeypatch.setattr(schema, "SCHEMA_VERSION", 2)
        Manifest(db).close()
        Manifest(db).close()
        assert ran == [2] and version_of(db) == 2


class TestManifest:
    def test_row_and_keyword_rows_commit_together(self, tmp_path: Path) -> None:
        db = tmp_path / "manifest.sqlite3"
        m = Manifest(db)
        row = FileRecord("/d/a.md", 1, 1, "h", "{}", ("c1",))
        with pytest.raises(sqlite3.IntegrityError):  # terms NOT NULL: the insert fails
            m.put_many([row], index=[(CHUNK, None)])  # type: ignore[list-item]
        assert m.records() == [] and KeywordRecord(db).count() == 0
        m.put_many([row], index=[(CHUNK, terms_of(CHUNK.text))])
        assert m.get("/d/a.md") == row and KeywordRecord(db).count() == 1
        m.delete("/d/a.md")
        assert m.get("/d/a.md") is None and KeywordRecord(db).count() == 0
        m.close()

    def test_every_change_bumps_the_generation(self, tmp_path: Path) -> None:
        db = tmp_path / "manifest.sqlite3"
        m = Manifest(db)
        reader = KeywordRecord(db)
        before = reader.version()
        m.put_many([FileRecord("/d/a.md", 1, 1, "h", "{}", ("c1",))],
                   index=[(CHUNK, terms_of(CHUNK.text))])
        after = reader.version()
        assert before.split("-")[0] == after.split("-")[0] and before != after
        assert reader.sources() == ["/d/a.md"]
        m.close()
        reader.close()

    def test_a_stale_tokenizer_remakes_the_terms(self, tmp_path: Path) -> None:
        db = tmp_path / "manifest.sqlite3"
        m = Manifest(db)
        m.put_many([FileRecord("/d/a.md", 1, 1, "h", "{}", ("c1",))],
                   index=[(CHUNK, "stale")])
        assert m.sync_keyword(lambda ids: [], terms=terms_of, tokenizer="2") == 1
        assert m.sync_keyword(lambda ids: [], terms=terms_of, tokenizer="2") == 0
        with sqlite3.connect(db) as raw:
            assert keyword_record.chunk_ids(raw) == {"c1"}
            assert raw.execute("SELECT terms FROM kw_chunks").fetchone()[0] == terms_of(
                CHUNK.text)
        m.close()


class TestChunkFilter:
    def test_conditions(self) -> None:
        assert chunk_filter(None, []) is None
        f = chunk_filter({"/b", "/a"}, [("page", 2)])
        assert f is not None and f.params == ["/a", "/b", 2]
        with pytest.raises(ValueError, match="identifier"):
            chunk_filter(None, [("x') OR 1=1 --", 1)])
