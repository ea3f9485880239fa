"""Decode a text file: the one reader of .txt, .md, .csv, .tsv and .rst bytes.

Used by :mod:`ragkit.ingestion.parse` and :mod:`ragkit.ingestion.formats` alike (it
imports neither, so the two do not import each other).
"""

from __future__ import annotations

import codecs
from pathlib import Path

from ragkit.errors import ParseError

#: a "line" longer than this is not prose (minified data, a binary dump): refused
MAX_LINE_CHARS = 1_000_000

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def read_text(path: Path) -> str:
    """Decode a text file: a UTF-16/32 byte-order mark, else UTF-8 (BOM allowed), else
    GB18030 (legacy Chinese), else refuse.

    Raises ParseError naming the first bad byte and its offset.
    """
    data = path.read_bytes()
    for bom, codec in _BOMS:  # UTF-32 first: its LE mark starts with UTF-16's
        if data.startswith(bom):
            try:
                return _check_lines(data.decode(codec))
            except UnicodeDecodeError as exc:
                raise ParseError(f"broken {codec.upper()} text: {exc.reason}") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as utf8_error:
        try:
            text = data.decode("gb18030")
        except UnicodeDecodeError:
            bad = data[utf8_error.start : utf8_error.start + 1]
            raise ParseError(
                f"not UTF-8 or GB18030 text (byte 0x{bad.hex()} at offset {utf8_error.start}); "
                "convert it to UTF-8"
            ) from None
        if "\x00" in text:
            raise ParseError("binary data, not text (NUL bytes)") from None
    return _check_lines(text)


def _check_lines(text: str) -> str:
    longest = max((len(line) for line in text.splitlines()), default=0)
    if longest > MAX_LINE_CHARS:
        raise ParseError(
            f"a single line of {longest:,} characters (over {MAX_LINE_CHARS:,}): not prose; "
            "split it into lines or paragraphs"
        )
    return text
