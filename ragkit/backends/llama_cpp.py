"""LLM port on llama-cpp-python with a GGUF file (bundled SmolLM2-135M-Instruct by default)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from typing import Any

from ragkit._models import resolve_model
from ragkit.errors import BackendError

log = logging.getLogger(__name__)


class LlamaCppLLM:
    """Chat completion through the model's own chat template, streaming.

    One ``Llama`` object is kept for the process: llama.cpp then reuses the evaluated
    prompt prefix (system prompt) between questions. A lock serialises calls, since a
    ``Llama`` object is not safe for concurrent use (the Streamlit app has many threads).
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
        try:
            self._llm = Llama(
                model_path=path,
                n_ctx=n_ctx,
                n_threads=n_threads,
                n_gpu_layers=n_gpu_layers,
                seed=seed,
                verbose=False,
            )
        except (ValueError, OSError, RuntimeError) as exc:
            raise BackendError(
                f"Cannot load GGUF model {model!r} from {path!r}: {exc}. Set llm_model to a "
                "readable .gguf file or 'bundled:SmolLM2-135M-Instruct'."
            ) from exc
        self.n_ctx = int(self._llm.n_ctx())
        self._lock = threading.Lock()

    def count_tokens(self, text: str) -> int:
        return len(self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=True))

    def stream(self, messages: list[dict[str, str]], **params: Any) -> Iterator[str]:
        with self._lock:
            try:
                chunks = self._llm.create_chat_completion(
                    messages=messages,  # type: ignore[arg-type]
                    stream=True,
                    max_tokens=params.get("max_tokens", 256),
                    temperature=params.get("temperature", 0.0),
                    top_p=params.get("top_p", 0.95),
                    seed=params.get("seed", 0),
                )
                for chunk in chunks:
                    delta: Any = chunk["choices"][0]["delta"]  # type: ignore[index]
                    piece = delta.get("content")
                    if piece:
                        yield str(piece)
            except ValueError as exc:  # e.g. prompt longer than the context window
                raise BackendError(f"llama.cpp could not answer: {exc}") from exc
