"""Parse one file into a :class:`Document` of :class:`Block` s, with unstructured.

Each format goes to its own unstructured partitioner with ``languages`` given: the generic
``partition()`` spends most of its 55-140 ms per small file on file-type and language
detection, the per-format ones 5-11 ms. PDFs take a lighter route, see :func:`_pdf`.
"""

from __future__ import annotations

import hashlib
import itertools
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ragkit._types import Block, Document
from ragkit.errors import ParseError
from ragkit.ingestion._spacy import use_bundled_spacy_model
from ragkit.ingestion.decode import read_text

#: a heading does not end like a sentence, or mid-sentence (a Chinese sign-off "祝好，" is
#: not a heading: unstructured knows only the ASCII comma)
_SENTENCE_END = re.compile(r"[.!?。！？；;:：,，、]$")
_MAX_TITLE_CHARS = 120


#: Office files are zip archives; refuse one that expands beyond this, or by more than
#: ZIP_MAX_RATIO times its size once it expands beyond ZIP_RATIO_FLOOR (a zip bomb)
ZIP_MAX_BYTES = 512 * 1024 * 1024
ZIP_MAX_RATIO = 100
ZIP_RATIO_FLOOR = 20 * 1024 * 1024


def check_zip(path: Path) -> None:
    """Refuse a non-zip or a zip bomb before an Office parser expands it in memory."""
    import zipfile

    with path.open("rb") as f:
        magic = f.read(8)
    if magic == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":  # OLE2: how Office stores encrypted files
        raise ParseError(
            f"password-protected (encrypted) {path.suffix} file, or an old binary Office "
            "format saved under a new name; save it without a password to ingest it"
        )
    try:
        with zipfile.ZipFile(path) as z:
            expanded = sum(i.file_size for i in z.infolist())
    except (zipfile.BadZipFile, EOFError, ValueError) as exc:
        raise ParseError(f"not a valid {path.suffix} file (broken zip archive: {exc})") from exc
    size = max(path.stat().st_size, 1)
    if expanded > ZIP_MAX_BYTES or (expanded > ZIP_RATIO_FLOOR and expanded / size > ZIP_MAX_RATIO):
        raise ParseError(
            f"zip bomb: {size:,} bytes would expand to {expanded:,} bytes; not parsed"
        )


def _text_partitioner(partition: Callable[..., list[Any]]) -> Callable[..., list[Any]]:
    def run(filename: str, languages: list[str]) -> list[Any]:
        return partition(text=read_text(Path(filename)), languages=languages)

    return run


def _partitioner(suffix: str) -> Callable[..., list[Any]] | None:
    if suffix in {".md", ".markdown"}:
        from unstructured.partition.md import partition_md

        return _text_partitioner(partition_md)
    if suffix in {".txt", ".text"}:
        from unstructured.partition.text import partition_text

        return _text_partitioner(partition_text)
    if suffix in {".html", ".htm"}:
        from unstructured.partition.html import partition_html

        return partition_html
    if suffix == ".docx":
        from unstructured.partition.docx import partition_docx

        return partition_docx
    if suffix == ".pdf":
        return _pdf
    # imported when first needed (here and in supported()): formats loads unstructured's
    # element classes, which `import ragkit` should not pay for
    from ragkit.ingestion.formats import PARTITIONERS

    return PARTITIONERS.get(suffix)


_OWN = (".md", ".markdown", ".txt", ".text", ".html", ".htm", ".docx", ".pdf")
_ZIPPED = {".docx", ".pptx", ".xlsx"}


def supported() -> tuple[str, ...]:
    """File suffixes ragkit can parse."""
    from ragkit.ingestion.formats import PARTITIONERS

    return tuple(sorted({*_OWN, *PARTITIONERS}))


def unavailable(path: Path) -> str | None:
    """Why ``path`` is not parsed at all (ingest lists it as skipped), or None: a type ragkit
    does not read, or one whose external program is not installed (the reason names the
    package, e.g. ".doc needs LibreOffice Writer: apt-get install libreoffice-writer-nogui").
    """
    suffix = path.suffix.lower()
    if suffix not in supported():
        return f"unsupported file type {path.suffix or '(none)'!r}"
    from ragkit.ingestion.convert import missing_tool

    return missing_tool(suffix)


def _pdf(filename: str, languages: list[str], pages: tuple[int, int] | None = None
         ) -> list[Any]:
    """PDF text boxes by pdfminer.six, classified by unstructured, page numbers kept; pages
    without a text layer (scans) by OCR.

    unstructured's ``partition_pdf`` imports unstructured-inference, OpenCV and matplotlib
    even for ``strategy="fast"``; its fast strategy is pdfminer's text boxes run through
    ``element_from_text``, which is what this does with pdfminer.six alone. ``pages``: only
    these (first, last; 1-based, inclusive), for a large PDF parsed in pieces.
    """
    from pdfminer.high_level import extract_pages
    from pdfminer.layout import LAParams, LTTextContainer
    from pdfminer.pdfdocument import PDFEncryptionError, PDFPasswordIncorrect
    from pdfminer.pdfparser import PDFSyntaxError
    from pdfminer.psexceptions import PSException
    from unstructured.partition.text import element_from_text

    from ragkit.ingestion import ocr

    elements = []
    first_no, wanted = (1, None) if pages is None else (pages[0], range(pages[0] - 1, pages[1]))
    layouts = extract_pages(filename, laparams=LAParams(), page_numbers=wanted)
    try:
        first = next(layouts, None)
    except (PDFPasswordIncorrect, PDFEncryptionError) as exc:
        raise ParseError("encrypted PDF (password protected); decrypt it to ingest it") from exc
    except (PSException, PDFSyntaxError) as exc:
        raise ParseError(f"damaged or truncated PDF ({type(exc).__name__}: {exc})") from exc
    if first is None:
        return []
    scans = []  # pages that are images of text, read by OCR (ragkit.ingestion.ocr)
    for page_no, page in enumerate(itertools.chain([first], layouts), start=first_no):
        found = []
        for box in page:
            if not isinstance(box, LTTextContainer):
                continue
            text = " ".join(box.get_text().split())
            if text:
                el = element_from_text(text)
                el.metadata.page_number = page_no
                el.metadata.languages = languages
                found.append(el)
        if ocr.scanned(page, sum(len(el.text) for el in found)):
            scans.append(page_no)  # its few characters come again from the OCR
        else:
            elements += found
    return ocr.with_scanned_pages(filename, elements, scans, languages) if scans else elements


