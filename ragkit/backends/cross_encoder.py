"""Reranker port on a sentence-transformers ``CrossEncoder`` (off unless configured)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ragkit._models import resolve_model
from ragkit._types import Hit
from ragkit.errors import BackendError


class CrossEncoderReranker:
    """Scores each (question, passage) pair with a cross-encoder; best first.

    ``model`` is a folder or a name already in the local Hugging Face cache, or a ready
    ``CrossEncoder`` object.
    """

    def __init__(self, model: Any, *, device: str = "cpu", batch_size: int = 32) -> None:
        from sentence_transformers import CrossEncoder

        self.batch_size = batch_size
        if isinstance(model, CrossEncoder):
            self._model, self.name = model, str(getattr(model, "model_name", "cross-encoder"))
            return
        self.name = str(model)
        try:
            self._model = CrossEncoder(resolve_model(str(model)), device=device,
                                       local_files_only=True)
        except Exception as exc:  # noqa: BLE001 - many loader errors; one clear message
            raise BackendError(
                f"Cannot load the reranker {model!r}: {exc}. Give a CrossEncoder folder or a "
                "name already in the Hugging Face cache (ragkit never downloads models)."
            ) from exc

    def rerank(self, question: str, hits: Sequence[Hit]) -> list[Hit]:
        if not hits:
            return []
        scores = self._model.predict([(question, h.chunk.text) for h in hits],
                                     batch_size=self.batch_size, show_progress_bar=False)
        ranked = sorted(zip(hits, scores, strict=True), key=lambda p: -float(p[1]))
        return [Hit(h.chunk, float(s)) for h, s in ranked]
