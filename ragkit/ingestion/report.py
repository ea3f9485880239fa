"""What an ingest run reports: :class:`IngestReport` (the ``ragkit-ingest --json`` object)
and the :class:`Progress` sent after each file."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Failure:
    path: str
    error: str


@dataclass
class Skipped:
    path: str
    reason: str


@dataclass
class IngestReport:
    """What one ingest run did; ``to_dict()`` is the ``ragkit-ingest --json`` object."""

    seen: int = 0
    ingested: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    chunks_added: int = 0
    chunks_removed: int = 0
    chunks_total: int = 0
    seconds: float = 0.0
    #: what the user should know about the run: a repair, changed settings, why files
    #: were parsed in this process
    notes: list[str] = field(default_factory=list)
    dry_run: bool = False
    #: chunk texts run through the embedding model, and served from the embedding cache
    embedded: int = 0
    embeddings_reused: int = 0
    #: parser worker processes used (0: files were parsed in this process)
    parse_workers: int = 0
    #: where the time went: parse and chunk are summed over workers (they overlap with the
    #: rest); embed, store and wait (for parse results) are on the main process's clock
    timings: dict[str, float] = field(
        default_factory=lambda: dict.fromkeys(("parse", "chunk", "embed", "store", "wait"), 0.0)
    )

    @property
    def ok(self) -> bool:
        return not self.failures

    def to_dict(self) -> dict[str, Any]:
        return {
            "files": {
                "seen": self.seen,
                "ingested": len(self.ingested),
                "unchanged": len(self.unchanged),
                "removed": len(self.removed),
                "failed": len(self.failures),
                "skipped": len(self.skipped),
            },
            "failures": [{"path": f.path, "error": f.error} for f in self.failures],
            "skipped": [{"path": s.path, "reason": s.reason} for s in self.skipped],
            "chunks": {
                "added": self.chunks_added,
                "removed": self.chunks_removed,
                "total": self.chunks_total,
                "embedded": self.embedded,
                "embeddings_reused": self.embeddings_reused,
            },
            "seconds": round(self.seconds, 3),
            "notes": self.notes,
            "dry_run": self.dry_run,
            "parse_workers": self.parse_workers,
            "timings": {k: round(v, 3) for k, v in self.timings.items()},
        }


@dataclass(frozen=True)
class Progress:
    """Sent to the progress callback after each file."""

    done: int
    total: int
    path: str
    chunks: int
