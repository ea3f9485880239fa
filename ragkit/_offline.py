"""Offline by construction: no model download, no telemetry, unless the user asks for it.

Importing ragkit changes nothing. The defaults below are applied, each only if the variable
is not set yet, at three documented moments:

- when a :class:`ragkit.RAG` is created (setting ``offline_env``, default true; false
  leaves the process environment alone),
- when an app entry point starts (``ragkit``, ``ragkit-ingest``, the Streamlit app), which
  own their process,
- in parser worker processes, which ragkit starts itself.

They must be in place before a dependency that reads them at import time is imported
(huggingface_hub, transformers, unstructured, chromadb); ragkit imports those lazily, after
a RAG applied them. Independently of the environment, models are loaded with
``local_files_only`` and Chroma clients are made with ``anonymized_telemetry=False``.
A variable the user has set is left alone, so turning a dependency's telemetry back on, or
allowing hub downloads, stays the user's choice.
"""

from __future__ import annotations

import logging
import os

log = logging.getLogger(__name__)

#: Environment defaults ragkit applies (see the module doc). Documented in
#: docs/configuration.md.
OFFLINE_ENV: dict[str, str] = {
    # Hugging Face: never reach the hub; models come from installed packages or paths.
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "HF_HUB_DISABLE_IMPLICIT_TOKEN": "1",
    # no "Loading weights" progress bars on every start
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    # unstructured: library-load ping (scarf) and partition telemetry, and its banner.
    "DO_NOT_TRACK": "1",
    "SCARF_NO_ANALYTICS": "1",
    "UNSTRUCTURED_DISABLE_NOTICE": "1",
    # Chroma: posthog product telemetry (also switched off in the client Settings).
    "ANONYMIZED_TELEMETRY": "False",
    # Streamlit: usage statistics from the browser.
    "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false",
    # LangChain / LangSmith: no tracing to LangSmith's servers from the interop module.
    "LANGSMITH_TRACING": "false",
    "LANGCHAIN_TRACING_V2": "false",
    # tokenizers forks badly after threads start; silence its warning and stay safe.
    "TOKENIZERS_PARALLELISM": "false",
}


def apply_offline_defaults(environ: dict[str, str] | None = None) -> dict[str, str]:
    """Set each of :data:`OFFLINE_ENV` unless already present; return what was set.

    >>> env = {"DO_NOT_TRACK": "0"}
    >>> sorted(apply_offline_defaults(env))[:2]
    ['ANONYMIZED_TELEMETRY', 'HF_DATASETS_OFFLINE']
    >>> env["DO_NOT_TRACK"]
    '0'
    """
    target = os.environ if environ is None else environ
    applied = {}
    for key, value in OFFLINE_ENV.items():
        if key not in target:
            target[key] = value
            applied[key] = value
    if applied and environ is None:
        log.debug("offline defaults set: %s", ", ".join(sorted(applied)))
    return applied
