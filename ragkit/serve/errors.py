"""Errors as the OpenAI API writes them: ``{"error": {"message", "type", "code"}}``, never a
stack trace.

A :class:`~ragkit.RagkitError` keeps its message and stable ``code`` when the client caused
it (a bad question, an unknown document, an ingest already running); a server-side failure
(a model that does not load, anything unexpected) is logged here and answered with a
generic message, so no path, model file or traceback leaves the server.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse, Response

from ragkit import (
    LockedError,
    NotFoundError,
    ParseError,
    RagkitError,
    ValidationError,
)

log = logging.getLogger(__name__)

#: HTTP status and OpenAI error type of each client-side RagkitError
_CLIENT_ERRORS: list[tuple[type[RagkitError], int, str]] = [
    (ValidationError, 400, "invalid_request_error"),
    (ParseError, 422, "invalid_request_error"),
    (NotFoundError, 404, "not_found_error"),
    (LockedError, 409, "conflict_error"),
]
_TYPES = {400: "invalid_request_error", 401: "authentication_error", 404: "not_found_error",
          405: "invalid_request_error", 409: "conflict_error", 413: "invalid_request_error",
          422: "invalid_request_error", 429: "rate_limit_error"}


class ApiError(Exception):
    """An error the API answers with ``status`` and an OpenAI-style body."""

    def __init__(self, status: int, message: str, code: str, *,
                 headers: dict[str, str] | None = None, type_: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.code = status, message, code
        self.type = type_ or _TYPES.get(status, "server_error")
        self.headers = headers or {}


def error_body(message: str, type_: str, code: str, param: str | None = None) -> dict[str, Any]:
    """The OpenAI-style error object."""
    return {"error": {"message": message, "type": type_, "code": code, "param": param}}


def error_response(err: ApiError) -> JSONResponse:
    return JSONResponse(error_body(err.message, err.type, err.code), status_code=err.status,
                        headers=err.headers)


def from_ragkit(exc: RagkitError, kb_paths: tuple[str, ...] = ()) -> ApiError:
    """The ApiError for a RagkitError: client errors keep their message (with the
    knowledge base's folder replaced by its name), server errors get a generic one."""
    for cls, status, type_ in _CLIENT_ERRORS:
        if isinstance(exc, cls):
            message = str(exc)
            for path in kb_paths:
                message = message.replace(path, "the knowledge base")
            headers = {"Retry-After": "5"} if isinstance(exc, LockedError) else None
            return ApiError(status, message, exc.code, headers=headers, type_=type_)
    log.error("request failed: %s: %s", type(exc).__name__, exc)
    return ApiError(503 if exc.code == "backend_error" else 500,
                    f"The server could not complete the request ({exc.code}); its log has "
                    "the details.", exc.code, type_="server_error")


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for e in exc.errors()[:5]:
        where = ".".join(str(x) for x in e.get("loc", ()) if x != "body")
        parts.append(f"{where or 'body'}: {e.get('msg', 'invalid')}")
    return "Invalid request: " + "; ".join(parts)


def install(app: FastAPI, kb_paths: tuple[str, ...]) -> None:
    """Register the handlers that turn every error into an OpenAI-style JSON body."""

    async def api_error(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        return error_response(exc)

    async def ragkit_error(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, RagkitError)
        return error_response(from_ragkit(exc, kb_paths))

    async def invalid(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        return error_response(ApiError(400, _validation_message(exc), "invalid_request"))

    async def http_error(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        code = {404: "not_found", 405: "method_not_allowed",
                413: "request_too_large"}.get(exc.status_code, "http_error")
        return error_response(ApiError(exc.status_code, str(exc.detail), code,
                                       headers=dict(exc.headers or {})))

    async def unexpected(_: Request, exc: Exception) -> Response:
        log.exception("unexpected error", exc_info=exc)
        return error_response(ApiError(500, "Internal server error; the server log has the "
                                       "details.", "internal_error", type_="server_error"))

    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(RagkitError, ragkit_error)
    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(Exception, unexpected)
