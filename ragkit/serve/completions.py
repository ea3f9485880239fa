"""``POST /v1/chat/completions``: OpenAI's chat completion over ``RAG``, streamed or not.

A request takes its place in the generation queue when it arrives (429 if the queue is
full), retrieves and builds its prompt in a worker thread while earlier requests generate,
then waits for its turn and generates. Streamed, each piece is sent as the model writes it;
the last chunk carries ``usage`` and the ``ragkit`` object (citations, support, timings).
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import anyio
from anyio import to_thread
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from ragkit import RAG, Answer, AnswerStream, RagkitError
from ragkit.serve.answering import (
    ask_options,
    conversation,
    needs_model_first,
    start_answer,
)
from ragkit.serve.errors import ApiError, error_body, from_ragkit
from ragkit.serve.limits import GenerationQueue, QueueFull, Ticket
from ragkit.serve.metrics import Metrics
from ragkit.serve.schemas import ChatCompletionRequest

log = logging.getLogger(__name__)


@dataclass
class Service:
    """What the endpoints share: the knowledge base, its name, the queue, the metrics."""

    rag: RAG
    model: str
    queue: GenerationQueue
    metrics: Metrics
    kb_paths: tuple[str, ...] = ()
    created: int = field(default_factory=lambda: int(time.time()))
    #: this server's uploads and deletes, one at a time (taken in worker threads)
    write_lock: threading.Lock = field(default_factory=threading.Lock)

    def check_model(self, model: str) -> None:
        if model != self.model:
            raise ApiError(404, f"The model {model!r} does not exist; this server answers "
                           f"from the knowledge base {self.model!r} (GET /v1/models).",
                           "model_not_found")

    def ragkit_error(self, exc: RagkitError) -> ApiError:
        return from_ragkit(exc, self.kb_paths)


@dataclass
class _Call:
    """One chat completion in flight."""

    id: str
    model: str
    created: int
    arrived: float
    max_tokens: int
    first_token: float = 0.0


async def chat_completions(svc: Service, body: ChatCompletionRequest) -> Response:
    svc.check_model(body.model)
    conv = conversation(body.messages)
    options = ask_options(body)
    call = _Call(f"chatcmpl-{uuid.uuid4().hex}", svc.model, int(time.time()),
                 time.perf_counter(),
                 int(options.generation.get("max_tokens") or svc.rag.settings.max_tokens))
    try:
        ticket = svc.queue.enter()
    except QueueFull as exc:
        svc.metrics.inc("ragkit_rejected_total", reason="queue_full")
        raise ApiError(429, f"The model is busy: {exc}", "queue_full",
                       headers={"Retry-After": str(exc.retry_after)}) from exc
    try:
        waited = needs_model_first(svc.rag, conv, options)
        if waited:
            await _wait_turn(svc, ticket)
        stream = await to_thread.run_sync(partial(start_answer, svc.rag, conv, options))
        if body.stream:
            events = _events(svc, call, stream, ticket, waited)
            return _TicketedStream(events, ticket, media_type="text/event-stream",
                                   headers={"Cache-Control": "no-cache",
                                            "X-Accel-Buffering": "no"})
        if not waited:
            await _wait_turn(svc, ticket)
        answer = await to_thread.run_sync(lambda: _read_all(stream, call))
    except RagkitError as exc:
        ticket.release()
        raise svc.ragkit_error(exc) from exc
    except BaseException:
        ticket.release()
        raise
    ticket.release()
    return JSONResponse(_completion(svc, call, answer))


async def _wait_turn(svc: Service, ticket: Ticket) -> None:
    waited = await ticket.turn()
    svc.metrics.observe("ragkit_generation_queue_wait_seconds", waited)


def _read_all(stream: AnswerStream, call: _Call) -> Answer:
    for _ in stream:
        if not call.first_token:
            call.first_token = time.perf_counter()
    return stream.answer


def _usage(svc: Service, answer: Answer) -> dict[str, int]:
    prompt = int(answer.timings.get("prompt_tokens", 0))
    completion = svc.rag.llm.count_tokens(answer.text) if answer.text else 0
    return {"prompt_tokens": prompt, "completion_tokens": completion,
            "total_tokens": prompt + completion}


def _finish(svc: Service, call: _Call, answer: Answer
            ) -> tuple[dict[str, int], str, dict[str, Any]]:
    """Usage, finish reason and the ragkit object of a finished answer; counts it."""
    usage = _usage(svc, answer)
    m = svc.metrics
    m.inc("ragkit_tokens_total", usage["prompt_tokens"], kind="prompt")
    m.inc("ragkit_tokens_total", usage["completion_tokens"], kind="completion")
    cached = answer.timings.get("cache_hit") == 1
    m.inc("ragkit_answers_total", how="cached" if cached else "generated")
    if cached:
        m.inc("ragkit_cache_hits_total")
    if call.first_token:
        m.observe("ragkit_time_to_first_token_seconds", call.first_token - call.arrived)
    extra = answer.to_dict()
    extra.pop("answer", None)
    extra.pop("session_id", None)
    extra["standalone_question"] = answer.standalone_question
    reason = "length" if usage["completion_tokens"] >= call.max_tokens else "stop"
    return usage, reason, extra


def _completion(svc: Service, call: _Call, answer: Answer) -> dict[str, Any]:
    usage, reason, extra = _finish(svc, call, answer)
    return {"id": call.id, "object": "chat.completion", "created": call.created,
            "model": call.model,
            "choices": [{"index": 0, "finish_reason": reason,
                         "message": {"role": "assistant", "content": answer.text}}],
            "usage": usage, "ragkit": extra}


def _chunk(call: _Call, delta: dict[str, Any], reason: str | None = None,
           **extra: Any) -> bytes:
    data = {"id": call.id, "object": "chat.completion.chunk", "created": call.created,
            "model": call.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": reason}], **extra}
    return b"data: " + json.dumps(data, ensure_ascii=False).encode() + b"\n\n"


async def _events(svc: Service, call: _Call, stream: AnswerStream, ticket: Ticket,
                  waited: bool) -> AsyncIterator[bytes]:
    """The server-sent events of one streamed answer; an error after the first byte is an
    ``error`` event (the status is already sent), as OpenAI's API does."""
    pieces: Iterator[str] = iter(stream)
    try:
        yield _chunk(call, {"role": "assistant", "content": ""})
        if not waited:
            await _wait_turn(svc, ticket)
        while (piece := await to_thread.run_sync(next, pieces, None)) is not None:
            if not call.first_token:
                call.first_token = time.perf_counter()
            yield _chunk(call, {"content": piece})
        ticket.release()
        usage, reason, extra = _finish(svc, call, stream.answer)
        yield _chunk(call, {}, reason, usage=usage, ragkit=extra)
    except RagkitError as exc:
        yield _error_event(svc.ragkit_error(exc))
    except Exception:  # the status line is sent: say so in the stream, log the details
        log.exception("streamed answer failed")
        yield _error_event(ApiError(500, "Internal server error; the server log has the "
                                    "details.", "internal_error", type_="server_error"))
    finally:
        with anyio.CancelScope(shield=True):  # the client may have left: stop the model
            await to_thread.run_sync(_stop, stream, pieces)
        ticket.release()
    yield b"data: [DONE]\n\n"


def _stop(stream: AnswerStream, pieces: Iterator[str]) -> None:
    """Close the answer's generators now, not when garbage is collected: a llama.cpp stream
    holds the model's lock until it is closed, and a request that ended early (the client
    left) may stay referenced by an exception's traceback until a GC cycle runs."""
    close = getattr(pieces, "close", None)
    if close is not None:
        close()
    stream.close()


def _error_event(err: ApiError) -> bytes:
    body = error_body(err.message, err.type, err.code)
    return b"data: " + json.dumps(body).encode() + b"\n\n"


class _TicketedStream(StreamingResponse):
    """A streaming response that gives its queue place back however it ends, even if its
    body is never iterated (the client left before the headers were sent)."""

    def __init__(self, content: AsyncIterator[bytes], ticket: Ticket, **kwargs: Any) -> None:
        super().__init__(content, **kwargs)
        self._ticket = ticket
        self._events = content

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            with anyio.CancelScope(shield=True):
                aclose = getattr(self._events, "aclose", None)
                if aclose is not None:
                    await aclose()
            self._ticket.release()
