"""The embedding dtype: "auto" resolution, the real model in bfloat16, the dtype the store
records, a knowledge base opened in another dtype, and the fingerprint."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from ragkit import RAG, DimensionMismatchError, Settings, _dtype
from ragkit._dtype import cpu_flags, resolve_dtype
from ragkit.backends.chroma import ChromaStore
from ragkit.doctor import check_knowledge_base

MODEL = "bundled:all-MiniLM-L6-v2"
#: least cosine between a text's float32 and bfloat16 vectors: 0.99976 was the least
#: measured over 6,000 bench chunks (bench/embed_dtype_bench.py)
MIN_COSINE = 0.9995
SENTENCES = [
    "Cats knead soft blankets and slowly blink at people they trust.",
    "Error E42 on the ZX-9000 means the impeller sensor lost its signal.",
    "杂交水稻是谁培育的",
    "A sourdough loaf rises with wild yeast and lactic bacteria kept alive in a starter of "
    "flour and water; long fermentation gives the crumb its open holes.",
    "ok",
]


def _cpuinfo(tmp_path: Path, flags: str) -> Path:
    path = tmp_path / "cpuinfo"
    path.write_text(f"processor\t: 0\nmodel name\t: Test CPU\nflags\t\t: fpu sse2 {flags}\n\n"
                    f"processor\t: 1\nflags\t\t: fpu\n")
    return path


@pytest.fixture(scope="module")
def bf16():
    from ragkit.backends.sentence_transformers import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder(MODEL, dtype="bfloat16")


class TestResolve:
    def test_cpu_flags_are_read_from_the_first_flags_line(self, tmp_path: Path) -> None:
        assert cpu_flags(_cpuinfo(tmp_path, "avx512f avx512_bf16")) == {
            "fpu", "sse2", "avx512f", "avx512_bf16"}
        assert cpu_flags(tmp_path / "missing") == set()  # not Linux: no flags

    @pytest.mark.parametrize(("flags", "want", "why"), [
        ("avx512_bf16", "bfloat16", "AVX512-BF16"),
        ("amx_bf16 amx_tile", "bfloat16", "AMX-BF16"),
        ("avx512f avx2", "float32", "no native bfloat16"),
    ])
    def test_auto_follows_the_cpu(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                  flags: str, want: str, why: str) -> None:
        monkeypatch.setattr(_dtype, "CPUINFO", _cpuinfo(tmp_path, flags))
        dtype, reason = resolve_dtype("auto", model=MODEL)
        assert dtype == want and why in reason

    def test_auto_is_float32_off_the_cpu_or_for_an_unmeasured_model(self) -> None:
        native = {"avx512_bf16"}
        assert resolve_dtype("auto", model=MODEL, device="cuda", flags=native)[0] == "float32"
        dtype, reason = resolve_dtype("auto", model="/my/model", flags=native)
        assert dtype == "float32" and "not measured" in reason

    def test_an_explicit_dtype_is_kept_and_a_wrong_one_refused(self) -> None:
        assert resolve_dtype("bfloat16", model="/my/model", flags=set()) == (
            "bfloat16", "set by embedding_dtype")
        assert resolve_dtype("float32", model=MODEL, flags={"avx512_bf16"})[0] == "float32"
        with pytest.raises(ValueError, match="embedding_dtype must be"):
            resolve_dtype("float16", model=MODEL)

    def test_the_setting_is_validated(self) -> None:
        from pydantic import ValidationError

        with pytest.raises(ValidationError, match="embedding_dtype"):
            Settings(embedding_dtype="float16")  # type: ignore[arg-type]


class TestFingerprint:
    def test_the_effective_dtype_changes_the_fingerprint(
            self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(_dtype, "CPUINFO", _cpuinfo(tmp_path, "avx512_bf16"))
        native = Settings().fingerprint()
        monkeypatch.setattr(_dtype, "CPUINFO", _cpuinfo(tmp_path, "avx2"))
        plain = Settings().fingerprint()
        assert native["embedding_dtype"] == "bfloat16"
        assert native != plain
        # float32 adds nothing: knowledge bases made before the setting are not re-embedded
        assert sorted(plain) == ["chunk_overlap", "chunk_size", "embedding_model", "languages"]
        assert Settings(embedding_dtype="float32").fingerprint() == plain

    def test_a_dtype_change_re_embeds_the_files(self, tmp_path: Path, embedder, bf16) -> None:
        (tmp_path / "docs").mkdir()
        (tmp_path / "docs" / "a.md").write_text("# Pumps\n\nError E42 means the sensor lost "
                                                "its signal; reseat connector J7.\n")
        kb = tmp_path / "kb"
        first = RAG(kb, embedder=embedder, embedding_dtype="float32").ingest(tmp_path / "docs")
        same = RAG(kb, embedder=embedder, embedding_dtype="float32").ingest(tmp_path / "docs")
        rag = RAG(kb, embedder=bf16, embedding_dtype="bfloat16")
        other = rag.ingest(tmp_path / "docs")
        assert len(first.ingested) == 1 and len(same.unchanged) == 1
        assert len(other.ingested) == 1, other.to_dict()
        assert rag.store.recorded_dtype == "bfloat16"  # the record follows the new vectors


class TestModel:
    def test_bfloat16_vectors_are_close_to_float32_ones(self, embedder, bf16) -> None:
        import torch

        assert bf16.dtype == "bfloat16" and embedder.dtype == "float32"
        assert next(bf16._model.parameters()).dtype == torch.bfloat16
        a = np.asarray(embedder.embed_documents(SENTENCES))
        b = np.asarray(bf16.embed_documents(SENTENCES))
        assert np.allclose(np.linalg.norm(b, axis=1), 1.0, atol=1e-5)  # unit length again
        cosine = (a * b).sum(1)
        assert cosine.min() > MIN_COSINE, cosine
        assert not np.array_equal(a, b)  # really computed in another dtype

    def test_batches_by_length_keep_the_order(self, embedder) -> None:
        # 150 texts of many lengths: three batches, each encoded longest first
        texts = [SENTENCES[i % len(SENTENCES)] + " x" * (i % 7) for i in range(150)]
        together = np.asarray(embedder.embed_documents(texts))
        alone = np.asarray([embedder.embed_query(t) for t in texts[:12]])
        assert (together[:12] * alone).sum(1).min() > 0.9999
        assert (together[:12] @ alone.T).argmax(0).tolist() == list(range(12))


class TestStore:
    def _store(self, path: Path, dtype: str, model: str = "m") -> ChromaStore:
        return ChromaStore(path, collection="docs", embedder_name=model, dimension=3,
                           dtype=dtype)

    def test_the_dtype_is_recorded_and_another_is_a_note(
            self, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
        from ragkit._types import Chunk

        made = self._store(tmp_path, "bfloat16")
        assert made.recorded_dtype == "bfloat16" and made.dtype_note == ""
        with caplog.at_level(logging.WARNING, logger="ragkit.backends.chroma"):
            other = self._store(tmp_path, "float32")
        assert other.recorded_dtype == "bfloat16"
        assert "holds bfloat16 vectors" in other.dtype_note
        assert "embedding_dtype = 'bfloat16'" in caplog.text
        assert other.search([1.0, 0.0, 0.0], 3) == []  # opens and searches: not an error
        other.add([Chunk("c1", "d1", "text", "a.md", 0)], [[1.0, 0.0, 0.0]])
        again = self._store(tmp_path, "float32")
        assert again.recorded_dtype == "float32" and again.dtype_note == ""
        assert [h.chunk.id for h in again.search([1.0, 0.0, 0.0], 1)] == ["c1"]
        with pytest.raises(DimensionMismatchError):  # the model record survived the update
            self._store(tmp_path, "float32", model="other")

    def test_a_collection_made_before_the_record_holds_float32(self, tmp_path: Path) -> None:
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        client = chromadb.PersistentClient(path=str(tmp_path),
                                           settings=ChromaSettings(anonymized_telemetry=False,
                                                                   allow_reset=False))
        client.create_collection("docs", metadata={"embedding_model": "m", "dimension": 3,
                                                   "hnsw:space": "cosine"})
        assert self._store(tmp_path, "float32").dtype_note == ""
        assert "holds float32 vectors" in self._store(tmp_path, "bfloat16").dtype_note


class TestDoctor:
    def test_doctor_says_the_dtype_and_warns_on_another(self, tmp_path: Path, embedder,
                                                        bf16) -> None:
        (tmp_path / "docs").mkdir()
        (tmp_path / "docs" / "a.md").write_text("# Bread\n\nSourdough rises with wild yeast.\n")
        kb = tmp_path / "kb"
        assert RAG(kb, embedder=bf16, embedding_dtype="bfloat16").ingest(tmp_path / "docs").ok
        same = check_knowledge_base(kb, embedder=bf16).check("embedding_model")
        assert same.status == "ok", same
        assert "bfloat16: set by embedding_dtype" in same.message
        assert "matches the store" in same.message
        other = check_knowledge_base(kb, embedder=embedder).check("embedding_model")
        assert other.status == "warn", other
        assert "holds bfloat16 vectors" in other.message
        assert "embedding_dtype = 'bfloat16'" in other.fix
