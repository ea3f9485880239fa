"""The façade: one object that opens a knowledge base and offers ingest, retrieve, ask, chat.

``RAG`` is the composition root and nothing more: it builds the stage objects
(:class:`~ragkit.kb.KnowledgeBase`, :class:`~ragkit._components.Components`,
:class:`~ragkit.answer.AnswerPipeline`, :class:`~ragkit.chat.Chat`) and each public method
is a few lines over them. docs/architecture.md draws the layers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Unpack

from ragkit._components import Components
from ragkit._offline import apply_offline_defaults
from ragkit._types import Answer, Document, DocumentInfo, Hit, Retrieval
from ragkit.answer import AnswerPipeline, AnswerRequest, AnswerStream, check_question
from ragkit.chat import Chat
from ragkit.errors import ConfigError, NotFoundError, ValidationError
from ragkit.history import Session
from ragkit.ingestion.pipeline import IngestReport, Progress, ingest_documents, run_ingest
from ragkit.kb import KnowledgeBase
from ragkit.options import AskKwargs, AskOptions
from ragkit.ports import LLM, Embedder, Reranker, VectorStore
from ragkit.prompt import Turn
from ragkit.retrieval.keyword import refresh as refresh_keyword
from ragkit.settings import Settings
from ragkit.tools import ToolRegistry, calculator_tool, search_kb_tool


class RAG:
    """A knowledge base: a folder holding the Chroma store, the manifest and ``ragkit.toml``.

    >>> from ragkit import RAG
    >>> rag = RAG("kb")  # doctest: +SKIP
    >>> rag.ingest("docs/samples")  # doctest: +SKIP
    >>> print(rag.ask("How heavy is an adult llama?").text)  # doctest: +SKIP

    Models load on first use: ingesting never loads the LLM. Arguments after ``kb`` are
    keyword-only; ``embedder``, ``store``, ``llm`` and ``reranker`` replace the defaults (any
    object following the port protocols in :mod:`ragkit.ports`); ``settings_files`` are read
    before ``KB/ragkit.toml`` (the apps pass ``["ragkit.toml"]``); other keywords override
    settings. Unless the setting ``offline_env`` is false, creating a RAG sets the offline
    and no-telemetry variables that are not set yet (:mod:`ragkit._offline`).
    """

    def __init__(
        self,
        kb: str | Path,
        *,
        settings: Settings | None = None,
        embedder: Embedder | None = None,
        store: VectorStore | None = None,
        llm: LLM | None = None,
        reranker: Reranker | None = None,
        tool_registry: ToolRegistry | None = None,
        chat_template: Any = None,
        settings_files: Sequence[str | Path] = (),
        **overrides: Any,
    ) -> None:
        self.knowledge_base = KnowledgeBase(kb)
        self.knowledge_base.path.mkdir(parents=True, exist_ok=True)
        if settings is not None and overrides:
            raise ConfigError(f"Give either settings or keyword overrides, not both "
                              f"(got {', '.join(sorted(overrides))}); use "
                              "Settings.load(kb, key=value).")
        #: how the settings are made again after update_settings: the same files, the same
        #: keyword overrides (arguments win over files), or the given object with changes
        self._given_settings = settings
        self._settings_files, self._overrides = tuple(settings_files), overrides
        settings = settings or self.knowledge_base.load_settings(files=settings_files,
                                                                 **overrides)
        self.knowledge_base.database_url = settings.database_url
        if settings.offline_env:
            apply_offline_defaults()
        self._components = Components(self.knowledge_base, settings, {
            "embedder": embedder, "store": store, "llm": llm, "reranker": reranker})
        #: tools the model may call (those named in the ``tools`` setting); register more
        #: with ``rag.tools.register(Tool(...))``
        self.tools = tool_registry if tool_registry is not None else ToolRegistry(
            [calculator_tool(), search_kb_tool(self._search_tool)])
        self._pipeline = AnswerPipeline(self._components, self.tools, chat_template)
        self._chat = Chat(self._pipeline)

    def __repr__(self) -> str:
        return f"RAG({str(self.kb)!r})"

    # -- what it is made of ------------------------------------------------------------------
    @property
    def kb(self) -> Path:
        """The knowledge-base folder."""
        return self.knowledge_base.path

    @property
    def settings(self) -> Settings:
        """The settings in force (change them with :meth:`update_settings`)."""
        return self._components.settings

    @property
    def embedder(self) -> Embedder:
        return self._components.get("embedder")  # type: ignore[no-any-return]

    @property
    def store(self) -> VectorStore:
        return self._components.get("store")  # type: ignore[no-any-return]

    @property
    def llm(self) -> LLM:
        return self._components.get("llm")  # type: ignore[no-any-return]

    @property
    def reranker(self) -> Reranker | None:
        """The configured reranker (setting ``reranker``), loaded on first use; or None."""
        return self._components.get("reranker")  # type: ignore[no-any-return]

    def update_settings(self, **changes: Any) -> Settings:
        """Save ``changes`` to this knowledge base's ``ragkit.toml`` and use them from now on:
        the components built from a changed setting are rebuilt on next use, the others
        kept (see :mod:`ragkit._components`). Settings files and keyword overrides given to
        ``RAG`` keep their precedence; a ``settings`` object given to ``RAG`` is updated."""
        kb = self.knowledge_base
        saved = kb.save_settings(**changes)  # validates, then writes atomically
        if self._given_settings is not None:
            fields = {k: v for k, v in saved.model_dump().items() if k in changes}
            self._given_settings = Settings.model_validate(
                self._given_settings.model_dump() | fields)
            new = self._given_settings
        else:
            new = kb.load_settings(files=self._settings_files, **self._overrides)
        kb.database_url = new.database_url
        self._components.update(new)
        return self.settings

    # -- ingest ------------------------------------------------------------------------------
    def ingest(self, *paths: str | Path, progress: Callable[[Progress], None] | None = None,
               dry_run: bool = False) -> IngestReport:
        """Ingest files and folders; see :func:`ragkit.ingestion.pipeline.run_ingest`.

        Raises LockedError if another process is ingesting into this knowledge base
        (a dry run takes no lock: it writes nothing).
        """
        if not paths:
            raise ValidationError("Give at least one file or folder to ingest.")
        kb = self.knowledge_base
        if dry_run:
            with kb.manifest() as manifest:
                return run_ingest(paths, settings=self.settings, embedder=self.embedder,
                                  store=self.store, manifest=manifest, progress=progress,
                                  dry_run=True)
        with kb.writing() as manifest, kb.embedding_cache() as cache:
            return run_ingest(paths, settings=self.settings, embedder=self.embedder,
                              store=self.store, manifest=manifest, progress=progress,
                              refresh=self._refresh, cache=cache)

    def add_documents(self, documents: Iterable[Document]) -> IngestReport:
        """Add documents that are not files (``Document.from_text(source, text, title)``);
        a document whose ``source`` is already there is replaced if its text changed.

        >>> doc = Document.from_text("faq-1", "Returns take 30 days.", title="FAQ")
        >>> rag.add_documents([doc])  # doctest: +SKIP
        """
        kb = self.knowledge_base
        with kb.writing() as manifest, kb.embedding_cache() as cache:
            return ingest_documents(documents, settings=self.settings, embedder=self.embedder,
                                    store=self.store, manifest=manifest,
                                    refresh=self._refresh, cache=cache)

    def _refresh(self, manifest_path: Path) -> None:
        """Rebuild the BM25 scorer from the record the manifest at this path belongs to."""
        refresh_keyword(manifest_path, database_url=self.knowledge_base.database_url)

    def count(self) -> int:
        """Number of chunks in the knowledge base."""
        return self.store.count()

    def documents(self) -> list[DocumentInfo]:
        """The ingested documents with their chunk counts, by source path (committed state:
        an ingest running in another process shows up when it commits)."""
        return self.knowledge_base.documents()

    def delete_document(self, source: str) -> int:
        """Remove a document's chunks from the store and the keyword index, and its manifest
        row; if the file was uploaded (it lies in the document folder), delete the file too.
        Returns the number of chunks removed. Takes the writer lock (LockedError while an
        ingest runs)."""
        with self.knowledge_base.writing() as manifest:
            record = manifest.get(source)
            if record is None:
                raise NotFoundError(f"{source} is not in the knowledge base {self.kb}.")
            manifest.delete(source)  # first: readers stop seeing it; a crash leaves orphans
            self.store.delete(list(record.chunk_ids))
        self._refresh(self.knowledge_base.manifest_path)
        uploaded = Path(source)
        if uploaded.parent == self.documents_dir and uploaded.is_file():
            uploaded.unlink()
        return len(record.chunk_ids)

    @property
    def documents_dir(self) -> Path:
        """Where uploads are saved (setting ``documents_dir``, relative to the kb)."""
        return self.knowledge_base.documents_dir(self.settings)

    def save_upload(self, name: str, data: bytes) -> Path:
        """Save an uploaded file into :attr:`documents_dir` under a safe name (type and size
        limits from settings ``upload_types`` and ``upload_max_mb``); ingest it with
        :meth:`ingest`. See :mod:`ragkit.uploads`."""
        return self.knowledge_base.save_upload(self.settings, name, data)

    # -- retrieve ----------------------------------------------------------------------------
    def search(self, question: str, *, k: int | None = None, mode: str | None = None,
               filters: Iterable[str] | Mapping[str, str] | None = None,
               mmr: bool | None = None) -> Retrieval:
        """Like :meth:`retrieve`, with the mode used and this call's stage timings."""
        options = AskOptions(k=k, mode=mode, filters=filters, mmr=mmr)
        hits, timings = self._pipeline.retrieve(check_question(question), options)
        return Retrieval(hits, mode or self.settings.retrieval_mode, timings)

    def retrieve(self, question: str, *, k: int | None = None, mode: str | None = None,
                 filters: Iterable[str] | Mapping[str, str] | None = None,
                 mmr: bool | None = None) -> list[Hit]:
        """The ``k`` (default: setting ``passages``) best chunks for ``question``, best first.

        ``mode``: 'dense', 'bm25' or 'hybrid' (default: the ``retrieval_mode`` setting).
        ``filters``: ``{"source": "*.pdf", "page": "2"}`` or ``["filetype=pdf"]``; see
        :mod:`ragkit.retrieval.filters`. ``mmr``: re-order for diversity (default: setting).
        """
        return self.search(question, k=k, mode=mode, filters=filters, mmr=mmr).hits

    def _search_tool(self, query: str, k: int) -> list[dict[str, Any]]:
        return [h.to_dict() for h in self.retrieve(query, k=k)]

    # -- ask ---------------------------------------------------------------------------------
    def stream(self, question: str, options: AskOptions | None = None,
               **kwargs: Unpack[AskKwargs]) -> AnswerStream:
        """Answer ``question`` from the knowledge base, streaming; see :class:`AnswerStream`.
        ``options`` and/or keywords: the fields of :class:`~ragkit.AskOptions`."""
        request = AnswerRequest(check_question(question), AskOptions.of(options, kwargs))
        return self._pipeline.run(request)

    def ask(self, question: str, options: AskOptions | None = None,
            **kwargs: Unpack[AskKwargs]) -> Answer:
        """Answer ``question`` from the knowledge base, with citations; options as in
        :meth:`stream`."""
        return self.stream(question, options, **kwargs).answer

    # -- chat --------------------------------------------------------------------------------
    def chat_stream(self, session_id: str, message: str, options: AskOptions | None = None,
                    **kwargs: Unpack[AskKwargs]) -> AnswerStream:
        """Like :meth:`chat`, streaming."""
        return self._chat.stream(session_id, message, AskOptions.of(options, kwargs))

    def chat_stream_turns(self, history: Sequence[Turn], message: str,
                          options: AskOptions | None = None,
                          **kwargs: Unpack[AskKwargs]) -> AnswerStream:
        """Like :meth:`chat_stream` with the earlier turns given instead of read from a
        session (an app that keeps its own history: ``ragkit serve`` takes it from the
        request's messages); nothing is saved. ``Answer.standalone_question`` is the
        condensed search query of a follow-up."""
        return self._chat.stream_turns(history, message, AskOptions.of(options, kwargs))

    def chat(self, session_id: str, message: str, options: AskOptions | None = None,
             **kwargs: Unpack[AskKwargs]) -> Answer:
        """Answer ``message`` in chat session ``session_id`` (created on first use, kept in
        ``chat.sqlite3``). A follow-up is condensed into a standalone question before
        retrieval; earlier turns enter the prompt within the history budget. Options as in
        :meth:`stream`."""
        return self.chat_stream(session_id, message, options, **kwargs).answer

    def condense(self, history: Sequence[Turn], question: str) -> str:
        """The search query for a chat follow-up; see :meth:`condense_question`."""
        return self._chat.condense(history, question)[0]

    def condense_question(self, history: Sequence[Turn], question: str) -> tuple[str, bool]:
        """(search query, rewritten?) for a chat follow-up after ``history``; the rules are in
        :mod:`ragkit.condense`."""
        return self._chat.condense(history, question)

    def sessions(self) -> list[Session]:
        """The chat sessions of this knowledge base, most recent first."""
        return self._chat.store.sessions()

    def messages(self, session_id: str) -> list[dict[str, Any]]:
        """The session's turns, oldest first: question, standalone, answer, ask_id, created,
        and ``ask``: the logged ask of the turn (citations, flags, timings, feedback) or
        None."""
        store = self._chat.store
        turns = store.messages(session_id)
        asks = {a["id"]: a for a in store.asks(ids=[t["ask_id"] for t in turns
                                                    if t["ask_id"]])}
        return [t | {"ask": asks.get(t["ask_id"] or "")} for t in turns]

    def asks(self, limit: int = 100) -> list[dict[str, Any]]:
        """The latest logged asks, newest first (setting ``log_asks``)."""
        return self._chat.store.asks(limit)

    def feedback(self, answer_id: str, rating: int, comment: str = "") -> None:
        """Store 👍 (1) or 👎 (-1) and an optional comment with a logged answer."""
        self._chat.store.feedback(answer_id, rating, comment)

    # -- interop -----------------------------------------------------------------------------
    def as_langchain_retriever(self, **options: Any) -> Any:
        """A ``langchain_core`` retriever over this knowledge base (needs ``langchain-core``;
        ``pip install 'ragkit[langchain]'``). ``options``: ``k``, ``mode``, ``filters``."""
        from ragkit.integrations.langchain import RagkitRetriever

        return RagkitRetriever(rag=self, **options)
