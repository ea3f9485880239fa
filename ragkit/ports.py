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
class LLM(Protocol):
    """Generates text from chat messages, streaming."""

    name: str
    n_ctx: int

    def stream(self, messages: list[dict[str, str]], **params: Any) -> Iterator[str]:
        """Yield the answer in pieces. ``params``: the fields of
        :class:`ragkit.generation.GenerationOptions` (max_tokens, temperature, top_p, top_k,
        repeat_penalty, presence_penalty, frequency_penalty, seed, stop).

        Optional extras a backend may offer, used when present: ``complete_json(messages,
        schema, **params) -> str`` (a reply constrained to a JSON Schema, for tool calls)
        and ``count_messages(messages) -> int`` (exact prompt size, role markers included).
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
