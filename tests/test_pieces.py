"""Large files in bounded pieces (issue 15): where files are cut, and an ingest of pieced
files with the real embedding model, Chroma and parsers. The piece sizes are lowered here so
that a few tens of KB make several pieces; the code paths are those of a 200 MB file.

- Every byte of a file is in exactly one piece; cuts fall at paragraph ends, before Markdown
  headings, and never inside a quoted CSV field.
- A pieced file ingests whole: its chunks are numbered 0..n-1 with the ids of their place,
  nothing is lost, re-ingest changes nothing, a change replaces it without leftovers.
- A bad piece fails its file, naming the piece, and nothing of that file stays.
- A run that dies between pieces converges on a clean ingest, like any other run.
"""

from __future__ import annotations

import csv
import io
import os
import sys
import time
from pathlib import Path

import pytest

from ragkit import RAG, Settings
from ragkit.doctor import check_knowledge_base
from ragkit.ingestion import pieces
from ragkit.ingestion.spill import FILE_NAME

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
from make_samples import make_pdf  # noqa: E402 - the project's own minimal PDF writer

from tests.sync_machine import snapshot  # noqa: E402

PIECE = 4096


@pytest.fixture
def small_pieces(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pieces, "PIECE_BYTES", PIECE)
    monkeypatch.setattr(pieces, "PIECE_PAGES", 2)
    monkeypatch.setattr(pieces, "MIN_PDF_BYTES", 0)


def _markdown(n: int = 24, tag: str = "") -> str:
    parts = []
    for i in range(n):
        parts.append(f"# Chapter {i}\n\n")
        for j in range(4):
            parts.append(f"Paragraph {j} of chapter {i} mentions the marker word zq{i}x{j}{tag} "
                         "and goes on about valves, pumps, ledgers and the weather in spring. "
                         * 2 + "\n\n")
    return "".join(parts)


def _covered(data: bytes, spans: list[tuple[int, int]]) -> None:
    assert spans[0][0] == 0 and spans[-1][1] == len(data)
    assert all(a[1] == b[0] for a, b in zip(spans, spans[1:], strict=False)), spans


class TestSplit:
    def test_a_small_file_is_not_split(self, tmp_path: Path) -> None:
        path = tmp_path / "a.txt"
        path.write_text("hello\n\nworld\n")
        assert pieces.split(path, path.stat().st_size) == []

    def test_markdown_is_cut_before_headings(self, small_pieces, tmp_path: Path) -> None:
        path = tmp_path / "big.md"
        path.write_text(_markdown())
        data = path.read_bytes()
        spans = pieces.split(path, len(data))
        assert len(spans) >= 5
        _covered(data, spans)
        for start, end in spans:
            assert end - start <= PIECE * 3 // 2 + 400  # bounded: one line past the limit
            assert data[start:end].startswith(b"# "), data[start:start + 40]

    def test_text_is_cut_at_paragraph_ends(self, small_pieces, tmp_path: Path) -> None:
        path = tmp_path / "big.txt"
        path.write_text(_markdown().replace("# ", ""))
        data = path.read_bytes()
        spans = pieces.split(path, len(data))
        _covered(data, spans)
        assert len(spans) >= 5
        assert all(data[:end].endswith(b"\n\n") for _, end in spans)

    def test_csv_is_cut_between_records_and_each_piece_has_the_header(
            self, small_pieces, tmp_path: Path) -> None:
        path = tmp_path / "big.csv"
        rows = [["id", "note", "amount"]] + [
            [str(i), f"line one of {i}\nline two, with \"quotes\" of {i}", str(i * 3)]
            for i in range(400)]
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerows(rows)
        path.write_text(buf.getvalue())
        data = path.read_bytes()
        spans = pieces.split(path, len(data))
        _covered(data, spans)
        assert len(spans) >= 4
        got = []
        for span in spans:
            with pieces.piece_file(path, span) as piece:
                records = list(csv.reader(io.StringIO(piece.read_text())))
                assert piece.suffix == ".csv"
            assert records[0] == rows[0]  # the header, repeated in every piece
            got += records[1:]
        assert got == rows[1:]  # every record whole, once, in order

    def test_utf16_text_is_not_split(self, small_pieces, tmp_path: Path) -> None:
        path = tmp_path / "wide.txt"
        path.write_text(_markdown(), encoding="utf-16")
        assert pieces.split(path, path.stat().st_size) == []

    def test_a_pdf_is_split_into_page_ranges(self, small_pieces, tmp_path: Path) -> None:
        path = tmp_path / "book.pdf"
        path.write_bytes(make_pdf([[f"Page {i} text."] for i in range(5)]))
        assert pieces.split(path, path.stat().st_size) == [(1, 2), (3, 4), (5, 5)]
        broken = tmp_path / "broken.pdf"
        broken.write_bytes(b"%PDF-1.4 not really")
        assert pieces.split(broken, broken.stat().st_size) == []  # parsed whole: says why


def _rag(kb: Path, embedder) -> RAG:
    return RAG(kb, settings=Settings(chunk_size=128, chunk_overlap=0), embedder=embedder)


def _row(rag: RAG, source: Path):
    with rag.knowledge_base.manifest() as manifest:
        return manifest.get(str(source))


def _chunks_of(rag: RAG, name: str) -> list:
    return sorted((c for c in rag.store.get(sorted(rag.store.ids())) if c.source.endswith(name)),
                  key=lambda c: c.index)


