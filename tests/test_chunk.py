from __future__ import annotations

import pytest

from ragkit import Block, Document
from ragkit.ingestion.chunk import chunk_document, split_sentences


def by_chars(text: str) -> int:
    return len(text)


def doc(*blocks: Block) -> Document:
    return Document(id="h" * 64, source="/docs/a.md", blocks=blocks)


class TestSplitSentences:
    @pytest.mark.parametrize(
        "text",
        ["大熊猫吃竹子。它们很可爱！真的吗？是的；当然…", "One. Two! Three? Four", "no end",
         "。。"],
    )
    def test_parts_join_back(self, text: str) -> None:
        assert "".join(split_sentences(text)) == text

    def test_chinese_boundaries(self) -> None:
        assert split_sentences("甲。乙！丙？丁；") == ["甲。", "乙！", "丙？", "丁；"]


def squash(text: str) -> str:
    return "".join(text.split())


class TestOverlap:
    def test_overlap_repeats_whole_sentences_of_the_same_section(self) -> None:
        sentences = [f"Sentence number {i} is here." for i in range(12)]
        d = doc(Block(" ".join(sentences), "NarrativeText", None, "S"))
        chunks = chunk_document(d, max_tokens=90, count=by_chars, overlap=30)
        assert len(chunks) > 2
        for prev, cur in zip(chunks, chunks[1:], strict=False):
            prefix = cur.text[: cur.overlap].strip()
            assert prefix and prev.text.endswith(prefix)
            assert prefix.endswith(".") and by_chars(prefix) <= 30
            assert by_chars(cur.text) <= 90
        own = "".join(c.text[c.overlap:] for c in chunks)
        assert squash(own) == squash(" ".join(sentences))

    def test_no_overlap_across_sections_or_into_tables(self) -> None:
        d = doc(
            Block("A", "Title", None, "A"),
            Block("First part. " * 3, "NarrativeText", None, "A"),
            Block("B", "Title", None, "B"),
            Block("Second part. " * 3, "NarrativeText", None, "B"),
            Block("x | y\n1 | 2", "Table", None, "B"),
        )
        chunks = chunk_document(d, max_tokens=100, count=by_chars, overlap=20)
        assert [c.overlap for c in chunks] == [0, 0, 0]


class TestNoTextLost:
    """The concatenation of a document's chunks, minus overlap, covers all its text."""

    @pytest.mark.parametrize("overlap", [0, 24])
    def test_real_documents_real_tokenizer(self, samples, embedder, overlap: int) -> None:
        from ragkit.ingestion.parse import file_hash, parse_file

        for path in sorted(samples.iterdir()):
            d = parse_file(path, source=str(path), doc_id=file_hash(path),
                           languages=["eng", "zho"])
            chunks = chunk_document(d, max_tokens=60, count=embedder.count_tokens,
                                    overlap=overlap)
            assert all(embedder.count_tokens(c.text) <= 60 for c in chunks), path.name
            own = "".join(c.text[c.overlap:] for c in chunks)
            assert squash(own) == squash("".join(b.text for b in d.blocks)), path.name

    def test_property_random_text(self) -> None:
        import random

        rng = random.Random(3)
        pieces = ["大熊猫吃竹子。", "Yes! ", "长城很长；", "word ", "…", "A sentence. ", "x" * 7]
        for _ in range(200):
            blocks = tuple(
                Block("".join(rng.choice(pieces) for _ in range(rng.randint(1, 40))),
                      rng.choice(["NarrativeText", "Title", "ListItem"]), None,
                      rng.choice(["a", "a > b"]))
                for _ in range(rng.randint(1, 6))
            )
            limit = rng.randint(8, 80)
            chunks = chunk_document(doc(*blocks), max_tokens=limit, count=by_chars,
                                    overlap=rng.choice([0, 5, 20]))
            assert all(by_chars(c.text) <= limit for c in chunks)
            own = "".join(c.text[c.overlap:] for c in chunks)
            assert squash(own) == squash("".join(b.text for b in blocks))


class TestChunkDocument:
    def test_headings_start_chunks_and_sections_are_kept(self) -> None:
        d = doc(
            Block("Guide", "Title", None, "Guide"),
            Block("Intro text.", "NarrativeText", None, "Guide"),
            Block("Care", "Title", None, "Guide > Care"),
            Block("Brush weekly.", "NarrativeText", None, "Guide > Care"),
        )
        chunks = chunk_document(d, max_tokens=100, count=by_chars)
        assert [c.text for c in chunks] == ["Guide\n\nIntro text.", "Care\n\nBrush weekly."]
        assert [c.section for c in chunks] == ["Guide", "Guide > Care"]

    def test_table_is_its_own_chunk(self) -> None:
        d = doc(Block("before"), Block("a b\n1 2", "Table"), Block("after"))
        chunks = chunk_document(d, max_tokens=100, count=by_chars)
        assert [(c.text, c.kind) for c in chunks] == [
            ("before", "Text"), ("a b\n1 2", "Table"), ("after", "Text")
        ]

    @pytest.mark.parametrize("limit", [5, 17, 40])
    def test_limit_holds_and_no_text_is_lost(self, limit: int) -> None:
        zh = "长城始建于春秋战国时期。明长城全长约八千八百五十公里！"
        text = zh * 3 + " Short one. " + "x" * 90
        chunks = chunk_document(doc(Block(text)), max_tokens=limit, count=by_chars)
        assert all(by_chars(c.text) <= limit for c in chunks)
        assert squash("".join(c.text for c in chunks)) == squash(text)

    def test_long_table_splits_between_rows_with_header_repeated(self) -> None:
        rows = [f"row{i} | {i * 7}" for i in range(30)]
        text = "planet | moons\n" + "\n".join(rows)
        chunks = chunk_document(doc(Block(text, "Table")), max_tokens=60, count=by_chars)
        assert len(chunks) > 2 and all(c.kind == "Table" for c in chunks)
        assert all(by_chars(c.text) <= 60 for c in chunks)
        assert all(c.text.startswith("planet | moons\n") for c in chunks)
        body = [line for c in chunks for line in c.text.split("\n")[1:]]
        assert body == rows  # every row once, in order, none cut

    def test_ids_are_deterministic_and_depend_on_settings(self) -> None:
        d = doc(Block("one"), Block("two", "Table"))
        a = chunk_document(d, max_tokens=50, count=by_chars, fingerprint="x")
        b = chunk_document(d, max_tokens=50, count=by_chars, fingerprint="x")
        c = chunk_document(d, max_tokens=50, count=by_chars, fingerprint="y")
        assert [x.id for x in a] == [x.id for x in b]
        assert not {x.id for x in a} & {x.id for x in c}

    def test_real_tokenizer_limit(self, embedder) -> None:
        # all-MiniLM-L6-v2 truncates beyond 256 word pieces: no chunk may be longer
        long = " ".join(f"Llamas number {i} live in the Andes." for i in range(300))
        chunks = chunk_document(doc(Block(long)), max_tokens=embedder.max_tokens,
                                count=embedder.count_tokens)
        assert len(chunks) > 1
        assert all(embedder.count_tokens(c.text) <= embedder.max_tokens for c in chunks)
        assert squash("".join(c.text for c in chunks)) == squash(long)
