"""LLM port on llama-cpp-python with a GGUF file (bundled SmolLM2-135M-Instruct by default)."""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Iterator
from typing import Any

from ragkit._models import resolve_model
from ragkit.errors import BackendError

log = logging.getLogger(__name__)

#: generation options llama.cpp's chat completion takes under the same names
#: llama.cpp's prompt batch (logical and physical); see LlamaCppLLM._reuse_aligned
N_BATCH = 64
_OPTIONS = ("max_tokens", "temperature", "top_p", "top_k", "repeat_penalty",
            "presence_penalty", "frequency_penalty", "seed", "stop")


def _options(params: dict[str, Any]) -> dict[str, Any]:
    out = {k: params[k] for k in _OPTIONS if k in params}
    if "stop" in out:
        out["stop"] = list(out["stop"])
    out.setdefault("temperature", 0.0)
    return out


class LlamaCppLLM:
    """Chat completion through the model's own chat template, streaming.

    One ``Llama`` object is kept per instance (a ``RAG`` holds one). llama.cpp keeps the
    tokens it evaluated last and, on the next call, evaluates only what follows the
    longest common prefix: the system prompt and few-shot examples, which come first and
    do not change between questions, are evaluated once (``bench/ask_bench.py`` measures
    it). A lock serialises calls, since a ``Llama`` object is not safe for concurrent use
    (Streamlit has threads); a stream holds it until it is read to the end or closed.
    """

    def __init__(
        self,
        model: str,
        *,
        n_ctx: int = 2048,
        n_threads: int | None = None,
        n_gpu_layers: int = 0,
        seed: int = 0,
    ) -> None:
        from llama_cpp import Llama

        self.name = model
        path = resolve_model(model)
        if n_threads is None:
            # llama-cpp-python's own default is half the CPUs (for hyper-threads): on a
            # small machine that leaves a core idle during generation
            cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (
                os.cpu_count() or 1)
            n_threads = cpus if cpus <= 4 else cpus // 2
        try:
            self._llm = Llama(
                model_path=path,
                n_ctx=n_ctx,
                n_threads=n_threads,
                n_gpu_layers=n_gpu_layers,
                seed=seed,
                n_batch=N_BATCH,
                n_ubatch=N_BATCH,
                verbose=False,
            )
        except (ValueError, OSError, RuntimeError) as exc:
            raise BackendError(
                f"Cannot load GGUF model {model!r} from {path!r}: {exc}. Set llm_model to a "
                "readable .gguf file or 'bundled:SmolLM2-135M-Instruct'."
            ) from exc
        self.n_ctx = int(self._llm.n_ctx())
        self._lock = threading.Lock()
        self._formatter = self._chat_formatter()
        self._reusable = 0  # evaluated prompt tokens a next call may reuse (_reuse_aligned)

    def _chat_formatter(self) -> Any:
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        template = self._llm.metadata.get("tokenizer.chat_template")
        if not template:
            return None
        vocab = self._llm

        def token(key: str) -> str:
            tid = vocab.metadata.get(key)
            return vocab.detokenize([int(tid)], special=True).decode("utf-8", "replace") if (
                tid is not None) else ""

        return Jinja2ChatFormatter(template, eos_token=token("tokenizer.ggml.eos_token_id"),
                                   bos_token=token("tokenizer.ggml.bos_token_id"))

    # -- tokens ------------------------------------------------------------------------------
    def count_tokens(self, text: str) -> int:
        return len(self.tokenize(text))

    def tokenize(self, text: str) -> list[int]:
        """Tokens of ``text`` as plain text: a role tag inside it is not a special token."""
        return list(self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def detokenize(self, tokens: list[int]) -> str:
        return self._llm.detokenize(tokens).decode("utf-8", "ignore")

    def format_messages(self, messages: list[dict[str, str]]) -> str:
        """The exact text the model sees: ``messages`` through the GGUF's chat template."""
        if self._formatter is None:
            return "".join(f"{m['role']}: {m['content']}\n" for m in messages) + "assistant: "
        return str(self._formatter(messages=messages).prompt)

    def count_messages(self, messages: list[dict[str, str]]) -> int:
        """Tokens the whole prompt takes, role markers and generation prompt included."""
        text = self.format_messages(messages)
        return len(self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=True))

    @property
    def cached_tokens(self) -> list[int]:
        """Tokens evaluated by the last call (the prefix the next call can reuse)."""
        return list(self._llm._input_ids[: self._llm.n_tokens])

    def reset(self) -> None:
        """Forget the evaluated prompt: the next call starts cold."""
        with self._lock:
            self._llm.reset()

    # -- generation --------------------------------------------------------------------------
    def _reuse_aligned(self, messages: list[dict[str, str]]) -> None:
        """Let this call reuse only whole ``N_BATCH`` blocks of the last prompt (call with
        the lock held).

        llama.cpp's results depend on how tokens are batched (its matrix kernels for one
        token and for many add up in another order), and llama-cpp-python reuses the
        longest evaluated prefix, then evaluates the rest as one batch — so with greedy
        decoding the same question could get another answer depending on what was asked
        before (it did: tests/test_retrieve_ask.py::test_deterministic). Reusing only whole
        blocks that a cold run evaluates in exactly the same batches (prompts are evaluated
        from token 0 in blocks of ``N_BATCH``; generated tokens one at a time, never reused)
        gives every answer the numbers of a cold run. The cost: up to ``N_BATCH - 1``
        tokens evaluated again; ``N_BATCH`` 64 measured as fast as 512 for prompts here."""
        self._llm.n_tokens = min(self._llm.n_tokens, self._reusable)
        # the prompt may get a BOS token the count leaves out, hence the -1
        self._reusable = max(self.count_messages(messages) - 1, 0) // N_BATCH * N_BATCH

    def stream(self, messages: list[dict[str, str]], **params: Any) -> Iterator[str]:
        with self._lock:
            self._reuse_aligned(messages)
            try:
                chunks = self._llm.create_chat_completion(
                    messages=messages,  # type: ignore[arg-type]
                    stream=True,
                    **_options(params),
                )
                for chunk in chunks:
                    delta: Any = chunk["choices"][0]["delta"]  # type: ignore[index]
                    piece = delta.get("content")
                    if piece:
                        yield str(piece)
            except ValueError as exc:  # e.g. prompt longer than the context window
                raise BackendError(f"llama.cpp could not answer: {exc}") from exc

    def complete_json(
        self, messages: list[dict[str, str]], schema: dict[str, Any], **params: Any
    ) -> str:
        """One completion constrained by llama.cpp's grammar for the JSON Schema ``schema``:
        the text is valid JSON of that shape (values still need checking)."""
        opts = _options(params)
        with self._lock:
            self._reuse_aligned(messages)
            try:
                out: Any = self._llm.create_chat_completion(
                    messages=messages,  # type: ignore[arg-type]
                    response_format={"type": "json_object", "schema": schema},
                    **opts,
                )
            except (ValueError, RuntimeError) as exc:
                raise BackendError(f"llama.cpp could not produce a tool call: {exc}") from exc
        text = out["choices"][0]["message"]["content"] or ""
        log.debug("constrained output %s", json.dumps(text))
        return str(text)
