from __future__ import annotations

from ragkit import Chunk, Hit
from ragkit.citations import cited_numbers, resolve_citations
from ragkit.prompt import build_prompt


def hit(i: int, text: str = "word " * 20) -> Hit:
    return Hit(Chunk(f"id{i}", "doc", text, f"/docs/f{i}.md", i, page=i), 1.0 - i / 10)


def words(text: str) -> int:
    return len(text.split())


class TestBuildPrompt:
    def test_passages_are_numbered_in_rank_order(self) -> None:
        p = build_prompt("Where?", [hit(0), hit(1)], count=words, budget=1000)
        assert [x.n for x in p.passages] == [1, 2]
        assert "[1] word" in p.messages[1]["content"] and "[2] word" in p.messages[1]["content"]
        assert p.messages[-1] == {"role": "user", "content": "Where?"}
        assert p.dropped == []

    def test_lowest_ranked_dropped_when_over_budget(self) -> None:
        full = build_prompt("Where?", [hit(0)], count=words, budget=10_000)
        p = build_prompt("Where?", [hit(0), hit(1), hit(2)], count=words,
                         budget=full.tokens + 32 + 5)
        assert [x.hit.chunk.id for x in p.passages] == ["id0"]
        assert len(p.dropped) == 2 and "f1.md" in p.dropped[0] and "budget" in p.dropped[0]

    def test_real_tokenizer_stays_within_context(self, llm) -> None:
        hits = [hit(i, "The llama is a domesticated South American camelid. " * 30)
                for i in range(10)]
        p = build_prompt("What is a llama?", hits, count=llm.count_tokens, budget=llm.n_ctx - 256)
        assert 0 < len(p.passages) < 10 and p.dropped
        assert p.tokens + 32 <= llm.n_ctx - 256


class TestCitations:
    def test_marker_forms(self) -> None:
        assert cited_numbers("a [2] b [1, 3] c 【4】 d [2]") == [2, 1, 3, 4]

    def test_valid_cited_and_invalid_flagged(self) -> None:
        p = build_prompt("q", [hit(0), hit(1)], count=words, budget=1000)
        cites, invalid = resolve_citations("Yes [2] and [7].", p.passages)
        assert [(c.n, c.source, c.page, c.cited) for c in cites] == [(2, "/docs/f1.md", 1, True)]
        assert invalid == [7]

    def test_uncited_answer_lists_passages_given(self) -> None:
        p = build_prompt("q", [hit(0), hit(1)], count=words, budget=1000)
        cites, invalid = resolve_citations("No markers here.", p.passages)
        assert [(c.n, c.cited) for c in cites] == [(1, False), (2, False)] and invalid == []
