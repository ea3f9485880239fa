"""The FastAPI application: ``create_app(rag, config)``.

>>> from ragkit import RAG
>>> from ragkit.serve import ServeConfig, create_app
>>> app = create_app(RAG("kb"), ServeConfig(queue_size=8))  # doctest: +SKIP
>>> import uvicorn; uvicorn.run(app, host="127.0.0.1", port=8000)  # doctest: +SKIP

Endpoints: docs/serve.md. The app holds no answer logic: each endpoint is a few lines over
:class:`ragkit.RAG`, with the guard (:mod:`ragkit.serve.auth`), the queue and rate limit
(:mod:`ragkit.serve.limits`) and the metrics (:mod:`ragkit.serve.metrics`) around it.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from anyio import to_thread
from fastapi import APIRouter, FastAPI, Request
from starlette.responses import PlainTextResponse, Response

import ragkit
from ragkit import RAG
from ragkit.serve import completions, documents
from ragkit.serve.auth import Guard
from ragkit.serve.completions import Service
from ragkit.serve.limits import GenerationQueue, RateLimiter
from ragkit.serve.metrics import Metrics, MetricsMiddleware
from ragkit.serve.schemas import (
    ERRORS,
    ChatCompletion,
    ChatCompletionRequest,
    Health,
    ModelCard,
    ModelList,
    RetrieveRequest,
    RetrieveResponse,
)

#: the environment variable through which `ragkit serve --workers N` hands its options to
#: uvicorn's worker processes (not a setting: nothing but the CLI writes it)
CONFIG_ENV = "_RAGKIT_SERVE_CONFIG"


@dataclass(frozen=True)
class ServeConfig:
    """How the server guards and queues. ``api_key``: required on every endpoint but
    ``/health`` when set; ``queue_size``: requests that may wait for the model (more get
    429); ``generation_slots``: requests the model answers at once (1 for an in-process
    llama.cpp model); ``rate_per_minute``/``burst``: each client's token bucket;
    ``max_body_bytes``: the largest request body but uploads (those: ``upload_max_mb``);
    ``model_name``: the name of the knowledge base in the API (default: its folder's name);
    ``preload``: load the models when the server starts, not on the first request."""

    api_key: str | None = field(default=None, repr=False)
    queue_size: int = 16
    generation_slots: int = 1
    rate_per_minute: float = 600.0
    burst: int = 60
    max_body_bytes: int = 1024 * 1024
    model_name: str | None = None
    preload: bool = False


def _upload_limit(rag: RAG) -> int:
    # the upload limit and the multipart envelope around the file
    return int(rag.settings.upload_max_mb * 1024 * 1024) + 64 * 1024


def _lifespan(rag: RAG, preload: bool) -> Any:
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if preload:  # models load once, before the first request is taken
            await to_thread.run_sync(lambda: (rag.embedder, rag.store, rag.llm))
        yield

    return lifespan


def create_app(rag: RAG, config: ServeConfig | None = None) -> FastAPI:
    """The HTTP API over ``rag`` (see docs/serve.md)."""
    from ragkit.serve import errors

    config = config or ServeConfig()
    metrics = Metrics()
    kb = rag.kb
    svc = Service(rag=rag, model=config.model_name or kb.resolve().name,
                  queue=GenerationQueue(config.generation_slots, config.queue_size),
                  metrics=metrics,
                  kb_paths=tuple(sorted({str(kb.resolve()), str(kb)}, key=len, reverse=True)))
    metrics.gauges["ragkit_generation_queue_waiting"] = (
        "Chat completions waiting for the model.", lambda: svc.queue.waiting)
    metrics.gauges["ragkit_generation_active"] = (
        "Chat completions holding the model.", lambda: svc.queue.active)
    app = FastAPI(title="ragkit", version=ragkit.__version__, lifespan=_lifespan(
        rag, config.preload), description="An OpenAI-compatible API over a ragkit knowledge "
        "base: chat with citations, retrieval, documents. See docs/serve.md.")
    app.state.service = svc
    errors.install(app, svc.kb_paths)
    app.include_router(_router())
    app.include_router(documents.router)
    app.add_middleware(Guard, api_key=config.api_key,
                       limiter=RateLimiter(config.rate_per_minute, config.burst),
                       max_body=config.max_body_bytes, upload_max=lambda: _upload_limit(rag),
                       metrics=metrics)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    return app


def _service(request: Request) -> Service:
    svc: Service = request.app.state.service
    return svc


def _router() -> APIRouter:
    router = APIRouter(responses=ERRORS)

    @router.post("/v1/chat/completions", response_model=ChatCompletion, tags=["chat"],
                 responses={200: {"content": {"text/event-stream": {}}},
                            404: {"description": "Unknown model"}})
    async def chat_completions(body: ChatCompletionRequest, request: Request) -> Response:
        """Answer the last user message from the knowledge base, with citations in
        ``ragkit``; ``stream: true`` for server-sent events."""
        return await completions.chat_completions(_service(request), body)

    @router.get("/v1/models", response_model=ModelList, tags=["models"])
    async def models(request: Request) -> ModelList:
        """The one model: the knowledge base this server answers from."""
        svc = _service(request)
        return ModelList(data=[ModelCard(id=svc.model, created=svc.created)])

    @router.get("/v1/models/{model}", response_model=ModelCard, tags=["models"])
    async def model(model: str, request: Request) -> ModelCard:
        svc = _service(request)
        svc.check_model(model)
        return ModelCard(id=svc.model, created=svc.created)

    @router.post("/v1/retrieve", response_model=RetrieveResponse, tags=["retrieve"])
    async def retrieve(body: RetrieveRequest, request: Request) -> dict[str, Any]:
        """The passages retrieval finds (the ``ragkit retrieve --json`` object)."""
        rag = _service(request).rag
        found = await to_thread.run_sync(lambda: rag.search(
            body.query, k=body.k, mode=body.mode, filters=body.filters, mmr=body.mmr))
        return found.to_dict()

    @router.get("/health", response_model=Health, tags=["server"])
    async def health() -> Health:
        """Liveness; needs no API key."""
        return Health()

    @router.get("/metrics", response_class=PlainTextResponse, tags=["server"])
    async def metrics(request: Request) -> PlainTextResponse:
        """Prometheus text format."""
        return PlainTextResponse(_service(request).metrics.render(),
                                 media_type="text/plain; version=0.0.4; charset=utf-8")

    return router


def openapi_document() -> dict[str, Any]:
    """The API's OpenAPI document (docs/openapi.json), independent of any knowledge base."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        return create_app(RAG(Path(tmp) / "kb", offline_env=False)).openapi()


def app_from_environment() -> FastAPI:
    """The app of one uvicorn worker process (``ragkit serve --workers N``): the knowledge
    base and options the CLI put in ``_RAGKIT_SERVE_CONFIG``."""
    raw = json.loads(os.environ[CONFIG_ENV])
    rag = RAG(raw.pop("kb"), settings_files=raw.pop("settings_files"))
    return create_app(rag, ServeConfig(**raw))


def config_environment(kb: Path, settings_files: tuple[str, ...],
                       config: ServeConfig) -> dict[str, str]:
    """The environment entry :func:`app_from_environment` reads."""
    return {CONFIG_ENV: json.dumps({"kb": str(kb), "settings_files": list(settings_files),
                                    **asdict(config)})}
