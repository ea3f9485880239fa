"""Seed files of every supported type and byte-level mutators, for the parser fuzzing of
tests/test_fuzz.py and bench/fuzz_bench.py. Seeds are written here (no file from outside)."""

from __future__ import annotations

import io
import json
import random
import sys
import zipfile
from email.message import EmailMessage
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TEXT = ("Llamas live in the Andes. They carry loads on mountain roads. "
        "大熊猫生活在四川的竹林里。")

#: one PNG pixel (an image attachment for the e-mail seed)
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082"
)


def _pdf() -> bytes:
    sys.path.insert(0, str(ROOT / "scripts"))
    from make_samples import make_pdf  # the project's own minimal PDF writer

    return make_pdf([["Volcanoes", TEXT[:60]], ["Page two", "Lava cools into basalt."]])


def _docx() -> bytes:
    import docx

    d = docx.Document()
    d.add_heading("Tea history", 1)
    d.add_paragraph(TEXT)
    table = d.add_table(rows=2, cols=2)
    for r, row in enumerate([["Tea", "Origin"], ["Oolong", "Fujian"]]):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    buf = io.BytesIO()
    d.save(buf)
    return buf.getvalue()


def _pptx() -> bytes:
    from pptx import Presentation

    deck = Presentation()
    slide = deck.slides.add_slide(deck.slide_layouts[1])
    slide.shapes.title.text = "Gas giants"
    slide.placeholders[1].text = TEXT
    slide.notes_slide.notes_text_frame.text = "Saturn has the most moons."
    buf = io.BytesIO()
    deck.save(buf)
    return buf.getvalue()


def _xlsx() -> bytes:
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    for row in [["Planet", "Moons"], ["Earth", 1], ["Mars", 2], ["上海", 2487]]:
        sheet.append(row)
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


def _eml() -> bytes:
    msg = EmailMessage()
    msg["Subject"] = "Trip notes"
    msg["From"] = "a@example.com"
    msg["To"] = "b@example.com"
    msg.set_content(TEXT)
    msg.add_alternative(f"<html><body><p>{TEXT}</p></body></html>", subtype="html")
    msg.add_attachment("# Notes\n\nBring a coat.\n", subtype="markdown", filename="notes.md")
    msg.add_attachment(b"a,b\n1,2\n", maintype="text", subtype="csv", filename="t.csv")
    msg.add_attachment(PNG, maintype="image", subtype="png", filename="p.png")
    return msg.as_bytes()


def seeds() -> dict[str, bytes]:
    """One small valid file per supported suffix (the suffix → its bytes)."""
    md = f"# Llamas\n\n{TEXT}\n\n## Size\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n- one\n- two\n"
    html = (f"<html><head><title>Solar</title></head><body><h1>Planets</h1><p>{TEXT}</p>"
            "<table><tr><th>a</th><th>b</th></tr><tr><td>1</td><td>2</td></tr></table>"
            "<ul><li>x</li></ul></body></html>")
    txt = f"Coffee notes\n\n{TEXT}\n\nSecond paragraph here.\n"
    rst = f"Guide\n=====\n\n{TEXT}\n\nPart\n----\n\n* item\n* other\n\n.. note:: careful\n"
    data = [{"id": 1, "title": "Llamas", "body": TEXT, "tags": ["a", "b"]},
            {"id": 2, "nested": {"deep": [1, 2, {"x": None}]}}]
    return {
        ".md": md.encode(), ".markdown": md.encode(),
        ".txt": txt.encode(), ".text": txt.encode(),
        ".html": html.encode(), ".htm": html.encode(),
        ".rst": rst.encode(),
        ".csv": "name,moons\nEarth,1\n\"Mars, red\",2\n上海,0\n".encode(),
        ".tsv": b"name\tmoons\nEarth\t1\nMars\t2\n",
        ".json": json.dumps(data, ensure_ascii=False).encode(),
        ".ndjson": "".join(json.dumps(d, ensure_ascii=False) + "\n" for d in data).encode(),
        ".jsonl": "".join(json.dumps(d, ensure_ascii=False) + "\n" for d in data).encode(),
        ".xml": (f'<?xml version="1.0" encoding="UTF-8"?>\n<notes><note><title>Llamas</title>'
                 f"<body>{TEXT}</body></note><note><title>上海</title></note></notes>").encode(),
        ".eml": _eml(),
        ".pdf": _pdf(),
        ".docx": _docx(),
        ".pptx": _pptx(),
        ".xlsx": _xlsx(),
    }


# -- mutations -----------------------------------------------------------------------------
_INTERESTING = [b"\x00", b"\xff", b"\xff\xfe", b"\xef\xbb\xbf", b"<", b">", b"</", b"<![CDATA[",
                b"&#x0;", b"\n" * 64, b"\r", b"%", b"obj", b"endstream", b"(" * 200, b"[" * 300,
                b"{" * 300, b"\"", b",", b"\t", b"=?utf-8?b?", b"--", b"\\", b"9" * 40,
                "\u202e\u0000\ud7ff".encode("utf-8", "surrogatepass"), b"\x80\x81\x82"]


def _flip(data: bytearray, rnd: random.Random) -> None:
    for _ in range(rnd.randint(1, 16)):
        i = rnd.randrange(len(data))
        data[i] ^= 1 << rnd.randrange(8)


