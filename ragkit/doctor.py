"""Check a knowledge base and say what to do (``ragkit doctor``); repair what can be repaired.

Each :class:`Check` has a stable name, a status (``ok``, ``warn`` or ``problem``), a message
and the fix. ``repair=True`` runs the crash repair of every ingest (then rebuilds the BM25
scorer), migrates an older manifest and removes stale temporary files. The LLM is never
loaded (its file is checked by the GGUF magic bytes); the embedding model is, for its
dimension and dtype (another dtype than the stored vectors' is a warning). See docs/doctor.md.
"""

from __future__ import annotations

import fcntl
import ipaddress
import os
import shutil
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlparse

from ragkit._components import Components
from ragkit._models import resolve_model
from ragkit._offline import OFFLINE_ENV, apply_offline_defaults
from ragkit.errors import LockedError, RagkitError
from ragkit.ingestion.pipeline import repair as repair_store
from ragkit.ingestion.spill import FILE_NAME as SPILL_FILE
from ragkit.kb import KnowledgeBase
from ragkit.ports import Embedder, VectorStore
from ragkit.retrieval.keyword import refresh as refresh_keyword
from ragkit.settings import Settings, mask_url
from ragkit.storage import read_state
from ragkit.storage.pg import pg_lock_holder

Status = Literal["ok", "warn", "problem"]
STATUSES: tuple[Status, ...] = ("ok", "warn", "problem")
#: a temporary file or folder untouched this long is a leftover, not one being written
STALE_AFTER = 60.0
_REPAIR = "Run doctor --repair (the crash repair every ingest starts with)."


@dataclass(frozen=True)
class Check:
    """One finding: ``status`` is ``ok``, ``warn`` or ``problem``; ``fix`` says what to do;
    ``repaired`` is True when ``repair=True`` fixed it."""

    name: str
    status: Status
    message: str
    fix: str = ""
    repaired: bool = False

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {self.status!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)  # name, status, message, fix, repaired


@dataclass(frozen=True)
class Diagnosis:
    """The checks of one knowledge base; ``healthy`` when no problem is left unrepaired.
    ``to_dict()`` is the ``--json`` contract: ``{"kb", "healthy", "checks": [Check...]}``."""

    kb: Path
    checks: list[Check] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        return all(c.status != "problem" or c.repaired for c in self.checks)

    def check(self, name: str) -> Check:
        """The check called ``name``; KeyError if it was not run."""
        return {c.name: c for c in self.checks}[name]

    def to_dict(self) -> dict[str, Any]:
        return {"kb": str(self.kb), "healthy": self.healthy,
                "checks": [c.to_dict() for c in self.checks]}


@dataclass
class _Ctx:
    kb: KnowledgeBase
    settings: Settings
    repair: bool
    embedder: Embedder | None
    running: bool = False  #: another process holds the writer lock
    client: Any = None  #: the Chroma client, once opened
    recorded: tuple[str | None, int | None, str] = (None, None, "float32")  #: model, dim, dtype


def check_knowledge_base(kb: str | Path, *, repair: bool = False,
                         settings: Settings | None = None,
                         settings_files: Sequence[str | Path] = (),
                         embedder: Embedder | None = None) -> Diagnosis:
    """Check the knowledge base ``kb``; with ``repair``, fix what can be fixed.

    It is checked against ``settings`` (default: its own, after ``settings_files``) and
    ``embedder`` (default: built from them, as by :class:`ragkit.RAG`, after the offline
    defaults unless ``offline_env`` is off). Creates nothing: a missing folder is a problem.

    >>> check_knowledge_base("/no/such/folder").check("knowledge_base").status
    'problem'
    """
    base = KnowledgeBase(kb)
    why = ("does not exist" if not base.path.is_dir() else "" if KnowledgeBase.is_knowledge_base(
        base.path) else "is not a knowledge base (no manifest.sqlite3, no ragkit.toml)")
    if why:
        return Diagnosis(base.path, [Check("knowledge_base", "problem", f"{base.path} {why}",
                                           f"Check --kb, or ingest into it: ragkit-ingest "
                                           f"DOCS --kb {base.path}")])
    checks = [Check("knowledge_base", "ok", f"{base.path} is a knowledge base")]
    try:
        s = settings if settings is not None else base.load_settings(files=settings_files)
    except RagkitError as exc:
        fix = f"Correct {base.settings_path} (docs/configuration.md) or the RAGKIT_* variable."
        return Diagnosis(base.path, [*checks, Check("settings", "problem", str(exc), fix)])
    checks.append(Check("settings", "ok", "the settings are valid"))
    base.database_url = s.database_url
    ctx = _Ctx(base, s, repair, embedder)
    lock = _lock(base)
    ctx.running = lock.status != "ok"
    leftovers = _leftovers(ctx)  # first: rebuilding the BM25 scorer sweeps stale ones too
    checks += [lock, *_store_checks(ctx), _embedding_files(s), _embedding_model(ctx),
               _llm_model(s), _telemetry(ctx), _network(s), leftovers]
    return Diagnosis(base.path, checks)


