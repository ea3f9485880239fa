"""Storage of a knowledge base's ``manifest.sqlite3``: the one package that knows its SQL.

- :mod:`.schema`: tables, ``PRAGMA user_version`` and the migrations applied on open;
- :mod:`.files`: the ``files`` table (:class:`FileRecord`);
- :mod:`.keyword_record`: ``kw_chunks`` and ``kw_meta``, written with the rows and read by
  :class:`KeywordRecord`;
- :mod:`.embedding_cache`: :class:`EmbeddingCache`, vectors by text hash and model, in its
  own ``embeddings.sqlite3``;
- :mod:`.manifest`: :class:`Manifest`, the writer, which commits a file's row and its
  keyword rows in one transaction;
- :mod:`.pg`: the same manifest, keyword record and writer lock in PostgreSQL (setting
  ``database_url``), for workers on several machines;
- :mod:`.backend`: :func:`open_manifest` and :func:`open_record` choose between them,
  behind the protocols :class:`ManifestStore` and :class:`RecordReader`.

Depends only on :mod:`ragkit._types`, :mod:`ragkit.errors` and (for ``mask_url``)
:mod:`ragkit.settings`: ingestion and retrieval both build on it, never the other way
round.
"""

from ragkit.storage.backend import (
    ManifestStore,
    RecordReader,
    open_manifest,
    open_record,
    read_state,
)
from ragkit.storage.embedding_cache import CACHE_FILE, EmbeddingCache, model_key
from ragkit.storage.files import FileRecord
from ragkit.storage.keyword_record import KeywordRecord, SqlFilter, chunk_filter
from ragkit.storage.manifest import Manifest
from ragkit.storage.schema import SCHEMA_VERSION

__all__ = ["CACHE_FILE", "EmbeddingCache", "FileRecord", "KeywordRecord", "Manifest",
           "ManifestStore", "RecordReader", "SCHEMA_VERSION", "SqlFilter", "chunk_filter",
           "model_key", "open_manifest", "open_record", "read_state"]
