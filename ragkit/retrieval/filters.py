"""Metadata filters, applied inside both retrievers (before their top-k is cut).

A filter is ``KEY=VALUE``; several filters must all hold:

- ``source=GLOB``: the file's path matches the glob (``*`` crosses folders, so
  ``source=*.pdf`` and ``source=*/reports/*`` work on absolute paths);
- ``filetype=EXT``: the file's extension, with or without the dot (``pdf``, ``.docx``);
- any other key: equality on the chunk's metadata (``section``, ``kind``, ``page``,
  ``doc_id`` …); a value of digits compares as a number.

``source`` and ``filetype`` are resolved to the list of matching files of the knowledge base
(from its manifest), so the vector store and the keyword index get the same exact list.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

from ragkit.errors import ValidationError
from ragkit.storage import SqlFilter, chunk_filter

__all__ = ["Filters", "SqlFilter", "parse_filters", "resolve"]

_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class Filters:
    """Resolved filters. ``sources`` is None when no path filter applies."""

    sources: frozenset[str] | None
    meta: tuple[tuple[str, str | int], ...]

    @property
    def empty(self) -> bool:
        """True when no chunk can match (a path filter matched no file)."""
        return self.sources is not None and not self.sources

    def chroma(self) -> dict[str, Any] | None:
        clauses: list[dict[str, Any]] = []
        if self.sources is not None:
            clauses.append({"source": {"$in": sorted(self.sources)}})
        clauses += [{k: v} for k, v in self.meta]
        if not clauses:
            return None
        return clauses[0] if len(clauses) == 1 else {"$and": clauses}

    def sql(self) -> SqlFilter | None:
        """The same conditions for the keyword record (None: no condition)."""
        return chunk_filter(self.sources, self.meta)


def parse_filters(items: Iterable[str] | Mapping[str, str] | None) -> dict[str, str]:
    """``["k=v", ...]`` (the CLI's ``--filter``) or a mapping -> a checked dict."""
    if not items:
        return {}
    pairs: list[tuple[str, str]] = []
    if isinstance(items, Mapping):
        pairs = [(str(k), str(v)) for k, v in items.items()]
    else:
        for item in items:
            key, sep, value = str(item).partition("=")
            if not sep:
                raise ValidationError(f"filter {item!r} is not KEY=VALUE")
            pairs.append((key.strip(), value.strip()))
    out: dict[str, str] = {}
    for key, value in pairs:
        if not _KEY.match(key):
            raise ValidationError(f"filter key {key!r}: use letters, digits and _")
        if key in out:
            raise ValidationError(f"filter key {key!r} given twice")
        out[key] = value
    return out


def resolve(filters: Mapping[str, str], all_sources: Iterable[str]) -> Filters:
    """Turn checked filters into what both retrievers apply."""
    sources: set[str] | None = None
    meta: list[tuple[str, str | int]] = []
    for key, value in filters.items():
        if key == "source":
            matched = {s for s in all_sources if fnmatch.fnmatchcase(s, value)}
        elif key == "filetype":
            ext = "." + value.lower().lstrip(".")
            matched = {s for s in all_sources if PurePath(s).suffix.lower() == ext}
        else:
            meta.append((key, int(value) if value.isdigit() else value))
            continue
        sources = matched if sources is None else sources & matched
    return Filters(None if sources is None else frozenset(sources), tuple(meta))
