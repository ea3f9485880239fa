"""The knowledge-base folder: the one place that knows its layout.

A knowledge base is one folder::

    KB/
      ragkit.toml         settings of this knowledge base (optional; marks the folder)
      chroma/             the embedded Chroma store (absent with a Chroma server)
      manifest.sqlite3    files ingested, chunk ids, the keyword record (ragkit.storage)
      embeddings.sqlite3  vectors of chunk texts by hash and model (ragkit.storage; a cache)
      bm25/               the BM25 scorer, one folder per generation (ragkit.retrieval.keyword)
      chat.sqlite3        chat sessions and the ask log (ragkit.history)
      ingest.lock         held by the one process writing (ingest, delete)
      documents/          uploads (setting ``documents_dir``)

With ``database_url`` set (workers on several machines), the manifest, the keyword record
and the writer lock are in that PostgreSQL database instead of ``manifest.sqlite3`` and
``ingest.lock``; the folder keeps the rest (ragkit.storage.pg).

>>> kb = KnowledgeBase("/tmp/kb")
>>> kb.manifest_path.name
'manifest.sqlite3'
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ragkit._lock import writer_lock
from ragkit._types import DocumentInfo
from ragkit.errors import ValidationError
from ragkit.history import CHAT_FILE
from ragkit.settings import SETTINGS_FILE, Settings, save_settings
from ragkit.storage import CACHE_FILE, EmbeddingCache, ManifestStore, open_manifest, open_record
from ragkit.storage.pg import pg_writer_lock
from ragkit.uploads import safe_filename, save_upload

MANIFEST_FILE = "manifest.sqlite3"
CHROMA_DIR = "chroma"
LOCK_FILE = "ingest.lock"


class KnowledgeBase:
    """The files of one knowledge base: paths, the writer lock, the manifest, settings.

    Creating the object touches nothing on disk; :meth:`create` makes the folder.
    ``database_url`` (the setting of that name): the manifest, keyword record and writer
    lock are in that PostgreSQL database; empty: in the folder.
    """

    def __init__(self, path: str | Path, *, database_url: str = "") -> None:
        self.path = Path(path).expanduser().resolve()
        self.database_url = database_url

    def __repr__(self) -> str:
        return f"KnowledgeBase({str(self.path)!r})"

    # -- layout --------------------------------------------------------------------------
    @property
    def settings_path(self) -> Path:
        return self.path / SETTINGS_FILE

    @property
    def manifest_path(self) -> Path:
        return self.path / MANIFEST_FILE

    @property
    def chroma_path(self) -> Path:
        return self.path / CHROMA_DIR

    @property
    def chat_path(self) -> Path:
        return self.path / CHAT_FILE

    @property
    def lock_path(self) -> Path:
        return self.path / LOCK_FILE

    def resolve(self, value: str | Path) -> Path:
        """``value`` as a path; relative ones are read from the knowledge-base folder."""
        path = Path(value).expanduser()
        return path if path.is_absolute() else self.path / path

    def documents_dir(self, settings: Settings) -> Path:
        """Where uploads are saved (setting ``documents_dir``, relative to the folder)."""
        return self.resolve(settings.documents_dir).resolve()

    def is_ingested(self) -> bool:
        """True once something was ingested here (the manifest exists; in PostgreSQL: its
        schema)."""
        if not self.database_url:
            return self.manifest_path.exists()
        record = open_record(self.manifest_path, self.database_url)
        try:
            return record.exists
        finally:
            record.close()

    @staticmethod
    def is_knowledge_base(folder: str | Path) -> bool:
        """True for a folder holding a manifest or a ``ragkit.toml``."""
        p = Path(folder)
        return p.is_dir() and ((p / MANIFEST_FILE).exists() or (p / SETTINGS_FILE).exists())

    @classmethod
    def find(cls, root: str | Path) -> list[Path]:
        """The knowledge bases directly inside ``root``, sorted."""
        r = Path(root)
        if not r.is_dir():
            return []
        return sorted(p.resolve() for p in r.iterdir() if cls.is_knowledge_base(p))

    @classmethod
    def create(cls, root: str | Path, name: str) -> KnowledgeBase:
        """Make the knowledge base ``root/NAME`` (a safe folder name made of ``name``) with
        a commented ``ragkit.toml`` that marks it; an existing one is opened as it is."""
        if not name.strip():
            raise ValidationError("A knowledge base needs a name.")
        kb = cls(Path(root) / safe_filename(name.strip()))
        kb.path.mkdir(parents=True, exist_ok=True)
        if not kb.settings_path.exists():
            kb.settings_path.write_text(
                "# ragkit settings for this knowledge base (docs/configuration.md)\n",
                encoding="utf-8")
        return kb

    # -- settings ------------------------------------------------------------------------
    def load_settings(self, *, files: Sequence[str | Path] = (), **overrides: Any) -> Settings:
        """Settings of this knowledge base; see :meth:`ragkit.Settings.load`."""
        return Settings.load(self.path, files=files, **overrides)

    def save_settings(self, **changes: Any) -> Settings:
        """Write ``changes`` to ``ragkit.toml`` atomically and return the settings anew."""
        self.path.mkdir(parents=True, exist_ok=True)
        return save_settings(self.path, **changes)

    # -- the writer's side ---------------------------------------------------------------
    @contextmanager
    def writing(self) -> Iterator[ManifestStore]:
        """Hold the writer lock (LockedError if another process holds it: ``flock`` on
        ``ingest.lock``, or PostgreSQL's advisory lock) and the open manifest."""
        self.path.mkdir(parents=True, exist_ok=True)
        lock = (pg_writer_lock(self.database_url) if self.database_url
                else writer_lock(self.lock_path))
        with lock, self.manifest() as manifest:
            yield manifest

    @contextmanager
    def manifest(self) -> Iterator[ManifestStore]:
        """The manifest, opened (and created) for the duration of the block."""
        manifest = open_manifest(self.manifest_path, self.database_url)
        try:
            yield manifest
        finally:
            manifest.close()

    @contextmanager
    def embedding_cache(self) -> Iterator[EmbeddingCache]:
        """The embedding cache (:mod:`ragkit.storage.embedding_cache`), opened for the block;
        only the holder of the writer lock writes it."""
        cache = EmbeddingCache(self.path / CACHE_FILE)
        try:
            yield cache
        finally:
            cache.close()

    def documents(self) -> list[DocumentInfo]:
        """The ingested documents (committed state), by source path."""
        if not self.is_ingested():
            return []
        with self.manifest() as manifest:
            return [DocumentInfo(r.source, len(r.chunk_ids), r.size, r.hash)
                    for r in manifest.records()]

    def save_upload(self, settings: Settings, name: str, data: bytes) -> Path:
        """Save an upload into :meth:`documents_dir` under a safe name; see
        :mod:`ragkit.uploads`."""
        return save_upload(self.documents_dir(settings), name, data,
                           allowed=settings.upload_types, max_mb=settings.upload_max_mb)
