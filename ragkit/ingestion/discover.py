"""Find the files to ingest: glob patterns, hidden files and folders skipped, sorted.

Symlinks to files are followed; symlinked folders are not (no loops) and are listed as
skipped, with the reason. A broken symlink, a symlink loop or a folder that cannot be
listed is reported as a problem, not silently dropped.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ragkit.errors import NotFoundError


@dataclass
class Discovery:
    files: list[Path] = field(default_factory=list)
    #: (path, reason) for entries that look like documents but cannot be read at all, and
    #: folders that cannot be listed
    problems: list[tuple[str, str]] = field(default_factory=list)
    #: (path, reason) for what is left out on purpose: symlinked folders, pipes and devices
    skipped: list[tuple[str, str]] = field(default_factory=list)


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


def _folder_link(path: Path) -> str:
    """Why the symlinked folder ``path`` is not followed."""
    try:
        target = path.resolve(strict=True)
    except (OSError, RuntimeError) as exc:  # RuntimeError: a loop, on Python < 3.13
        return f"broken symlink or symlink loop ({getattr(exc, 'strerror', None) or exc})"
    here = Path(os.path.realpath(path.parent))
    if target == here or target in here.parents:  # following it would walk in circles
        return f"symlinked folder loops back to {target}; not followed"
    return f"symlinked folder ({target}) not followed; ingest it by its own path"


def _walk_error(problems: list[tuple[str, str]]) -> Callable[[OSError], None]:
    def on_error(exc: OSError) -> None:
        problems.append((str(exc.filename), f"folder cannot be read ({exc.strerror or exc}); "
                         "its files were not ingested"))
    return on_error


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
            if not root.is_file():  # a FIFO or a device: reading it could block forever
                out.problems.append((str(root), "not a regular file (a pipe, socket or device)"))
            elif not root.name.startswith("."):
                found[root] = None
            continue
        for folder, dirs, names in os.walk(root, onerror=_walk_error(out.problems)):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for d in [d for d in dirs if os.path.islink(os.path.join(folder, d))]:
                dirs.remove(d)  # os.walk would not descend; say so in the report
                link = Path(folder) / d
                out.skipped.append((str(link), _folder_link(link)))
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
                else:  # reading a FIFO or a device could block forever, or never end
                    out.skipped.append((str(path), "not a regular file (a pipe, socket or "
                                        "device)"))
    out.files = sorted(found)
    return out