def _partition_piece(partition: Callable[..., list[Any]], path: Path, languages: list[str],
                     span: tuple[int, int] | None) -> list[Any]:
    """``partition`` run on the file, or on its piece ``span``."""
    if span is None:
        return partition(filename=str(path), languages=languages)
    if path.suffix.lower() == ".pdf":
        return _pdf(str(path), languages, pages=span)
    from ragkit.ingestion.pieces import piece_file

    with piece_file(path, span) as piece:
        return partition(filename=str(piece), languages=languages)


def _is_heading(category: str, text: str) -> bool:
    # unstructured calls short lines "Title"; a real heading does not end like a sentence
    # (Chinese paragraphs without spaces are often mistaken for titles).
    return (
        category == "Title" and len(text) <= _MAX_TITLE_CHARS and not _SENTENCE_END.search(text)
    )


def table_text(html: str) -> str:
    """A table as pipe-separated rows, header row first, one row per line.

    Flattened table text ("Planet Known moons Earth 1 …") loses which value belongs to
    which column; rows keep it, for the embedding model and the LLM alike.

    >>> table_text("<table><tr><th>a</th><th>b</th></tr><tr><td>1</td><td>2</td></tr></table>")
    'a | b\n1 | 2'
    """
    import lxml.html

    root = lxml.html.fromstring(html)
    rows = []
    for tr in root.iter("tr"):
        cells = [" ".join(c.text_content().split()) for c in tr if c.tag in ("td", "th")]
        if any(cells):
            rows.append(" | ".join(cells))
    return "\n".join(rows)


def _text(el: Any) -> str:
    html = getattr(el.metadata, "text_as_html", None)
    if getattr(el, "category", "") == "Table" and html:
        try:
            return table_text(html) or (el.text or "").strip()
        except Exception:  # noqa: BLE001 - malformed table HTML: keep unstructured's text
            return (el.text or "").strip()
    return (el.text or "").strip()


def _blocks(elements: list[Any]) -> list[Block]:
    """Turn unstructured elements into blocks carrying their section path."""
    stack: list[tuple[int, str]] = []  # (depth, title)
    blocks = []
    for el in elements:
        text = _text(el)
        if not text:
            continue
        category = getattr(el, "category", type(el).__name__)
        page = getattr(el.metadata, "page_number", None)
        if _is_heading(category, text):
            depth = getattr(el.metadata, "category_depth", None) or 0
            stack = [(d, t) for d, t in stack if d < depth] + [(depth, text)]
            blocks.append(Block(text, "Title", page, " > ".join(t for _, t in stack)))
            continue
        kind = "NarrativeText" if category == "Title" else category
        blocks.append(Block(text, kind, page, " > ".join(t for _, t in stack)))
    return blocks


def file_hash(path: Path) -> str:
    """SHA-256 of the file's bytes, read in 1 MiB pieces."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        for piece in iter(lambda: f.read(1 << 20), b""):
            h.update(piece)
    return h.hexdigest()


def parse_file(path: Path, *, source: str, doc_id: str, languages: list[str],
               span: tuple[int, int] | None = None) -> Document:
    """Parse ``path`` into a Document whose id is ``doc_id`` (its content hash); with
    ``span``, only that piece of it (:mod:`ragkit.ingestion.pieces`: a byte range, or a PDF's
    page range), which may hold no text (the file as a whole is judged by the pipeline).

    Raises:
        ParseError: unsupported type, or the parser failed; the message is one line.
    """
    suffix = path.suffix.lower()
    partition = _partitioner(suffix)
    if partition is None:
        raise ParseError(
            f"unsupported file type {suffix or '(none)'!r}; supported: {', '.join(supported())}"
        )
    use_bundled_spacy_model()
    if path.stat().st_size == 0:
        raise ParseError("empty file (0 bytes)")
    if suffix in _ZIPPED:
        check_zip(path)
    try:
        elements = _partition_piece(partition, path, languages, span)
    except ParseError:
        raise
    except Exception as exc:  # noqa: BLE001 - any parser failure is this file's failure
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise ParseError(f"{type(exc).__name__}: {reason[:300]}") from exc
    blocks = _blocks(elements)
    if not blocks and span is None:
        raise ParseError("no text found (empty, scanned or image-only document)")
    return Document(id=doc_id, source=source, blocks=tuple(blocks), meta={"type": suffix[1:]})
