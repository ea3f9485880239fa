"""The fields of :class:`ragkit.settings.Settings`, grouped by area (one class each).

``Settings`` inherits them all; nothing else uses these classes. Field descriptions are
the documentation (``docs/configuration.md`` lists every field).
"""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, Field, field_validator

from ragkit._models import BUNDLED_EMBEDDING, BUNDLED_LLM


def mask_url(url: str | None) -> str | None:
    """``url`` with its password replaced by ``***``, for display.

    >>> mask_url("postgresql://ragkit:s3cret@db.example:5432/ragkit")
    'postgresql://ragkit:***@db.example:5432/ragkit'
    """
    if not url:
        return url
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


class ModelFields(BaseModel):
    """The embedding model and the LLM."""

    embedding_model: str = Field(
        BUNDLED_EMBEDDING,
        description="sentence-transformers model: 'bundled:all-MiniLM-L6-v2', a folder, or a "
        "model name already in the local Hugging Face cache (never downloaded).",
    )
    embedding_device: str = Field("cpu", description="torch device for the embedding model.")
    embedding_batch_size: int = Field(
        16, ge=1, le=4096,
        description="Texts per encode call (16: as fast as 64 here, with a lower peak).")
    embedding_dtype: Literal["auto", "float32", "bfloat16"] = Field("auto", description="Number "
        "type the embedding model runs in ('auto': docs/configuration.md#the-embedding-dtype).")
    llm_model: str = Field(
        BUNDLED_LLM,
        description="GGUF file for llama.cpp: 'bundled:SmolLM2-135M-Instruct' or a path.",
    )
    n_ctx: int = Field(2048, ge=256, description="llama.cpp context window, in tokens.")
    n_threads: int | None = Field(
        None, ge=1,
        description="llama.cpp generation threads (None: every CPU when there are at most 4, "
        "else half of them, as llama-cpp-python does; 128 tokens took 2.6 s on 1 thread and "
        "1.6 s on 2 on a 2-CPU machine).",
    )
    n_gpu_layers: int = Field(0, ge=-1, description="Layers offloaded to a GPU (-1: all).")
    llm_backend: Literal["llama_cpp", "openai"] = Field(
        "llama_cpp",
        description="'llama_cpp' (the GGUF in llm_model, in-process) or 'openai' (any "
        "OpenAI-compatible server at openai_base_url).",
    )
    openai_base_url: str = Field(
        "http://127.0.0.1:8000/v1",
        description="Base URL of the OpenAI-compatible server (llm_backend='openai').",
    )
    openai_api_key: str | None = Field(
        None, description="Bearer key for that server (RAGKIT_OPENAI_API_KEY); None: none sent."
    )
    openai_model: str = Field("local", description="Model name sent to that server.")
    openai_timeout: float = Field(120.0, gt=0, description="Seconds to wait for that server.")

    offline_env: bool = Field(
        True,
        description="When a RAG starts, set the offline and no-telemetry variables of "
        "ragkit._offline.OFFLINE_ENV that are not set yet (HF_HUB_OFFLINE, DO_NOT_TRACK, "
        "ANONYMIZED_TELEMETRY, ...). false: leave the process environment alone (models are "
        "still loaded with local_files_only and Chroma's telemetry is still off).",
    )

    @field_validator("openai_base_url")
    @classmethod
    def _base_url(cls, v: str) -> str:
        if not v.startswith(("http://", "https://")):
            raise ValueError(f"openai_base_url must start with http:// or https://, got {v!r}")
        return v.rstrip("/")


