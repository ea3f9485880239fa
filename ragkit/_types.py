"""Plain data passed between the stages: Block, Document, Chunk, Hit, Citation, Answer."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


def _short(text: str, n: int = 40) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


@dataclass(frozen=True)
class Block:
    """One parsed element of a document: a title, a paragraph, a list item, a table.

    ``section`` is the chain of titles above it ("Guide > Care"); ``page`` is 1-based
    where the format has pages (PDF), else ``None``.
    """

    text: str
    kind: str = "NarrativeText"
    page: int | None = None
    section: str = ""

    def __repr__(self) -> str:
        return f"Block({self.kind}, page={self.page}, {_short(self.text)!r})"


@dataclass(frozen=True)
class Document:
    """A parsed file. ``id`` is the SHA-256 of the file's bytes, so re-ingest is idempotent."""

    id: str
    source: str
    blocks: tuple[Block, ...]
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.id:
            raise ValueError("Document.id must be the content hash, got an empty string")

    @property
    def text(self) -> str:
        return "\n\n".join(b.text for b in self.blocks)

    @classmethod
    def from_text(cls, source: str, text: str, title: str = "") -> Document:
        """A document from plain text (paragraphs split at blank lines), under an optional
        title; its id is the SHA-256 of title and text.

        >>> Document.from_text("note-1", "First.\n\nSecond.", title="Notes").blocks[0]
        Block(Title, page=None, 'Notes')
        """
        import hashlib
        import re

        title = title.strip()
        blocks = [Block(title, "Title", None, title)] if title else []
        blocks += [Block(p.strip(), "NarrativeText", None, title)
                   for p in re.split(r"\n\s*\n", text) if p.strip()]
        digest = hashlib.sha256(f"{title}\x00{text}".encode()).hexdigest()
        return cls(digest, source, tuple(blocks))

    def __repr__(self) -> str:
        return f"Document({self.source!r}, id={self.id[:12]}, blocks={len(self.blocks)})"


@dataclass(frozen=True)
class DocumentInfo:
    """An ingested document as listed by :meth:`ragkit.RAG.documents`."""

    source: str
    chunks: int
    size: int
    hash: str


@dataclass(frozen=True)
class Chunk:
    """A piece of a document small enough for the embedding model (in its own tokens).

    ``id`` is deterministic: a hash of the source path, the document hash, the chunking
    settings and the chunk's position, so the same file always gives the same ids.
    """

    id: str
    doc_id: str
    text: str
    source: str
    index: int
    page: int | None = None
    section: str = ""
    kind: str = "Text"
    overlap: int = 0  #: leading characters repeated from the previous chunk

    def metadata(self) -> dict[str, str | int]:
        """Flat metadata for the vector store (no ``None``: Chroma rejects it)."""
        meta: dict[str, str | int] = {
            "doc_id": self.doc_id,
            "source": self.source,
            "index": self.index,
            "section": self.section,
            "kind": self.kind,
            "overlap": self.overlap,
        }
        if self.page is not None:
            meta["page"] = self.page
        return meta

    @classmethod
    def from_metadata(cls, chunk_id: str, text: str, meta: dict[str, Any]) -> Chunk:
        page = meta.get("page")
        return cls(
            id=chunk_id,
            doc_id=str(meta.get("doc_id", "")),
            text=text,
            source=str(meta.get("source", "")),
            index=int(meta.get("index", 0)),
            page=int(page) if page is not None else None,
            section=str(meta.get("section", "")),
            kind=str(meta.get("kind", "Text")),
            overlap=int(meta.get("overlap", 0)),
        )

    def __repr__(self) -> str:
        return f"Chunk({self.source!r}#{self.index}, {_short(self.text)!r})"


