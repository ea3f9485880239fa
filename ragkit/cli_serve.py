"""``ragkit serve``: the knowledge base as an OpenAI-compatible HTTP API (docs/serve.md)."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Annotated

import typer

from ragkit import RAG, RagkitError

#: the apps read ./ragkit.toml (before the knowledge base's own), as ragkit.cli does
SETTINGS_FILES = ("ragkit.toml",)
_NEEDS = {"fastapi": ("fastapi",), "uvicorn": ("uvicorn",),
          "python-multipart": ("python_multipart", "multipart")}


def _refuse(message: str, code: int) -> typer.Exit:
    typer.echo(f"Error: {message}", err=True)
    return typer.Exit(code)


def _check_key(host: str, api_key: str | None) -> None:
    from ragkit.serve.auth import check_api_key, is_loopback

    if api_key is None and not is_loopback(host):
        raise _refuse(f"--host {host} is reachable from other machines; serving there needs "
                      "an API key: set RAGKIT_API_KEY (or --api-key), or keep the default "
                      "--host 127.0.0.1.", 2)
    if api_key is not None:
        try:
            check_api_key(api_key)
        except ValueError as exc:
            raise _refuse(str(exc), 2) from exc


KbOption = Annotated[Path, typer.Option("--kb", help="Knowledge-base folder.",
                                        envvar="RAGKIT_KB")]
HostOption = Annotated[str, typer.Option(
    "--host", help="Address to listen on. Anything but loopback needs an API key.")]
PortOption = Annotated[int, typer.Option("--port", min=1, max=65535, help="Port.")]
WorkersOption = Annotated[int, typer.Option(
    "--workers", min=1, max=64, help="Server processes (each loads the models and has its "
    "own queue and limits).")]
KeyOption = Annotated[str | None, typer.Option(
    "--api-key", envvar="RAGKIT_API_KEY", show_envvar=True,
    help="Require `Authorization: Bearer KEY` on every endpoint but /health (prefer the "
    "environment variable: a command line is visible to other users).")]
QueueOption = Annotated[int, typer.Option(
    "--queue-size", min=0, help="Chat requests that may wait for the model; more get 429 "
    "with Retry-After.")]
SlotsOption = Annotated[int, typer.Option(
    "--generation-slots", min=1, help="Chat requests generating at once (1 for the "
    "in-process llama.cpp model; more for llm_backend = 'openai').")]
RateOption = Annotated[float, typer.Option(
    "--rate-limit", min=0.001, help="Requests per minute per API key (or per client address "
    "without a key).")]
BurstOption = Annotated[int, typer.Option(
    "--burst", min=1, help="Requests a client may send at once before the rate limit "
    "applies.")]
BodyOption = Annotated[int, typer.Option(
    "--max-body-kb", min=1, help="Largest request body in KiB (uploads: the upload_max_mb "
    "setting).")]
PreloadOption = Annotated[bool, typer.Option(
    "--preload/--no-preload", help="Load the models before taking requests.")]
LogOption = Annotated[str, typer.Option("--log-level", help="uvicorn's log level.")]


def serve(
    kb: KbOption,
    host: HostOption = "127.0.0.1",
    port: PortOption = 8000,
    workers: WorkersOption = 1,
    api_key: KeyOption = None,
    queue_size: QueueOption = 16,
    generation_slots: SlotsOption = 1,
    rate_limit: RateOption = 600.0,
    burst: BurstOption = 60,
    max_body_kb: BodyOption = 1024,
    preload: PreloadOption = True,
    log_level: LogOption = "info",
) -> None:
    """Serve KB as an OpenAI-compatible HTTP API: /v1/chat/completions (streaming, with
    citations), /v1/models, /v1/retrieve, /v1/documents, /health, /metrics, /docs."""
    missing = [name for name, modules in _NEEDS.items()
               if all(importlib.util.find_spec(m) is None for m in modules)]
    if missing:
        raise _refuse(f"`ragkit serve` needs {', '.join(missing)}; run "
                      "`pip install 'ragkit[serve]'`.", 1)
    _check_key(host, api_key)
    import uvicorn

    from ragkit.serve import ServeConfig, create_app
    from ragkit.serve.app import config_environment

    config = ServeConfig(api_key=api_key, queue_size=queue_size,
                         generation_slots=generation_slots, rate_per_minute=rate_limit,
                         burst=burst, max_body_bytes=max_body_kb * 1024, preload=preload)
    try:
        rag = RAG(kb, settings_files=SETTINGS_FILES)
        count = len(rag.documents())
    except RagkitError as exc:
        raise _refuse(str(exc), 1) from exc
    auth = "API key required" if api_key else "no API key (loopback only)"
    typer.echo(f"ragkit serve: knowledge base {kb} ({count} documents) on "
               f"http://{host}:{port}/v1 — {auth}; docs at /docs", err=True)
    # a stop (Ctrl-C, SIGTERM) waits for answers in progress, but not forever
    common = {"host": host, "port": port, "log_level": log_level, "server_header": False,
              "timeout_graceful_shutdown": 30}
    if workers == 1:
        uvicorn.run(create_app(rag, config), **common)  # type: ignore[arg-type]
        return
    os.environ.update(config_environment(kb.resolve(), SETTINGS_FILES, config))
    uvicorn.run("ragkit.serve.app:app_from_environment", factory=True, workers=workers,
                **common)  # type: ignore[arg-type]