def _lock(kb: KnowledgeBase) -> Check:
    if kb.database_url:
        try:
            held = pg_lock_holder(kb.database_url)
        except RagkitError as exc:
            return Check("ingest_lock", "problem", str(exc), "Start the database server or "
                         "check database_url.")
        return Check("ingest_lock", "ok", "no ingest is running") if held is None else Check(
            "ingest_lock", "warn", f"the database's writer lock is {held}: an ingest or "
            "delete is running, so the store may be ahead of the manifest",
            "Wait for it to finish and run doctor again (nothing is repaired now).")
    try:
        fd = os.open(kb.lock_path, os.O_RDONLY)
    except FileNotFoundError:
        return Check("ingest_lock", "ok", "no ingest is running")
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)  # released by close, at once
        return Check("ingest_lock", "ok", "no ingest is running")
    except BlockingIOError:
        return Check("ingest_lock", "warn", f"a process holds {kb.lock_path.name}: an ingest "
                     "or delete is running, so the store may be ahead of the manifest",
                     "Wait for it to finish and run doctor again (nothing is repaired now).")
    finally:
        os.close(fd)


# -- manifest, store and keyword record ---------------------------------------------------------
def _store_checks(ctx: _Ctx) -> list[Check]:
    kb = ctx.kb
    if not kb.is_ingested():
        return [Check("schema", "warn", "nothing ingested yet (no manifest.sqlite3)",
                      f"Ingest documents: ragkit-ingest DOCS --kb {kb.path}")]
    where = mask_url(kb.database_url) if kb.database_url else kb.manifest_path
    try:
        version, current = read_state(kb.manifest_path, kb.database_url)[:2]
    except (sqlite3.DatabaseError, RagkitError) as exc:
        return [Check("schema", "problem", f"{where} cannot be read: {exc}",
                      "Restore it from a backup, or re-ingest into a new folder.")]
    if version > current:
        return [Check("schema", "problem", f"manifest schema version {version} is newer than "
                      f"this ragkit understands ({current})", "Upgrade ragkit.")]
    check = Check("schema", "ok", f"manifest schema version {version} (current)")
    if version < current:
        check = Check("schema", "warn", f"manifest schema version {version} is older than "
                      f"{current}; ragkit migrates it when it writes",
                      "Nothing to do; --repair migrates it now.")
        if ctx.repair and not ctx.running:
            with kb.manifest():  # opening for writing migrates
                check = replace(check, message=f"{check.message}. Migrated.", repaired=True)
    store_check, store = _open_store(ctx)
    return [check, store_check, *([] if store is None else _consistency(ctx, store))]


def _open_store(ctx: _Ctx) -> tuple[Check, VectorStore | None]:
    """The store, opened with the model it records (or None); creates nothing."""
    s, fix = ctx.settings, f"Re-ingest your documents: ragkit-ingest DOCS --kb {ctx.kb.path}"
    if not s.chroma_url and not ctx.kb.chroma_path.is_dir():
        return Check("store", "problem", f"{ctx.kb.chroma_path} is missing", fix), None
    try:
        meta = _collection_meta(ctx)
    except Exception as exc:  # noqa: BLE001 - a server down, a damaged folder: all reported
        return Check("store", "problem", f"the Chroma store cannot be opened: {exc}", "Start the"
                     " Chroma server or check chroma_url." if s.chroma_url else fix), None
    name, dim = (meta or {}).get("embedding_model"), (meta or {}).get("dimension")
    if not isinstance(name, str) or not isinstance(dim, int):
        why = "is missing" if meta is None else "records no embedding model (not ragkit's)"
        return Check("store", "problem", f"collection {s.collection!r} {why}", fix), None
    from ragkit.backends.chroma import ChromaStore

    ctx.recorded = (name, dim, str((meta or {}).get("embedding_dtype", "float32")))  # or older
    store = ChromaStore(None if s.chroma_url else ctx.kb.chroma_path, url=s.chroma_url, dtype=
                        ctx.recorded[2], collection=s.collection, embedder_name=name, dimension=dim)
    return Check("store", "ok", f"collection {s.collection!r}: {store.count()} chunks of "
                 f"{name!r} ({dim}-dim, {ctx.recorded[2]})"), store


