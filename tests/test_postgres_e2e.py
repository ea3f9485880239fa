"""Two "machines" sharing one knowledge base (docs/scale-out.md, "Workers on different
machines"): two knowledge-base folders, each with only its own ragkit.toml, bm25/ and the
rest, with the same ``database_url`` (a real PostgreSQL server, tests/_postgres.py) and the
same Chroma server (``chroma_url``, a real ``chroma run``); the real embedding model.

Ingest through folder A, find through folder B (dense, bm25, hybrid; B's BM25 scorer,
built before A's write, is rebuilt from the record); delete through B, gone from A; one
writer at a time across the two; ``ragkit doctor`` on B sees one consistent knowledge base.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ragkit import RAG, LockedError, check_knowledge_base

from ._postgres import PgServer, pg_server
from .test_chroma_server import chroma_url  # noqa: F401 - a fixture

OKAPI = ("# The okapi\n\nThe okapi (Okapia johnstoni) is a forest giraffid that lives only in "
         "the Ituri rainforest of the Democratic Republic of the Congo. Its hindquarters carry "
         "zebra-like stripes, and it browses on the leaves of understory shrubs with a long, "
         "prehensile tongue.\n")
QUESTION = "Which rainforest is the home of the okapi?"
MODES = ("dense", "bm25", "hybrid")


@pytest.fixture(scope="module")
def pg() -> Iterator[PgServer]:
    with pg_server() as server:
        yield server


def machine(root: Path, name: str, chroma: str, database: str) -> Path:
    kb = root / name
    kb.mkdir()
    (kb / "ragkit.toml").write_text(f'chroma_url = "{chroma}"\ncollection = "pg_e2e"\n'
                                    f'database_url = "{database}"\n', encoding="utf-8")
    return kb


def top(rag: RAG, mode: str) -> str | None:
    hits = rag.retrieve(QUESTION, k=1, mode=mode)
    return Path(hits[0].chunk.source).name if hits else None


def test_two_folders_share_one_knowledge_base(tmp_path: Path, pg: PgServer, samples: Path,
                                              chroma_url: str, embedder: Any) -> None:  # noqa: F811
    url = pg.database()
    a = RAG(machine(tmp_path, "machine-a", chroma_url, url), embedder=embedder)
    b = RAG(machine(tmp_path, "machine-b", chroma_url, url), embedder=embedder)
    docs = tmp_path / "docs-on-a"
    docs.mkdir()
    shutil.copy2(samples / "llamas.md", docs / "llamas.md")
    first = a.ingest(docs)
    assert first.ok and first.chunks_added > 0, first.failures
    assert not (a.kb / "manifest.sqlite3").exists() and not (a.kb / "ingest.lock").exists()
    assert [Path(h.chunk.source).name for h in b.retrieve("llama", k=1, mode="bm25")] == [
        "llamas.md"]  # B's scorer, built now, at this generation
    before = {p.name for p in (b.kb / "bm25").iterdir()}

    (docs / "okapi.md").write_text(OKAPI, encoding="utf-8")
    second = a.ingest(docs)
    assert second.ingested == [str(docs / "okapi.md")], second
    for mode in MODES:
        assert top(b, mode) == "okapi.md", mode
    assert {p.name for p in (b.kb / "bm25").iterdir()} - before  # rebuilt from the record
    assert {Path(d.source).name for d in b.documents()} == {"llamas.md", "okapi.md"}
    assert b.count() == a.count() == sum(d.chunks for d in a.documents())

    with a.knowledge_base.writing(), pytest.raises(LockedError, match="locked by PID"):
        b.delete_document(str(docs / "okapi.md"))  # one writer across the machines
    assert b.delete_document(str(docs / "okapi.md")) > 0
    for mode in MODES:
        assert top(a, mode) != "okapi.md", mode
    assert {Path(d.source).name for d in a.documents()} == {"llamas.md"}
    assert a.count() == sum(d.chunks for d in a.documents())

    checks = {c.name: c for c in check_knowledge_base(b.kb, embedder=embedder).checks}
    for name in ("schema", "store", "orphans", "missing_chunks", "keyword_record",
                 "ingest_lock"):
        assert checks[name].status == "ok", checks[name]
