"""Find the files to ingest: glob patterns, hidden files and folders skipped, sorted.

Symlinks to files are followed; symlinked folders are not (no loops), and a broken symlink
or a symlink loop is reported as a problem, not silently dropped.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ragkit.errors import NotFoundError


@dataclass
class Discovery:
    files: list[Path] = field(default_factory=list)
    #: (path, reason) for entries that look like documents but cannot be read at all
    problems: list[tuple[str, str]] = field(default_factory=list)


def _matches(rel: str, patterns: Iterable[str]) -> bool:
    # "**/*" style patterns should also match files at the top level
    return any(
        fnmatch.fnmatch(rel, p) or (p.startswith("**/") and fnmatch.fnmatch(rel, p[3:]))
        for p in patterns
    )


def _check_link(path: Path) -> str | None:
    """Why a symlink cannot be ingested, or None if it points at a regular file."""
    try:
        path.stat()  # follows the link: ELOOP / ENOENT for loops and dangling links
    except OSError as exc:
        return f"broken symlink or symlink loop ({exc.strerror})"
    return None


def discover(paths: Iterable[str | Path], include: list[str], exclude: list[str]) -> Discovery:
    """Return the files under ``paths`` matching ``include`` and not ``exclude``.

    A path that is a file is taken as given (if not hidden). Hidden files and anything in
    a hidden folder (``.git``, ``.venv``) are skipped. Paths are absolute but not resolved,
    so a file keeps the name it has in the folder. Raises NotFoundError for a missing path.

    >>> discover([], ["**/*"], []).files
    []
    """
    found: dict[Path, None] = {}
    out = Discovery()
    for raw in paths:
        root = Path(os.path.abspath(Path(raw).expanduser()))
        if not root.exists():
            raise NotFoundError(f"{str(raw)!r} does not exist; give a folder or file to ingest.")
        if not root.is_dir():
            if not root.name.startswith("."):
                found[root] = None
            continue
        for folder, dirs, names in os.walk(root, followlinks=False):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for name in names:
                if name.startswith("."):
                    continue
                path = Path(folder) / name
                rel = path.relative_to(root).as_posix()
                if not _matches(rel, include) or _matches(rel, exclude):
                    continue
                if path.is_symlink() and (reason := _check_link(path)):
                    out.problems.append((str(path), reason))
                    continue
                if path.is_file() or not path.exists():  # vanished ones are reported later
                    found[path] = None
    out.files = sorted(found)
    return out
