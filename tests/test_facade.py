"""The façade over typed stages: one options type, no state shared across requests, and
settings changes that rebuild exactly what depends on them."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from ragkit import (
    RAG,
    AskOptions,
    BackendError,
    ConfigError,
    DimensionMismatchError,
    KnowledgeBase,
    Settings,
    ValidationError,
)
from ragkit._components import Components

from .test_retrieve_ask import QUESTIONS


class EchoLLM:
    """A fake LLM following the port: answers with the question it was asked and cites
    passage 1, slowly, so concurrent requests overlap."""

    name = "echo"
    n_ctx = 2048

    def stream(self, messages: list[dict[str, str]], **params: Any) -> Iterator[str]:
        question = messages[-1]["content"]
        for piece in ("About ", question, " see [1]."):
            time.sleep(0.005)
            yield piece

    def count_tokens(self, text: str) -> int:
        return len(text.split())


class TestAskOptions:
    def test_keywords_and_object_are_the_same_request(self) -> None:
        o = AskOptions(k=2, mode="bm25", generation={"temperature": 0.5})
        assert AskOptions.of(None, {"k": 2, "mode": "bm25",
                                    "generation": {"temperature": 0.5}}) == o
        assert AskOptions.of(o, {"k": 3}).k == 3 and AskOptions.of(o, {}).mode == "bm25"

    @pytest.mark.parametrize(("kwargs", "error", "match"), [
        ({"k": 0}, ValidationError, "k \\(passages\\)"),
        ({"mode": "fuzzy"}, ValidationError, "retrieval mode"),
        ({"filters": ["nonsense"]}, ValidationError, "KEY=VALUE"),
        ({"generation": {"temprature": 1}}, ValidationError, "Unknown generation option"),
        ({"generation": {"temperature": 9}}, ValidationError, "temperature must be"),
    ])
    def test_invalid_options_are_refused_when_made(self, kwargs: dict, error: type,
                                                   match: str) -> None:
        with pytest.raises(error, match=match):
            AskOptions(**kwargs)

    def test_unknown_keyword_is_a_type_error(self, tmp_path: Path) -> None:
        with pytest.raises(TypeError, match="Unknown option.*passages"):
            RAG(tmp_path, llm=EchoLLM()).ask("q", passages=3)  # type: ignore[call-arg]


class TestNoSharedState:
    def test_concurrent_asks_each_get_their_own_results_fake_llm(
        self, sample_kb: RAG
    ) -> None:
        rag = RAG(sample_kb.kb, embedder=sample_kb.embedder, llm=EchoLLM(), log_asks=False)
        questions = [q for q, _ in QUESTIONS][:8]
        expected = {q: [h.chunk.id for h in rag.retrieve(q, k=2)] for q in questions}
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lambda q: rag.ask(q, k=2), questions * 3))
        assert len({id(a.timings) for a in answers}) == len(answers)
        for a in answers:
            assert a.text == f"About {a.question} see [1]."
            assert [h.chunk.id for h in a.hits] == expected[a.question]
            assert a.citations[0].chunk_id == expected[a.question][0]
            assert a.timings["prompt_tokens"] == a.prompt.tokens
            assert a.prompt.messages[-1]["content"] == a.question

    @pytest.mark.slow
    def test_eight_concurrent_asks_on_the_real_model(self, tmp_path: Path,
                                                     sample_kb: RAG) -> None:
        shutil.copytree(sample_kb.kb, tmp_path / "kb")
        rag = RAG(tmp_path / "kb", embedder=sample_kb.embedder, llm=sample_kb.llm,
                  max_tokens=24)
        questions = [q for q, _ in QUESTIONS][:8]
        retrieved = {q: [h.chunk.id for h in rag.retrieve(q, k=2)] for q in questions}
        start = threading.Barrier(8)

        def ask(q: str) -> Any:
            start.wait()
            return rag.ask(q, k=2)

        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(ask, questions))
        for q, a in zip(questions, answers, strict=True):
            assert a.question == q and a.prompt.messages[-1]["content"] == q
            assert [h.chunk.id for h in a.hits] == retrieved[q], "its own passages"
            assert {c.chunk_id for c in a.citations} <= set(retrieved[q]), "its own citations"
            t = a.timings
            assert t["prompt_tokens"] == a.prompt.tokens
            assert 0 < t["retrieve_ms"] <= t["total_ms"] and t["generate_ms"] <= t["total_ms"]
            assert "retrieve_embed_ms" in t and "retrieve_bm25_ms" in t
        logged = {row["id"]: row for row in rag.asks(limit=100)}
        for a in answers:  # the log holds each answer under its own id
            assert logged[a.id]["question"] == a.question and logged[a.id]["answer"] == a.text

    def test_search_returns_this_calls_timings(self, sample_kb: RAG) -> None:
        found = sample_kb.search("Where do llamas live?", k=2, mode="bm25")
        assert found.mode == "bm25" and len(found.hits) == 2
        assert set(found.timings) == {"bm25_ms"}
        assert not hasattr(sample_kb, "retriever"), "no per-call state on the façade"


class TestSettingsChanges:
    def test_dependencies_are_recorded_not_listed(self, tmp_path: Path) -> None:
        c = Components(KnowledgeBase(tmp_path), Settings())
        templates, history = c.get("templates"), c.get("history")
        assert c.reads("templates") == ["prompt_dir"] and c.reads("history") == []
        assert c.update(Settings(temperature=0.5, passages=2)) == []
        assert c.get("templates") is templates
        (tmp_path / "prompts").mkdir()
        assert c.update(Settings(prompt_dir="prompts")) == ["templates"]
        assert c.get("templates") is not templates and c.get("history") is history

    def test_a_dropped_component_drops_those_built_from_it(self, tmp_path: Path,
                                                            embedder: Any) -> None:
        c = Components(KnowledgeBase(tmp_path), Settings(), {"embedder": embedder})
        store = c.get("store")
        assert "collection" in c.reads("store")
        assert c.update(Settings(collection="other")) == ["store"]
        assert c.get("store") is not store and c.get("embedder") is embedder

    @pytest.mark.slow
    def test_runtime_changes_of_embedding_model_store_reranker_llm(
        self, tmp_path: Path, embedder: Any
    ) -> None:
        rag = RAG(tmp_path / "kb")
        rag.add_documents([ragkit_doc()])
        old_embedder, old_store, old_llm = rag.embedder, rag.store, rag.llm
        rag.update_settings(temperature=0.4, passages=2, mmr=True)
        assert (rag.embedder, rag.store, rag.llm) == (old_embedder, old_store, old_llm)
        assert len(rag.retrieve("okapi")) == 1 and rag.settings.passages == 2

        rag.update_settings(n_ctx=1024)  # the LLM only
        assert rag.llm is not old_llm and rag.llm.n_ctx == 1024
        assert rag.embedder is old_embedder and rag.store is old_store

        rag.update_settings(collection="second")  # the store only
        assert rag.store is not old_store and rag.count() == 0
        assert rag.embedder is old_embedder

        rag.update_settings(reranker=embedder.tokenizer_path)
        assert rag.reranker is not None and rag.reranker.name
        rag.update_settings(reranker=None)
        assert rag.reranker is None

        rag.update_settings(collection="ragkit", embedding_model=embedder.tokenizer_path)
        assert rag.embedder is not old_embedder
        assert rag.embedder.name == embedder.tokenizer_path
        with pytest.raises(DimensionMismatchError, match="all-MiniLM"):
            _ = rag.store  # rebuilt with the new model: the collection says another one

        rag.update_settings(embedding_model="bundled:all-MiniLM-L6-v2",
                            chroma_url="http://127.0.0.1:9")
        with pytest.raises(BackendError, match="127.0.0.1:9"):
            _ = rag.store  # rebuilt for the server, which is not there

    def test_update_keeps_overrides_files_and_a_given_settings_object(
        self, tmp_path: Path
    ) -> None:
        (tmp_path / "ragkit.toml").write_text("max_tokens = 99\n")  # the working directory's
        rag = RAG(tmp_path / "a", llm=EchoLLM(), settings_files=["ragkit.toml"], passages=3)
        rag.update_settings(temperature=0.5, passages=5)
        s = rag.settings
        assert (s.temperature, s.passages, s.max_tokens) == (0.5, 3, 99), "arguments win"
        given = RAG(tmp_path / "b", llm=EchoLLM(), settings=Settings(max_tokens=64))
        given.update_settings(temperature=0.3)
        assert (given.settings.max_tokens, given.settings.temperature) == (64, 0.3)
        with pytest.raises(ConfigError, match="complete_json"):
            given.update_settings(tools=["calculator"])  # the kept LLM cannot call tools

    def test_capabilities_are_checked_once_when_given(self, tmp_path: Path) -> None:
        with pytest.raises(ConfigError, match="complete_json"):
            RAG(tmp_path, llm=EchoLLM(), tools=["calculator"])
        assert RAG(tmp_path, llm=EchoLLM()).llm.name == "echo"  # no tools: no need


def ragkit_doc() -> Any:
    from ragkit import Document

    return Document.from_text("okapi", "The okapi lives in the Ituri rainforest.",
                              title="Okapi")
