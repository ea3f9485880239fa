"""Text from pictures of text: images, and PDF pages without a text layer, by Tesseract.

The ``tesseract`` program (Debian's ``tesseract-ocr``, with the ``eng`` and ``chi-sim``
language data) is run once per image or page, from :mod:`ragkit.ingestion.convert`, with
``OMP_THREAD_LIMIT=1``: its OpenMP threads would fight the embedder for the cores, and
parser workers already run side by side. PDF pages are rasterised by pypdfium2 (a dependency
of unstructured) at 300 dpi, the resolution Tesseract is trained for.

Each paragraph of Tesseract's output (blank-line separated) becomes one element, with its
page number: the page of the PDF, or of a multi-page TIFF.
"""

from __future__ import annotations

import io
import logging
import re
from functools import cache
from pathlib import Path
from typing import Any

from ragkit.errors import ParseError
from ragkit.ingestion.convert import OCR_TIMEOUT, TESSERACT, run

log = logging.getLogger(__name__)

#: ISO 639-3 (the ``languages`` setting) -> Tesseract's names; anything else is passed on as
#: is (Tesseract names most languages by their ISO 639-2 code: deu, fra, spa, ...)
_TESSERACT_NAMES = {"zho": "chi_sim", "chi": "chi_sim", "cmn": "chi_sim", "zh": "chi_sim",
                    "en": "eng"}
#: pixels of one rasterised PDF page at most (A4 at 300 dpi is 8.7 million): a poster-sized
#: page is rendered at a lower resolution rather than taking gigabytes
MAX_PAGE_PIXELS = 36_000_000
DPI = 300
#: a PDF page with fewer characters than this in its text layer, and an image on it, is
#: taken as scanned (a scan often carries a stamped page number or header)
MIN_TEXT_CHARS = 20

_CJK = r"\u2e80-\u9fff\u3000-\u303f\uac00-\ud7af\uf900-\ufaff\uff00-\uffef"
_CJK_GAP = re.compile(rf"(?<=[{_CJK}])[ \t]+(?=[{_CJK}])")
_CJK_CHAR = re.compile(rf"[{_CJK}]")
_ENV = {"OMP_THREAD_LIMIT": "1"}


@cache
def _installed(exe: str) -> frozenset[str]:
    """The language data Tesseract at ``exe`` has (``--list-langs``)."""
    out, _ = run(TESSERACT, ["--list-langs"], what="listing its languages", timeout=30)
    lines = out.decode("utf-8", "replace").splitlines()[1:]  # first: "List of available…"
    return frozenset(ln.strip() for ln in lines if ln.strip())


def tesseract_languages(languages: list[str]) -> str:
    """The ``-l`` argument for ``languages``: those of them installed, Chinese first.

    With Chinese first Tesseract writes Chinese without spaces between the characters
    (``eng+chi_sim`` writes "北京 的 天 气"), and reads English as well.

    Raises ParseError if Tesseract has none of them (naming the package to install).
    """
    exe = TESSERACT.path()
    if exe is None:
        raise ParseError(f"OCR needs {TESSERACT.hint()}")
    have = _installed(exe)
    wanted = list(dict.fromkeys(_TESSERACT_NAMES.get(lang, lang) for lang in languages))
    wanted.sort(key=lambda name: not name.startswith("chi_"))
    usable = [name for name in wanted if name in have]
    if not usable:
        packages = " ".join(f"tesseract-ocr-{n.replace('_', '-')}" for n in wanted)
        raise ParseError(f"OCR: Tesseract has no data for {'+'.join(wanted)}; "
                         f"apt-get install {packages}")
    if len(usable) < len(wanted):
        log.debug("Tesseract lacks %s", sorted(set(wanted) - have))
    return "+".join(usable)


def _join(lines: list[str]) -> str:
    """One paragraph from its lines: hyphenated words rejoined, no space between CJK."""
    text = ""
    for line in lines:
        if not text:
            text = line
        elif text.endswith("-") and line[:1].islower():
            text = text[:-1] + line
        elif _CJK_CHAR.match(text[-1]) or _CJK_CHAR.match(line[0]):
            text += line
        else:
            text += " " + line
    return _CJK_GAP.sub("", text)