def _collection_meta(ctx: _Ctx) -> dict[str, Any] | None:
    """The collection's metadata (None: no collection). ChromaStore would create a missing
    collection and refuses another model's, so this reads it, with ChromaStore's client
    settings: chromadb keeps one client per path (refusing other settings), the store's."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    s = ctx.settings
    chroma = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    if s.chroma_url:
        u = urlparse(s.chroma_url)
        ctx.client = chromadb.HttpClient(host=u.hostname or "127.0.0.1", port=u.port or 8000,
                                         ssl=u.scheme == "https", settings=chroma)
    else:
        ctx.client = chromadb.PersistentClient(path=str(ctx.kb.chroma_path), settings=chroma)
    try:
        return dict(ctx.client.get_collection(s.collection).metadata or {})
    except chromadb.errors.NotFoundError:
        return None


def _compare(kb: KnowledgeBase, store: VectorStore) -> list[Check]:
    """The manifest rows' chunk ids against the store's and the keyword record's."""
    _, _, rows, keyword = read_state(kb.manifest_path, kb.database_url)
    stored, claimed = store.ids(), {c for r in rows for c in r.chunk_ids}
    orphans, extra, absent = stored - claimed, keyword - claimed, claimed - keyword
    missing = [r.source for r in rows if not set(r.chunk_ids) <= stored]
    more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
    return [
        Check("orphans", "problem", f"chunks in the store that no manifest row claims: "
              f"{len(orphans)}", _REPAIR) if orphans else
        Check("orphans", "ok", f"every stored chunk ({len(stored)}) has a manifest row"),
        Check("missing_chunks", "problem", f"files with chunks missing from the store "
              f"({len(missing)}): {', '.join(missing[:3])}{more}", "Run doctor --repair (it "
              f"forgets them), then ingest them again: ragkit-ingest DOCS --kb {kb.path}")
        if missing else
        Check("missing_chunks", "ok", f"the chunks of all {len(rows)} files are stored"),
        Check("keyword_record", "problem", f"the keyword record differs from the manifest: "
              f"unclaimed chunks {len(extra)}, claimed chunks missing {len(absent)}",
              _REPAIR) if extra or absent else
        Check("keyword_record", "ok", f"the keyword record holds the {len(claimed)} chunks of "
              "the manifest"),
    ]


_REPAIRED = {"orphans": "Deleted them.",
             "missing_chunks": "Forgot those files; ingest them again to add them back.",
             "keyword_record": "Synced with the rows; the BM25 scorer was rebuilt."}


def _consistency(ctx: _Ctx, store: VectorStore) -> list[Check]:
    checks = _compare(ctx.kb, store)
    if ctx.running:  # an ingest writes the store before the manifest: not a problem yet
        return [replace(c, status="warn", fix="Run doctor again after the ingest.")
                if c.status != "ok" else c for c in checks]
    if not ctx.repair or all(c.status == "ok" for c in checks):
        return checks
    try:
        with ctx.kb.writing() as manifest:
            for _ in range(3):  # forgetting a row orphans its other chunks: go round again
                if not repair_store(store, manifest):
                    break
        refresh_keyword(ctx.kb.manifest_path, database_url=ctx.kb.database_url)
    except LockedError as exc:
        return [replace(c, message=f"{c.message}. Not repaired: {exc}") if c.status != "ok"
                else c for c in checks]
    after = {c.name: c.status for c in _compare(ctx.kb, store)}
    return [replace(c, repaired=after[c.name] == "ok", message=f"{c.message}. "
                    f"{_REPAIRED[c.name]}") if c.status != "ok" else c for c in checks]