def test_a_pieced_file_ingests_whole_and_re_ingests_cleanly(
        small_pieces, tmp_path: Path, embedder) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "big.md").write_text(_markdown())
    (docs / "small.txt").write_text("A small file about tea.\n")
    rag = _rag(tmp_path / "kb", embedder)
    report = rag.ingest(docs)
    assert report.ok, report.failures
    assert sorted(Path(s).name for s in report.ingested) == ["big.md", "small.txt"]
    chunks = _chunks_of(rag, "big.md")
    assert [c.index for c in chunks] == list(range(len(chunks)))  # the file's numbering
    assert len({c.id for c in chunks}) == len(chunks)
    text = "\n".join(c.text for c in chunks)
    for i in range(24):  # nothing lost at a piece boundary
        for j in range(4):
            assert f"zq{i}x{j}" in text
    row = _row(rag, docs / "big.md")
    assert row is not None and set(row.chunk_ids) == {c.id for c in chunks}
    assert rag.store.ids() == {*row.chunk_ids, *[c.id for c in _chunks_of(rag, "small.txt")]}
    hits = rag.retrieve("zq23x3", k=3, mode="bm25")  # from the last piece, by keyword
    assert hits and "zq23x3" in hits[0].chunk.text
    assert not (tmp_path / "kb" / FILE_NAME).exists()

    again = rag.ingest(docs)
    assert again.ok and again.ingested == [] and again.chunks_added == 0

    (docs / "big.md").write_text(_markdown(tag="new"))  # every piece changes
    changed = rag.ingest(docs)
    assert changed.ok and [Path(s).name for s in changed.ingested] == ["big.md"]
    after = _chunks_of(rag, "big.md")
    assert all("new" in c.text for c in after if "zq" in c.text)
    row = _row(rag, docs / "big.md")
    assert row is not None and set(row.chunk_ids) == {c.id for c in after}
    assert rag.store.ids() == {*row.chunk_ids, *[c.id for c in _chunks_of(rag, "small.txt")]}


def test_a_bad_piece_fails_its_file_and_leaves_nothing_of_it(
        small_pieces, tmp_path: Path, embedder) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    good = _markdown().replace("# ", "").encode()
    middle = len(good) // 2
    middle = good.index(b"\n\n", middle) + 2
    (docs / "broken.txt").write_bytes(good[:middle] + b"\xff\xff bad bytes\n\n" + good[middle:])
    (docs / "fine.txt").write_text("A fine file about bread.\n")
    rag = _rag(tmp_path / "kb", embedder)
    report = rag.ingest(docs)
    assert [Path(s).name for s in report.ingested] == ["fine.txt"]
    [failure] = report.failures
    assert failure.path == str(docs / "broken.txt")
    assert "piece " in failure.error and " of " in failure.error and "bytes " in failure.error
    assert "0xff" in failure.error, failure.error
    assert _chunks_of(rag, "broken.txt") == []  # its earlier pieces left the store
    assert _row(rag, docs / "broken.txt") is None


def test_a_pieced_pdf_keeps_its_page_numbers(small_pieces, tmp_path: Path, embedder) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    filler = "The pump manual explains valves, seals, gaskets and the weekly checks. " * 8
    (docs / "book.pdf").write_bytes(make_pdf(  # pages too long to share a 128-token chunk
        [[f"This is page {i} about the marker ww{i}page. {filler}"] for i in range(1, 6)]))
    rag = _rag(tmp_path / "kb", embedder)
    report = rag.ingest(docs)
    assert report.ok, report.failures
    chunks = _chunks_of(rag, "book.pdf")
    assert sorted({c.page for c in chunks}) == [1, 2, 3, 4, 5]
    for c in chunks:
        assert all(f"ww{p}page" not in c.text for p in range(1, 6) if p != c.page), c
    assert all(any(f"ww{p}page" in c.text for c in chunks) for p in range(1, 6))


def test_a_run_that_dies_between_pieces_converges_on_a_clean_ingest(
        small_pieces, tmp_path: Path, embedder, monkeypatch: pytest.MonkeyPatch) -> None:
    from ragkit.ingestion.spill import Spill

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "big.md").write_text(_markdown())
    (docs / "other.txt").write_text("Another file, about the harbour at night.\n")
    rag = _rag(tmp_path / "kb", embedder)
    real_put, calls = Spill.put, []

    def dying_put(self, *args):
        real_put(self, *args)
        calls.append(1)
        if len(calls) == 3:  # three pieces in the store and spilled, the file uncommitted
            raise KeyboardInterrupt

    monkeypatch.setattr(Spill, "put", dying_put)
    with pytest.raises(KeyboardInterrupt):
        rag.ingest(docs)
    assert _row(rag, docs / "big.md") is None
    assert _chunks_of(rag, "big.md")  # orphans: in the store, claimed by no row
    spill = tmp_path / "kb" / FILE_NAME
    assert spill.exists()
    old = time.time() - 3600
    os.utime(spill, (old, old))  # doctor leaves a fresh one alone: an ingest may be writing it
    diagnosis = check_knowledge_base(tmp_path / "kb", embedder=embedder)
    [check] = [c for c in diagnosis.checks if c.name == "leftovers"]
    assert check.status == "problem" and FILE_NAME in check.message, check
    monkeypatch.setattr(Spill, "put", real_put)
    again = rag.ingest(docs)
    assert again.ok, again.failures
    assert not spill.exists()
    clean = _rag(tmp_path / "clean", embedder)
    assert clean.ingest(docs).ok
    got, want = snapshot(rag, embedder), snapshot(clean, embedder)
    assert got["chroma"] == want["chroma"]
    assert got["keyword"] == want["keyword"]
    assert {k: v[2] for k, v in got["manifest"].items()} == {
        k: v[2] for k, v in want["manifest"].items()}
    assert got["searches"] == want["searches"]