@dataclass(frozen=True)
class Hit:
    """A retrieved chunk and its similarity score (higher is more similar).

    ``flags`` names the prompt-injection patterns its text matches
    (:func:`ragkit.safety.injection_flags`); empty for ordinary text.
    """

    chunk: Chunk
    score: float
    flags: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The ``ragkit retrieve --json`` row of this hit."""
        c = self.chunk
        return {"chunk_id": c.id, "source": c.source, "page": c.page, "section": c.section,
                "score": round(self.score, 6), "text": c.text, "flags": list(self.flags)}


@dataclass(frozen=True)
class Retrieval:
    """The result of one retrieval: the hits, best first, the mode used and the
    milliseconds of each stage (embed, dense, bm25, fuse, rerank, mmr) of *this* call."""

    hits: list[Hit]
    mode: str
    timings: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The ``ragkit retrieve --json`` object."""
        return {"hits": [h.to_dict() for h in self.hits], "mode": self.mode,
                "timings": self.timings}


@dataclass(frozen=True)
class Citation:
    """A numbered passage of the prompt, as shown under an answer.

    ``cited`` is true when the answer refers to it with its ``[n]`` marker, or, when the
    model wrote no marker, when verification found that it supports a sentence of the
    answer (then ``attributed`` is true: ragkit, not the model, made the link). Passages
    given to the model that back nothing are listed with ``cited=False`` ("given, not
    cited").
    """

    n: int
    source: str
    page: int | None
    section: str
    chunk_id: str
    text: str
    cited: bool = True

    flags: tuple[str, ...] = ()  #: injection patterns found in the passage
    attributed: bool = False  #: cited by ragkit's verification, not by a marker

    @property
    def snippet(self) -> str:
        """The passage's first 200 characters, whitespace collapsed."""
        text = " ".join(self.text.split())
        return text if len(text) <= 200 else text[:199] + "…"

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["flags"] = list(self.flags)
        d["snippet"] = self.snippet
        return d


@dataclass
class Answer:
    """The result of :meth:`ragkit.RAG.ask`: the text, its sources and where time went.

    ``prompt`` is the :class:`ragkit.prompt.Prompt` sent (messages, tokens per section, what
    was dropped); ``flagged`` lists passages and tool results that look like prompt
    injections; ``id`` is the ask's row in the log (None when logging is off).
    """

    question: str
    text: str
    citations: list[Citation]
    hits: list[Hit]
    timings: dict[str, float] = field(default_factory=dict)
    invalid_markers: list[int] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    prompt: Any = None
    flagged: list[dict[str, Any]] = field(default_factory=list)
    tool_calls: list[Any] = field(default_factory=list)
    standalone_question: str | None = None
    session_id: str | None = None
    id: str | None = None
    #: per sentence: its text, cited markers, best supporting passage, score, supported
    #: (:class:`ragkit.verify.SentenceSupport`); empty when verification is off
    support: list[Any] = field(default_factory=list)
    #: share of the answer's factual sentences that are supported (None: not verified)
    supported_share: float | None = None
    #: best-of-n: the other candidates with their scores (setting ``best_of``)
    candidates: list[Any] = field(default_factory=list)
    #: the model's reasoning before its answer (setting ``reasoning``), else None
    reasoning: str | None = None

    def to_dict(self, *, prompt: bool = False) -> dict[str, Any]:
        """The ``ragkit ask --json`` object (``prompt``: include the messages sent)."""
        out: dict[str, Any] = {
            "answer": self.text,
            "citations": [c.to_dict() for c in self.citations],
            "invalid_markers": self.invalid_markers,
            "dropped": self.dropped,
            "timings": self.timings,
            "flagged": self.flagged,
            "tool_calls": [t.to_dict() for t in self.tool_calls],
            "id": self.id,
        }
        if self.standalone_question is not None:
            out["standalone_question"] = self.standalone_question
            out["session_id"] = self.session_id
        out["support"] = [s.to_dict() for s in self.support]
        out["supported_share"] = self.supported_share
        if self.candidates:
            out["candidates"] = self.candidates
        if self.reasoning is not None:
            out["reasoning"] = self.reasoning
        if prompt and self.prompt is not None:
            out["prompt"] = self.prompt.to_dict()
        return out

    def __repr__(self) -> str:
        return f"Answer({_short(self.text, 60)!r}, citations={len(self.citations)})"
