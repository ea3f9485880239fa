"""A knowledge base's manifest, keyword record and writer lock in PostgreSQL (setting
``database_url``), for workers on several machines (docs/scale-out.md).

- :mod:`.schema`: tables, version (``ragkit_schema``) and migrations; the connection;
- :mod:`.record`: the keyword record's writing functions and :class:`PgKeywordRecord`;
- :mod:`.manifest`: :class:`PgManifest`, the writer;
- :mod:`.lock`: :func:`pg_writer_lock`, a session-level advisory lock.

Same methods and meaning as the SQLite classes; psycopg is imported on first connect.
"""

from ragkit.storage.pg.lock import pg_lock_holder, pg_writer_lock
from ragkit.storage.pg.manifest import PgManifest
from ragkit.storage.pg.record import PgKeywordRecord
from ragkit.storage.pg.schema import PG_SCHEMA_VERSION

__all__ = ["PG_SCHEMA_VERSION", "PgKeywordRecord", "PgManifest", "pg_lock_holder",
           "pg_writer_lock"]
