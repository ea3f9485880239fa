"""The ports: small protocols each stage talks to. Backends never subclass them.

Real defaults live in :mod:`ragkit.backends`: sentence-transformers, Chroma, llama.cpp.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, Protocol, runtime_checkable

from ragkit._types import Chunk, Hit


@runtime_checkable
class Embedder(Protocol):
    """Turns text into vectors."""

    name: str
    dimension: int
    max_tokens: int  #: longest input (in the model's tokens) embedded without truncation

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        """Return one normalised vector per text, in order."""
        ...

    def embed_query(self, text: str) -> list[float]:
        """Return the vector of a question (some models embed queries differently)."""
        ...

    def count_tokens(self, text: str) -> int:
        """Return the number of model tokens ``text`` takes, special tokens excluded."""
        ...


@runtime_checkable
class VectorStore(Protocol):
    """Keeps chunks and their vectors; finds the nearest ones."""

    def add(self, chunks: Sequence[Chunk], vectors: Sequence[Sequence[float]]) -> None:
        """Insert or replace (by id) ``chunks``. Raises BackendError."""
        ...

    def search(
        self, vector: Sequence[float], k: int, where: dict[str, Any] | None = None
    ) -> list[Hit]:
        """Return up to ``k`` hits, most similar first."""
        ...

    def delete(self, ids: Sequence[str]) -> None:
        """Remove chunks by id; unknown ids are ignored."""
        ...

    def count(self) -> int:
        """Return the number of chunks stored."""
        ...

    def ids(self) -> set[str]:
        """Return every chunk id stored (for consistency checks and crash repair)."""
        ...

    def get(self, ids: Sequence[str]) -> list[Chunk]:
        """Return the stored chunks with these ids (unknown ids are left out)."""
        ...

    def vectors(self, ids: Sequence[str]) -> dict[str, list[float]]:
        """Return the stored vectors of these chunks, by id (for MMR)."""
        ...


@runtime_checkable
class Reopens(Protocol):
    """A store whose view of other processes' writes can go stale (an embedded Chroma keeps
    its vector index in memory). The retriever calls :meth:`reopen` when another process
    changed the knowledge base."""

    def reopen(self) -> None:
        """Drop the in-memory view; the next call reads what is committed on disk."""
        ...


@runtime_checkable
class LLM(Protocol):
    """Generates text from chat messages, streaming."""

    name: str
    n_ctx: int

    def stream(self, messages: list[dict[str, str]], **params: Any) -> Iterator[str]:
        """Yield the answer in pieces. ``params``: :meth:`GenerationOptions.to_params`
        (max_tokens, temperature, top_p, top_k — the sampling top-k —, repeat_penalty,
        presence_penalty, frequency_penalty, seed, stop). Raises BackendError.

        Optional capabilities are separate protocols below (:class:`CountsMessages`,
        :class:`CompletesJSON`), checked once when the LLM is built.
        """
        ...

    def count_tokens(self, text: str) -> int:
        """Return the number of tokens ``text`` takes in this model."""
        ...


@runtime_checkable
class Reranker(Protocol):
    """Re-scores retrieved hits against the question (e.g. a cross-encoder)."""

    name: str

    def rerank(self, question: str, hits: Sequence[Hit]) -> list[Hit]:
        """Return ``hits`` best first, each with the reranker's score."""
        ...


# -- optional capabilities: small protocols a backend may also follow -----------------------
# Each is checked once, with isinstance, where the component is built (never getattr per
# call), so a backend that lacks one is known up front and the fallback is explicit.


@runtime_checkable
class TokenizerFile(Protocol):
    """An embedder whose tokenizer parser worker processes can load on their own (from a
    local ``tokenizer.json`` folder), so chunks are sized in parallel without the model.

    Without it, ingestion parses in the main process and says so in the report.
    """

    tokenizer_path: str


@runtime_checkable
class CountsMessages(Protocol):
    """An LLM that counts a whole chat prompt exactly, role markers and template included.

    Without it, prompt sizes are the sum of :meth:`LLM.count_tokens` over the messages plus
    a small allowance per message.
    """

    def count_messages(self, messages: list[dict[str, str]]) -> int:
        """Return the number of tokens the chat-templated ``messages`` take."""
        ...


@runtime_checkable
class CompletesJSON(Protocol):
    """An LLM that can constrain a reply to a JSON Schema (needed for the tool step).

    Without it, a ``tools`` setting that allows any tool is a ConfigError when the LLM is
    built.
    """

    def complete_json(self, messages: list[dict[str, str]], schema: dict[str, Any],
                      **params: Any) -> str:
        """Return a reply that parses as JSON valid against ``schema``. Raises BackendError."""
        ...
