"""Split a Document into chunks by structure, sized in the embedding model's own tokens.

Rules, in order: a heading starts a new chunk (and opens it, so the chunk carries its
title); a table is a chunk of its own; blocks of one section are packed together up to
``max_tokens``; a table longer than that is split between rows, its header row repeated
at the top of each part; any other block longer than that is split at sentence ends
(English and Chinese: ``. ! ? 。 ！ ？ ； …``), and a sentence longer than that at the last
character that fits, never inside a character. No text is dropped.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterator

from ragkit._types import Block, Chunk, Document

Counter = Callable[[str], int]

# a sentence ends after ASCII .!? followed by space, or right after a CJK terminator
_SENTENCE = re.compile(r"(?<=[.!?])\s+|(?<=[。！？；…])")


def split_sentences(text: str) -> list[str]:
    """Split at sentence ends, keeping the punctuation; joining the parts gives the text.

    >>> split_sentences("大熊猫吃竹子。它们很可爱！Yes. No")
    ['大熊猫吃竹子。', '它们很可爱！', 'Yes. ', 'No']
    """
    parts, start = [], 0
    for m in _SENTENCE.finditer(text):
        if m.end() > start:
            parts.append(text[start : m.end()])
            start = m.end()
    if start < len(text):
        parts.append(text[start:])
    return [p for p in parts if p]


def _fit_prefix(text: str, max_tokens: int, count: Counter) -> int:
    """Largest prefix length (in characters) of ``text`` within ``max_tokens``; at least 1."""
    lo, hi = 1, len(text)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if count(text[:mid]) <= max_tokens:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _pieces(text: str, max_tokens: int, count: Counter) -> Iterator[str]:
    """Yield parts of ``text``, each within ``max_tokens``, that join back to ``text``."""
    if count(text) <= max_tokens:
        yield text
        return
    buf = ""
    for sentence in split_sentences(text):
        if count(buf + sentence) <= max_tokens:
            buf += sentence
            continue
        if buf:
            yield buf
            buf = ""
        while count(sentence) > max_tokens:
            cut = _fit_prefix(sentence, max_tokens, count)
            yield sentence[:cut]
            sentence = sentence[cut:]
        buf = sentence
    if buf:
        yield buf


def _table_pieces(text: str, max_tokens: int, count: Counter) -> Iterator[str]:
    """Split a table (one row per line, header first) between rows, repeating the header."""
    header, *rows = text.split("\n")
    if not rows or count(header) * 2 > max_tokens:  # no room to repeat the header
        yield from _pieces(text, max_tokens, count)
        return
    buf = header
    for row in rows:
        if count(buf + "\n" + row) <= max_tokens:
            buf += "\n" + row
            continue
        if buf != header:
            yield buf
        if count(header + "\n" + row) <= max_tokens:
            buf = header + "\n" + row
        else:  # one row too long even alone: split it like text
            yield from _pieces(row, max_tokens, count)
            buf = header
    if buf != header:
        yield buf


def chunk_id(source: str, doc_id: str, fingerprint: str, index: int) -> str:
    """Deterministic id: same file, same settings, same position → same id."""
    return hashlib.sha256(f"{source}\0{doc_id}\0{fingerprint}\0{index}".encode()).hexdigest()[:32]


def _tail(text: str, overlap: int, count: Counter) -> str:
    """The last whole sentences of ``text`` within ``overlap`` tokens ("" if none fit)."""
    tail = ""
    for sentence in reversed(split_sentences(text)):
        if count(sentence + tail) > overlap:
            break
        tail = sentence + tail
    return tail.strip()


def _groups(
    blocks: tuple[Block, ...], max_tokens: int, count: Counter
) -> list[tuple[list[Block], int]]:
    """Blocks packed into chunks; each with the length of its repeated table header."""
    groups: list[tuple[list[Block], int]] = []
    current: list[Block] = []
    size = 0
    sep = count("\n\n")

    def flush() -> None:
        nonlocal current, size
        if current:
            groups.append((current, 0))
        current, size = [], 0

    for block in blocks:
        n = count(block.text)
        only_titles = all(b.kind == "Title" for b in current)
        new_section = bool(current) and block.section != current[-1].section
        if block.kind == "Table" and only_titles and size + sep + n <= max_tokens:
            pass  # a table stays with the heading right above it
        elif block.kind in {"Title", "Table"} or new_section or size + sep + n > max_tokens:
            flush()
        if n > max_tokens:
            flush()
            is_table = block.kind == "Table"
            split = _table_pieces if is_table else _pieces
            header = block.text.split("\n", 1)[0] + "\n"
            for n_piece, piece in enumerate(split(block.text, max_tokens, count)):
                repeated = len(header) if is_table and n_piece and piece.startswith(header) else 0
                groups.append(([Block(piece, block.kind, block.page, block.section)], repeated))
            continue
        current.append(block)
        size += n + (sep if len(current) > 1 else 0)
        if block.kind == "Table":
            flush()
    flush()
    return groups


def chunk_document(
    doc: Document, *, max_tokens: int, count: Counter, fingerprint: str = "", overlap: int = 0
) -> list[Chunk]:
    """Return the chunks of ``doc``, in document order.

    ``count`` gives the token length of a text in the embedding model's tokenizer;
    ``fingerprint`` identifies the chunking settings and goes into every chunk id.
    ``overlap`` (tokens): a chunk that continues the same section as the one before starts
    with that chunk's last whole sentences, up to ``overlap`` tokens and never past
    ``max_tokens``; :attr:`Chunk.overlap` is the length of that repeated prefix, so
    ``chunk.text[chunk.overlap:]`` is the chunk's own text. Tables get no sentence overlap;
    the parts of a split table repeat its header row, and that is their ``overlap``.
    """
    chunks: list[Chunk] = []
    prev: tuple[str, str] | None = None  # (own text, section) of the previous text chunk
    # pack to leave room for the overlap prefix, so the prefix never pushes past the limit
    budget = max(max_tokens - overlap, max_tokens // 2)
    for i, (group, repeated) in enumerate(_groups(doc.blocks, budget, count)):
        head = group[0]
        own = "\n\n".join(b.text for b in group).strip()
        is_table = any(b.kind == "Table" for b in group)
        prefix = ""
        if overlap and prev and not is_table and head.kind != "Title" and prev[1] == head.section:
            tail = _tail(prev[0], overlap, count)
            if tail and count(tail + " " + own) <= max_tokens:
                prefix = tail + " "
        chunks.append(
            Chunk(
                id=chunk_id(doc.source, doc.id, fingerprint, i),
                doc_id=doc.id,
                text=prefix + own,
                source=doc.source,
                index=i,
                page=head.page,
                section=head.section,
                kind="Table" if is_table else "Text",
                overlap=len(prefix) or repeated,
            )
        )
        prev = None if is_table else (own, head.section)
    return chunks
