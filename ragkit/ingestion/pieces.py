"""Large files in bounded pieces: a big text-like file in byte ranges that end at a line
(preferably a paragraph or a Markdown heading), a big PDF in page ranges.

Each piece is parsed and chunked as a job of its own, so no process ever holds a whole
large file's elements or chunks: a 200 MB CSV is two hundred 1 MiB jobs, a 2,000-page PDF
forty 50-page jobs, each under ``parse_timeout_s``. The main process writes each piece's
chunks to the store as it comes and commits the file's manifest row once, after its last
piece (:class:`ragkit.ingestion.writer.Writer`), so readers see the whole file or none of it.

What a piece boundary costs: a Markdown section split by one keeps its own heading only in
the piece it starts in, and no chunk spans two pieces. A delimited file's header row is
repeated at the top of every piece, so each piece's table still names its columns.
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

#: a text-like file larger than this is parsed in pieces of about this size
PIECE_BYTES = 1 << 20
#: a PDF with more pages than this is parsed this many pages at a time
PIECE_PAGES = 50
#: a PDF smaller than this is never split (its page count is not even read)
MIN_PDF_BYTES = 1 << 20

#: formats that are a sequence of lines, so any line boundary is a valid place to cut
LINE_FORMATS = {".txt", ".text", ".md", ".markdown", ".csv", ".tsv", ".ndjson", ".jsonl"}
_DELIMITED = {".csv", ".tsv"}
#: one record a line: any line end is a record's end (in a delimited file, outside quotes)
_RECORDS = {*_DELIMITED, ".ndjson", ".jsonl"}
_UTF16_32_BOMS = (b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff")

Span = tuple[int, int]


def split(path: Path, size: int) -> list[Span]:
    """The pieces of ``path`` (``size`` bytes): byte ranges of a text-like file, 1-based
    inclusive page ranges of a PDF; ``[]`` for a file parsed whole (small, another format,
    or one whose pages cannot be counted: its parse reports why)."""
    suffix = path.suffix.lower()
    if suffix in LINE_FORMATS and size > PIECE_BYTES:
        return _byte_spans(path, suffix)
    if suffix == ".pdf" and size > MIN_PDF_BYTES:
        pages = _page_count(path)
        if pages > PIECE_PAGES:
            return [(first, min(first + PIECE_PAGES - 1, pages))
                    for first in range(1, pages + 1, PIECE_PAGES)]
    return []


def _page_count(path: Path) -> int:
    """Pages of a PDF by pypdfium2 (milliseconds), 0 when it cannot be opened."""
    try:
        import pypdfium2 as pdfium

        with contextlib.closing(pdfium.PdfDocument(str(path))) as pdf:
            return len(pdf)
    except Exception:  # noqa: BLE001 - encrypted or damaged: parsed whole, which says why
        return 0


def _byte_spans(path: Path, suffix: str) -> list[Span]:
    """Cut after a line once a piece holds PIECE_BYTES: in Markdown before a heading, in
    prose at a blank line (Markdown too, a quarter piece on), else at any line end half a
    piece on; in a
    file of records at any line end, in a delimited file only where the quotes seen so far
    are balanced (a quoted field can hold newlines). UTF-16/32 text is not split (its
    newline is two or four bytes)."""
    delimited, records = suffix in _DELIMITED, suffix in _RECORDS
    markdown = suffix in {".md", ".markdown"}
    spans: list[Span] = []
    start = pos = 0
    quotes = 0
    with path.open("rb") as f:
        if f.read(4).startswith(_UTF16_32_BOMS):
            return []
        f.seek(0)
        for line in f:
            end = pos + len(line)
            if delimited:
                quotes += line.count(b'"')
            grown = end - start
            if grown >= PIECE_BYTES and not (delimited and quotes % 2):
                # the best place first, then lesser ones as the piece grows past the size
                if (records or grown >= PIECE_BYTES * 3 // 2
                        or (markdown and _next_is_heading(f))
                        or (not line.strip() and (not markdown or grown >= PIECE_BYTES * 5 // 4))):
                    spans.append((start, end))
                    start = end
            pos = end
    if pos > start:
        spans.append((start, pos))
    return spans if len(spans) > 1 else []


def _next_is_heading(f: io.BufferedReader) -> bool:
    """Whether the next line of binary file ``f`` starts a Markdown heading (``#``)."""
    return f.peek(1)[:1] == b"#"


def header(path: Path) -> bytes:
    """A delimited file's first record (its header row), up to the first line end where
    the quotes are balanced."""
    out, quotes = b"", 0
    with path.open("rb") as f:
        for line in f:
            out += line
            quotes += line.count(b'"')
            if quotes % 2 == 0:
                break
    return out if out.endswith(b"\n") else out + b"\n"


@contextlib.contextmanager
def piece_file(path: Path, span: Span) -> Iterator[Path]:
    """Bytes ``span`` of ``path`` as a temporary file of the same suffix (the header row
    first, for a delimited file's later pieces); removed afterwards."""
    start, end = span
    with path.open("rb") as f:
        f.seek(start)
        data = f.read(end - start)
    if start > 0 and path.suffix.lower() in _DELIMITED:
        data = header(path) + data
    fd, name = tempfile.mkstemp(prefix="ragkit-piece-", suffix=path.suffix.lower())
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        del data
        yield Path(name)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(name)
