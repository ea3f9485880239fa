"""The schema of ``manifest.sqlite3``: its tables, version and migrations.

The database holds two things that change together:

- ``files``: one row per ingested file (:mod:`ragkit.storage.manifest`);
- the keyword record, ``kw_chunks`` (each indexed chunk's id, source, text, metadata and
  terms) and ``kw_meta`` (``generation``, ``epoch``, ``tokenizer``)
  (:mod:`ragkit.storage.keyword_record`).

``PRAGMA user_version`` is the schema version. Opening the database for writing applies,
in order and in one transaction, every migration newer than the version found; a database
made before versions existed has version 0. A database of a newer version than
:data:`SCHEMA_VERSION` is refused rather than misread.

To change the schema, append a migration: never edit one that has shipped.
"""

from __future__ import annotations

import logging
import sqlite3
import uuid
from collections.abc import Callable
from pathlib import Path

from ragkit.errors import ConfigError

log = logging.getLogger(__name__)

_FILES = """
CREATE TABLE IF NOT EXISTS files (
    source      TEXT PRIMARY KEY,
    size        INTEGER NOT NULL,
    mtime_ns    INTEGER NOT NULL,
    hash        TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    chunk_ids   TEXT NOT NULL,
    ingested_at REAL NOT NULL
)
"""
_KW_CHUNKS = """
CREATE TABLE IF NOT EXISTS kw_chunks (
    rowid    INTEGER PRIMARY KEY,
    chunk_id TEXT NOT NULL UNIQUE,
    source   TEXT NOT NULL,
    text     TEXT NOT NULL,
    meta     TEXT NOT NULL,
    terms    TEXT NOT NULL
)
"""
_KW_CHUNKS_SOURCE = "CREATE INDEX IF NOT EXISTS kw_chunks_source ON kw_chunks(source)"
_KW_META = "CREATE TABLE IF NOT EXISTS kw_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)"


def _v1_baseline(db: sqlite3.Connection) -> None:
    """The tables as unversioned ragkit made them. ``IF NOT EXISTS`` throughout: a version-0
    database already has ``files`` and, unless it predates the keyword index, the rest."""
    for statement in (_FILES, _KW_CHUNKS, _KW_CHUNKS_SOURCE, _KW_META):
        db.execute(statement)
    db.execute("INSERT OR IGNORE INTO kw_meta VALUES ('generation', '0')")
    # names this record: a re-created record never reuses another one's saved scorer
    db.execute("INSERT OR IGNORE INTO kw_meta VALUES ('epoch', ?)", (uuid.uuid4().hex[:12],))


#: (version reached, step), oldest first; each step runs inside the migrating transaction
MIGRATIONS: tuple[tuple[int, Callable[[sqlite3.Connection], None]], ...] = (
    (1, _v1_baseline),
)
SCHEMA_VERSION = MIGRATIONS[-1][0]


def user_version(db: sqlite3.Connection) -> int:
    """The schema version stored in the database (0 when never set)."""
    return int(db.execute("PRAGMA user_version").fetchone()[0])


def _check_known(found: int, path: Path) -> None:
    if found > SCHEMA_VERSION:
        raise ConfigError(
            f"The knowledge-base manifest {str(path)!r} has schema version {found}, newer "
            f"than this ragkit understands ({SCHEMA_VERSION}); upgrade ragkit to open it."
        )


def migrate(db: sqlite3.Connection, path: Path) -> int:
    """Bring ``db`` to :data:`SCHEMA_VERSION`; return the version it had.

    Runs under SQLite's write lock (``BEGIN IMMEDIATE``) and re-reads the version there,
    so two processes opening an old database migrate it once. Raises ConfigError for a
    database of a newer version.
    """
    found = user_version(db)
    _check_known(found, path)
    if found == SCHEMA_VERSION:
        return found
    db.execute("BEGIN IMMEDIATE")
    try:
        found = user_version(db)
        _check_known(found, path)
        for version, step in MIGRATIONS:
            if version > found:
                step(db)
                db.execute(f"PRAGMA user_version = {int(version)}")
        db.commit()
    except BaseException:
        db.rollback()
        raise
    if found < SCHEMA_VERSION:
        log.info("manifest %s: schema version %d -> %d", path, found, SCHEMA_VERSION)
    return found


def connect(path: Path) -> sqlite3.Connection:
    """Open (creating it if needed) the database for writing, migrated to the current
    schema. Shared between threads: the caller serialises its calls."""
    db = sqlite3.connect(path, timeout=30, check_same_thread=False)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        migrate(db, path)
    except BaseException:
        db.close()
        raise
    return db


def connect_readonly(path: Path) -> sqlite3.Connection | None:
    """Open the database read-only (no transaction of its own: the caller's ``BEGIN``
    makes a snapshot), or None when it does not exist or holds no keyword record yet.

    Never migrates: a writer does that. The tables of every version up to
    :data:`SCHEMA_VERSION` are read as they are.
    """
    if not path.exists():
        return None
    db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=30,
                         check_same_thread=False, isolation_level=None)
    try:
        _check_known(user_version(db), path)
        has = db.execute("SELECT 1 FROM sqlite_master WHERE name='kw_chunks'").fetchone()
    except BaseException:
        db.close()
        raise
    if has is None:
        db.close()
        return None
    return db
