"""Ingest on the real components: Chroma, the bundled embedding model, real files."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ragkit import RAG, LockedError, NotFoundError, Settings
from ragkit._lock import writer_lock
from ragkit.ingestion.chunk import chunk_document
from ragkit.ingestion.parse import file_hash, parse_file
from ragkit.ports import TokenizerFile

from .conftest import SAMPLE_FILES


def expected_chunks(folder: Path, embedder) -> int:
    """Chunks the samples must give, computed stage by stage outside the pipeline."""
    limit = min(Settings().chunk_size, embedder.max_tokens)
    total = 0
    for name in SAMPLE_FILES:
        path = folder / name
        doc = parse_file(path, source=str(path), doc_id=file_hash(path), languages=["eng", "zho"])
        total += len(chunk_document(doc, max_tokens=limit, count=embedder.count_tokens))
    return total


class TestIngestSamples:
    def test_chunk_count_and_every_file_in(self, sample_kb: RAG, samples: Path, embedder) -> None:
        n = sample_kb.count()
        assert n == expected_chunks(samples, embedder)
        assert n >= 2 * len(SAMPLE_FILES)
        sources = {h.chunk.source for h in sample_kb.store.search(
            embedder.embed_query("anything"), k=n)}
        assert sources == {str(samples / name) for name in SAMPLE_FILES}

    def test_reingest_adds_nothing(self, sample_kb: RAG, samples: Path) -> None:
        before = sample_kb.count()
        report = sample_kb.ingest(samples)
        assert report.to_dict()["files"] == {
            "seen": len(SAMPLE_FILES), "ingested": 0, "unchanged": len(SAMPLE_FILES),
            "removed": 0, "failed": 0, "skipped": 0,
        }
        assert report.chunks_added == 0 and sample_kb.count() == before


class TestIncremental:
    @pytest.fixture
    def kb(self, tmp_path: Path, samples: Path, embedder) -> tuple[RAG, Path]:
        docs = tmp_path / "docs"
        shutil.copytree(samples, docs)
        rag = RAG(tmp_path / "kb", settings=Settings(), embedder=embedder)
        assert rag.ingest(docs).ok
        return rag, docs

    def test_touched_but_same_content_is_unchanged(self, kb) -> None:
        rag, docs = kb
        (docs / "coffee_notes.txt").touch()
        r = rag.ingest(docs)
        assert r.to_dict()["files"]["unchanged"] == len(SAMPLE_FILES)

    def test_changed_file_is_replaced(self, kb, embedder) -> None:
        rag, docs = kb
        before = rag.count()
        f = docs / "coffee_notes.txt"
        f.write_text("Coffee beans are roasted seeds.\n\nA flat white has microfoam.\n")
        r = rag.ingest(docs)
        assert r.ingested == [str(f)] and r.chunks_removed > 0, r.to_dict()
        texts = [h.chunk.text for h in rag.retrieve("flat white microfoam", k=50)]
        assert any("microfoam" in t for t in texts), texts
        assert not any("Yemen" in t for t in texts), texts
        assert rag.count() == before - r.chunks_removed + r.chunks_added

    def test_dry_run_writes_nothing(self, kb) -> None:
        rag, docs = kb
        before = rag.count()
        (docs / "coffee_notes.txt").write_text("New coffee facts.\n")
        (docs / "great_wall_zh.txt").unlink()
        (docs / "new.md").write_text("# New\n\nA new file.\n")
        r = rag.ingest(docs, dry_run=True)
        assert r.dry_run and r.to_dict()["dry_run"] is True
        assert sorted(Path(p).name for p in r.ingested) == ["coffee_notes.txt", "new.md"]
        assert [Path(p).name for p in r.removed] == ["great_wall_zh.txt"]
        assert r.chunks_added == 0 and rag.count() == before
        real = rag.ingest(docs)
        assert sorted(Path(p).name for p in real.ingested) == ["coffee_notes.txt", "new.md"]

    def test_changed_chunk_settings_reembed_with_a_message(self, kb, embedder) -> None:
        rag, docs = kb
        old_ids = rag.store.ids()
        smaller = RAG(rag.kb, settings=Settings(chunk_size=100), embedder=embedder)
        r = smaller.ingest(docs)
        assert len(r.ingested) == len(SAMPLE_FILES)
        assert any("chunk_size" in n and "re-embedding" in n for n in r.notes), r.notes
        assert not old_ids & smaller.store.ids()  # nothing left from the old settings
        assert smaller.count() == r.chunks_added > len(old_ids)

    def test_deleted_file_is_removed(self, kb) -> None:
        rag, docs = kb
        before = rag.count()
        (docs / "great_wall_zh.txt").unlink()
        r = rag.ingest(docs)
        assert r.removed == [str(docs / "great_wall_zh.txt")]
        assert rag.count() == before - r.chunks_removed and r.chunks_removed > 0

    def test_broken_file_reported_and_rest_ingested(self, tmp_path: Path, samples, embedder):
        docs = tmp_path / "docs"
        shutil.copytree(samples, docs)
        (docs / "broken.pdf").write_bytes(b"%PDF-1.4\n garbage, truncated")
        (docs / "empty.txt").write_text("")
        (docs / "notes.xyz").write_text("unsupported")
        rag = RAG(tmp_path / "kb", settings=Settings(), embedder=embedder)
        r = rag.ingest(docs)
        failed = {Path(f.path).name: f.error for f in r.failures}
        assert set(failed) == {"broken.pdf", "empty.txt"}
        assert [(Path(s.path).name, s.reason) for s in r.skipped] == [
            ("notes.xyz", "unsupported file type '.xyz'")
        ]
        assert all(e and "\n" not in e for e in failed.values())
        assert len(r.ingested) == len(SAMPLE_FILES)
        assert rag.count() == expected_chunks(samples, embedder)

    def test_oversized_file_is_reported(self, tmp_path: Path, embedder) -> None:
        docs = tmp_path / "docs"
        docs.mkdir()
        (docs / "big.txt").write_text("word " * 300_000)
        rag = RAG(tmp_path / "kb", settings=Settings(max_file_mb=1), embedder=embedder)
        r = rag.ingest(docs)
        assert [Path(f.path).name for f in r.failures] == ["big.txt"]
        assert "max_file_mb" in r.failures[0].error

    def test_hidden_files_and_excludes_skipped(self, tmp_path: Path, embedder) -> None:
        docs = tmp_path / "docs"
        (docs / ".git").mkdir(parents=True)
        (docs / ".git" / "x.txt").write_text("hidden folder")
        (docs / ".secret.txt").write_text("hidden file")
        (docs / "keep.txt").write_text("Kept text about otters.")
        (docs / "skip.txt").write_text("Skipped text.")
        rag = RAG(tmp_path / "kb", settings=Settings(exclude=["skip*"]), embedder=embedder)
        r = rag.ingest(docs)
        assert r.ingested == [str(docs / "keep.txt")]

    def test_missing_path(self, tmp_path: Path, embedder) -> None:
        rag = RAG(tmp_path / "kb", settings=Settings(), embedder=embedder)
        with pytest.raises(NotFoundError, match="does not exist"):
            rag.ingest(tmp_path / "nope")

    def test_second_writer_gets_a_clear_error(self, tmp_path: Path, embedder) -> None:
        rag = RAG(tmp_path / "kb", settings=Settings(), embedder=embedder)
        with writer_lock(rag.kb / "ingest.lock"), pytest.raises(LockedError, match="locked by PID"):
            rag.ingest(tmp_path)

    def test_other_embedding_model_is_refused(self, tmp_path: Path, embedder) -> None:
        from ragkit import DimensionMismatchError

        rag = RAG(tmp_path / "kb", settings=Settings(), embedder=embedder)
        rag.count()

        class Other:
            name, dimension, max_tokens = "other-model", 8, 100

        other = RAG(tmp_path / "kb", settings=Settings(), embedder=Other())  # type: ignore[arg-type]
        with pytest.raises(DimensionMismatchError, match="all-MiniLM-L6-v2.*other-model"):
            other.count()


class NoTokenizerFile:
    """The real model behind an embedder that does not offer :class:`TokenizerFile`."""

    def __init__(self, inner) -> None:
        self._inner = inner
        self.name, self.dimension, self.max_tokens = "wrapped-minilm", inner.dimension, 256

    def embed_documents(self, texts):
        return self._inner.embed_documents(texts)

    def embed_query(self, text):
        return self._inner.embed_query(text)

    def count_tokens(self, text):
        return self._inner.count_tokens(text)


class TestParseWorkers:
    def test_an_embedder_without_a_tokenizer_file_parses_in_process(
        self, tmp_path: Path, embedder, caplog: pytest.LogCaptureFixture
    ) -> None:
        assert isinstance(embedder, TokenizerFile)
        wrapped = NoTokenizerFile(embedder)
        assert not isinstance(wrapped, TokenizerFile)
        docs = tmp_path / "docs"
        docs.mkdir()
        for i in range(8):  # enough files for the pool
            (docs / f"n{i}.md").write_text(f"# Note {i}\n\nLlamas hum, note {i}.\n")
        rag = RAG(tmp_path / "kb", settings=Settings(workers=2), embedder=wrapped)
        with caplog.at_level("WARNING", logger="ragkit.ingestion.pipeline"):
            report = rag.ingest(docs)
        assert report.ok and len(report.ingested) == 8 and report.parse_workers == 0
        note = ("parsed in-process: embedder 'wrapped-minilm' offers no tokenizer file for "
                "parser workers (see ragkit.ports.TokenizerFile)")
        assert note in report.notes and report.to_dict()["notes"] == report.notes
        assert report.to_dict()["parse_workers"] == 0
        assert any("tokenizer_path" in r.getMessage() for r in caplog.records)

    def test_few_files_parse_in_process_without_a_note(self, tmp_path: Path, embedder) -> None:
        docs = tmp_path / "docs"
        docs.mkdir()
        (docs / "one.md").write_text("# One\n\nOne file.\n")
        rag = RAG(tmp_path / "kb", settings=Settings(workers=2),
                  embedder=NoTokenizerFile(embedder))
        report = rag.ingest(docs)
        assert report.ok and report.parse_workers == 0 and report.notes == []


@pytest.mark.slow
def test_a_worker_dying_fails_only_its_file(
    tmp_path: Path, samples: Path, embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Parser workers that die take down only the file they were parsing."""
    from ragkit.ingestion import pipeline

    from .crashing_worker import die_on_poison

    docs = tmp_path / "docs"
    shutil.copytree(samples, docs)
    for i in range(6):
        shutil.copy2(samples / "llamas.md", docs / f"copy_{i}.md")
    (docs / "poison.md").write_text("# Poison\n\nThis file kills its parser.\n")
    monkeypatch.setattr(pipeline._Run, "work", staticmethod(die_on_poison))
    report = RAG(tmp_path / "kb", settings=Settings(workers=2), embedder=embedder).ingest(docs)
    assert [(Path(f.path).name, f.error.split(" (")[0]) for f in report.failures] == [
        ("poison.md", "the parser process died on this file")
    ]
    assert len(report.ingested) == len(SAMPLE_FILES) + 6
    assert report.parse_workers == 2
