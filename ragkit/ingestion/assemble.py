"""Put a large file's pieces back together as they come from the parsers, in order.

Each piece was chunked alone, so its chunks are numbered from 0; here they get their place
in the whole file (``Chunk.index``) and the id a file's chunk at that place has
(:func:`ragkit.ingestion.chunk.chunk_id`). A piece that fails fails its whole file: the
pipeline reports the file once, naming the piece, and ignores the file's later pieces.
"""

from __future__ import annotations

import dataclasses

from ragkit.ingestion.chunk import chunk_id
from ragkit.ingestion.workers import Parsed

NO_TEXT = "no text found (empty, scanned or image-only document)"


class Assembler:
    """Renumbers pieces' chunks; remembers which pieced files failed."""

    def __init__(self, fingerprint: str) -> None:
        self.fingerprint = fingerprint
        self._next: dict[str, int] = {}  # source -> index of its next chunk
        self.failed: set[str] = set()

    def take(self, item: Parsed) -> Parsed | None:
        """``item`` with its chunks in the file's numbering; its failure, naming the piece
        (the file's last piece fails when no piece held text); None for a piece of a file
        that already failed."""
        job, source = item.job, str(item.job.path)
        if job.parts == 1:
            return item
        if source in self.failed:
            return None
        first = self._next.get(source, 0)
        if item.error is None and job.last and first + len(item.chunks) == 0:
            item = dataclasses.replace(item, error=NO_TEXT)
        if item.error is not None:
            self.failed.add(source)
            self._next.pop(source, None)
            where = "pages" if job.path.suffix.lower() == ".pdf" else "bytes"
            span = f" ({where} {job.span[0]:,}-{job.span[1]:,})" if job.span else ""
            error = item.error if item.error == NO_TEXT else (
                f"piece {job.part + 1} of {job.parts}{span}: {item.error}")
            return dataclasses.replace(item, chunks=[], terms=[], error=error)
        chunks = [dataclasses.replace(c, index=first + i,
                                      id=chunk_id(c.source, c.doc_id, self.fingerprint, first + i))
                  for i, c in enumerate(item.chunks)]
        if job.last:
            self._next.pop(source, None)
        else:
            self._next[source] = first + len(chunks)
        return dataclasses.replace(item, chunks=chunks)
