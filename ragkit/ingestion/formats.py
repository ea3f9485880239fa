"""Partitioners for the formats beyond parse.py's own: PPTX, XLSX, CSV/TSV, EML, MSG, RST,
JSON, XML; legacy and open office formats, EPUB and Org through external programs; images.

Each takes ``(filename, languages)`` and returns unstructured elements, like the partitioners
in :mod:`ragkit.ingestion.parse`, which looks suffixes up in :data:`PARTITIONERS` (parse
imports this module, never the other way round; both decode text with
:mod:`ragkit.ingestion.decode`). RST goes through docutils instead of pandoc. ``.doc``,
``.ppt``, ``.xls``, ``.rtf``, ``.odt``, ``.odp``, ``.ods``, ``.epub`` and ``.org`` are
converted by LibreOffice or pandoc (:mod:`ragkit.ingestion.convert`) and the result parsed
by the route of the format they became; images are read by OCR (:mod:`ragkit.ingestion.ocr`).
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

from unstructured.documents.elements import (
    Element,
    ElementMetadata,
    NarrativeText,
    Table,
    Title,
)

from ragkit.errors import ParseError
from ragkit.ingestion import convert, ocr
from ragkit.ingestion.decode import read_text


def _read_text(filename: str) -> str:
    return read_text(Path(filename))


def partition_pptx(filename: str, languages: list[str]) -> list[Element]:
    """Slides in order; unstructured sets ``page_number`` to the 1-based slide number.

    Speaker notes are included: they are text the author wrote about the slide, often the
    only full sentences in a deck. unstructured also emits an empty ``PageBreak`` between
    slides, which parse.py drops with the other empty elements.
    """
    from unstructured.partition.pptx import partition_pptx as _partition

    return _partition(filename=filename, languages=languages, include_slide_notes=True)


def partition_xlsx(filename: str, languages: list[str]) -> list[Element]:
    """One ``Table`` per sheet, ``page_number`` = sheet index (1-based), ``page_name`` = name.

    ``find_subtable=False``: the default splits a sheet at blank rows and cells into
    separate tables, and every table after the first loses the header row.
    ``include_header=False`` keeps the header all the same, as the first row of the table,
    exactly as written: ``True`` makes pandas read it as column names, which turns blank
    header cells into "Unnamed: 1" and the whole numbers below into floats ("1.0").
    """
    from unstructured.partition.xlsx import partition_xlsx as _partition

    return _partition(
        filename=filename, languages=languages, find_subtable=False, include_header=False
    )


def _delimited(text: str, sep: str, languages: list[str], filename: str | None) -> list[Element]:
    """A ``Table`` from delimited text, the header being its first row (as for XLSX).

    The text is decoded by ragkit (UTF-8 or GB18030, like .txt) and handed over as UTF-8:
    unstructured reads CSV as UTF-8 only and TSV has no encoding option at all.
    """
    from pandas.errors import ParserError as RaggedRows
    from unstructured.partition.csv import partition_csv as _csv
    from unstructured.partition.tsv import partition_tsv as _tsv

    try:
        return (_tsv if sep == "\t" else _csv)(
            file=io.BytesIO(text.encode("utf-8")), metadata_filename=filename,
            languages=languages, include_header=False,
        )  # fmt: skip
    except RaggedRows:
        return _ragged(text, sep, languages, filename)


def _ragged(text: str, sep: str, languages: list[str], filename: str | None) -> list[Element]:
    """A ``Table`` of delimited text whose rows have different lengths (pandas refuses it,
    "Expected 2 fields in line 9, saw 3"): each row as it is."""
    import csv
    import html

    rows = [r for r in csv.reader(io.StringIO(text), delimiter=sep) if any(c.strip() for c in r)]
    cells = ("".join(f"<td>{html.escape(c)}</td>" for c in row) for row in rows)
    table = "<table>" + "".join(f"<tr>{c}</tr>" for c in cells) + "</table>"
    metadata = ElementMetadata(filename=filename, languages=languages, text_as_html=table)
    return [Table("\n".join(" ".join(r) for r in rows), metadata=metadata)] if rows else []


def partition_csv(filename: str, languages: list[str]) -> list[Element]:
    """A CSV file as one ``Table`` (``text_as_html``), header row kept as the first row."""
    return _delimited(_read_text(filename), ",", languages, filename)


def partition_tsv(filename: str, languages: list[str]) -> list[Element]:
    """A TSV file as one ``Table`` (``text_as_html``), header row kept as the first row."""
    return _delimited(_read_text(filename), "\t", languages, filename)


#: attachment content type -> what to do with it; anything else (images, PDFs, Office files,
#: nested mail) is skipped: unstructured's own attachment handling sniffs each one and runs
#: ``partition()`` on it, which loads heavy optional parsers and warns for each it lacks
_ATTACHMENT_TYPES = {
    "text/plain": "text",
    "text/markdown": "md",
    "text/x-markdown": "md",
    "text/html": "html",
    "text/csv": "csv",
    "text/tab-separated-values": "tsv",
}
#: for attachments sent as application/octet-stream, as many mail clients do for .md or .csv
_ATTACHMENT_SUFFIXES = {
    ".txt": "text", ".text": "text", ".md": "md", ".markdown": "md",
    ".html": "html", ".htm": "html", ".csv": "csv", ".tsv": "tsv",
}  # fmt: skip


def _attachment_text(part: EmailMessage) -> str | None:
    content = part.get_content()
    if isinstance(content, str):
        return content
    if isinstance(content, bytes):
        for encoding in ("utf-8-sig", "gb18030"):
            try:
                return content.decode(encoding)
            except UnicodeDecodeError:
                continue
    return None


def _attachment_elements(part: EmailMessage, languages: list[str]) -> list[Element]:
    name = part.get_filename() or ""
    kind = _ATTACHMENT_TYPES.get(part.get_content_type())
    if kind is None and part.get_content_type() == "application/octet-stream":
        kind = _ATTACHMENT_SUFFIXES.get(Path(name).suffix.lower())
    text = _attachment_text(part) if kind else None
    if not text or not text.strip():
        return []
    if kind in ("csv", "tsv"):
        return _delimited(text, "\t" if kind == "tsv" else ",", languages, name or None)
    from unstructured.partition.html import partition_html
    from unstructured.partition.md import partition_md
    from unstructured.partition.text import partition_text

    partition: Callable[..., list[Element]] = {"md": partition_md, "html": partition_html}.get(
        kind or "", partition_text
    )
    return partition(text=text, languages=languages, metadata_filename=name or None)


def _nested(title: str, elements: list[Element], languages: list[str]) -> list[Element]:
    """``title`` at depth 0, then ``elements`` with each heading one level deeper."""
    for el in elements:
        if el.category == "Title":
            el.metadata.category_depth = (el.metadata.category_depth or 0) + 1
    head = Title(title, metadata=ElementMetadata(category_depth=0, languages=languages))
    return [head, *elements]


def partition_email(filename: str, languages: list[str]) -> list[Element]:
    """The subject (a ``Title``) over the body, then each text attachment under its name.

    The body is unstructured's ``partition_email`` (HTML preferred over plain text). Its
    ``process_attachments`` is off: attachments are chosen here by MIME type, see
    :data:`_ATTACHMENT_TYPES`. Each attachment's elements come under a ``Title`` naming it,
    a level below the subject, so a section path reads "Subject > notes.txt > Heading";
    they get ``filename`` (the attachment's) and ``attached_to_filename`` (the .eml's).
    """
    from unstructured.partition.email import partition_email as _partition

    with open(filename, "rb") as f:
        message = BytesParser(policy=policy.default).parse(f)
    assert isinstance(message, EmailMessage)
    elements = _partition(filename=filename, languages=languages, process_attachments=False)
    for part in message.iter_attachments():
        assert isinstance(part, EmailMessage)
        attached = _attachment_elements(part, languages)
        for el in attached:
            el.metadata.attached_to_filename = Path(filename).name
        if attached:
            elements += _nested(part.get_filename() or "attachment", attached, languages)
    subject = " ".join(str(message.get("Subject", "")).split())
    return _nested(subject, elements, languages) if subject else elements


#: docutils settings: no `include`/`raw` (a document must not pull in /etc/passwd or inject
#: HTML), no error reports in the output, never stop on a markup error; keep a lone top
#: section as a section (no promotion to document title) and start headings at <h1>
_RST_SETTINGS = {
    "file_insertion_enabled": False,
    "raw_enabled": False,
    "report_level": 5,
    "halt_level": 5,
    "doctitle_xform": False,
    "initial_header_level": 1,
    "_disable_config": True,
}


def partition_rst(filename: str, languages: list[str]) -> list[Element]:
    """reStructuredText via docutils' HTML5 writer, then unstructured's ``partition_html``.

    unstructured's ``partition_rst`` shells out to pandoc; docutils is pure Python. Section
    titles become ``<h1>``/``<h2>``/... and so ``Title`` elements whose ``category_depth``
    is the nesting level (0 for the top sections).
    """
    from docutils.core import publish_parts
    from docutils.writers.html5_polyglot import Writer
    from unstructured.partition.html import partition_html

    # a Writer instance: `writer_name=` is deprecated in docutils 0.22+, and a name string for
    # `writer=` is not accepted before 0.22
    parts = publish_parts(
        _read_text(filename), source_path=filename, writer=Writer(),
        settings_overrides=_RST_SETTINGS,
    )  # fmt: skip
    return partition_html(text=parts["html_body"], languages=languages, metadata_filename=filename)


def _scalar(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def flatten_json(value: Any) -> list[str]:
    """``key.path: value`` lines, depth first in document order, list items as ``[i]``.

    Iterative, so nesting as deep as ``json.loads`` accepts cannot overflow the stack.

    >>> flatten_json({"a": {"b": [1, "上海"]}, "c": None})
    ['a.b[0]: 1', 'a.b[1]: 上海', 'c: null']
    """
    lines: list[str] = []
    stack: list[tuple[str, Any]] = [("", value)]
    while stack:
        path, node = stack.pop()
        if isinstance(node, dict) and node:
            items = [(f"{path}.{k}" if path else str(k), v) for k, v in node.items()]
        elif isinstance(node, list) and node:
            items = [(f"{path}[{i}]", v) for i, v in enumerate(node)]
        else:
            lines.append(f"{path}: {_scalar(node)}" if path else _scalar(node))
            continue
        stack.extend(reversed(items))
    return lines


def partition_json(filename: str, languages: list[str]) -> list[Element]:
    """Any JSON file as text: one ``NarrativeText`` per record, its lines from flatten_json.

    A top-level list gives one record per item (the usual export of rows or documents);
    anything else is one record. unstructured's ``partition_json`` reads only its own
    element JSON, and ``partition_text`` would split the lines apart and call short ones
    titles, so the elements are built here.
    """
    try:
        data = json.loads(Path(filename).read_bytes())
    except json.JSONDecodeError as exc:
        raise ParseError(f"invalid JSON: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise ParseError(f"invalid JSON: not UTF-8 (byte offset {exc.start})") from exc
    records = data if isinstance(data, list) else [data]
    elements: list[Element] = []
    for record in records:
        text = "\n".join(flatten_json(record)).strip()
        if text:
            metadata = ElementMetadata(filename=filename, languages=languages)
            elements.append(NarrativeText(text, metadata=metadata))
    return elements


def partition_ndjson(filename: str, languages: list[str]) -> list[Element]:
    """JSON Lines (``.ndjson``, ``.jsonl``): one record per line, as :func:`partition_json`
    makes of a list; a line that is not JSON fails the file, naming the line."""
    elements: list[Element] = []
    for number, line in enumerate(_read_text(filename).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ParseError(f"invalid JSON on line {number}: {exc}") from exc
        text = "\n".join(flatten_json(record)).strip()
        if text:
            metadata = ElementMetadata(filename=filename, languages=languages)
            elements.append(NarrativeText(text, metadata=metadata))
    return elements


def partition_xml(filename: str, languages: list[str]) -> list[Element]:
    """The text of each XML element with text, in document order (unstructured's
    ``partition_xml``: lxml, entities not resolved, so a file cannot pull in another)."""
    from unstructured.partition.xml import partition_xml as _partition

    return _partition(filename=filename, languages=languages)


def partition_msg(filename: str, languages: list[str]) -> list[Element]:
    """An Outlook ``.msg`` e-mail (python-oxmsg): the subject (a ``Title``) over the body.

    Attachments are left out, as binary ones are for ``.eml``; an encrypted message has no
    readable body and fails as "no text found"."""
    from unstructured.partition.msg import partition_msg as _partition

    elements = _partition(filename=filename, languages=languages, process_attachments=False)
    subject = " ".join(str(getattr(elements[0].metadata, "subject", None) or "").split()
                       ) if elements else ""
    return _nested(subject, elements, languages) if subject else elements


def partition_converted(filename: str, languages: list[str]) -> list[Element]:
    """A ``.doc``/``.ppt``/``.xls``/``.rtf``/``.odt``/... file converted by LibreOffice (to
    DOCX, PPTX or XLSX, then parsed as those are) or pandoc (to HTML), whichever
    :data:`ragkit.ingestion.convert.ROUTES` picks first among the installed.

    Raises ParseError if no tool is installed (naming the package), or the conversion fails
    or times out."""
    from unstructured.partition.docx import partition_docx
    from unstructured.partition.html import partition_html

    path = Path(filename)
    found = convert.route(path.suffix.lower())
    if found is None:
        raise ParseError(convert.missing_tool(path.suffix.lower()) or "no converter")
    tool, target = found
    if target == "html":
        html = convert.pandoc_html(path)
        return partition_html(text=html, languages=languages, metadata_filename=filename)
    parse: Callable[..., list[Element]] = {
        "docx": lambda f, langs: partition_docx(filename=f, languages=langs),
        "pptx": partition_pptx, "xlsx": partition_xlsx,
    }[target]  # fmt: skip
    with convert.soffice_converted(path, tool, target) as made:
        elements = parse(str(made), languages)
    for el in elements:  # the file the user has, not the temporary conversion
        el.metadata.filename, el.metadata.file_directory = path.name, str(path.parent)
    return elements


PARTITIONERS: dict[str, Callable[..., list[Element]]] = {
    ".pptx": partition_pptx,
    ".xlsx": partition_xlsx,
    ".csv": partition_csv,
    ".tsv": partition_tsv,
    ".eml": partition_email,
    ".msg": partition_msg,
    ".rst": partition_rst,
    ".json": partition_json,
    ".ndjson": partition_ndjson,
    ".jsonl": partition_ndjson,
    ".xml": partition_xml,
    **dict.fromkeys(convert.ROUTES, partition_converted),
    **dict.fromkeys(convert.IMAGES, ocr.partition_image),
}
