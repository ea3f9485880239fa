"""The guard in front of every endpoint: request size, rate limit, API key.

- **Size.** A body larger than the limit is refused with 413 before it is read: by its
  ``Content-Length``, or, sent in chunks, as soon as the bytes received pass the limit.
  Uploads (``POST /v1/documents``) may be as large as the ``upload_max_mb`` setting allows.
- **Rate.** A token bucket per client (:class:`~ragkit.serve.limits.RateLimiter`): the API
  key when one is set and given, else the client's address; 429 with ``Retry-After``.
- **Key.** With a key set (``--api-key`` / ``RAGKIT_API_KEY``), every endpoint but
  ``/health`` needs ``Authorization: Bearer KEY``, compared in constant time; 401 otherwise.
  Failed attempts spend the caller's address's tokens, so guessing is rate-limited too.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import math
from collections.abc import Callable

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ragkit.serve.errors import error_body
from ragkit.serve.limits import RateLimiter
from ragkit.serve.metrics import Metrics

OPEN_PATHS = frozenset({"/health"})
MIN_KEY_LENGTH = 16


def is_loopback(host: str) -> bool:
    """True for an address only this machine can reach: ``localhost``, 127.0.0.0/8, ::1.

    >>> is_loopback("127.0.0.1"), is_loopback("0.0.0.0"), is_loopback("localhost")
    (True, False, True)
    """
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve anywhere


def check_api_key(key: str) -> str:
    """The key, if it can serve: printable ASCII, no spaces, at least 16 characters."""
    if len(key) < MIN_KEY_LENGTH or not key.isascii() or not key.isprintable() or " " in key:
        raise ValueError(f"The API key must be at least {MIN_KEY_LENGTH} printable ASCII "
                         "characters without spaces (e.g. `python -c \"import secrets; "
                         "print(secrets.token_urlsafe(32))\"`).")
    return key


class TooLarge(HTTPException):
    """Raised while the body is read (FastAPI passes HTTPExceptions through its parsing)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"The request body is larger than this endpoint's limit "
                         f"({limit} bytes).")


class Guard:
    """ASGI middleware: size limit, then rate limit, then the API key (see module doc)."""

    def __init__(self, app: ASGIApp, *, api_key: str | None, limiter: RateLimiter,
                 max_body: int, upload_max: Callable[[], int], metrics: Metrics) -> None:
        self.app = app
        self._key = api_key.encode() if api_key else None
        self._key_id = hashlib.sha256(self._key).hexdigest()[:12] if self._key else ""
        self.limiter, self.max_body, self.upload_max = limiter, max_body, upload_max
        self.metrics = metrics

    def _authorized(self, scope: Scope) -> bool:
        assert self._key is not None
        for name, value in scope.get("headers", ()):
            if name == b"authorization":
                scheme, _, token = value.partition(b" ")
                return scheme.lower() == b"bearer" and hmac.compare_digest(token.strip(),
                                                                           self._key)
        return False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        authorized = self._key is None or self._authorized(scope)
        client = scope.get("client") or ("unknown", 0)
        who = f"key:{self._key_id}" if self._key and authorized else f"addr:{client[0]}"
        wait = self.limiter.take(who)
        if wait > 0:
            self.metrics.inc("ragkit_rejected_total", reason="rate_limit")
            await _refuse(send, 429, "Rate limit reached; retry after the time in Retry-After.",
                          "rate_limit_exceeded", "rate_limit_error",
                          {"retry-after": str(max(1, math.ceil(wait)))})
            return
        if not authorized:
            self.metrics.inc("ragkit_rejected_total", reason="unauthorized")
            await _refuse(send, 401, "Missing or wrong API key: send `Authorization: Bearer "
                          "KEY` with the server's key.", "invalid_api_key",
                          "authentication_error", {"www-authenticate": "Bearer"})
            return
        await self._sized(scope, receive, send)

    async def _sized(self, scope: Scope, receive: Receive, send: Send) -> None:
        upload = scope["method"] == "POST" and scope["path"].rstrip("/") == "/v1/documents"
        limit = self.upload_max() if upload else self.max_body
        length = dict(scope.get("headers", ())).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > limit):
            await self._too_large(send, limit)
            return
        received, started = 0, [False]

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    self.metrics.inc("ragkit_rejected_total", reason="too_large")
                    raise TooLarge(limit)
            return message

        async def watch(message: Message) -> None:
            started[0] = started[0] or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, watch)
        except TooLarge as exc:
            if started[0]:
                raise
            await _refuse(send, 413, str(exc.detail), "request_too_large",
                          "invalid_request_error", {})

    async def _too_large(self, send: Send, limit: int) -> None:
        self.metrics.inc("ragkit_rejected_total", reason="too_large")
        await _refuse(send, 413, str(TooLarge(limit).detail), "request_too_large",
                      "invalid_request_error", {})


async def _refuse(send: Send, status: int, message: str, code: str, type_: str,
                  headers: dict[str, str]) -> None:
    body = json.dumps(error_body(message, type_, code)).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.encode(), v.encode()) for k, v in headers.items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})
