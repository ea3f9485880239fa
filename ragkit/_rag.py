"""The façade: one object that opens a knowledge base and offers ingest, retrieve, ask."""

from __future__ import annotations

import contextlib
import dataclasses
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from ragkit._lock import writer_lock
from ragkit._types import Answer, Document, DocumentInfo, Hit
from ragkit.citations import resolve_citations
from ragkit.condense import condense_question
from ragkit.errors import ConfigError, NotFoundError, ValidationError
from ragkit.generation import GenerationOptions
from ragkit.history import CHAT_FILE, ChatStore, Session, check_session_id
from ragkit.ingestion.manifest import Manifest
from ragkit.ingestion.pipeline import IngestReport, Progress, ingest_documents, run_ingest
from ragkit.ports import LLM, Embedder, Reranker, VectorStore
from ragkit.prompt import (
    Example,
    ExampleSelector,
    Prompt,
    Templates,
    Turn,
    build_prompt,
    load_examples,
)
from ragkit.retrieval.keyword import KeywordIndex
from ragkit.retrieval.keyword import refresh as refresh_keyword
from ragkit.retrieval.retriever import Retriever, describe
from ragkit.safety import injection_flags
from ragkit.settings import Settings, save_settings
from ragkit.tool_calls import run_tool_calls
from ragkit.tools import ToolRegistry, ToolResult, calculator_tool, search_kb_tool
from ragkit.uploads import save_upload

_MAX_QUESTION_CHARS = 4000
MANIFEST_FILE = "manifest.sqlite3"


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 1)


def _check_question(question: str) -> str:
    q = question.strip() if isinstance(question, str) else ""
    if not q:
        raise ValidationError("The question is empty; ask something about your documents.")
    if len(q) > _MAX_QUESTION_CHARS:
        raise ValidationError(
            f"The question is {len(q)} characters long; keep it under {_MAX_QUESTION_CHARS}."
        )
    return q


class AnswerStream:
    """Iterate for the answer's text pieces; then :attr:`answer` holds the full Answer.

    >>> stream = rag.stream("Where do llamas live?")  # doctest: +SKIP
    >>> text = "".join(stream)  # doctest: +SKIP
    >>> stream.answer.citations[0].source  # doctest: +SKIP
    """

    def __init__(
        self, pieces: Iterator[str], finish: Callable[[str], Answer], prompt: Prompt | None = None
    ) -> None:
        #: the prompt being answered (built before the first piece)
        self.prompt = prompt
        self._pieces = pieces
        self._finish = finish
        self._text: list[str] = []
        self._answer: Answer | None = None

    def __iter__(self) -> Iterator[str]:
        for piece in self._pieces:
            self._text.append(piece)
            yield piece
        if self._answer is None:
            self._answer = self._finish("".join(self._text))

    @property
    def answer(self) -> Answer:
        """The final Answer; reading it first consumes whatever is left of the stream."""
        if self._answer is None:
            for _ in self:
                pass
        assert self._answer is not None
        return self._answer


