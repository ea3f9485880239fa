"""Free space on the knowledge base's disk: checked before each batch is written, and named
as the reason when a write fails on a full disk.

Why check first instead of letting the write fail: measured with Chroma 1.5.9 on a small
tmpfs (tests/test_faults.py), a failed write mostly rolls back cleanly (SQLite "database or disk
is full", or "Failed to apply logs to the metadata segment"; the batch then shows up as
chunks no manifest row claims, which the next run's repair deletes). But when the disk fills
while Chroma persists its HNSW index, ``index_metadata.pickle`` is left truncated, and the
collection cannot be opened again even after space is freed ("Error deserializing pickle
file"): the knowledge base must be re-ingested. So a batch is written only with room for it
and a reserve for the index files to grow (HNSW grows them by a fifth when it resizes).
"""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path

from ragkit.errors import DiskFullError

MIB = 1024 * 1024
#: kept free beyond the batch estimate: at least this much ...
RESERVE_MIN = 64 * MIB
#: ... and at least this share of the knowledge base's size (the index files grow by a fifth
#: when HNSW resizes, the BM25 scorer is saved as a new copy beside the old)
RESERVE_SHARE = 0.25
#: bytes per chunk beyond its vector and text: metadata, ids, SQLite pages, index links
PER_CHUNK = 2048
#: each vector is kept about this many times (Chroma's log, its index, headroom)
VECTOR_COPIES = 4
#: each chunk's text about this many times (Chroma's document and trigram index, the
#: keyword record's text and terms, the SQLite WAL)
TEXT_COPIES = 8
_FULL_WORDS = ("no space left on device", "disk is full", "disk quota exceeded")


def batch_bytes(texts: list[str], dimension: int) -> int:
    """About how many bytes writing chunks with these ``texts`` and ``dimension``-dim vectors
    takes on disk, all copies counted (an over-estimate on purpose)."""
    text = sum(len(t.encode("utf-8", "surrogatepass")) for t in texts)
    return len(texts) * (PER_CHUNK + VECTOR_COPIES * 4 * dimension) + TEXT_COPIES * text


#: the folders of a knowledge base that hold the store and its indexes (the Chroma data,
#: the BM25 scorer); uploaded documents are not counted
STORE_FOLDERS = ("chroma", "bm25")


def store_bytes(kb: Path) -> int:
    """The disk use of the knowledge base ``kb``'s own files: those directly in it (the
    manifest and the other databases) and those under :data:`STORE_FOLDERS`."""
    total = 0
    for root, dirs, names in os.walk(kb):
        if root == str(kb):
            dirs[:] = [d for d in dirs if d in STORE_FOLDERS]
        for name in names:
            try:
                total += os.lstat(os.path.join(root, name)).st_blocks * 512
            except OSError:
                continue
    return total


def free_bytes(folder: Path) -> int | None:
    """Free bytes on the device of ``folder`` (or of its nearest existing parent); None if
    it cannot be told."""
    path = folder
    while not path.exists() and path.parent != path:
        path = path.parent
    try:
        return shutil.disk_usage(path).free
    except OSError:
        return None


def _mb(n: int) -> str:
    return f"{n / MIB:.1f} MB"


def require_space(folder: Path, batch: int) -> None:
    """Raise DiskFullError unless the device of the knowledge base ``folder`` has room for
    ``batch`` bytes (:func:`batch_bytes`) plus the reserve; nothing is written either way."""
    free = free_bytes(folder)
    if free is None:
        return
    reserve = max(RESERVE_MIN, int(store_bytes(folder) * RESERVE_SHARE))
    if free >= batch + reserve:
        return
    raise DiskFullError(
        f"no space left on device for {folder}: {_mb(free)} free, about "
        f"{_mb(batch + reserve)} needed ({_mb(batch)} for this batch, {_mb(reserve)} kept "
        "free so the store's index files can grow); nothing of this batch was written. "
        "Free some space (or move the knowledge base to a bigger disk) and run again."
    )


def _chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and the exceptions it came from (``__cause__`` or ``__context__``)."""
    out: list[BaseException] = []
    seen: BaseException | None = exc
    while seen is not None and all(seen is not e for e in out):
        out.append(seen)
        seen = seen.__cause__ or seen.__context__
    return out


def says_disk_full(exc: BaseException) -> bool:
    """Whether ``exc`` (or an exception it came from) is ENOSPC/EDQUOT or SQLite's "database
    or disk is full"."""
    for e in _chain(exc):
        if isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        if any(w in str(e).lower() for w in _FULL_WORDS):
            return True
    return False


def disk_full(exc: BaseException, folder: Path, batch: int) -> DiskFullError | None:
    """The DiskFullError to raise (``from exc``) when a write of ``batch`` bytes into the
    knowledge base ``folder`` failed with ``exc`` because the disk is full, else None.

    A full disk is told by the error itself (ENOSPC, SQLite's "disk is full"), or, when the
    store's message does not say (Chroma: "Failed to apply logs to the metadata segment"),
    by less room left than the batch needed: the check before the batch passed, so the disk
    filled up while it was written."""
    free = free_bytes(folder)
    if not says_disk_full(exc) and (free is None or free >= batch + MIB):
        return None
    left = "" if free is None else f" ({_mb(free)} free)"
    reason = " ".join(f"{type(exc).__name__}: {exc}".split())[:200]
    return DiskFullError(
        f"no space left on device for {folder}{left}: writing a batch failed ({reason}). "
        "Free some space and run again: the next run deletes what this one left half "
        f"written; if the store then fails to open, run `ragkit doctor --kb {folder}`."
    )
