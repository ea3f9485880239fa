"""Files uploaded into a knowledge base: safe names, type and size limits, atomic writes.

An upload lands in the knowledge base's document folder (setting ``documents_dir``,
``documents/`` by default) under a sanitised name: the client's name is reduced to its last
path component, control characters and anything but letters (any script), digits, space,
``. _ - ( )`` are replaced, leading dots are dropped, so that no name can point outside
that folder (``../../etc/passwd`` becomes ``passwd``; ``.bashrc`` becomes ``bashrc``).
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import unicodedata
from pathlib import Path

from ragkit.errors import ValidationError

_UNSAFE = re.compile(r"[^\w .()\-]", re.UNICODE)
_MAX_NAME = 150
_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)),
             *(f"lpt{i}" for i in range(10))}


def safe_filename(name: str) -> str:
    """A name that is safe as one path component on any OS.

    >>> safe_filename("../../etc/passwd")
    'passwd'
    >>> safe_filename("C:\\\\Users\\\\x\\\\报告 2024<script>.pdf")
    '报告 2024_script_.pdf'
    >>> safe_filename("..")
    'upload'
    """
    base = re.split(r"[\\/]", unicodedata.normalize("NFKC", str(name)))[-1]
    base = "".join(ch for ch in base if unicodedata.category(ch)[0] != "C")
    base = _UNSAFE.sub("_", base).strip().lstrip(".").strip()
    stem, dot, ext = base.rpartition(".")
    if not dot:
        stem, ext = base, ""
    if stem.lower() in _RESERVED:
        stem = f"_{stem}"
    ext = ext[:16]
    stem = stem[: _MAX_NAME - len(ext) - 1].rstrip(" .")
    out = f"{stem}.{ext}" if ext and stem else (stem or "")
    return out if out and out not in (".", "..") else "upload"


def save_upload(
    folder: str | Path, name: str, data: bytes, *, allowed: list[str], max_mb: float
) -> Path:
    """Write ``data`` into ``folder`` under :func:`safe_filename` of ``name``; return the path.

    An existing file with the same bytes is reused; with other bytes, the new file gets a
    `` (2)``, `` (3)``… suffix. Raises ValidationError for a type not in ``allowed``
    (suffixes like ``.pdf``) or more than ``max_mb`` megabytes.
    """
    safe = safe_filename(name)
    suffix = Path(safe).suffix.lower()
    if suffix not in {a.lower() for a in allowed}:
        raise ValidationError(f"{name!r}: files of type {suffix or '(none)'} cannot be uploaded; "
                              f"allowed: {', '.join(sorted(allowed))}.")
    if len(data) > max_mb * 1024 * 1024:
        raise ValidationError(f"{name!r} is {len(data) / 1024 / 1024:.1f} MB; the upload limit "
                              f"is {max_mb:g} MB.")
    root = Path(folder).resolve()
    root.mkdir(parents=True, exist_ok=True)
    stem, n = Path(safe).stem, 1
    target = root / safe
    digest = hashlib.sha256(data).hexdigest()
    while target.exists():
        if target.is_file() and hashlib.sha256(target.read_bytes()).hexdigest() == digest:
            return target
        n += 1
        target = root / f"{stem} ({n}){suffix}"
    if target.resolve().parent != root:  # cannot happen after safe_filename; checked anyway
        raise ValidationError(f"{name!r} would be written outside {root}.")
    fd, tmp = tempfile.mkstemp(dir=root, prefix=".upload-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target
