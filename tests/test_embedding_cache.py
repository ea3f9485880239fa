"""The embedding cache (issue 15): repeated texts embedded once, a changed file re-embeds
only its changed chunks, another model or dtype never hits, a killed ingest leaves only
correct entries; with the real embedding model and real Chroma."""

from __future__ import annotations

import multiprocessing
import os
from pathlib import Path

import numpy as np
import pytest

from ragkit import RAG, Settings
from ragkit.ingestion.pipeline import run_ingest
from ragkit.ingestion.writer import cache_key
from ragkit.storage import CACHE_FILE, EmbeddingCache
from ragkit.storage.embedding_cache import text_hash

BOILERPLATE = ("Confidential. This document is the property of Example Corp and may not be "
               "shared outside the company without written permission.")
TOPICS = [
    ("Sourdough", "A sourdough loaf rises with wild yeast kept alive in a starter of flour "
                  "and water; long fermentation gives the crumb its open holes."),
    ("Pumps", "Error E42 on the ZX-9000 pump means the impeller sensor lost its signal; "
              "reseat the cable before replacing the sensor."),
    ("Tea", "Green tea leaves are steamed or pan-fired soon after picking, which stops "
            "oxidation and keeps their colour."),
    ("水稻", "杂交水稻由袁隆平团队培育，大幅提高了单位面积产量，缓解了粮食短缺问题。"),
]


def _write_docs(folder: Path) -> None:
    """Two files that share a boilerplate section, and one file of four sections."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("memo-a.md", "memo-b.md"):
        (folder / name).write_text(f"# Notice\n\n{BOILERPLATE}\n\n# Body of {name}\n\n"
                                   f"This memo is called {name} and talks about lunch.\n")
    sections = "\n\n".join(f"# {title}\n\n{text}" for title, text in TOPICS)
    (folder / "guide.md").write_text(sections + "\n")


def _rag(kb: Path, embedder) -> RAG:
    return RAG(kb, settings=Settings(chunk_size=64, chunk_overlap=0), embedder=embedder)


def _vectors(rag: RAG) -> dict[str, np.ndarray]:
    got = rag.store._col.get(include=["embeddings", "documents"])  # type: ignore[attr-defined]
    return {text: np.asarray(v) for text, v in zip(got["documents"], got["embeddings"],
                                                   strict=True)}


def test_repeated_texts_are_embedded_once_and_reused_after_a_change(
        tmp_path: Path, embedder) -> None:
    docs, kb = tmp_path / "docs", tmp_path / "kb"
    _write_docs(docs)
    rag = _rag(kb, embedder)
    first = rag.ingest(docs)
    assert first.ok, first.failures
    # the boilerplate chunk of memo-b is the one of memo-a: embedded once
    assert first.embeddings_reused >= 1
    assert first.embedded + first.embeddings_reused == first.chunks_added
    assert first.to_dict()["chunks"]["embeddings_reused"] == first.embeddings_reused
    assert (kb / CACHE_FILE).is_file()

    guide = docs / "guide.md"
    guide.write_text(guide.read_text().replace("steamed or pan-fired", "withered and rolled"))
    second = rag.ingest(docs)
    assert second.ingested == [str(guide.resolve())]
    # one of the guide's chunks changed: only it is embedded again
    assert second.embedded == 1, second.to_dict()
    assert second.embeddings_reused == second.chunks_added - 1

    # the vectors in the store are what a clean ingest without a cache computes
    clean = _rag(tmp_path / "clean", embedder)
    with clean.knowledge_base.writing() as manifest:
        report = run_ingest([docs], settings=clean.settings, embedder=embedder,
                            store=clean.store, manifest=manifest)
    assert report.embeddings_reused == 0 and not (tmp_path / "clean" / CACHE_FILE).exists()
    got, want = _vectors(rag), _vectors(clean)
    assert got.keys() == want.keys()
    for text, vector in want.items():
        np.testing.assert_allclose(got[text], vector, atol=1e-5, err_msg=text)


def test_another_model_or_dtype_never_hits_and_is_pruned(tmp_path: Path, embedder) -> None:
    cache = EmbeddingCache(tmp_path / CACHE_FILE)
    calls: list[list[str]] = []

    def embed(texts):
        calls.append(list(texts))
        return embedder.embed_documents(texts)

    fp32 = cache_key(embedder)
    assert "float32" in fp32 and "all-MiniLM-L6-v2" in fp32
    bf16 = fp32.replace("float32", "bfloat16")
    texts = [text for _, text in TOPICS]
    cache.embed(fp32, texts, embed)
    assert cache.embed(fp32, texts, embed) and len(calls) == 1  # all hits
    cache.embed(bf16, texts, embed)
    assert len(calls) == 2 and calls[1] == texts  # another dtype: every text embedded again
    assert len(cache) == 2 * len(texts)
    assert cache.prune(bf16, lambda: texts, live=len(texts)) == len(texts)  # fp32's went
    assert len(cache) == len(texts)
    cache.close()


def test_prune_drops_texts_no_chunk_has_once_garbage_outgrows_the_store(tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path / CACHE_FILE)
    texts = [f"text {i}" for i in range(1100)]
    cache.embed("m", texts, lambda ts: [[1.0, float(len(t))] for t in ts])
    assert cache.prune("m", lambda: texts[:5], live=5000) == 0  # within 2 × live + 1000
    assert cache.prune("m", lambda: texts[:5], live=5) == 1095
    assert len(cache) == 5
    assert cache.embed("m", texts[:5], lambda ts: pytest.fail("should hit")) == [
        [1.0, float(len(t))] for t in texts[:5]]
    cache.close()


def _ingest_and_die(kb: Path, docs: Path) -> None:
    """Ingest, SIGKILL-like exit right after the cache's first write: before any chunk of
    that batch reached the store."""
    from ragkit.backends.sentence_transformers import SentenceTransformerEmbedder
    from ragkit.storage import embedding_cache

    put = embedding_cache.EmbeddingCache._put

    def put_then_die(self, model, vectors):
        put(self, model, vectors)
        os._exit(9)

    embedding_cache.EmbeddingCache._put = put_then_die  # type: ignore[method-assign]
    _rag(kb, SentenceTransformerEmbedder("bundled:all-MiniLM-L6-v2")).ingest(docs)
    os._exit(0)  # not reached when the hook fired


def test_an_ingest_killed_after_the_cache_write_converges(tmp_path: Path, embedder) -> None:
    docs, kb = tmp_path / "docs", tmp_path / "kb"
    _write_docs(docs)
    child = multiprocessing.get_context("spawn").Process(target=_ingest_and_die,
                                                         args=(kb, docs))
    child.start()
    child.join(300)
    assert child.exitcode == 9  # it died at the hook
    cache = EmbeddingCache(kb / CACHE_FILE)
    assert len(cache) > 0
    cache.close()

    rag = _rag(kb, embedder)
    assert rag.count() == 0  # nothing of the batch reached the store
    report = rag.ingest(docs)
    assert report.ok and report.embeddings_reused > 0 and report.embedded < report.chunks_added
    # every cached vector is the model's vector for its text
    cache = EmbeddingCache(kb / CACHE_FILE)
    stored = _vectors(rag)
    key = cache_key(embedder)
    cached = cache._get(key, {text_hash(t) for t in stored})
    assert len(cached) == len(stored)
    fresh = embedder.embed_documents(list(stored))
    for text, vector in zip(stored, fresh, strict=True):
        np.testing.assert_allclose(cached[text_hash(text)], vector, atol=1e-5)
        np.testing.assert_allclose(stored[text], vector, atol=1e-5)
    cache.close()