def paragraphs(text: str) -> list[str]:
    """Tesseract's plain-text output as paragraphs.

    >>> paragraphs("Shearing starts in April and the fleece\\nis weighed.\\n\\n北京 的 天 气\\n")
    ['Shearing starts in April and the fleece is weighed.', '北京的天气']
    """
    out = []
    for block in re.split(r"\n\s*\n", text):
        lines = [" ".join(ln.split()) for ln in block.splitlines()]
        lines = [ln for ln in lines if ln]
        if lines:
            out.append(_join(lines))
    return out


def _elements(text: str, page: int | None, languages: list[str]) -> list[Any]:
    from unstructured.partition.text import element_from_text

    elements = []
    for para in paragraphs(text):
        el = element_from_text(para)
        el.metadata.page_number = page
        el.metadata.languages = languages
        elements.append(el)
    return elements


def ocr(source: Path | bytes, languages: list[str], what: str) -> str:
    """Tesseract's text for an image file, or image bytes (PNG, ...); pages split by
    form feeds. Raises ParseError (missing, timed out, unreadable image)."""
    args = ["stdin" if isinstance(source, bytes) else str(source), "stdout",
            "-l", tesseract_languages(languages), "--psm", "3"]
    out, _ = run(TESSERACT, args, what=what, timeout=OCR_TIMEOUT,
                 stdin=source if isinstance(source, bytes) else None, env=_ENV)
    return out.decode("utf-8", "replace")


def partition_image(filename: str, languages: list[str]) -> list[Any]:
    """An image's text by OCR, one element per paragraph; a multi-page TIFF keeps its pages
    (``page_number``), a single image has page 1."""
    text = ocr(Path(filename), languages, f"reading the {Path(filename).suffix} image")
    pages = text.split("\f")
    if pages and not pages[-1].strip():
        pages.pop()  # Tesseract ends each page with a form feed
    return [el for n, page in enumerate(pages, start=1) for el in _elements(page, n, languages)]


def _render(page: Any) -> bytes:
    """A pypdfium2 page as PNG bytes at :data:`DPI` (less for a huge page), greyscale."""
    width, height = page.get_size()  # points: 1/72 inch
    scale = DPI / 72
    pixels = width * height * scale * scale
    if pixels > MAX_PAGE_PIXELS:
        scale *= (MAX_PAGE_PIXELS / pixels) ** 0.5
    image = page.render(scale=scale, grayscale=True).to_pil()
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


def ocr_pdf_pages(filename: str, pages: list[int], languages: list[str]) -> list[Any]:
    """OCR the 1-based ``pages`` of a PDF; their elements, page numbers set.

    Raises ParseError (Tesseract missing or failing, a page that cannot be rendered)."""
    import pypdfium2

    tesseract_languages(languages)  # missing Tesseract or language data: say so once
    try:
        pdf = pypdfium2.PdfDocument(filename)
    except pypdfium2.PdfiumError as exc:
        raise ParseError(f"PDF page images cannot be rendered for OCR: {exc}") from exc
    elements: list[Any] = []
    try:
        for number in pages:
            page = pdf[number - 1]
            try:
                png = _render(page)
            finally:
                page.close()
            text = ocr(png, languages, f"reading page {number} (a scan, no text layer)")
            elements += _elements(text, number, languages)
    finally:
        pdf.close()
    return elements


def scanned(page: Any, text_chars: int) -> bool:
    """Whether a pdfminer page (``LTPage``) is a scan: an image, and next to no text."""
    from pdfminer.layout import LTFigure, LTImage

    if text_chars >= MIN_TEXT_CHARS:
        return False
    stack = list(page)
    while stack:
        item = stack.pop()
        if isinstance(item, LTImage):
            return True
        if isinstance(item, LTFigure):
            stack.extend(item)
    return False


def with_scanned_pages(filename: str, elements: list[Any], scans: list[int],
                       languages: list[str]) -> list[Any]:
    """``elements`` (from the PDF's text layer) with the OCR'd ``scans`` pages, in page order.

    Raises ParseError when OCR fails, unless the text layer gave other pages: then those are
    kept and the reason is logged (a warning), so a missing Tesseract costs the scanned
    pages of a mixed PDF, not the whole file."""
    try:
        found = ocr_pdf_pages(filename, scans, languages)
    except ParseError as exc:
        if not elements:
            raise ParseError(f"scanned PDF (no text layer); {exc}") from exc
        log.warning("%s: %d scanned page(s) left out: %s", filename, len(scans), exc)
        return elements
    return sorted([*elements, *found], key=lambda el: el.metadata.page_number or 0)