def _overwrite(data: bytearray, rnd: random.Random) -> None:
    i = rnd.randrange(len(data))
    piece = rnd.choice(_INTERESTING) if rnd.random() < 0.5 else rnd.randbytes(rnd.randint(1, 64))
    data[i:i + len(piece)] = piece


def _insert(data: bytearray, rnd: random.Random) -> None:
    i = rnd.randrange(len(data) + 1)
    piece = rnd.choice(_INTERESTING) * rnd.choice([1, 1, 8, 100])
    data[i:i] = piece


def _truncate(data: bytearray, rnd: random.Random) -> None:
    del data[rnd.randrange(len(data)):]


def _duplicate(data: bytearray, rnd: random.Random) -> None:
    i = rnd.randrange(len(data))
    j = min(len(data), i + rnd.randint(1, 1024))
    data[i:i] = data[i:j] * rnd.randint(1, 8)


def _delete(data: bytearray, rnd: random.Random) -> None:
    i = rnd.randrange(len(data))
    del data[i:i + rnd.randint(1, 256)]


MUTATORS = (_flip, _overwrite, _insert, _truncate, _duplicate, _delete)


def mutate_bytes(data: bytes, rnd: random.Random, rounds: int | None = None) -> bytes:
    """``data`` after 1-6 random byte-level edits (never empty unless ``data`` was)."""
    out = bytearray(data)
    for _ in range(rounds if rounds is not None else rnd.randint(1, 6)):
        if not out:
            break
        rnd.choice(MUTATORS)(out, rnd)
    return bytes(out) or data[:1]


def mutate_zip_member(data: bytes, rnd: random.Random) -> bytes:
    """A valid zip whose members are the seed's, one of them (mostly an XML part) mutated:
    the archive opens, the XML inside is broken."""
    src = zipfile.ZipFile(io.BytesIO(data))
    names = src.namelist()
    xml = [n for n in names if n.endswith(".xml")] or names
    victim = rnd.choice(xml)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as out:
        for name in names:
            body = src.read(name)
            if name == victim:
                body = mutate_bytes(body, rnd)
            if name == victim and rnd.random() < 0.1:
                continue  # a member missing altogether
            out.writestr(name, body)
    return buf.getvalue()


_MARKUP = ["<", ">", "</p>", "<table><tr><td>", "<script>", "<!--", "-->", "&amp", "&#99999999;",
           "#", "######", "```", "|", "| --- |", "\n", "\n\n", "\r\n", "*", "**", "_", "[", "](",
           "..", ".. include:: /etc/passwd", ".. raw:: html", "====", "----", "::", "`", "\\",
           ",", "\"", "\t", "{", "}", "[", "]", ":", "null", "1e999", "-0", "\\u0000", "\\ud800",
           "Subject: ", "Content-Type: multipart/mixed; boundary=x\n", "--x\n", "=?utf-8?q?=FF?=",
           "\u0000", "\u202e", "\ufeff", "\U0010ffff", "大熊猫", "a" * 5000, "\u3002" * 50]


def mutate_text(data: bytes, rnd: random.Random) -> bytes:
    """``data`` (UTF-8 text) with 1-8 edits of markup and odd characters: still valid UTF-8,
    so the parser behind the decoder gets to see it."""
    text = data.decode("utf-8", "replace")
    for _ in range(rnd.randint(1, 8)):
        i = rnd.randrange(len(text) + 1)
        op = rnd.random()
        if op < 0.6:
            text = text[:i] + rnd.choice(_MARKUP) * rnd.choice([1, 1, 3, 50]) + text[i:]
        elif op < 0.8:
            text = text[:i] + text[i + rnd.randint(1, 40):]
        else:
            j = min(len(text), i + rnd.randint(1, 200))
            text = text[:i] + text[i:j] * rnd.randint(2, 8) + text[i:]
    return text.encode("utf-8", "surrogatepass")


def splice(a: bytes, b: bytes, rnd: random.Random) -> bytes:
    """The head of ``a`` followed by the tail of ``b`` (a file of one type with another's body)."""
    return a[: rnd.randrange(len(a) + 1)] + b[rnd.randrange(len(b) + 1):]


#: types whose seeds are UTF-8 text (mutated as text most of the time; .eml is bytes on purpose)
TEXT_TYPES = {".md", ".markdown", ".txt", ".text", ".html", ".htm", ".rst", ".csv", ".tsv", ".json"}


def fuzzed(suffix: str, seed_bytes: dict[str, bytes], rnd: random.Random) -> bytes:
    """One fuzzed file of type ``suffix``: random bytes, a mutated seed (as text for text
    types), a mutated zip member (Office files), or two seeds spliced."""
    base = seed_bytes[suffix]
    roll = rnd.random()
    if roll < 0.08:
        return rnd.randbytes(rnd.randint(1, 4096))
    if suffix in {".docx", ".pptx", ".xlsx"} and roll < 0.55:
        return mutate_zip_member(base, rnd)
    if suffix in TEXT_TYPES and roll < 0.6:
        return mutate_text(base, rnd)
    if roll < 0.9:
        return mutate_bytes(base, rnd)
    return splice(base, seed_bytes[rnd.choice(sorted(seed_bytes))], rnd)
