"""LLM port on any OpenAI-compatible chat-completions server (llama.cpp's, vLLM, Ollama, …).

Streaming uses server-sent events (``stream: true``). Token counts come from the server's
tokenize endpoint when it has one (llama-cpp-python's ``/extras/tokenize``, llama.cpp's
``/tokenize``); otherwise they are estimated at one token per 3 bytes of UTF-8, which
over-counts English and Chinese for common tokenizers, so the budget errs on the safe side.

Every answer's end is checked (its ``finish_reason``): "stop" and its kin are a finished
answer; "length" is the max_tokens cut, kept as the llama.cpp backend keeps it (the text so
far is the answer; ``ragkit serve`` reports ``finish_reason: "length"`` from the token
count). A stream that ends with no finish_reason is a BackendError, not a silently short
answer: llama-cpp-python's server, unless started with ``--interrupt_requests False``,
ends a stream that way (a bare ``data: [DONE]``) as soon as another request arrives.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx

from ragkit.errors import BackendError

log = logging.getLogger(__name__)

_OPTIONS = ("max_tokens", "temperature", "top_p", "top_k", "repeat_penalty",
            "presence_penalty", "frequency_penalty", "seed", "stop")
#: finish reasons of a finished answer (OpenAI's, and those of servers that name them
#: otherwise: Hugging Face TGI says "eos_token" and "stop_sequence")
_FINISHED = frozenset({"stop", "tool_calls", "function_call", "eos_token", "stop_sequence"})
#: the max_tokens cut: the answer so far stands (as with the llama.cpp backend)
_TRUNCATED = "length"
#: the server withheld the rest of the answer
_WITHHELD = frozenset({"content_filter"})


@dataclass
class _End:
    """How a stream ended: the last finish_reason seen, and whether ``[DONE]`` came."""

    reason: str | None = None
    done: bool = False


def _pieces(lines: Iterable[str], end: _End) -> Iterator[str]:
    """The text pieces of a server-sent event stream of chat-completion chunks; records in
    ``end`` how it ended. Raises ValueError on an event that is not JSON."""
    for line in lines:
        if not line.startswith("data:"):
            continue
        data = line[5:].strip()
        if data == "[DONE]":
            end.done = True
            return
        event = json.loads(data)
        choice = (event.get("choices") or [{}])[0]  # a usage-only chunk has no choices
        if choice.get("finish_reason"):
            end.reason = str(choice["finish_reason"])
        piece = (choice.get("delta") or {}).get("content")
        if piece:
            yield str(piece)


class OpenAICompatibleLLM:
    """Chat completion over HTTP. ``n_ctx`` is the context window to budget for (the server
    does not say); ``api_key`` is sent as a bearer token when given."""

    def __init__(
        self,
        base_url: str,
        *,
        model: str = "local",
        api_key: str | None = None,
        n_ctx: int = 2048,
        timeout: float = 120.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.name = f"openai:{model}@{self.base_url}"
        self.n_ctx = n_ctx
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        # trust_env=False: no proxy from the environment for a server the user named
        self._http = httpx.Client(timeout=timeout, headers=headers, trust_env=False)
        self._tokenize_url: str | None | bool = False  # False: not probed yet
        self._unknown_reasons: set[str] = set()  # finish reasons already warned about

    def _fail(self, what: str, exc: Exception) -> BackendError:
        return BackendError(f"The OpenAI-compatible server at {self.base_url} {what}: {exc}. "
                            "Check that it is running and openai_base_url ends in /v1.")

    def _check_end(self, reason: str | None, *, done: bool = True) -> None:
        """Raise BackendError unless ``reason`` ends an answer that can be used."""
        where = f"The OpenAI-compatible server at {self.base_url}"
        if reason in _FINISHED:
            return
        if reason == _TRUNCATED:
            log.debug("%s: answer cut at max_tokens (finish_reason=length)", self.base_url)
            return
        if reason is None:
            how = "" if done else ", and no data: [DONE]"
            raise BackendError(
                f"{where} ended the answer early (finish_reason=None{how}); a llama.cpp "
                "server started without --interrupt_requests False cuts a stream when "
                "another request arrives.")
        if reason in _WITHHELD:
            raise BackendError(f"{where} withheld the rest of the answer "
                               f"(finish_reason={reason!r}).")
        if reason not in self._unknown_reasons:  # the server says it finished: trust it
            self._unknown_reasons.add(reason)
            log.warning("%s ended an answer with an unknown finish_reason=%r; taking the "
                        "answer as finished", self.base_url, reason)

    # -- tokens ------------------------------------------------------------------------------
    def _probe_tokenize(self) -> str | None:
        root = self.base_url.removesuffix("/v1")
        for url in (f"{root}/extras/tokenize", f"{root}/tokenize"):
            try:
                r = self._http.post(url, json={"input": "probe", "content": "probe"})
                if r.status_code == 200 and ("tokens" in r.json()):
                    return url
            except (httpx.HTTPError, ValueError):
                continue
        log.info("%s has no tokenize endpoint; estimating tokens from bytes", self.base_url)
        return None

    def count_tokens(self, text: str) -> int:
        if self._tokenize_url is False:
            self._tokenize_url = self._probe_tokenize()
        if isinstance(self._tokenize_url, str) and text:
            try:
                r = self._http.post(self._tokenize_url, json={"input": text, "content": text})
                r.raise_for_status()
                return len(r.json()["tokens"])
            except (httpx.HTTPError, ValueError, KeyError) as exc:
                raise self._fail("could not count tokens", exc) from exc
        return math.ceil(len(text.encode("utf-8")) / 3)

    # -- generation --------------------------------------------------------------------------
    def _body(self, messages: list[dict[str, str]], params: dict[str, Any]) -> dict[str, Any]:
        body: dict[str, Any] = {"model": self.model, "messages": messages}
        body.update({k: params[k] for k in _OPTIONS if k in params})
        if "stop" in body:
            body["stop"] = list(body["stop"]) or None
            if body["stop"] is None:
                del body["stop"]
        return body

    def stream(self, messages: list[dict[str, str]], **params: Any) -> Iterator[str]:
        body = self._body(messages, params) | {"stream": True}
        end = _End()
        try:
            with self._http.stream("POST", f"{self.base_url}/chat/completions", json=body) as r:
                if r.status_code != 200:
                    r.read()
                    raise BackendError(f"The OpenAI-compatible server at {self.base_url} "
                                       f"answered {r.status_code}: {r.text[:300]}")
                yield from _pieces(r.iter_lines(), end)
        except httpx.HTTPError as exc:
            raise self._fail("could not be reached", exc) from exc
        except ValueError as exc:
            raise self._fail("sent an event that is not JSON", exc) from exc
        # a finish_reason without [DONE] is a finished answer from a terse server
        self._check_end(end.reason, done=end.done)

    def complete_json(
        self, messages: list[dict[str, str]], schema: dict[str, Any], **params: Any
    ) -> str:
        """A completion asked to follow ``schema``. llama.cpp servers enforce it with a
        grammar (``response_format`` with ``schema``); others may not, so callers validate."""
        body = self._body(messages, params)
        body["response_format"] = {"type": "json_object", "schema": schema}
        try:
            r = self._http.post(f"{self.base_url}/chat/completions", json=body)
            r.raise_for_status()
            choice = r.json()["choices"][0]
            text = str(choice["message"]["content"] or "")
        except (httpx.HTTPError, ValueError, KeyError, IndexError) as exc:
            raise self._fail("could not produce a tool call", exc) from exc
        # a whole (not streamed) completion is not cut by another request: no finish_reason
        # here is a server that does not report one, and callers validate the JSON anyway
        if choice.get("finish_reason") is not None:
            self._check_end(str(choice["finish_reason"]))
        return text

    def close(self) -> None:
        self._http.close()