# -- models -------------------------------------------------------------------------------------
def _unreadable(path: Path, magic: bytes = b"") -> str:
    """Why the file ``path`` is unusable (a folder, empty, unreadable, no ``magic``) or ""."""
    try:
        if path.is_dir() or path.stat().st_size == 0:
            return "a folder" if path.is_dir() else "empty"
        with path.open("rb") as f:
            head = f.read(max(len(magic), 1))
    except OSError as exc:
        return exc.strerror or str(exc)
    return "" if head.startswith(magic) else f"does not start with {magic!r} (found {head!r})"


def _embedding_files(s: Settings) -> Check:
    fix = "Set embedding_model to a sentence-transformers folder, or reinstall the bundled one."
    try:
        path = Path(resolve_model(s.embedding_model))
    except RagkitError as exc:
        return Check("embedding_files", "problem", str(exc), fix)
    if not path.exists():
        return Check("embedding_files", "ok", f"{str(path)!r} is a model name: read from the "
                     "local Hugging Face cache when loaded")
    found = [p for p in path.rglob("*") if p.is_file()] if path.is_dir() else []
    bad = [f"{p.relative_to(path)}: {why}" for p in found if (why := _unreadable(p))]
    if not any(p.suffix in (".safetensors", ".bin") for p in found):
        bad.insert(0, "no weights file (.safetensors, .bin): not a model folder")
    if bad:
        return Check("embedding_files", "problem", f"{path}: {'; '.join(bad[:3])}", fix)
    return Check("embedding_files", "ok", f"{len(found)} readable files in {path}")


def _embedding_model(ctx: _Ctx) -> Check:
    """The model the store records against the configured one (as ``RAG`` builds it)."""
    (had, dim, had_dtype), s = ctx.recorded, ctx.settings
    name = ctx.embedder.name if ctx.embedder is not None else s.embedding_model
    fix = f"Re-ingest into a new folder, or set embedding_model back to {had!r}."
    if had is not None and had != name:
        return Check("embedding_model", "problem", f"the store holds vectors of {had!r} but "
                     f"embedding_model is {name!r}", fix)
    if ctx.embedder is None:
        if s.offline_env:
            apply_offline_defaults()
        try:  # the embedder RAG builds from these settings
            ctx.embedder = Components(ctx.kb, s).get("embedder")
        except RagkitError as exc:
            return Check("embedding_model", "problem", f"{name!r} does not load: {exc}",
                         "Fix the model files or the embedding_model setting.")
    if dim is not None and dim != ctx.embedder.dimension:
        return Check("embedding_model", "problem", f"the store holds {dim}-dim vectors but "
                     f"{name!r} makes {ctx.embedder.dimension}-dim ones", fix)
    e, dtype = ctx.embedder, getattr(ctx.embedder, "dtype", "float32")
    runs = f"{name!r} ({e.dimension}-dim, {dtype}: {getattr(e, 'dtype_reason', 'given')})"
    if had and had_dtype != dtype:  # a note, not a problem: see ragkit/backends/chroma.py
        return Check("embedding_model", "warn", f"{runs}; the store holds {had_dtype} vectors",
                     f"Close enough to search; set embedding_dtype = {had_dtype!r} or re-ingest.")
    return Check("embedding_model", "ok", f"{runs} {'matches the store' if had else 'loads'}")


def _llm_model(s: Settings) -> Check:
    if s.llm_backend == "openai":
        u = urlparse(s.openai_base_url)
        if u.scheme not in ("http", "https") or not u.hostname:
            return Check("llm_model", "problem", f"openai_base_url {s.openai_base_url!r} is "
                         "not an http(s) URL", "Set openai_base_url to http://HOST:PORT/v1.")
        return Check("llm_model", "ok", f"OpenAI-compatible server at {s.openai_base_url} "
                     "(not contacted)")
    fix = "Set llm_model to a GGUF file, or to 'bundled:SmolLM2-135M-Instruct'."
    try:
        path = Path(resolve_model(s.llm_model))
    except RagkitError as exc:
        return Check("llm_model", "problem", str(exc), fix)
    if why := "not found" if not path.exists() else _unreadable(path, magic=b"GGUF"):
        return Check("llm_model", "problem", f"llm_model {s.llm_model!r} ({path}): {why}", fix)
    return Check("llm_model", "ok", f"{path} is a GGUF file ({path.stat().st_size} bytes)")