class AnswerFields(BaseModel):
    """Generation, the prompt, answer checks and the response cache."""

    # -- generation -----------------------------------------------------------------------
    max_tokens: int = Field(256, ge=1, description="Most tokens generated for one answer.")
    temperature: float = Field(0.0, ge=0.0, le=2.0, description="0 = greedy, deterministic.")
    top_p: float = Field(0.95, gt=0.0, le=1.0, description="Nucleus sampling mass.")
    sampling_top_k: int = Field(
        40, ge=0, description="Sample among the k likeliest tokens (0: all); per call "
        "`generation={'sampling_top_k': n}`, on the CLI `--sampling-top-k`.",
    )
    repeat_penalty: float = Field(
        1.1, ge=0.0, le=10.0,
        description="Penalty on repeated tokens (1: none). 1.1 cut the bundled model's loops "
        "(unique-word ratio of 6 sample answers 0.67 at 1.0, 0.83 at 1.1).",
    )
    presence_penalty: float = Field(0.0, ge=-2.0, le=2.0, description="OpenAI-style presence "
                                    "penalty.")
    frequency_penalty: float = Field(0.0, ge=-2.0, le=2.0, description="OpenAI-style frequency "
                                     "penalty.")
    seed: int = Field(0, description="Sampling seed, for reproducible answers.")
    stop: list[str] = Field(default_factory=list, description="Extra stop strings.")

    # -- prompt ---------------------------------------------------------------------------
    prompt_dir: str | None = Field(
        None,
        description="Folder of Jinja2 templates that replace the shipped ones by file name "
        "(system.j2, passages.j2, acknowledge.j2, condense.j2, fewshot.j2, tools.j2, "
        "tool_choice.j2); relative paths are read from the knowledge-base folder.",
    )
    few_shot_file: str | None = Field(
        None,
        description="Few-shot examples, YAML or JSONL ({question, answer} each); relative paths "
        "are read from the knowledge-base folder. None: no examples.",
    )
    few_shot_k: int = Field(
        0, ge=0, description="Use the k examples most similar to the question (0: all of them).",
    )
    few_shot_mode: Literal["system", "turns"] = Field(
        "system",
        description="'system': examples in the system prompt (a stable, cached prefix); "
        "'turns': alternating user/assistant turns.",
    )
    few_shot_share: float = Field(
        0.25, ge=0.0, le=1.0, description="Most of the prompt budget few-shot examples may take.",
    )
    history_share: float = Field(
        0.25, ge=0.0, le=1.0, description="Most of the prompt budget chat history may take.",
    )
    history_turns: int = Field(
        4, ge=0, description="Most earlier question/answer pairs of a chat kept in the prompt.",
    )
    tool_result_tokens: int = Field(
        256, ge=16, description="Longest tool result, in LLM tokens; longer ones are truncated.",
    )
    tools: list[str] = Field(
        default_factory=list,
        description="Allow-list of tools the model may call ('calculator', 'search_kb', or "
        "names registered on the RAG); empty: no tool step.",
    )
    max_tool_calls: int = Field(2, ge=0, le=8, description="Most tool calls for one question.")
    reasoning: Literal["none", "cot", "least_to_most"] = Field(
        "none",
        description="'cot': the model reasons step by step before answering; "
        "'least_to_most': it answers simpler sub-questions first; 'none': it answers at once. "
        "The reasoning is kept out of the answer (templates reasoning_*.j2; see "
        "docs/answer-quality.md for what each measured).",
    )
    best_of: int = Field(
        1, ge=1, le=8,
        description="Generate n candidate answers and keep the one whose sentences the "
        "passages support best (the others are in Answer.candidates); 1: one answer, streamed.",
    )
    best_of_temperature: float = Field(
        0.7, ge=0.0, le=2.0,
        description="Sampling temperature of best-of-n's extra candidates (the first one uses "
        "`temperature`).",
    )
    support_threshold: float = Field(
        0.72, ge=0.0, le=1.0,
        description="Least support score (overlap of content words, numbers and Han "
        "bigrams with a passage) for a sentence to count as supported: the best F1 on the "
        "tuning half of 144 labelled pairs (held-out precision 0.86, recall 0.86; "
        "docs/answer-quality.md).",
    )
    cache: Literal["off", "exact", "semantic"] = Field(
        "off",
        description="LLM response cache in KB/cache.sqlite3: 'exact' (same prompt), "
        "'semantic' (a similar question that retrieved the same passages) or 'off'. Entries "
        "of an older knowledge-base state are never served.",
    )
    cache_similarity: float = Field(
        0.95, ge=0.5, le=1.0,
        description="Least cosine similarity of two questions' embeddings for a semantic "
        "cache hit.",
    )
    cache_max_entries: int = Field(
        1000, ge=1, description="Most cached answers kept; the least recently used go first.",
    )
    injection_policy: Literal["flag", "drop", "quarantine"] = Field(
        "flag",
        description="What happens to a retrieved passage that looks like a prompt injection: "
        "'flag' (it reaches the prompt, marked, and the answer says so), 'drop' (it is left "
        "out silently, noted in Answer.dropped) or 'quarantine' (left out of the prompt and "
        "listed in Answer.flagged with quarantined=true for the user to review).",
    )
    log_asks: bool = Field(
        True, description="Log each ask (question, chunk ids, prompt hash, answer, timings) "
        "to chat.sqlite3 in the knowledge-base folder.",
    )


