"""Find the files to ingest: glob patterns, hidden files and folders skipped, sorted."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from pathlib import Path

from ragkit.errors import NotFoundError


def _hidden(rel: Path) -> bool:
    return any(part.startswith(".") for part in rel.parts)


def _matches(rel: str, patterns: Iterable[str]) -> bool:
    # "**/*" style patterns should also match files at the top level
    return any(
        fnmatch.fnmatch(rel, p) or (p.startswith("**/") and fnmatch.fnmatch(rel, p[3:]))
        for p in patterns
    )


def discover(
    paths: Iterable[str | Path], include: list[str], exclude: list[str]
) -> list[Path]:
    """Return the files under ``paths`` matching ``include`` and not ``exclude``.

    A path that is a file is taken as given (if not hidden). Hidden files and anything in
    a hidden folder (``.git``, ``.venv``, the knowledge base's own ``.ragkit``) are skipped.
    Symlinked folders are not followed (no loops). Raises NotFoundError for a missing path.

    >>> discover([], ["**/*"], [])
    []
    """
    found: dict[Path, None] = {}
    for raw in paths:
        root = Path(raw).expanduser()
        if not root.exists():
            raise NotFoundError(f"{str(raw)!r} does not exist; give a folder or file to ingest.")
        if root.is_file():
            if not root.name.startswith("."):
                found[root.resolve()] = None
            continue
        for path in sorted(root.rglob("*")):
            rel = path.relative_to(root)
            if _hidden(rel) or not path.is_file():
                continue
            text = rel.as_posix()
            if _matches(text, include) and not _matches(text, exclude):
                found[path.resolve()] = None
    return sorted(found)
