"""Retrieval and answers on the real models: the bundled embedding model and GGUF."""

from __future__ import annotations

from pathlib import Path

import pytest

from ragkit import RAG, Answer, ValidationError

from .conftest import SAMPLE_FILES

ENGLISH = [
    ("How much does an adult llama weigh?", "llamas.md"),
    ("How many moons does Jupiter have?", "solar_system.html"),
    ("When did tea reach Britain?", "tea_history.docx"),
    ("Which is the largest active volcano on Earth?", "volcanoes.pdf"),
    ("Where was coffee first cultivated?", "coffee_notes.txt"),
]
CHINESE = [
    ("大熊猫每天花多少时间吃竹子？", "giant_panda_zh.md"),
    ("大熊猫主要分布在哪里？", "giant_panda_zh.md"),
    ("长城始建于什么时期？", "great_wall_zh.txt"),
    ("明长城全长多少公里？", "great_wall_zh.txt"),
]
QUESTIONS = ENGLISH + CHINESE
_ZH_FILES = {"giant_panda_zh.md", "great_wall_zh.txt"}


class TestRetrieve:
    @pytest.mark.parametrize(("question", "name"), ENGLISH)
    def test_top_hit_is_the_right_file(self, sample_kb: RAG, question: str, name: str) -> None:
        hits = sample_kb.retrieve(question, k=3)
        assert Path(hits[0].chunk.source).name == name
        assert hits[0].score >= hits[-1].score

    @pytest.mark.parametrize(("question", "name"), CHINESE)
    def test_chinese_right_file_is_among_the_passages(
        self, sample_kb: RAG, question: str, name: str
    ) -> None:
        """The bundled all-MiniLM-L6-v2 is an English model: on Chinese it separates Chinese
        from English well but one Chinese file from another only weakly. What it must do:
        put the right file among the passages the LLM gets, above every English file."""
        hits = sample_kb.retrieve(question)  # top_k passages, as `ask` uses
        names = [Path(h.chunk.source).name for h in hits]
        assert name in names
        first_english = next((i for i, n in enumerate(names) if n not in _ZH_FILES), len(names))
        assert names.index(name) < first_english

    @pytest.mark.xfail(strict=True, reason="dense-only retrieval with an English embedding "
                       "model ranks the panda file first (the reason hybrid is the default)")
    def test_chinese_top_hit_dense_only_known_limitation(self, sample_kb: RAG) -> None:
        hit = sample_kb.retrieve("明长城全长多少公里？", k=1, mode="dense")[0]
        assert Path(hit.chunk.source).name == "great_wall_zh.txt"

    @pytest.mark.parametrize("mode", ["bm25", "hybrid"])
    def test_chinese_top_hit_with_keywords(self, sample_kb: RAG, mode: str) -> None:
        hit = sample_kb.retrieve("明长城全长多少公里？", k=1, mode=mode)[0]
        assert Path(hit.chunk.source).name == "great_wall_zh.txt"

    def test_pdf_hit_has_its_page(self, sample_kb: RAG) -> None:
        hit = sample_kb.retrieve("How far away was the Krakatoa eruption heard?", k=1)[0]
        assert Path(hit.chunk.source).name == "volcanoes.pdf" and hit.chunk.page == 2

    @pytest.mark.parametrize("bad", ["", "   ", "x" * 5000])
    def test_bad_question(self, sample_kb: RAG, bad: str) -> None:
        with pytest.raises(ValidationError):
            sample_kb.retrieve(bad)


@pytest.mark.slow
class TestAsk:
    @pytest.mark.parametrize(("question", "name"), [ENGLISH[0], CHINESE[0]])
    def test_answer_cites_real_sample_files(
        self, sample_kb: RAG, samples: Path, question: str, name: str
    ) -> None:
        """Sources point at what backs the answer: a cited passage is one the model marked
        or one verification found supporting a sentence; the rest are "given, not cited"."""
        answer = sample_kb.ask(question)
        assert isinstance(answer, Answer) and answer.text.strip()
        assert name in {Path(c.source).name for c in answer.citations}, "given to the model"
        for c in answer.citations:
            assert Path(c.source).is_file() and Path(c.source).name in SAMPLE_FILES
            assert c.text and c.chunk_id
        marked = {n for s in answer.support for n in s.markers}
        backing = {s.passage for s in answer.support if s.supported}
        for c in answer.citations:
            if c.cited and c.attributed:
                assert c.n in backing, "an attributed citation backs a sentence"
            elif c.cited:
                assert c.n in marked, "a cited passage carries the model's marker"
        assert answer.support, "every answer is verified"
        assert not answer.invalid_markers or all(
            n > len(answer.citations) for n in answer.invalid_markers
        )
        t = answer.timings
        assert 0 < t["first_token_ms"] <= t["total_ms"] and t["prompt_tokens"] > 0
        assert "verify_ms" in t

    def test_the_cited_passage_holds_the_fact(self, sample_kb: RAG) -> None:
        """The bundled model answers this one right; its source must hold the figures."""
        answer = sample_kb.ask("How much does an adult llama weigh?")
        assert "130" in answer.text and "200" in answer.text
        cited = [c for c in answer.citations if c.cited]
        assert cited and all(Path(c.source).name == "llamas.md" for c in cited)
        assert any("130" in c.text and "200" in c.text for c in cited)
        assert answer.supported_share == 1.0

    def test_a_wrong_answer_is_marked_unsupported(self, sample_kb: RAG) -> None:
        """The bundled model names the wrong volcano; verification must say so."""
        answer = sample_kb.ask("Which is the largest active volcano on Earth?")
        if "Mauna Loa" in answer.text:
            pytest.skip("the model answered right this time")
        assert answer.supported_share is not None and answer.supported_share < 1.0
        assert any(s.factual and not s.supported for s in answer.support)

    def test_stream_yields_pieces_then_the_answer(self, sample_kb: RAG) -> None:
        stream = sample_kb.stream("How many moons does Jupiter have?")
        pieces = list(stream)
        assert len(pieces) > 1
        assert stream.answer.text == "".join(pieces).strip()
        assert stream.answer.citations[0].source.endswith("solar_system.html")

    def test_deterministic(self, sample_kb: RAG) -> None:
        q = "Where was coffee first cultivated?"
        assert sample_kb.ask(q).text == sample_kb.ask(q).text
