"""Embedder port on sentence-transformers (bundled all-MiniLM-L6-v2 by default)."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np

from ragkit._dtype import resolve_dtype
from ragkit._memory import release_memory
from ragkit._models import resolve_model
from ragkit.errors import BackendError, ConfigError

log = logging.getLogger(__name__)


class SentenceTransformerEmbedder:
    """Embeds with a local sentence-transformers model; vectors are L2-normalised.

    >>> e = SentenceTransformerEmbedder("bundled:all-MiniLM-L6-v2")  # doctest: +SKIP
    >>> len(e.embed_query("hello"))  # doctest: +SKIP
    384
    """

    def __init__(self, model: str, *, device: str = "cpu", batch_size: int = 16,
                 dtype: str = "float32") -> None:
        """``dtype``: 'float32', 'bfloat16' or 'auto' (:func:`ragkit._dtype.resolve_dtype`).
        ``batch_size``: texts per forward pass. 16 measured as fast as 64 on 1,024 texts of
        256 word pieces (29.4 s vs 31.0 s bf16, 51.0 s both fp32) with a peak of 757 MB
        instead of 980 MB (bf16) and 814 MB instead of 1,214 MB (fp32): the attention
        scores of 64 long texts are 200 MB a layer in fp32.

        Raises ConfigError for another ``dtype``, BackendError when the model does not load.
        """
        import torch
        from sentence_transformers import SentenceTransformer

        self.name = model
        self.batch_size = batch_size
        #: the number type the model runs in, and why (for doctor and the logs)
        try:
            self.dtype, self.dtype_reason = resolve_dtype(dtype, model=model, device=device)
        except ValueError as exc:
            raise ConfigError(str(exc)) from exc
        location = resolve_model(model)
        #: where worker processes load the same tokenizer from, to size chunks
        self.tokenizer_path = location
        try:
            self._model = SentenceTransformer(location, device=device, local_files_only=True)
        except Exception as exc:  # noqa: BLE001 - many loader errors; one clear message
            raise BackendError(
                f"Cannot load embedding model {model!r} from {location!r}: {exc}. Give a model "
                "folder, 'bundled:all-MiniLM-L6-v2', or a name already in the Hugging Face "
                "cache (ragkit never downloads models)."
            ) from exc
        if self.dtype == "bfloat16":
            self._model.to(torch.bfloat16)
        log.info("embedding model %r runs in %s (%s)", model, self.dtype, self.dtype_reason)
        # renamed get_embedding_dimension in sentence-transformers 5; keep both working
        get_dim = getattr(self._model, "get_embedding_dimension", None) or (
            self._model.get_sentence_embedding_dimension
        )
        dim = get_dim()
        if dim is None:
            raise BackendError(f"Embedding model {model!r} does not report its dimension.")
        self.dimension = int(dim)
        # two places go to [CLS]/[SEP]: a text of max_tokens word pieces still fits
        self.max_tokens = int(self._model.max_seq_length or 512) - 2
        self._tokenizer = self._model.tokenizer

    def count_tokens(self, text: str) -> int:
        return len(self._tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"])

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        """Unit vectors of ``texts``, in their order. The texts are encoded longest first, in
        batches of similar length in word pieces, so little of the work is padding
        (sentence-transformers sorts by characters, a poor proxy when Chinese and English
        mix: 20 % of the tokens computed were padding on the bench corpus, 8 % in word-piece
        order; bench/embed_dtype_bench.py)."""
        if not texts:
            return []
        texts = list(texts)
        pieces = self._tokenizer(texts, add_special_tokens=False, verbose=False)["input_ids"]
        order = sorted(range(len(texts)), key=lambda i: -len(pieces[i]))
        vectors = np.empty((len(texts), self.dimension), dtype=np.float32)
        for start in range(0, len(order), self.batch_size):
            batch = order[start : start + self.batch_size]
            vectors[batch] = self._model.encode(
                [texts[i] for i in batch],
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
            if len(texts) > 1:  # a question's few activations: not worth walking the heap
                release_memory()  # else glibc keeps each batch's activations (ragkit._memory)
        if self.dtype != "float32":  # normalised in bfloat16: unit length again, in float32
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        return [v.tolist() for v in vectors]

    def embed_query(self, text: str) -> list[float]:
        return self.embed_documents([text])[0]
