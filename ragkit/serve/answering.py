"""From an OpenAI chat request to a ragkit answer: the question, the history, the options.

The last message is the question; earlier user/assistant pairs are the history, as
``rag.chat`` keeps it, but taken from the request (the API is stateless: nothing is stored
as a session). A follow-up is condensed into a standalone question with
``rag.condense_question``, exactly as ``Chat`` does, then answered with the history in the
prompt.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ragkit import RAG, AnswerStream, AskOptions, Turn
from ragkit.serve.errors import ApiError
from ragkit.serve.schemas import ChatCompletionRequest, ChatMessage

MAX_TURNS = 64  #: earlier turns read from a request (the prompt keeps fewer: history_turns)
_GENERATION = ("temperature", "top_p", "seed", "presence_penalty", "frequency_penalty")


@dataclass(frozen=True)
class Conversation:
    question: str
    history: tuple[Turn, ...]


def conversation(messages: list[ChatMessage]) -> Conversation:
    """The question (the last message, which must be the user's) and the earlier
    user→assistant turns. System, developer and tool messages are not used; consecutive user
    messages before an answer are joined."""
    if messages[-1].role != "user":
        raise ApiError(400, f"The last message must be the user's question (got role "
                       f"{messages[-1].role!r}).", "invalid_messages")
    turns: list[Turn] = []
    asked: list[str] = []
    for m in messages[:-1]:
        if m.role == "user" and m.text().strip():
            asked.append(m.text().strip())
        elif m.role == "assistant" and asked:
            turns.append(Turn("\n".join(asked), m.text().strip()))
            asked = []
    question = "\n".join([*asked, messages[-1].text().strip()]).strip()
    if not question:
        raise ApiError(400, "The last user message has no text.", "invalid_messages")
    return Conversation(question, tuple(turns[-MAX_TURNS:]))


def ask_options(body: ChatCompletionRequest) -> AskOptions:
    """The request's :class:`~ragkit.AskOptions` (ValidationError on a bad combination)."""
    if body.n != 1:
        raise ApiError(400, f"n={body.n}: only one choice per request is supported.",
                       "unsupported_n")
    generation: dict[str, Any] = {k: getattr(body, k) for k in _GENERATION
                                  if getattr(body, k) is not None}
    max_tokens = body.max_completion_tokens or body.max_tokens
    if max_tokens is not None:
        generation["max_tokens"] = max_tokens
    if body.stop is not None:
        generation["stop"] = [body.stop] if isinstance(body.stop, str) else list(body.stop)
    extra = body.ragkit.model_dump(exclude_none=True) if body.ragkit else {}
    for key in ("sampling_top_k", "repeat_penalty"):
        if key in extra:
            generation[key] = extra.pop(key)
    return AskOptions(generation=generation, **extra)


def needs_model_first(rag: RAG, conv: Conversation, options: AskOptions) -> bool:
    """Whether the model is used before generation (condensing a follow-up, the tool step):
    such a request waits for its turn before retrieval instead of after."""
    return bool(conv.history) or (options.use_tools is not False and bool(rag.settings.tools))


def start_answer(rag: RAG, conv: Conversation, options: AskOptions) -> AnswerStream:
    """Retrieve and build the prompt (a follow-up condensed first, as ``rag.chat`` does);
    returns the stream, whose iteration generates (``Answer.standalone_question`` is the
    condensed query of a follow-up). Blocking: call it from a worker thread."""
    return rag.chat_stream_turns(conv.history, conv.question, options)
