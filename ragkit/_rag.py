"""The façade: one object that opens a knowledge base and offers ingest, retrieve, ask."""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from ragkit._lock import writer_lock
from ragkit._types import Answer, Document, Hit
from ragkit.citations import resolve_citations
from ragkit.errors import ValidationError
from ragkit.ingestion.manifest import Manifest
from ragkit.ingestion.pipeline import IngestReport, Progress, ingest_documents, run_ingest
from ragkit.ports import LLM, Embedder, Reranker, VectorStore
from ragkit.prompt import build_prompt
from ragkit.retrieval.keyword import KeywordIndex
from ragkit.retrieval.retriever import Retriever
from ragkit.settings import Settings

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

    def __init__(self, pieces: Iterator[str], finish: Callable[[str], Answer]) -> None:
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
        **overrides: Any,
    ) -> None:
        self.kb = Path(kb).expanduser().resolve()
        self.kb.mkdir(parents=True, exist_ok=True)
        self.settings = settings or Settings.load(self.kb, **overrides)
        self._embedder = embedder
        self._store = store
        self._llm = llm
        self._reranker = reranker
        self._retriever: Retriever | None = None

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
            from ragkit.backends.llama_cpp import LlamaCppLLM

            s = self.settings
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
        return self.retriever.retrieve(q, k=k, mode=mode, filters=filters, mmr=mmr)

    # -- ask ---------------------------------------------------------------------------------
    def stream(
        self,
        question: str,
        *,
        k: int | None = None,
        mode: str | None = None,
        filters: Iterable[str] | Mapping[str, str] | None = None,
    ) -> AnswerStream:
        """Answer ``question`` from the knowledge base, streaming; see :class:`AnswerStream`."""
        q = _check_question(question)
        if (mode or self.settings.retrieval_mode) != "bm25":
            _ = self.store  # load the embedding model and the store before the clock starts
        started = time.perf_counter()
        hits = self.retrieve(q, k=k, mode=mode, filters=filters)
        timings = {"retrieve_ms": _ms(started)}
        s = self.settings
        llm = self.llm  # load outside the timings
        t = time.perf_counter()
        prompt = build_prompt(q, hits, count=llm.count_tokens, budget=llm.n_ctx - s.max_tokens)
        timings["prompt_ms"] = _ms(t)
        timings["prompt_tokens"] = prompt.tokens
        gen_start = time.perf_counter()

        def pieces() -> Iterator[str]:
            first = True
            for piece in llm.stream(prompt.messages, max_tokens=s.max_tokens,
                                         temperature=s.temperature, top_p=s.top_p, seed=s.seed):
                if first:
                    timings["first_token_ms"] = _ms(started)
                    first = False
                yield piece

        def finish(text: str) -> Answer:
            timings["generate_ms"] = _ms(gen_start)
            timings["total_ms"] = _ms(started)
            text = re.sub(r"[ \t]+\n", "\n", text).strip()
            citations, invalid = resolve_citations(text, prompt.passages)
            return Answer(q, text, citations, hits, timings, invalid, prompt.dropped)

        return AnswerStream(pieces(), finish)

    def ask(
        self,
        question: str,
        *,
        k: int | None = None,
        mode: str | None = None,
        filters: Iterable[str] | Mapping[str, str] | None = None,
    ) -> Answer:
        """Answer ``question`` from the knowledge base, with citations."""
        return self.stream(question, k=k, mode=mode, filters=filters).answer
