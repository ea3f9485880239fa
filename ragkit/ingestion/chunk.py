"""Split a Document into chunks by structure, sized in the embedding model's own tokens.

Rules, in order (all sizes in the embedding model's tokens, all limits hard):

1. A heading ends the chunk before it. Consecutive headings stay together and open the
   chunk of what follows them (a heading, a paragraph, a table), so a chunk carries its
   titles; its ``section`` is the most specific one (that of its first block that is not
   a heading), its ``page`` that of its first block.
2. A table is a chunk of its own, apart from the headings right above it and rule 5.
3. Blocks of one section are packed together up to ``max_tokens``.
4. A block longer than that is split: a table between rows, its header row repeated at
   the top of each part; any other block at sentence ends (English and Chinese:
   ``. ! ? 。 ！ ？ ； …``), and a sentence longer than that at the last character that
   fits, never inside a character. When headings stand right above such a block, its
   first part is made small enough to share their chunk (at a sentence end or between
   rows only, unless the sentence or row has to be cut anyway).
5. What is left as a chunk of headings only (a heading at the end of the document, or
   above a table or paragraph it cannot share a chunk with) joins the chunk before it
   when it fits; a chunk under :data:`MIN_CHUNK_TOKENS` that is not a table (a caption, a
   lone page number) joins the chunk before it of the same section when it fits, else the
   one after it. Such chunks would be embedded almost empty, and rank first on queries
   that merely share their few words.

No text is dropped, and no chunk is longer than ``max_tokens``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import dropwhile

from ragkit._types import Block, Chunk, Document

Counter = Callable[[str], int]

#: A chunk (not a table) under this many tokens joins a neighbour of its section (rule 5):
#: alone, its vector says little and matches queries on a word or two.
MIN_CHUNK_TOKENS = 8

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


def _pieces(text: str, max_tokens: int, count: Counter, first: int | None = None) -> Iterator[str]:
    """Yield parts of ``text``, each within ``max_tokens``, that join back to ``text``.

    ``first`` lowers the limit of the first part only (so it can share a chunk with the
    headings above it); it is ignored when the text fits ``max_tokens`` whole, or when
    meeting it would cut a sentence that needs no cut, or when not one character fits it.
    """
    if count(text) <= max_tokens:
        yield text
        return
    limit = max_tokens if first is None else min(first, max_tokens)
    buf = ""
    for sentence in split_sentences(text):
        if count(buf + sentence) <= limit:
            buf += sentence
            continue
        if buf:
            yield buf
            buf = ""
            limit = max_tokens
        elif count(sentence) <= max_tokens or count(sentence[:1]) > limit:
            limit = max_tokens  # the first part's limit would cut for nothing, or cannot hold
        while count(sentence) > limit:
            cut = _fit_prefix(sentence, limit, count)
            yield sentence[:cut]
            sentence = sentence[cut:]
            limit = max_tokens
        buf = sentence
    if buf:
        yield buf


def _table_pieces(
    text: str, max_tokens: int, count: Counter, first: int | None = None
) -> Iterator[tuple[str, int]]:
    """Split a table (one row per line, header first) between rows, repeating the header.

    Yields ``(part, repeated)``: ``repeated`` is the length of the header line and its
    newline when the part starts with a *repeat* of it, else 0 (the first part, which
    holds the header itself, and the pieces of a row too long to follow a header).
    ``first`` lowers the limit of the first part when the header and first row fit in it.
    """
    header, *rows = text.split("\n")
    if not rows or count(header) * 2 > max_tokens:  # no room to repeat the header
        yield from ((piece, 0) for piece in _pieces(text, max_tokens, count, first))
        return
    fits_first = first is not None and count(header + "\n" + rows[0]) <= first
    limit = first if first is not None and fits_first else max_tokens
    repeat = 0  # length of the header repeat that opens ``buf`` (0 until given once)
    buf = header
    for row in rows:
        if count(buf + "\n" + row) <= limit:
            buf += "\n" + row
            continue
        limit = max_tokens
        if buf != header:
            yield buf, repeat
            buf, repeat = header, len(header) + 1
        if count(header + "\n" + row) <= max_tokens:
            buf = header + "\n" + row
        elif not repeat:  # the header was never given: it opens the pieces of this row
            yield from ((piece, 0) for piece in _pieces(header + "\n" + row, max_tokens, count))
            repeat = len(header) + 1
        else:  # one row too long even alone: split it like text
            yield from ((piece, 0) for piece in _pieces(row, max_tokens, count))
    if buf != header:
        yield buf, repeat


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


@dataclass
class _Group:
    """The blocks of one future chunk, its size in tokens (the sum of its blocks' and of
    the separators between them, an upper bound of the joined text's for word-piece and
    character counts) and the length of the repeated table header that opens it."""

    blocks: list[Block]
    size: int
    repeated: int = 0

    @property
    def titles_only(self) -> bool:
        return all(b.kind == "Title" for b in self.blocks)

    @property
    def is_table(self) -> bool:
        return any(b.kind == "Table" for b in self.blocks)

    @property
    def section(self) -> str:
        """The most specific section: the first non-heading block's, else the last heading's."""
        return next((b.section for b in self.blocks if b.kind != "Title"),
                    self.blocks[-1].section)

    def joined(self, other: _Group, sep: int) -> _Group:
        """This group followed by ``other`` (whose repeated header is then not at the start)."""
        return _Group(self.blocks + other.blocks, self.size + sep + other.size, self.repeated)


def _split(block: Block, max_tokens: int, count: Counter, first: int | None = None) -> list[_Group]:
    """The parts of a block longer than ``max_tokens``, one group each (see rule 4)."""
    if block.kind == "Table":
        parts = list(_table_pieces(block.text, max_tokens, count, first))
    else:
        parts = [(piece, 0) for piece in _pieces(block.text, max_tokens, count, first)]
    return [_Group([Block(text, block.kind, block.page, block.section)], count(text), repeated)
            for text, repeated in parts]


def _pack(blocks: tuple[Block, ...], max_tokens: int, count: Counter) -> list[_Group]:
    """Blocks packed into groups by rules 1 to 4."""
    groups: list[_Group] = []
    current = _Group([], 0)
    sep = count("\n\n")

    def flush() -> None:
        nonlocal current
        if current.blocks:
            groups.append(current)
        current = _Group([], 0)

    for block in blocks:
        n = count(block.text)
        titles = bool(current.blocks) and current.titles_only
        room = max_tokens - current.size - sep  # left for this block in the current group
        if titles and n <= room:
            pass  # headings stay with what directly follows them, heading, table or text
        elif titles and n > max_tokens and room > 0:
            parts = _split(block, max_tokens, count, first=room)
            if parts[0].size <= room:  # its first part shares the headings' chunk
                groups.append(current.joined(parts[0], sep))
                groups.extend(parts[1:])
                current = _Group([], 0)
                continue
            flush()
            groups.extend(parts)
            continue
        elif block.kind in {"Title", "Table"} or n > room:
            flush()
        elif current.blocks and block.section != current.blocks[-1].section:
            flush()
        if n > max_tokens:
            groups.extend(_split(block, max_tokens, count))
            continue
        if current.blocks:
            current = current.joined(_Group([block], n), sep)
        else:
            current = _Group([block], n)
        if block.kind == "Table":
            flush()
    flush()
    return groups


def _merge_small(groups: list[_Group], max_tokens: int, count: Counter) -> list[_Group]:
    """Rule 5: heading-only groups join the group before them, then near-empty groups join
    a neighbour of their section; only when the result fits ``max_tokens``."""
    sep = count("\n\n")
    merged: list[_Group] = []
    for group in groups:
        if merged and group.titles_only and merged[-1].size + sep + group.size <= max_tokens:
            merged[-1] = merged[-1].joined(group, sep)
        else:
            merged.append(group)
    out: list[_Group] = []
    for i, group in enumerate(merged):
        if group.is_table or group.size >= MIN_CHUNK_TOKENS:
            out.append(group)
        elif (out and out[-1].section == group.section
              and out[-1].size + sep + group.size <= max_tokens):
            out[-1] = out[-1].joined(group, sep)
        elif (i + 1 < len(merged) and not merged[i + 1].repeated
              and merged[i + 1].section == group.section
              and group.size + sep + merged[i + 1].size <= max_tokens):
            merged[i + 1] = group.joined(merged[i + 1], sep)
        else:
            out.append(group)
    return out


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
    prev: tuple[str, str] | None = None  # (text, section) of the previous text chunk
    # pack to leave room for the overlap prefix, so the prefix never pushes past the limit
    budget = max(max_tokens - overlap, max_tokens // 2)
    groups = _merge_small(_pack(doc.blocks, budget, count), budget, count)
    for i, group in enumerate(groups):
        head, section = group.blocks[0], group.section
        joined = "\n\n".join(b.text for b in group.blocks)
        own = joined.strip()
        prefix = ""
        if overlap and prev and not group.is_table and head.kind != "Title" and prev[1] == section:
            tail = _tail(prev[0], overlap, count)
            if tail and count(tail + " " + own) <= max_tokens:
                prefix = tail + " "
        # the header repeat is counted in the joined text; strip() may eat into it
        repeated = max(group.repeated - (len(joined) - len(joined.lstrip())), 0)
        chunks.append(
            Chunk(
                id=chunk_id(doc.source, doc.id, fingerprint, i),
                doc_id=doc.id,
                text=prefix + own,
                source=doc.source,
                index=i,
                page=head.page,
                section=section,
                kind="Table" if group.is_table else "Text",
                overlap=len(prefix) or repeated,
            )
        )
        # the overlap of the next chunk repeats sentences of this one, not its headings
        body = list(dropwhile(lambda b: b.kind == "Title", group.blocks))
        prev = None if group.is_table else ("\n\n".join(b.text for b in body), section)
    return chunks
