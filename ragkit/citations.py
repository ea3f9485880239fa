"""Map the ``[n]`` markers of an answer to the passages of its prompt."""

from __future__ import annotations

import re

from ragkit._types import Citation
from ragkit.prompt import Passage

# [1], [1, 2], [1][2], 【1】 (full-width brackets, common in Chinese output)
_MARKER = re.compile(r"[\[【]\s*(\d+(?:\s*[,，]\s*\d+)*)\s*[\]】]")


def cited_numbers(text: str) -> list[int]:
    """Marker numbers in order of first appearance.

    >>> cited_numbers("Yes [2]. Also [1, 3] and 【2】.")
    [2, 1, 3]
    """
    seen: dict[int, None] = {}
    for m in _MARKER.finditer(text):
        for n in re.split(r"\s*[,，]\s*", m.group(1)):
            seen[int(n)] = None
    return list(seen)


def _citation(p: Passage, cited: bool) -> Citation:
    c = p.hit.chunk
    return Citation(p.n, c.source, c.page, c.section, c.id, p.text, cited, p.hit.flags)


def resolve_citations(text: str, passages: list[Passage]) -> tuple[list[Citation], list[int]]:
    """Return (citations, invalid marker numbers).

    Cited passages come first, in passage order, then every other passage the model was
    given with ``cited=False`` ("given, not cited"), so the user can check the answer
    against all of them. A marker that points at no passage is returned as invalid, never
    as a source.
    """
    by_n = {p.n: p for p in passages}
    numbers = cited_numbers(text)
    invalid = [n for n in numbers if n not in by_n]
    cited = {n for n in numbers if n in by_n}
    return ([_citation(p, True) for p in passages if p.n in cited]
            + [_citation(p, False) for p in passages if p.n not in cited]), invalid
