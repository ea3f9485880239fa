"""A corpus of bad inputs, written by the tests themselves (tests/test_bad_input.py)."""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

#: file name → what makes it bad
BAD = {
    "zero.txt": "zero bytes",
    "zero.pdf": "zero bytes",
    "truncated.pdf": "a PDF cut off after its first part",
    "encrypted.pdf": "a PDF with a user password",
    "binary.pdf": "random binary named .pdf",
    "binary.docx": "random binary named .docx",
    "invalid.txt": "bytes that are neither UTF-8 nor GB18030",
    "oneline.txt": "a single 50 MB line",
    "bomb.docx": "a DOCX whose document.xml expands to 300 MB",
    "loop.md": "a symlink to itself",
    "dangling.txt": "a symlink to nothing",
    "unreadable.md": "no read permission",
    "huge.txt": "over the configured max_file_mb",
}


def _pdf(text: str) -> bytes:
    import sys

    sys.path.insert(0, str(Path(__file__).parents[1] / "scripts"))
    from make_samples import make_pdf  # the project's own minimal PDF writer

    return make_pdf([[text]])


def write_bad_corpus(folder: Path, *, huge_mb: float) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "zero.txt").write_bytes(b"")
    (folder / "zero.pdf").write_bytes(b"")
    good_pdf = _pdf("This PDF is fine until it is cut off half way through the file.")
    (folder / "truncated.pdf").write_bytes(good_pdf[: len(good_pdf) // 3])

    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    writer.append(PdfReader(io.BytesIO(_pdf("A secret text about treasure maps."))))
    writer.encrypt(user_password="secret", owner_password="owner")
    buf = io.BytesIO()
    writer.write(buf)
    (folder / "encrypted.pdf").write_bytes(buf.getvalue())

    noise = bytes((i * 131 + 7) % 256 for i in range(64 * 1024))
    (folder / "binary.pdf").write_bytes(noise)
    (folder / "binary.docx").write_bytes(noise)
    (folder / "invalid.txt").write_bytes(b"Hello \xff\xfe\xfa\xfb world\n" * 10)
    (folder / "oneline.txt").write_bytes(b"a" * (50 * 1024 * 1024))

    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        with z.open("word/document.xml", "w") as f:
            block = b"\0" * (1 << 20)
            for _ in range(300):
                f.write(block)
    (folder / "bomb.docx").write_bytes(bomb.getvalue())

    os.symlink("loop.md", folder / "loop.md")
    os.symlink("does-not-exist.txt", folder / "dangling.txt")
    (folder / "unreadable.md").write_text("# Secret\n\nNobody may read this.\n")
    os.chmod(folder / "unreadable.md", 0)
    with (folder / "huge.txt").open("wb") as f:  # sparse: over the limit, costs no disk
        f.truncate(int((huge_mb + 1) * 1024 * 1024))