class RAG:
    """A knowledge base: a folder holding the Chroma store, the manifest and ``ragkit.toml``.

    >>> from ragkit import RAG
    >>> rag = RAG("kb")  # doctest: +SKIP
    >>> rag.ingest("docs/samples")  # doctest: +SKIP
    >>> print(rag.ask("How heavy is an adult llama?").text)  # doctest: +SKIP

    Models load on first use: ingesting never loads the LLM. Arguments after ``kb`` are
    keyword-only; ``embedder``, ``store`` and ``llm`` replace the defaults (any object
    following the port protocols in :mod:`ragkit.ports`); other keywords override settings.
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
        **overrides: Any,
    ) -> None:
        self.kb = Path(kb).expanduser().resolve()
        self.kb.mkdir(parents=True, exist_ok=True)
        if settings is not None and overrides:
            raise ConfigError(f"Give either settings or keyword overrides, not both "
                              f"(got {', '.join(sorted(overrides))}); use "
                              "Settings.load(kb, key=value).")
        self.settings = settings or Settings.load(self.kb, **overrides)
        self._embedder = embedder
        self._store = store
        self._llm = llm
        self._reranker = reranker
        self._retriever: Retriever | None = None
        self._templates: Templates | None = None
        self._examples: ExampleSelector | None = None
        self._history: ChatStore | None = None
        self._chat_template = chat_template
        #: tools the model may call (those named in the ``tools`` setting); register more
        #: with ``rag.tools.register(Tool(...))``
        self.tools = tool_registry if tool_registry is not None else ToolRegistry(
            [calculator_tool(), search_kb_tool(self._search_tool)])

    # -- components, created on first use ----------------------------------------------------
    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            from ragkit.backends.sentence_transformers import SentenceTransformerEmbedder

            s = self.settings
            self._embedder = SentenceTransformerEmbedder(
                s.embedding_model, device=s.embedding_device, batch_size=s.embedding_batch_size
            )
        return self._embedder

    @property
    def store(self) -> VectorStore:
        if self._store is None:
            from ragkit.backends.chroma import ChromaStore

            e = self.embedder
            self._store = ChromaStore(
                None if self.settings.chroma_url else self.kb / "chroma",
                url=self.settings.chroma_url,
                collection=self.settings.collection,
                embedder_name=e.name,
                dimension=e.dimension,
            )
        return self._store

    @property
    def llm(self) -> LLM:
        if self._llm is None:
            s = self.settings
            if s.llm_backend == "openai":
                from ragkit.backends.openai_compat import OpenAICompatibleLLM

                self._llm = OpenAICompatibleLLM(
                    s.openai_base_url, model=s.openai_model, api_key=s.openai_api_key,
                    n_ctx=s.n_ctx, timeout=s.openai_timeout,
                )
            else:
                from ragkit.backends.llama_cpp import LlamaCppLLM

                self._llm = LlamaCppLLM(
                    s.llm_model, n_ctx=s.n_ctx, n_threads=s.n_threads,
                    n_gpu_layers=s.n_gpu_layers, seed=s.seed,
                )
        return self._llm

    # -- ingest ------------------------------------------------------------------------------
    def ingest(
        self,
        *paths: str | Path,
        progress: Callable[[Progress], None] | None = None,
        dry_run: bool = False,
    ) -> IngestReport:
        """Ingest files and folders; see :func:`ragkit.ingestion.pipeline.run_ingest`.

        Raises LockedError if another process is ingesting into this knowledge base
        (a dry run takes no lock: it writes nothing).
        """
        if not paths:
            raise ValidationError("Give at least one file or folder to ingest.")
        with contextlib.nullcontext() if dry_run else writer_lock(self.kb / "ingest.lock"):
            manifest = Manifest(self.kb / MANIFEST_FILE)
            try:
                return run_ingest(paths, settings=self.settings, embedder=self.embedder,
                                  store=self.store, manifest=manifest, progress=progress,
                                  dry_run=dry_run)
            finally:
                manifest.close()

    def add_documents(self, documents: Iterable[Document]) -> IngestReport:
        """Add documents that are not files (``Document.from_text(source, text, title)``);
        a document whose ``source`` is already there is replaced if its text changed.

        >>> doc = Document.from_text("faq-1", "Returns take 30 days.", title="FAQ")
        >>> rag.add_documents([doc])  # doctest: +SKIP
        """
        with writer_lock(self.kb / "ingest.lock"):
            manifest = Manifest(self.kb / MANIFEST_FILE)
            try:
                return ingest_documents(documents, settings=self.settings,
                                        embedder=self.embedder, store=self.store,
                                        manifest=manifest)
            finally:
                manifest.close()

    def count(self) -> int:
        """Number of chunks in the knowledge base."""
        return self.store.count()

    def documents(self) -> list[DocumentInfo]:
        """The ingested documents with their chunk counts, by source path (committed state:
        an ingest running in another process shows up when it commits)."""
        path = self.kb / MANIFEST_FILE
        if not path.exists():
            return []
        manifest = Manifest(path)
        try:
            return [DocumentInfo(r.source, len(r.chunk_ids), r.size, r.hash)
                    for r in manifest.records()]
        finally:
            manifest.close()

    def delete_document(self, source: str) -> int:
        """Remove a document's chunks from the store and the keyword index, and its manifest
        row; if the file was uploaded (it lies in the document folder), delete the file too.
        Returns the number of chunks removed. Takes the writer lock (LockedError while an
        ingest runs)."""
        with writer_lock(self.kb / "ingest.lock"):
            manifest = Manifest(self.kb / MANIFEST_FILE)
            try:
                record = manifest.get(source)
                if record is None:
                    raise NotFoundError(f"{source} is not in the knowledge base {self.kb}.")
                self.store.delete(list(record.chunk_ids))
                manifest.delete(source)
            finally:
                manifest.close()
            refresh_keyword(self.kb / MANIFEST_FILE)
        uploaded = Path(source)
        if uploaded.parent == self.documents_dir and uploaded.is_file():
            uploaded.unlink()
        return len(record.chunk_ids)

    @property
    def documents_dir(self) -> Path:
        """Where uploads are saved (setting ``documents_dir``, relative to the kb)."""
        return self._kb_path(self.settings.documents_dir).resolve()

    def save_upload(self, name: str, data: bytes) -> Path:
        """Save an uploaded file into :attr:`documents_dir` under a safe name (type and size
        limits from settings ``upload_types`` and ``upload_max_mb``); ingest it with
        :meth:`ingest`. See :mod:`ragkit.uploads`."""
        return save_upload(self.documents_dir, name, data, allowed=self.settings.upload_types,
                           max_mb=self.settings.upload_max_mb)

    def update_settings(self, **changes: Any) -> Settings:
        """Save ``changes`` to this knowledge base's ``ragkit.toml`` and use them from now on
        (the LLM is reloaded only if one of its settings changed)."""
        old = self.settings
        self.settings = save_settings(self.kb, **changes)
        llm_fields = ("llm_model", "n_ctx", "n_threads", "n_gpu_layers", "llm_backend",
                      "openai_base_url", "openai_api_key", "openai_model", "openai_timeout")
        if any(getattr(old, f) != getattr(self.settings, f) for f in llm_fields):
            self._llm = None
        self._retriever = self._templates = self._examples = None
        return self.settings

    # -- retrieve ----------------------------------------------------------------------------
    @property
    def reranker(self) -> Reranker | None:
        """The configured reranker (setting ``reranker``), loaded on first use; or None."""
        if self._reranker is None and self.settings.reranker:
            from ragkit.backends.cross_encoder import CrossEncoderReranker

            self._reranker = CrossEncoderReranker(self.settings.reranker,
                                                  device=self.settings.embedding_device)
        return self._reranker

    @property
    def retriever(self) -> Retriever:
        if self._retriever is None:
            self._retriever = Retriever(
                self.settings, KeywordIndex(self.kb / MANIFEST_FILE),
                embedder=lambda: self.embedder, store=lambda: self.store,
                reranker=lambda: self.reranker,
            )
        return self._retriever

    def retrieve(
        self,
        question: str,
        *,
        k: int | None = None,
        mode: str | None = None,
        filters: Iterable[str] | Mapping[str, str] | None = None,
        mmr: bool | None = None,
    ) -> list[Hit]:
        """The ``k`` (default ``top_k``) best chunks for ``question``, best first.

        ``mode``: 'dense', 'bm25' or 'hybrid' (default: the ``retrieval_mode`` setting).
        ``filters``: ``{"source": "*.pdf", "page": "2"}`` or ``["filetype=pdf"]``; see
        :mod:`ragkit.retrieval.filters`. ``mmr``: re-order for diversity (default: setting).
        """
        q = _check_question(question)
        hits = self.retriever.retrieve(q, k=k, mode=mode, filters=filters, mmr=mmr)
        return [dataclasses.replace(h, flags=injection_flags(h.chunk.text)) for h in hits]

    def _search_tool(self, query: str, k: int) -> list[dict[str, Any]]:
        return [describe(h) for h in self.retrieve(query, k=k)]

    # -- prompt parts ------------------------------------------------------------------------
    @property
    def templates(self) -> Templates:
        if self._templates is None:
            folder = self.settings.prompt_dir
            self._templates = Templates(self._kb_path(folder) if folder else None)
        return self._templates

    def _kb_path(self, value: str) -> Path:
        path = Path(value).expanduser()
        return path if path.is_absolute() else self.kb / path

    @property
    def examples(self) -> ExampleSelector | None:
        """The few-shot examples of setting ``few_shot_file``, or None."""
        if self._examples is None and self.settings.few_shot_file:
            examples = load_examples(self._kb_path(self.settings.few_shot_file))
            self._examples = ExampleSelector(
                examples, self.settings.few_shot_k,
                embed=lambda texts: self.embedder.embed_documents(texts),
            )
        return self._examples

    def _select_examples(self, question: str) -> list[Example]:
        selector = self.examples
        if selector is None:
            return []
        vector = self.embedder.embed_query(question) if selector.k else None
        return selector.select(question, vector)

    @property
    def history(self) -> ChatStore:
        """Chat sessions and the ask log (``chat.sqlite3`` in the knowledge base)."""
        if self._history is None:
            self._history = ChatStore(self.kb / CHAT_FILE)
        return self._history

    def feedback(self, answer_id: str, rating: int, comment: str = "") -> None:
        """Store 👍 (1) or 👎 (-1) and an optional comment with a logged answer."""
        self.history.feedback(answer_id, rating, comment)

    # -- ask ---------------------------------------------------------------------------------
    def stream(
        self,
        question: str,
        *,
        k: int | None = None,
        mode: str | None = None,
        filters: Iterable[str] | Mapping[str, str] | None = None,
        tool_results: Sequence[ToolResult | Mapping[str, Any]] | None = None,
        generation: Mapping[str, Any] | None = None,
        use_tools: bool | None = None,
        few_shot: bool | None = None,
        chat_template: Any = None,
    ) -> AnswerStream:
        """Answer ``question`` from the knowledge base, streaming; see :class:`AnswerStream`.

        ``tool_results``: results the caller already has (``ToolResult`` or
        ``{"name", "output"}``); ``generation``: per-call sampling options
        (:class:`~ragkit.generation.GenerationOptions` fields); ``use_tools`` /
        ``few_shot``: turn the tool step / few-shot examples off (or on, when configured);
        ``chat_template``: a LangChain ``ChatPromptTemplate`` for this call.
        """
        q = _check_question(question)
        return self._answer(q, q, k=k, mode=mode, filters=filters, tool_results=tool_results,
                            generation=generation, use_tools=use_tools, few_shot=few_shot,
                            chat_template=chat_template)

    def ask(self, question: str, **options: Any) -> Answer:
        """Answer ``question`` from the knowledge base, with citations; the options are
        those of :meth:`stream`."""
        return self.stream(question, **options).answer

    def _answer(
        self,
        question: str,
        standalone: str,
        *,
        k: int | None,
        mode: str | None,
        filters: Iterable[str] | Mapping[str, str] | None,
        tool_results: Sequence[ToolResult | Mapping[str, Any]] | None,
        generation: Mapping[str, Any] | None,
        use_tools: bool | None,
        few_shot: bool | None,
        chat_template: Any,
        history: Sequence[Turn] = (),
        session_id: str | None = None,
        prompt_question: str | None = None,
        timings: dict[str, float] | None = None,
        started: float | None = None,
    ) -> AnswerStream:
        s = self.settings
        options = GenerationOptions.from_settings(s, generation)
        given = [ToolResult.coerce(r) for r in tool_results or ()]
        if (mode or s.retrieval_mode) != "bm25":
            _ = self.store  # load the embedding model and the store before the clock starts
        llm = self.llm  # load outside the timings
        if options.max_tokens >= llm.n_ctx:
            raise ValidationError(f"max_tokens ({options.max_tokens}) must be smaller than the "
                                  f"model's context window ({llm.n_ctx}).")
        timings = timings if timings is not None else {}
        started = started if started is not None else time.perf_counter()
        t = time.perf_counter()
        hits = self.retrieve(standalone, k=k, mode=mode, filters=filters)
        asked = prompt_question or standalone  # the question the prompt puts to the model
        timings["retrieve_ms"] = _ms(t)
        called: list[ToolResult] = []
        if (use_tools if use_tools is not None else True) and s.tools:
            t = time.perf_counter()
            called = run_tool_calls(llm, self.tools, s.tools, asked,
                                    templates=self.templates, max_calls=s.max_tool_calls,
                                    options=options, given=given)
            timings["tools_ms"] = _ms(t)
        t = time.perf_counter()
        examples = self._select_examples(asked) if few_shot is not False else []
        prompt = build_prompt(
            asked, hits, count=llm.count_tokens, budget=llm.n_ctx - options.max_tokens,
            templates=self.templates, examples=examples, few_shot_mode=s.few_shot_mode,
            few_shot_share=s.few_shot_share, history=history, history_turns=s.history_turns,
            history_share=s.history_share, tool_results=[*given, *called],
            tool_result_tokens=s.tool_result_tokens,
            count_messages=getattr(llm, "count_messages", None),
            chat_template=chat_template if chat_template is not None else self._chat_template,
        )
        timings["prompt_ms"] = _ms(t)
        timings["prompt_tokens"] = prompt.tokens
        gen_start = time.perf_counter()
        params = options.to_dict()

        def pieces() -> Iterator[str]:
            first = True
            for piece in llm.stream(prompt.messages, **params):
                if first:
                    timings["first_token_ms"] = _ms(started)
                    first = False
                yield piece

        def finish(text: str) -> Answer:
            timings["generate_ms"] = _ms(gen_start)
            timings["total_ms"] = _ms(started)
            text = re.sub(r"[ \t]+\n", "\n", text).strip()
            citations, invalid = resolve_citations(text, prompt.passages)
            flagged = [{"kind": "passage", "n": p.n, "chunk_id": p.hit.chunk.id,
                        "source": p.hit.chunk.source, "flags": list(p.hit.flags)}
                       for p in prompt.passages if p.hit.flags]
            flagged += [{"kind": "tool_result", "name": r.name, "flags": list(r.flags)}
                        for r in prompt.tool_results if r.flags]
            answer = Answer(question, text, citations, hits, timings, invalid, prompt.dropped,
                            prompt=prompt, flagged=flagged, tool_calls=called,
                            standalone_question=standalone if session_id else None,
                            session_id=session_id)
            if s.log_asks:
                answer.id = self.history.log_ask(answer)
            if session_id is not None:
                self.history.add_turn(session_id, answer)
            return answer

        return AnswerStream(pieces(), finish, prompt)

    # -- chat --------------------------------------------------------------------------------
    def condense(self, history: Sequence[Turn], question: str) -> str:
        """The search query for a chat follow-up; see :meth:`condense_question`."""
        return self.condense_question(history, question)[0]

    def condense_question(self, history: Sequence[Turn], question: str) -> tuple[str, bool]:
        """(search query, rewritten?) for a chat follow-up after ``history``; the rules are in
        :mod:`ragkit.condense`."""
        q = _check_question(question)
        turns = list(history)[-max(1, self.settings.history_turns):]
        return condense_question(self.llm, self.templates,
                                 GenerationOptions.from_settings(self.settings), turns, q)

    def chat_stream(self, session_id: str, message: str, **options: Any) -> AnswerStream:
        """Like :meth:`chat`, streaming."""
        check_session_id(session_id)
        q = _check_question(message)
        started = time.perf_counter()
        history = self.history.turns(session_id)
        timings: dict[str, float] = {}
        standalone, rewritten = q, False
        if history:
            _ = self.llm
            t = time.perf_counter()
            standalone, rewritten = self.condense_question(history, q)
            timings["condense_ms"] = _ms(t)
        else:
            self.history.ensure_session(session_id, q)
        return self._answer(q, standalone, history=history, session_id=session_id,
                            prompt_question=standalone if rewritten else q,
                            timings=timings, started=started if history else None,
                            k=options.pop("k", None), mode=options.pop("mode", None),
                            filters=options.pop("filters", None),
                            tool_results=options.pop("tool_results", None),
                            generation=options.pop("generation", None),
                            use_tools=options.pop("use_tools", None),
                            few_shot=options.pop("few_shot", None),
                            chat_template=options.pop("chat_template", None),
                            **_no_more(options))

    def chat(self, session_id: str, message: str, **options: Any) -> Answer:
        """Answer ``message`` in chat session ``session_id`` (created on first use, kept in
        ``chat.sqlite3``). A follow-up is condensed into a standalone question before
        retrieval; earlier turns enter the prompt within the history budget. Options as in
        :meth:`stream`."""
        return self.chat_stream(session_id, message, **options).answer

    def sessions(self) -> list[Session]:
        """The chat sessions of this knowledge base, most recent first."""
        return self.history.sessions()

    # -- interop -----------------------------------------------------------------------------
    def as_langchain_retriever(self, **options: Any) -> Any:
        """A ``langchain_core`` retriever over this knowledge base (needs ``langchain-core``;
        ``pip install 'ragkit[langchain]'``). ``options``: ``k``, ``mode``, ``filters``."""
        from ragkit.integrations.langchain import RagkitRetriever

        return RagkitRetriever(rag=self, **options)


def _no_more(options: Mapping[str, Any]) -> dict[str, Any]:
    if options:
        raise TypeError(f"Unknown option(s): {', '.join(sorted(options))}")
    return {}
