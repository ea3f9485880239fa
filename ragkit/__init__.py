"""ragkit: chat with your own documents, privately, on your own machine.

>>> from ragkit import RAG
>>> rag = RAG("kb")                       # doctest: +SKIP
>>> rag.ingest("docs/samples")            # doctest: +SKIP
>>> rag.ask("Where do llamas live?")      # doctest: +SKIP
"""

from ragkit import _offline  # noqa: F401  (first: sets offline/telemetry defaults)
from ragkit._rag import RAG, AnswerStream
from ragkit._types import Answer, Block, Chunk, Citation, Document, DocumentInfo, Hit
from ragkit.errors import (
    BackendError,
    ConfigError,
    DimensionMismatchError,
    LockedError,
    NotFoundError,
    ParseError,
    RagkitError,
    ValidationError,
)
from ragkit.ingestion.pipeline import IngestReport, Progress
from ragkit.ports import LLM, Embedder, Reranker, VectorStore
from ragkit.settings import Settings

__version__ = "0.1.0"

__all__ = [
    "Answer",
    "AnswerStream",
    "BackendError",
    "Block",
    "Chunk",
    "Citation",
    "ConfigError",
    "DimensionMismatchError",
    "Document",
    "DocumentInfo",
    "Embedder",
    "Hit",
    "IngestReport",
    "LLM",
    "LockedError",
    "NotFoundError",
    "ParseError",
    "Progress",
    "RAG",
    "RagkitError",
    "Reranker",
    "Settings",
    "ValidationError",
    "VectorStore",
    "__version__",
]
