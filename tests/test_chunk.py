from __future__ import annotations

import random

import pytest

from ragkit import Block, Chunk, Document
from ragkit.ingestion.chunk import MIN_CHUNK_TOKENS, chunk_document, split_sentences


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
        # texts of MIN_CHUNK_TOKENS or more: shorter ones would join the table (rule 5)
        d = doc(Block("Text before it."), Block("a b\n1 2", "Table"), Block("Text after it."))
        chunks = chunk_document(d, max_tokens=100, count=by_chars)
        assert [(c.text, c.kind) for c in chunks] == [
            ("Text before it.", "Text"), ("a b\n1 2", "Table"), ("Text after it.", "Text")
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


def title(text: str, section: str, page: int | None = None) -> Block:
    return Block(text, "Title", page, section)


def para(text: str, section: str, page: int | None = None) -> Block:
    return Block(text, "NarrativeText", page, section)


def table(n_rows: int, section: str) -> Block:
    return Block("planet | moons\n" + "\n".join(f"row{i} | {i * 7}" for i in range(n_rows)),
                 "Table", None, section)


def own_text(chunks: list[Chunk]) -> str:
    """The chunks' own texts (overlap prefixes and repeated table headers removed)."""
    return squash("".join(c.text[c.overlap:] for c in chunks))


def all_text(blocks: tuple[Block, ...] | list[Block]) -> str:
    return squash("".join(b.text for b in blocks))


class TestHeadingsJoinTheirContent:
    """Issue 15: no chunk holds a heading alone when it can go with text (rules 1, 4, 5)."""

    def test_consecutive_headings_and_paragraph_make_one_chunk(self) -> None:
        d = doc(title("H1", "H1", 1), title("H2", "H1 > H2", 2), title("H3", "H1 > H2 > H3", 2),
                para("Body of the third level.", "H1 > H2 > H3", 2))
        [chunk] = chunk_document(d, max_tokens=100, count=by_chars)
        assert chunk.text == "H1\n\nH2\n\nH3\n\nBody of the third level."
        assert chunk.section == "H1 > H2 > H3" and chunk.page == 1

    def test_h1_h2_paragraph_section_is_the_most_specific(self) -> None:
        d = doc(title("H1", "H1"), title("H2", "H1 > H2"), para("Some words.", "H1 > H2"))
        chunks = chunk_document(d, max_tokens=100, count=by_chars)
        assert [(c.text, c.section) for c in chunks] == [("H1\n\nH2\n\nSome words.", "H1 > H2")]

    def test_headings_only_take_the_last_heading_section(self) -> None:
        d = doc(title("Alpha", "Alpha"), title("Beta", "Alpha > Beta"))
        chunks = chunk_document(d, max_tokens=100, count=by_chars)
        assert [(c.text, c.section) for c in chunks] == [("Alpha\n\nBeta", "Alpha > Beta")]

    def test_heading_takes_the_start_of_an_oversize_paragraph(self) -> None:
        sentences = [f"Sentence number {i} is here." for i in range(12)]
        body = " ".join(sentences)
        d = doc(title("Care", "Care"), para(body, "Care"))
        chunks = chunk_document(d, max_tokens=60, count=by_chars)
        assert chunks[0].text.startswith("Care\n\n" + sentences[0])
        assert all(by_chars(c.text) <= 60 for c in chunks)
        assert all(c.text != "Care" for c in chunks)
        assert own_text(chunks) == squash("Care" + body)
        # cut at sentence ends only: no sentence needed a cut
        assert all(c.text.rstrip().endswith(".") for c in chunks)

    def test_only_the_first_part_is_made_small_for_the_heading(self) -> None:
        body = "Short one. " + "L" * 45 + ". " + "M" * 45 + "."
        d = doc(title("Care", "Care"), para(body, "Care"))
        chunks = chunk_document(d, max_tokens=50, count=by_chars)
        assert [c.text for c in chunks] == ["Care\n\nShort one.", "L" * 45 + ".", "M" * 45 + "."]

    def test_heading_takes_a_cut_of_a_sentence_cut_anyway(self) -> None:
        d = doc(title("Long", "Long"), para("x" * 130, "Long"))
        chunks = chunk_document(d, max_tokens=50, count=by_chars)
        assert chunks[0].text == "Long\n\n" + "x" * 44
        assert all(by_chars(c.text) <= 50 for c in chunks)
        assert own_text(chunks) == "Long" + "x" * 130

    def test_overlap_continues_after_joined_headings(self) -> None:
        body = " ".join(f"Sentence number {i} is here." for i in range(12))
        d = doc(title("H1", "H1"), title("H2", "H1 > H2"), para(body, "H1 > H2"))
        chunks = chunk_document(d, max_tokens=90, count=by_chars, overlap=30)
        assert {c.section for c in chunks} == {"H1 > H2"}
        assert chunks[0].overlap == 0 and all(c.overlap for c in chunks[1:])
        # the sentences repeated, not the headings above them
        assert chunks[1].text.startswith("Sentence number 0 is here. Sentence number 1")
        assert all(by_chars(c.text) <= 90 for c in chunks)
        assert own_text(chunks) == squash("H1H2" + body)

    def test_trailing_heading_joins_the_chunk_before(self) -> None:
        d = doc(title("Intro", "Intro"), para("The intro text.", "Intro"),
                title("Appendix", "Appendix"))
        chunks = chunk_document(d, max_tokens=100, count=by_chars)
        assert [(c.text, c.section) for c in chunks] == [
            ("Intro\n\nThe intro text.\n\nAppendix", "Intro")]

    def test_heading_stays_alone_when_nothing_has_room(self) -> None:
        d = doc(para("a" * 40, "A"), title("B" * 15, "B"), para("b" * 40, "B"))
        chunks = chunk_document(d, max_tokens=50, count=by_chars)
        assert [c.text for c in chunks] == ["a" * 40, "B" * 15, "b" * 40]

    def test_heading_above_a_table_that_fits_only_alone(self) -> None:
        d = doc(para("Some text of the intro.", "Intro"), title("Moons", "Moons"),
                table(3, "Moons"))
        assert by_chars(d.blocks[2].text) + 2 + by_chars("Moons") > 45
        chunks = chunk_document(d, max_tokens=45, count=by_chars)
        assert [(c.text, c.kind) for c in chunks] == [
            ("Some text of the intro.\n\nMoons", "Text"), (d.blocks[2].text, "Table")]
        assert chunks[0].section == "Intro"

    def test_heading_above_a_table_too_big_to_share_a_chunk(self) -> None:
        big = table(40, "Moons")
        d = doc(para("Some text of the intro.", "Intro"), title("Moons", "Moons"), big)
        chunks = chunk_document(d, max_tokens=60, count=by_chars)
        assert all(by_chars(c.text) <= 60 for c in chunks)
        assert chunks[0].text == "Some text of the intro."
        assert chunks[1].text.startswith("Moons\n\nplanet | moons\nrow0 | 0\n")
        assert chunks[1].overlap == 0 and all(c.kind == "Table" for c in chunks[1:])
        # the header repeats are exactly the overlaps: every row once, in order, none cut
        body = [line for c in chunks[2:] for line in c.text[c.overlap:].split("\n")]
        first_rows = chunks[1].text.split("\n")[3:]
        assert first_rows + body == big.text.split("\n")[1:]
        assert all(c.text.startswith("planet | moons\n") and c.overlap == 15
                   for c in chunks[2:])

    def test_heading_whose_table_header_does_not_fit_goes_before(self) -> None:
        big = Block("h" * 30 + "\n" + "\n".join("r" * 20 for _ in range(9)), "Table", None, "T")
        d = doc(para("Text of the intro.", "Intro"), title("T" * 20, "T"), big)
        chunks = chunk_document(d, max_tokens=60, count=by_chars)
        assert chunks[0].text == "Text of the intro.\n\n" + "T" * 20
        assert chunks[1].text.startswith("h" * 30 + "\n") and chunks[1].overlap == 0
        assert all(by_chars(c.text) <= 60 for c in chunks)
        assert own_text(chunks) == all_text(d.blocks)


class TestNearEmptyChunks:
    """Rule 5: chunks under MIN_CHUNK_TOKENS join a neighbour of their section."""

    def test_tiny_caption_after_a_table_joins_the_table_chunk(self) -> None:
        d = doc(title("Moons", "Moons"), table(3, "Moons"), Block("Fig. 2", "FigureCaption",
                None, "Moons"), title("Next", "Next"), para("Next section text.", "Next"))
        assert by_chars("Fig. 2") < MIN_CHUNK_TOKENS
        chunks = chunk_document(d, max_tokens=100, count=by_chars)
        assert [c.kind for c in chunks] == ["Table", "Text"]
        assert chunks[0].text == "Moons\n\n" + d.blocks[1].text + "\n\nFig. 2"

    def test_tiny_caption_joins_the_last_part_of_a_split_table(self) -> None:
        big = table(30, "Moons")
        d = doc(big, Block("p. 12", "NarrativeText", None, "Moons"), para("Other.", "Other"))
        chunks = chunk_document(d, max_tokens=60, count=by_chars)
        last = next(c for c in chunks if "p. 12" in c.text)
        assert last.kind == "Table" and last.text.endswith("\n\np. 12")
        assert last.text.startswith("planet | moons\n") and last.overlap == 15
        assert all(by_chars(c.text) <= 60 for c in chunks)
        assert own_text(chunks) == all_text(d.blocks)

    def test_tiny_block_joins_the_next_chunk_when_the_one_before_is_full(self) -> None:
        first, second = table(4, "S"), table(2, "S")
        d = doc(first, Block("p. 3", "NarrativeText", None, "S"), second)
        chunks = chunk_document(d, max_tokens=by_chars(first.text) + 2, count=by_chars)
        assert [c.text for c in chunks] == [first.text, "p. 3\n\n" + second.text]

    def test_tiny_block_of_another_section_stays(self) -> None:
        d = doc(para("A full paragraph.", "A"), para("tiny", "B"))
        chunks = chunk_document(d, max_tokens=100, count=by_chars)
        assert [c.text for c in chunks] == ["A full paragraph.", "tiny"]

    def test_tiny_last_piece_of_a_split_paragraph_joins_the_next_block(self) -> None:
        d = doc(para("x" * 36 + ". End.", "S"), para("More text here.", "S"))
        chunks = chunk_document(d, max_tokens=40, count=by_chars)
        assert [c.text for c in chunks] == ["x" * 36 + ".", "End.\n\nMore text here."]

    def test_split_table_with_indented_header_overlap_is_the_header_shown(self) -> None:
        text = "  planet | moons\n" + "\n".join(f"row{i} | {i}" for i in range(12))
        chunks = chunk_document(doc(Block(text, "Table")), max_tokens=40, count=by_chars)
        assert len(chunks) > 2 and chunks[0].overlap == 0
        assert all(c.text[: c.overlap] == "planet | moons\n" for c in chunks[1:])
        assert own_text(chunks) == squash(text)

    def test_long_row_first_keeps_the_header_once(self) -> None:
        text = "name | note\n" + "y" * 70 + "\nb | 2"
        chunks = chunk_document(doc(Block(text, "Table")), max_tokens=30, count=by_chars)
        assert chunks[0].text.startswith("name | note\n") and chunks[0].overlap == 0
        assert all(by_chars(c.text) <= 30 for c in chunks)
        assert own_text(chunks) == squash(text)


def generated_blocks(rng: random.Random) -> tuple[Block, ...]:
    """A random document: heading runs, paragraphs, tables, tiny captions. Its texts hold
    no whitespace (separators aside), so a chunk's size is its text's length."""
    words = ["大熊猫吃竹子。", "长城很长！", "x" * 7, "甲乙。", "丙", "Q?"]
    blocks: list[Block] = []
    path: list[str] = []
    for n in range(rng.randint(1, 12)):
        kind = rng.choice(["Title", "Title", "NarrativeText", "NarrativeText", "Table",
                           "FigureCaption"])
        if kind == "Title":
            path = path[: rng.randint(0, min(len(path), 2))] + [f"T{n}" + "t" * rng.randint(0, 9)]
            blocks.append(Block(path[-1], kind, None, " > ".join(path)))
        elif kind == "Table":
            rows = ["r|" + "v" * rng.choice([1, 3, 9, 30]) for _ in range(rng.randint(1, 12))]
            blocks.append(Block("\n".join(["k|v", *rows]), kind, None, " > ".join(path)))
        else:
            n_words = rng.randint(1, 2) if kind == "FigureCaption" else rng.randint(1, 30)
            text = "".join(rng.choice(words) for _ in range(n_words))
            blocks.append(Block(text, kind, None, " > ".join(path)))
    return tuple(blocks)


class TestPropertyGeneratedDocuments:
    @pytest.mark.parametrize("overlap", [0, 6, 20])
    def test_limits_text_and_no_needless_small_chunk(self, overlap: int) -> None:
        rng = random.Random(15 + overlap)
        for _ in range(300):
            blocks = generated_blocks(rng)
            limit = rng.randint(12, 90)
            chunks = chunk_document(doc(*blocks), max_tokens=limit, count=by_chars,
                                    overlap=overlap)
            assert all(by_chars(c.text) <= limit for c in chunks), blocks
            assert own_text(chunks) == all_text(blocks), blocks
            check_small_chunks(chunks, blocks, max(limit - overlap, limit // 2))


def check_small_chunks(chunks: list[Chunk], blocks: tuple[Block, ...], budget: int) -> None:
    """A heading-only chunk fits with neither neighbour; a near-empty text chunk fits with
    no neighbour of its section it could join (a part opening with a repeated header)."""
    titles = {b.text for b in blocks if b.kind == "Title"}

    def size(c: Chunk) -> int:  # of the packed text: without the overlap prefix
        return by_chars(c.text) - (c.overlap if c.kind == "Text" else 0)

    for i, c in enumerate(chunks):
        before = chunks[i - 1] if i else None
        after = chunks[i + 1] if i + 1 < len(chunks) else None
        if set(c.text.split("\n\n")) <= titles:
            assert before is None or size(before) + 2 + size(c) > budget, (blocks, i)
            assert after is None or size(c) + 2 + size(after) > budget, (blocks, i)
        if c.kind == "Text" and size(c) < MIN_CHUNK_TOKENS:
            assert (before is None or before.section != c.section
                    or size(before) + 2 + size(c) > budget), (blocks, i)
            assert (after is None or after.section != c.section
                    or (after.kind == "Table" and after.overlap > 0)
                    or size(c) + 2 + size(after) > budget), (blocks, i)
