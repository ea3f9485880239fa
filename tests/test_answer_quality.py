"""Answers a user can trust: verification in every answer, best-of-n, reasoning templates,
the response cache. Fast tests of the logic, then the real model."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ragkit import RAG, AskOptions, Document
from ragkit.cache import ResponseCache, key_of
from ragkit.reasoning import ReasoningFilter, split_reasoning
from ragkit.steps import Candidate, choose

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


class TestReasoning:
    @pytest.mark.parametrize(("reply", "reasoning", "answer"), [
        ("Reasoning: [1] gives 130 kg.\nAnswer: About 130 kg [1].", "[1] gives 130 kg.",
         "About 130 kg [1]."),
        ("**Reasoning:** x\n**Answer:** y [2]", "x", "y [2]"),
        ("推理：资料[1]说明。\n答案：八千八百公里[1]。", "资料[1]说明。", "八千八百公里[1]。"),
        ("No label at all [1].", "", "No label at all [1]."),
    ])
    def test_split(self, reply: str, reasoning: str, answer: str) -> None:
        assert split_reasoning(reply) == (reasoning, answer)

    def test_stream_holds_back_the_reasoning_even_when_the_label_is_split(self) -> None:
        pieces = ["Reason", "ing: the pass", "age says 5.\nAn", "swer", ":", " Five", " [1]."]
        f = ReasoningFilter()
        assert "".join(f.feed(iter(pieces))) == "Five [1]."
        assert f.reasoning == "the passage says 5."

    def test_stream_without_a_label_is_all_answer(self) -> None:
        f = ReasoningFilter()
        assert "".join(f.feed(iter(["Just ", "this."]))) == "Just this."
        assert f.reasoning == ""


class TestBestOf:
    def test_choose_the_best_supported_first_on_a_tie(self) -> None:
        a, b, c = (Candidate("a", "", 0, 0.5, 0.5), Candidate("b", "", 1, 1.0, 1.0),
                   Candidate("c", "", 2, 1.0, 1.0))
        best, others = choose([a, b, c])
        assert best is b and others == [a, c]


class TestCache:
    def test_exact_semantic_state_and_bound(self, tmp_path: Path) -> None:
        cache = ResponseCache(tmp_path / "c.sqlite3", max_entries=2, similarity=0.9)
        key = key_of("k")
        cache.put(key, "s1", "q1", "A1", vector=[1.0, 0.0])
        assert cache.get(key, "s1", "q1").text == "A1"  # exact
        near = cache.get(key, "s1", "other", [0.95, 0.05])  # cosine 0.9986
        assert near is not None and near.text == "A1" and near.similarity > 0.99
        assert cache.get(key, "s1", "other", [0.0, 1.0]) is None, "too far"
        assert cache.get(key_of("other key"), "s1", "q1") is None
        assert cache.get(key, "s2", "q1") is None, "another knowledge-base state"
        assert cache.count() == 0, "stale entries are removed when met"
        for i in range(3):
            cache.put(key, "s2", f"q{i}", f"A{i}")
        assert cache.count() == 2 and cache.get(key, "s2", "q0") is None, "LRU bound"


@pytest.mark.slow
class TestRealModel:
    @pytest.fixture()
    def rag(self, tmp_path: Path, sample_kb: RAG) -> RAG:
        shutil.copytree(sample_kb.kb, tmp_path / "kb")
        return RAG(tmp_path / "kb", embedder=sample_kb.embedder, llm=sample_kb.llm,
                   max_tokens=48)

    def test_best_of_three_keeps_the_best_supported(self, rag: RAG) -> None:
        stream = rag.stream("How much does an adult llama weigh?", best_of=3, k=2)
        pieces = list(stream)
        a = stream.answer
        assert len(pieces) == 1 and a.text == pieces[0].strip()
        assert len(a.candidates) == 2
        mine = 1.0 if a.supported_share is None else a.supported_share
        for c in a.candidates:
            assert set(c) >= {"text", "seed", "score", "supported_share"}
            assert (c["supported_share"] or 0.0) <= mine + 0.011
        assert {c["seed"] for c in a.candidates} == {1, 2}

    def test_cot_reasoning_is_kept_out_of_the_answer(self, rag: RAG) -> None:
        a = rag.ask("How much does an adult llama weigh?", AskOptions(reasoning="cot", k=2))
        assert 'after "Answer:"' in a.prompt.messages[-1]["content"]
        assert "Reasoning:" not in a.text and not a.text.lower().startswith("answer:")
        logged = rag.asks(limit=1)[0]
        assert logged["reasoning"] == a.reasoning

    def test_exact_cache_hits_and_is_invalidated_by_an_ingest(self, rag: RAG) -> None:
        rag.update_settings(cache="exact")
        q = "How much does an adult llama weigh?"
        first, second = rag.ask(q), rag.ask(q)
        assert first.timings["cache_hit"] == 0 and second.timings["cache_hit"] == 1
        assert second.text == first.text and second.citations == first.citations
        assert second.timings["total_ms"] < first.timings["total_ms"]
        assert rag.asks(limit=1)[0]["timings"]["cache_hit"] == 1, "hit/miss in the log"
        rag.add_documents([Document.from_text("note", "Llamas hum.", title="Note")])
        assert rag.ask(q).timings["cache_hit"] == 0, "never an answer of another state"
        assert rag.ask(q, use_cache=False).timings.get("cache_hit") is None

    def test_semantic_cache_serves_a_paraphrase_with_the_same_passages(self, rag: RAG) -> None:
        rag.update_settings(cache="semantic", cache_similarity=0.85)
        a = rag.ask("How much does an adult llama weigh?", k=1)
        b = rag.ask("How much does a grown-up llama weigh?", k=1)
        assert [h.chunk.id for h in a.hits] == [h.chunk.id for h in b.hits]
        assert b.timings["cache_hit"] == 1 and b.text == a.text
        c = rag.ask("How many moons does Jupiter have?", k=1)
        assert c.timings["cache_hit"] == 0

    def test_ask_json_has_support(self, rag: RAG) -> None:
        out = subprocess.run(
            [str(BIN / "ragkit"), "ask", "How much does an adult llama weigh?", "--kb",
             str(rag.kb), "--k", "2", "--max-tokens", "48", "--json"],
            capture_output=True, text=True, timeout=600, cwd=rag.kb, stdin=subprocess.DEVNULL)
        assert out.returncode == 0, out.stderr
        result: dict[str, Any] = json.loads(out.stdout)
        assert result["support"] and {"text", "markers", "passage", "score", "supported"} <= set(
            result["support"][0])
        assert result["supported_share"] is not None
        human = subprocess.run(
            [str(BIN / "ragkit"), "ask", "Which is the largest active volcano on Earth?",
             "--kb", str(rag.kb), "--max-tokens", "48"],
            capture_output=True, text=True, timeout=600, cwd=rag.kb, stdin=subprocess.DEVNULL)
        assert human.returncode == 0 and "supported:" in human.stdout

    def test_eval_answers_cli_json_contract(self, tmp_path: Path) -> None:
        out = subprocess.run(
            [str(BIN / "ragkit"), "eval", "answers", str(ROOT / "tests" / "data" /
                                                          "squad_en.json"),
             "--n", "2", "--json"],
            capture_output=True, text=True, timeout=900, cwd=tmp_path, stdin=subprocess.DEVNULL)
        assert out.returncode == 0, out.stderr[-2000:]
        result = json.loads(out.stdout)
        assert {"dataset", "questions", "results", "seconds"} <= set(result)
        assert result["questions"] == 2
        en = result["results"]["en"]
        assert {"em", "f1", "citation_hit", "supported_share", "refusals", "ttft_p50",
                "latency_p50", "latency_p95"} <= set(en)
        assert 0.0 <= en["f1"] <= 1.0 and en["latency_p50"] > 0


def test_per_call_cache_choice() -> None:
    from ragkit.answer import _cache_mode

    assert _cache_mode(None, "off") == "off" and _cache_mode(None, "semantic") == "semantic"
    assert _cache_mode(True, "off") == "exact" and _cache_mode(True, "semantic") == "semantic"
    assert _cache_mode(False, "exact") == "off"
