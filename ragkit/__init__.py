"""ragkit: chat with your own documents, privately, on your own machine.

>>> from ragkit import RAG
>>> rag = RAG("kb")                       # doctest: +SKIP
>>> rag.ingest("docs/samples")            # doctest: +SKIP
>>> rag.ask("Where do llamas live?")      # doctest: +SKIP

Importing ragkit changes nothing in the process: the offline and no-telemetry defaults are
applied when a :class:`RAG` is created (see :func:`apply_offline_defaults`).
Everything an app may use is in ``__all__``; other modules are internal.
"""

from ragkit._offline import OFFLINE_ENV, apply_offline_defaults
from ragkit._rag import RAG
from ragkit._types import (
    Answer,
    Block,
    Chunk,
    Citation,
    Document,
    DocumentInfo,
    Hit,
    Retrieval,
)
from ragkit.answer import AnswerStream
from ragkit.doctor import Check, Diagnosis, check_knowledge_base
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
from ragkit.evaluation import evaluate_answers, evaluate_retrieval, generate_eval_set
from ragkit.generation import GenerationOptions
from ragkit.history import Session, new_session_id
from ragkit.ingestion.pipeline import IngestReport, Progress
from ragkit.kb import KnowledgeBase
from ragkit.options import AskOptions
from ragkit.output import safe_markdown, terminal_safe
from ragkit.ports import (
    LLM,
    CompletesJSON,
    CountsMessages,
    Embedder,
    Reranker,
    TokenizerFile,
    VectorStore,
)
from ragkit.prompt import Turn
from ragkit.retrieval.retriever import MODES as RETRIEVAL_MODES
from ragkit.settings import Settings
from ragkit.tools import Tool, ToolResult

__version__ = "0.1.0"

__all__ = [  # noqa: RUF022 - plain sorted, as tests/test_api.py checks
    "Answer",
    "AnswerStream",
    "AskOptions",
    "BackendError",
    "Block",
    "Check",
    "Chunk",
    "Citation",
    "CompletesJSON",
    "ConfigError",
    "CountsMessages",
    "Diagnosis",
    "DimensionMismatchError",
    "Document",
    "DocumentInfo",
    "Embedder",
    "GenerationOptions",
    "Hit",
    "IngestReport",
    "KnowledgeBase",
    "LLM",
    "LockedError",
    "NotFoundError",
    "OFFLINE_ENV",
    "ParseError",
    "Progress",
    "RAG",
    "RETRIEVAL_MODES",
    "RagkitError",
    "Reranker",
    "Retrieval",
    "Session",
    "Settings",
    "TokenizerFile",
    "Tool",
    "ToolResult",
    "Turn",
    "ValidationError",
    "VectorStore",
    "__version__",
    "apply_offline_defaults",
    "check_knowledge_base",
    "evaluate_answers",
    "evaluate_retrieval",
    "generate_eval_set",
    "new_session_id",
    "safe_markdown",
    "terminal_safe",
]
