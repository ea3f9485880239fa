"""The composition root's parts: each stage object built from settings on first use.

A component's dependencies are not listed by hand: while a component is built, every
settings field its builder reads and every other component it asks for is recorded. When
the settings change, exactly the components that read a changed field are dropped, and
with them those built from a dropped one; they are rebuilt on next use. Fields read *after*
building (a retriever reading ``passages`` per call) are read from the current settings,
so they need no rebuild.

>>> c = Components(KnowledgeBase("/tmp/kb"), Settings())
>>> c.get("templates") is c.get("templates")
True
>>> c.reads("templates")
['prompt_dir']
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any, cast

from ragkit._models import resolve_model
from ragkit.cache import CACHE_FILE, ResponseCache, model_identity
from ragkit.errors import ConfigError, RagkitError
from ragkit.history import ChatStore
from ragkit.kb import KnowledgeBase
from ragkit.ports import LLM, CompletesJSON, CountsMessages, Embedder, Reranker, VectorStore
from ragkit.prompt import ExampleSelector, Templates, load_examples
from ragkit.retrieval.keyword import KeywordIndex
from ragkit.retrieval.retriever import Retriever
from ragkit.settings import Settings
from ragkit.storage import RecordReader, open_record


class _Build:
    """What a builder sees: the knowledge base, the settings and the other components;
    reads are recorded while the build runs, then pass through to the current settings."""

    def __init__(self, owner: Components, name: str) -> None:
        self._owner, self._name = owner, name
        self.kb: KnowledgeBase = owner.kb
        self.settings = cast(Settings, _SettingsView(owner, name))

    def get(self, name: str) -> Any:
        self._owner._needs[self._name].add(name)
        return self._owner.get(name)

    def lazy(self, name: str) -> Callable[[], Any]:
        """The component ``name`` fetched at call time (no build dependency)."""
        return lambda: self._owner.get(name)


class _SettingsView:
    def __init__(self, owner: Components, name: str) -> None:
        self._owner, self._name = owner, name

    def __getattr__(self, field: str) -> Any:
        owner = self._owner
        if owner._building == self._name:
            owner._reads[self._name].add(field)
        return getattr(owner.settings, field)


def _embedder(b: _Build) -> Embedder:
    from ragkit.backends.sentence_transformers import SentenceTransformerEmbedder

    s = b.settings
    return SentenceTransformerEmbedder(s.embedding_model, device=s.embedding_device,
                                       batch_size=s.embedding_batch_size,
                                       dtype=s.embedding_dtype)


def _store(b: _Build) -> VectorStore:
    from ragkit.backends.chroma import ChromaStore

    s, e = b.settings, b.get("embedder")
    return ChromaStore(None if s.chroma_url else b.kb.chroma_path, url=s.chroma_url,
                       collection=s.collection, embedder_name=e.name, dimension=e.dimension,
                       dtype=getattr(e, "dtype", "float32"))


def _llm(b: _Build) -> LLM:
    s = b.settings
    if s.llm_backend == "openai":
        from ragkit.backends.openai_compat import OpenAICompatibleLLM

        return OpenAICompatibleLLM(s.openai_base_url, model=s.openai_model,
                                   api_key=s.openai_api_key, n_ctx=s.n_ctx,
                                   timeout=s.openai_timeout)
    from ragkit.backends.llama_cpp import LlamaCppLLM

    return LlamaCppLLM(s.llm_model, n_ctx=s.n_ctx, n_threads=s.n_threads,
                       n_gpu_layers=s.n_gpu_layers, seed=s.seed)


def _reranker(b: _Build) -> Reranker | None:
    s = b.settings
    if not s.reranker:
        return None
    from ragkit.backends.cross_encoder import CrossEncoderReranker

    return CrossEncoderReranker(s.reranker, device=s.embedding_device)


def _retriever(b: _Build) -> Retriever:
    return Retriever(b.settings, b.get("keyword"), embedder=b.lazy("embedder"),
                     store=b.lazy("store"), reranker=b.lazy("reranker"))


def _templates(b: _Build) -> Templates:
    folder = b.settings.prompt_dir
    return Templates(b.kb.resolve(folder) if folder else None)


def _examples(b: _Build) -> ExampleSelector | None:
    s = b.settings
    if not s.few_shot_file:
        return None
    # the selector keeps the examples' vectors: built from the embedder, rebuilt with it
    embed = b.get("embedder").embed_documents if s.few_shot_k else None
    return ExampleSelector(load_examples(b.kb.resolve(s.few_shot_file)), s.few_shot_k,
                           embed=embed)


def _cache(b: _Build) -> ResponseCache:
    s = b.settings
    return ResponseCache(b.kb.path / CACHE_FILE, max_entries=s.cache_max_entries,
                         similarity=s.cache_similarity)


def _keyword(b: _Build) -> KeywordIndex:
    return KeywordIndex(b.kb.manifest_path, database_url=b.settings.database_url)


def _kb_state(b: _Build) -> RecordReader:
    """The keyword record, for its version (the response cache's stamp)."""
    return open_record(b.kb.manifest_path, b.settings.database_url)


def _model_key(b: _Build) -> str:
    """What identifies the model for the cache: its file (path, size, time) or its name."""
    name = b.get("llm").name
    try:
        return model_identity(resolve_model(name))
    except RagkitError:
        return str(name)


BUILDERS: dict[str, Callable[[_Build], Any]] = {
    "embedder": _embedder,
    "store": _store,
    "llm": _llm,
    "reranker": _reranker,
    "keyword": _keyword,
    "retriever": _retriever,
    "templates": _templates,
    "examples": _examples,
    "history": lambda b: ChatStore(b.kb.chat_path),
    "cache": _cache,
    "kb_state": _kb_state,
    "model_key": _model_key,
}


class Components:
    """The stage objects of one knowledge base, built on first use, thread-safe.

    ``given`` components (an embedder, store, llm or reranker passed to ``RAG``) are used
    as they are and never rebuilt.
    """

    def __init__(self, kb: KnowledgeBase, settings: Settings,
                 given: Mapping[str, Any] | None = None) -> None:
        self.kb = kb
        self.settings = settings
        self._given = {k: v for k, v in (given or {}).items() if v is not None}
        for name, value in self._given.items():
            if name not in BUILDERS:
                raise ConfigError(f"Unknown component {name!r}; use one of {sorted(BUILDERS)}.")
            _check_capabilities(name, value, settings)
        self._built: dict[str, Any] = {}
        self._reads: dict[str, set[str]] = {}
        self._needs: dict[str, set[str]] = {}
        self._building: str | None = None
        self._lock = threading.RLock()

    def get(self, name: str) -> Any:
        """The component ``name`` (see :data:`BUILDERS`), built on first use."""
        if name in self._given:
            return self._given[name]
        built = self._built
        if name in built:
            return built[name]
        with self._lock:
            if name not in built:
                self._reads[name], self._needs[name] = set(), set()
                outer, self._building = self._building, name
                try:
                    value = BUILDERS[name](_Build(self, name))
                    _check_capabilities(name, value, self.settings)
                    built[name] = value
                finally:
                    self._building = outer
            return built[name]

    def is_built(self, name: str) -> bool:
        return name in self._given or name in self._built

    def reads(self, name: str) -> list[str]:
        """The settings fields component ``name`` was built from (empty before it is)."""
        return sorted(self._reads.get(name, ()))

    def update(self, settings: Settings) -> list[str]:
        """Use ``settings`` from now on; drop the components built from a changed field (and
        those built from a dropped one). Returns the dropped names, sorted."""
        with self._lock:
            old, self.settings = self.settings, settings
            changed = {f for f in type(settings).model_fields
                       if getattr(old, f) != getattr(settings, f)}
            dropped = {n for n in self._built if self._reads[n] & changed}
            grew = True
            while grew:
                more = {n for n in self._built if self._needs[n] & dropped} - dropped
                dropped |= more
                grew = bool(more)
            for name in dropped:
                del self._built[name]
            for name in ("llm",):  # what is kept must still offer what the settings need
                if name in self._given or name in self._built:
                    _check_capabilities(name, self.get(name), settings)
            return sorted(dropped)


def _check_capabilities(name: str, value: Any, settings: Settings) -> None:
    """What a built component must offer for the settings in force, checked once."""
    if name == "llm" and settings.tools and not isinstance(value, CompletesJSON):
        raise ConfigError(f"The LLM {value.name!r} cannot make constrained tool calls (no "
                          "complete_json, see ragkit.ports.CompletesJSON); set tools = [].")


def count_messages(llm: LLM) -> Callable[[list[dict[str, str]]], int] | None:
    """The LLM's exact prompt counter, if it offers one (:class:`CountsMessages`)."""
    return llm.count_messages if isinstance(llm, CountsMessages) else None