# -- offline ------------------------------------------------------------------------------------
def _same(value: str, default: str) -> bool:
    """``value`` means ``default`` ("0", "false", "off" and "no" mean the same)."""
    flags = {"1": 1, "true": 1, "yes": 1, "on": 1, "0": 0, "false": 0, "no": 0, "off": 0}
    v, d = value.strip().lower(), default.lower()
    return v == d or flags.get(v, -1) == flags.get(d, -2)


def _telemetry(ctx: _Ctx) -> Check:
    """The offline variables as ``apply_offline_defaults`` leaves them, and Chroma's client."""
    changed = [f"{k}={v}" for k, default in OFFLINE_ENV.items()
               if (v := os.environ.get(k)) is not None and not _same(v, default)]
    unset = [] if ctx.settings.offline_env else [k for k in OFFLINE_ENV if k not in os.environ]
    if ctx.client is not None and ctx.client.get_settings().anonymized_telemetry:
        return Check("telemetry", "problem", "the Chroma client sends telemetry",
                     "Report this: ragkit opens Chroma with anonymized_telemetry=False.")
    if changed or unset:
        return Check("telemetry", "warn", "; ".join(
            ([f"set otherwise (ragkit leaves them): {', '.join(changed)}"] if changed else [])
            + ([f"offline_env = false and unset: {', '.join(unset)}"] if unset else [])),
            "Unset them, or set offline_env = true, to keep downloads and telemetry off.")
    chroma = "off" if ctx.client is not None else "off when opened"
    return Check("telemetry", "ok", f"the {len(OFFLINE_ENV)} offline and no-telemetry variables "
                 f"are set (or set by ragkit as it starts); Chroma client telemetry {chroma}")


def _is_loopback(url: str) -> bool:
    host = urlparse(url).hostname or ""
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _network(s: Settings) -> Check:
    local = s.llm_backend == "llama_cpp"
    notes = []
    for key in ("embedding_model", "reranker", *(("llm_model",) if local else ())):
        try:
            if (spec := getattr(s, key)) and not Path(resolve_model(spec)).exists():
                notes.append(f"{key} {spec!r} is a name, not a local file")
        except RagkitError:
            pass  # reported by the model checks
    for key in ("chroma_url", "database_url", *(() if local else ("openai_base_url",))):
        if (url := getattr(s, key)) and not _is_loopback(url):
            notes.append(f"{key} {mask_url(url)!r} is another machine")
    if notes:
        return Check("network", "warn", "; ".join(notes), "Point models at local folders "
                     "and servers at 127.0.0.1, or accept that these need the network.")
    return Check("network", "ok", "models are local files, servers (if any) on this machine")


# -- leftovers ----------------------------------------------------------------------------------
def _stale(path: Path) -> bool:
    try:
        return time.time() - path.lstat().st_mtime > STALE_AFTER
    except OSError:  # gone since it was listed
        return False


def _leftovers(ctx: _Ctx) -> Check:
    kb, bm25 = ctx.kb.path, ctx.kb.path / "bm25"
    # scorer builds, settings saves, the keyword rows of a large file's pieces
    found = {*bm25.glob(".tmp-*"), *kb.glob("*.tmp"), *kb.glob(f"{SPILL_FILE}*")}
    stale = sorted(p for p in found if _stale(p))
    fresh = len(found) - len(stale)
    note = f" ({fresh} younger than {STALE_AFTER:g} s left alone: being written)" if fresh else ""
    if not stale:
        return Check("leftovers", "ok", f"no temporary files left behind{note}")
    names = [str(p.relative_to(kb)) if p.is_relative_to(kb) else str(p) for p in stale]
    check = Check("leftovers", "problem", f"temporary files left by an interrupted run "
                  f"({len(stale)}): {', '.join(names[:3])}{note}",
                  "Run doctor --repair to remove them.")
    if not ctx.repair:
        return check
    for p in stale:
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p, ignore_errors=True)
        else:
            p.unlink(missing_ok=True)
    return replace(check, message=f"{check.message}. Removed.",
                   repaired=not any(os.path.lexists(p) for p in stale))
