"""Which storage a knowledge base uses: ``manifest.sqlite3`` in its folder (the default) or
a PostgreSQL database (setting ``database_url``), behind two protocols that both follow.

:func:`open_manifest` and :func:`open_record` are the only places that choose; psycopg is
imported only when ``database_url`` is set.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Protocol

from ragkit._types import Chunk
from ragkit.storage.files import FileRecord
from ragkit.storage.keyword_record import KeywordRecord, SqlFilter
from ragkit.storage.manifest import Manifest


class ManifestStore(Protocol):
    """The writer's side: :class:`ragkit.storage.Manifest` or
    :class:`ragkit.storage.pg.PgManifest`. ``path`` is the local ``manifest.sqlite3`` path
    (with PostgreSQL too: its folder holds the local files, and its free space is checked)."""

    path: Path

    def get(self, source: str) -> FileRecord | None: ...
    def records(self) -> list[FileRecord]: ...
    def put_many(self, records: list[FileRecord], index: Iterable[tuple[Chunk, str]] = (),
                 unindex: Sequence[str] = ()) -> None: ...
    def delete(self, source: str) -> None: ...
    def sync_keyword(self, fetch: Callable[[list[str]], list[Chunk]], *,
                     terms: Callable[[str], str], tokenizer: str) -> int: ...
    def chunk_texts(self) -> Iterator[str]: ...
    def close(self) -> None: ...


class RecordReader(Protocol):
    """The readers' side: :class:`ragkit.storage.KeywordRecord` or
    :class:`ragkit.storage.pg.PgKeywordRecord`."""

    @property
    def exists(self) -> bool: ...
    def snapshot(self) -> AbstractContextManager[None]: ...
    def version(self) -> str: ...
    def state(self) -> tuple[str, int | None]: ...
    def claimed(self, chunk_ids: Sequence[str]) -> set[str] | None: ...
    def terms(self) -> list[tuple[int, str]]: ...
    def rowids(self, where: SqlFilter) -> list[int]: ...
    def chunks(self, rowids: Sequence[int]) -> dict[int, Chunk]: ...
    def count(self) -> int: ...
    def sources(self) -> list[str]: ...
    def close(self) -> None: ...


def open_manifest(path: str | Path, database_url: str = "") -> ManifestStore:
    """The manifest for writing: in PostgreSQL when ``database_url`` is set (``path``
    then only names the local folder), else the SQLite file at ``path``."""
    if database_url:
        from ragkit.storage.pg import PgManifest

        return PgManifest(database_url, path)
    return Manifest(path)


def open_record(path: str | Path, database_url: str = "") -> RecordReader:
    """The keyword record for reading, from the same place :func:`open_manifest` writes."""
    if database_url:
        from ragkit.storage.pg import PgKeywordRecord

        return PgKeywordRecord(database_url)
    return KeywordRecord(path)


def read_state(path: str | Path, database_url: str = "") -> tuple[int, int, list[FileRecord],
                                                                  set[str]]:
    """For checks (``ragkit doctor``): the stored schema version, the version this ragkit
    writes, the file rows and the keyword record's chunk ids, read in one snapshot, never
    migrating. Raises sqlite3.DatabaseError for a file that is no manifest, BackendError
    for an unreachable database."""
    if database_url:
        from ragkit.storage.pg.record import read_state as read_pg

        return read_pg(database_url)
    import sqlite3

    from ragkit.storage import files, keyword_record, schema

    db = sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True, timeout=30,
                         isolation_level=None)
    try:
        db.execute("BEGIN")
        version = schema.user_version(db)
        if version > schema.SCHEMA_VERSION:
            return version, schema.SCHEMA_VERSION, [], set()
        try:
            kw_ids = keyword_record.chunk_ids(db)
        except sqlite3.OperationalError:  # a version-0 manifest older than the record
            kw_ids = set()
        return version, schema.SCHEMA_VERSION, files.records(db), kw_ids
    finally:
        db.close()