class IngestionFields(BaseModel):
    """What is ingested, and how."""

    include: list[str] = Field(
        default_factory=lambda: ["**/*"], description="Glob patterns of files to ingest."
    )
    exclude: list[str] = Field(
        default_factory=list, description="Glob patterns to skip (hidden files always are)."
    )
    chunk_size: int = Field(
        200,
        ge=16,
        description="Most embedding-model tokens in one chunk; capped at the model's "
        "max_seq_length so nothing is silently truncated.",
    )
    chunk_overlap: int = Field(
        32,
        ge=0,
        description="Tokens of whole sentences a chunk repeats from the previous chunk of the "
        "same section (0: none). Tables never overlap.",
    )
    workers: int | None = Field(
        None,
        ge=0,
        description="Parser processes beside the main one (None: one fewer than the CPUs, "
        "at least 1 and at most 4; "
        "0: parse in the main process). Small runs (under 8 files to parse) always parse "
        "in-process.",
    )
    ingest_batch: int = Field(
        512, ge=1, description="Chunks embedded and written to the store per batch."
    )
    languages: list[str] = Field(
        default_factory=lambda: ["eng", "zho"],
        description="Document languages (ISO 639-3) given to unstructured, which skips its "
        "slow per-element language detection when they are known.",
    )
    max_file_mb: float = Field(100.0, gt=0, description="Larger files are reported, not parsed.")
    parse_timeout_s: float = Field(
        120.0, ge=0, description="Seconds one file may take to parse; a file that takes "
        "longer is reported and its parser process stopped (0: no limit, and small runs "
        "parse in the main process).",
    )
    documents_dir: str = Field(
        "documents", description="Folder (relative to the knowledge base) that uploads are "
        "saved in and ingested from.",
    )
    upload_types: list[str] = Field(
        default_factory=lambda: [".pdf", ".docx", ".pptx", ".xlsx", ".csv", ".tsv", ".html",
                                 ".htm", ".md", ".markdown", ".txt", ".text", ".eml", ".rst",
                                 ".json"],
        description="File suffixes the chat UI accepts as uploads.",
    )
    upload_max_mb: float = Field(50.0, gt=0, description="Largest upload the chat UI accepts.")

    @field_validator("include")
    @classmethod
    def _non_empty(cls, v: list[str]) -> list[str]:
        if not v:
            raise ValueError("include needs at least one glob pattern, e.g. ['**/*']")
        return v


class StorageFields(BaseModel):
    """Where the knowledge base lives, and retrieval."""

    collection: str = Field("ragkit", min_length=3, max_length=63, description="Chroma name.")
    chroma_url: str | None = Field(
        None,
        description="A Chroma server (`chroma run --path DIR --port N`), e.g. "
        "'http://127.0.0.1:8000'; None: the embedded store in the knowledge-base folder.",
    )
    database_url: str = Field(
        "",
        description="A PostgreSQL database holding the manifest, the keyword record and the "
        "writer lock, shared by workers on several machines (with chroma_url), e.g. "
        "'postgresql://ragkit@db:5432/ragkit' (RAGKIT_DATABASE_URL; the password is masked "
        "wherever ragkit shows it); empty: manifest.sqlite3 in the knowledge-base folder "
        "(docs/scale-out.md).",
    )
    passages: int = Field(
        4, ge=1, le=100, description="Passages retrieved for a question (per call: `k`, "
        "`--k`). Formerly `top_k`, still read with a deprecation warning.",
    )
    retrieval_mode: Literal["dense", "bm25", "hybrid"] = Field(
        "hybrid",
        description="'dense' (embedding similarity), 'bm25' (keywords, English and Chinese) or "
        "'hybrid' (both, fused by Reciprocal Rank Fusion).",
    )
    rrf_k: int = Field(60, ge=1, description="The k of Reciprocal Rank Fusion: 1 / (k + rank).")
    dense_weight: float = Field(1.0, ge=0.0, description="Weight of the dense ranking in RRF.")
    bm25_weight: float = Field(1.0, ge=0.0, description="Weight of the BM25 ranking in RRF.")
    candidates: int = Field(
        50, ge=1, le=1000,
        description="Hits each retriever contributes before fusion, MMR and reranking.",
    )
    mmr: bool = Field(False, description="Re-order the final hits by MMR for diversity.")
    mmr_lambda: float = Field(
        0.5, ge=0.0, le=1.0, description="MMR trade-off: 1 = relevance only, 0 = diversity only."
    )
    reranker: str | None = Field(
        None,
        description="sentence-transformers CrossEncoder (folder or cached name) that re-scores "
        "the candidates; None: no reranking (no cross-encoder ships with ragkit).",
    )

    @field_validator("chroma_url")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        if v is not None and not v.startswith(("http://", "https://")):
            raise ValueError(f"chroma_url must start with http:// or https://, got {v!r}")
        return v

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, v: str) -> str:
        if v and not v.startswith(("postgresql://", "postgres://")):
            raise ValueError("database_url must start with postgresql:// (or be empty), got "
                             f"{mask_url(v)!r}")
        return v
