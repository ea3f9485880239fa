"""Request and response bodies of the HTTP API (pydantic; they make the OpenAPI document).

The chat request is OpenAI's, with unknown fields ignored (clients send many) and one
extension: ``ragkit``, the retrieval and answer options of :class:`ragkit.AskOptions`.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field

Mode = Literal["dense", "bm25", "hybrid"]
Filters = dict[str, str] | list[str]


class ContentPart(BaseModel):
    model_config = ConfigDict(extra="ignore")
    type: str
    text: str | None = None


class ChatMessage(BaseModel):
    """One message; ``content`` is text or a list of parts (only text parts are read)."""

    model_config = ConfigDict(extra="ignore")
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[ContentPart] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):
            return "".join(p.text or "" for p in self.content if p.type == "text")
        return self.content or ""


class RagkitOptions(BaseModel):
    """ragkit's own options of one answer (:class:`ragkit.AskOptions`); all optional, each
    defaults to the knowledge base's setting."""

    model_config = ConfigDict(extra="forbid")
    k: int | None = Field(None, ge=1, le=50, description="Passages to retrieve.")
    mode: Mode | None = Field(None, description="Retrieval mode.")
    filters: Filters | None = Field(
        None, description='{"source": "*.pdf"} or ["filetype=pdf"] (see docs/retrieval.md).')
    mmr: bool | None = None
    use_tools: bool | None = None
    few_shot: bool | None = None
    best_of: int | None = Field(None, ge=1, le=8)
    reasoning: Literal["none", "cot", "least_to_most"] | None = None
    use_cache: bool | None = None
    sampling_top_k: int | None = Field(None, ge=0)
    repeat_penalty: float | None = Field(None, ge=0.0, le=10.0)


class ChatCompletionRequest(BaseModel):
    """OpenAI's chat-completion request. ``model`` names the knowledge base (see
    ``GET /v1/models``); the last message is the question, earlier user/assistant pairs
    the chat history (a follow-up is condensed into a standalone question, as in
    ``rag.chat``); system messages are not used (ragkit's prompt templates are)."""

    model_config = ConfigDict(extra="ignore")
    model: str = Field(max_length=200)
    messages: list[ChatMessage] = Field(min_length=1, max_length=256)
    stream: bool = False
    max_tokens: int | None = Field(None, ge=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    temperature: float | None = Field(None, ge=0.0, le=2.0)
    top_p: float | None = Field(None, gt=0.0, le=1.0)
    seed: int | None = None
    stop: str | list[str] | None = None
    presence_penalty: float | None = Field(None, ge=-2.0, le=2.0)
    frequency_penalty: float | None = Field(None, ge=-2.0, le=2.0)
    n: int = Field(1, ge=1, description="Only 1 is supported.")
    user: str | None = None
    ragkit: RagkitOptions | None = None


class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class AssistantMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class Choice(BaseModel):
    index: int = 0
    message: AssistantMessage
    finish_reason: Literal["stop", "length"]


class RagkitAnswer(BaseModel):
    """The answer's sources and checks (``ragkit ask --json`` without ``answer``)."""

    model_config = ConfigDict(extra="allow")
    citations: list[dict[str, Any]] = Field(
        description="n, source, page, section, chunk_id, text, snippet, cited, attributed, "
        "flags: the numbered passages the answer was given.")
    support: list[dict[str, Any]] = Field(description="Per sentence: supported or not, and "
                                          "by which passage.")
    supported_share: float | None = None
    invalid_markers: list[int] = []
    flagged: list[dict[str, Any]] = []
    dropped: list[str] = []
    timings: dict[str, float] = {}
    tool_calls: list[dict[str, Any]] = []
    id: str | None = Field(None, description="The ask's id in the knowledge base's log.")
    standalone_question: str | None = Field(
        None, description="What was searched for a follow-up (null for a first question).")


class ChatCompletion(BaseModel):
    """OpenAI's chat completion, plus ``ragkit``. Streamed (``stream: true``), the same as
    ``chat.completion.chunk`` server-sent events; the last chunk (the one with
    ``finish_reason``) carries ``usage`` and ``ragkit``, then ``data: [DONE]``."""

    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    usage: Usage
    ragkit: RagkitAnswer


class RetrieveRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    query: str = Field(validation_alias=AliasChoices("query", "question"), max_length=4000,
                       description="The question (also accepted as `question`).")
    k: int | None = Field(None, ge=1, le=100)
    mode: Mode | None = None
    filters: Filters | None = None
    mmr: bool | None = None


class HitOut(BaseModel):
    chunk_id: str
    source: str
    page: int | None
    section: str
    score: float
    text: str
    flags: list[str]


class RetrieveResponse(BaseModel):
    """The ``ragkit retrieve --json`` object."""

    hits: list[HitOut]
    mode: str
    timings: dict[str, float]


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "ragkit"


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


class DocumentOut(BaseModel):
    id: str = Field(description="SHA-256 of the file's bytes (ragkit's document id).")
    object: Literal["document"] = "document"
    source: str
    name: str
    chunks: int
    size: int


class DocumentList(BaseModel):
    object: Literal["list"] = "list"
    data: list[DocumentOut]


class UploadResult(BaseModel):
    object: Literal["document.upload"] = "document.upload"
    document: DocumentOut | None
    ingest: dict[str, Any] = Field(description="The ``ragkit-ingest --json`` report.")


class DeleteResult(BaseModel):
    id: str
    object: Literal["document.deleted"] = "document.deleted"
    deleted: bool
    sources: list[str]
    chunks: int


class Health(BaseModel):
    status: Literal["ok"] = "ok"


class ErrorDetail(BaseModel):
    message: str
    type: str
    code: str
    param: str | None = None


class ErrorResponse(BaseModel):
    error: ErrorDetail


#: the error responses every endpoint may give, for the OpenAPI document
ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse, "description": what} for status, what in [
        (400, "Invalid request"), (401, "Missing or wrong API key"),
        (413, "Request body too large"), (429, "Rate limit or generation queue full "
                                               "(see Retry-After)"),
        (500, "Server error (no details in the response; see the server log)")]
}
