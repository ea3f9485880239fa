"""Retrieval: tokenizer, BM25 index in the ingest transaction, fusion, MMR, filters,
reranking, metrics and the BEIR evaluation (real model, real Chroma, real CrossEncoder)."""

from __future__ import annotations

import json
import math
import shutil
import sqlite3
from pathlib import Path

import pytest

from ragkit import RAG, Chunk, Document, Hit, ValidationError
from ragkit._terms import TOKENIZER_VERSION, terms_of, tokenize
from ragkit.retrieval.beir import load_beir
from ragkit.retrieval.evaluate import doc_ranking, evaluate_retrieval
from ragkit.retrieval.filters import parse_filters, resolve
from ragkit.retrieval.fusion import mmr, rrf
from ragkit.retrieval.keyword import KeywordIndex
from ragkit.retrieval.metrics import evaluate, mrr_at_k, ndcg_at_k, recall_at_k
from ragkit.retrieval.tokenize import query_terms
from ragkit.settings import Settings
from ragkit.storage import FileRecord, Manifest, keyword_record

from . import retrieval_set
from .conftest import make_rag


def chunk(cid: str, text: str, source: str = "/d/a.md", **kw: object) -> Chunk:
    return Chunk(cid, "doc", text, source, 0, **kw)  # type: ignore[arg-type]


# -- tokenizer -------------------------------------------------------------------------------
class TestTokenize:
    def test_english_codes_and_case(self) -> None:
        assert tokenize("The ZX-9000 pump: error E42.") == ["the", "zx", "9000", "pump",
                                                           "error", "e42"]

    def test_full_width_is_normalised(self) -> None:
        assert tokenize("ＺＸ－９０００") == ["zx", "9000"]

    def test_chinese_is_segmented_into_words(self) -> None:
        words = tokenize("大熊猫生活在四川的竹林中")
        assert {"熊猫", "四川", "竹林"} <= set(words)
        assert all(len(w) <= 3 for w in words)  # words, not one unsegmented run

    def test_mixed_text(self) -> None:
        assert tokenize("SQLSTATE 40P01 死锁") == ["sqlstate", "40p01", "死锁"]

    def test_query_terms_drop_stopwords_and_repeats(self) -> None:
        assert query_terms("What is the ZX-9000 and the ZX-9000 pump?") == ["zx", "9000", "pump"]
        terms = query_terms("大熊猫吃什么")
        assert "熊猫" in terms and "什么" not in terms


# -- metrics, against values computed by hand -------------------------------------------------
class TestMetrics:
    RANKED = ["d3", "d1", "d2"]
    QRELS = {"d1": 1, "d2": 2, "d9": 0}

    def test_ndcg(self) -> None:
        # DCG = 0/log2(2) + 1/log2(3) + 2/log2(4) = 0.63093 + 1 ; IDCG = 2/1 + 1/log2(3)
        dcg = 1 / math.log2(3) + 2 / 2
        idcg = 2 + 1 / math.log2(3)
        assert ndcg_at_k(self.RANKED, self.QRELS, 10) == pytest.approx(dcg / idcg)
        assert ndcg_at_k(self.RANKED, self.QRELS, 10) == pytest.approx(0.61991, abs=1e-5)
        assert ndcg_at_k(self.RANKED, self.QRELS, 1) == 0.0
        assert ndcg_at_k(["d2", "d1"], self.QRELS, 10) == pytest.approx(1.0)

    def test_recall_and_mrr(self) -> None:
        assert recall_at_k(self.RANKED, self.QRELS, 10) == 1.0
        assert recall_at_k(self.RANKED, self.QRELS, 2) == 0.5  # d9 (grade 0) does not count
        assert mrr_at_k(self.RANKED, self.QRELS, 10) == 0.5
        assert mrr_at_k(self.RANKED, self.QRELS, 1) == 0.0

    def test_evaluate_averages_and_counts_missing_runs_as_zero(self) -> None:
        result = evaluate({"q1": self.RANKED}, {"q1": self.QRELS, "q2": {"d5": 1}})
        assert result["mrr@10"] == pytest.approx(0.25)
        assert result["recall@100"] == pytest.approx(0.5)
        assert result["ndcg@10"] == pytest.approx(0.61991 / 2, abs=1e-5)

    def test_doc_ranking_keeps_best_chunk_position(self) -> None:
        assert doc_ranking(["a", "b", "a", "c", "b", "d"], 3) == ["a", "b", "c"]


# -- fusion and MMR ------------------------------------------------------------------------------
def hits(*ids: str) -> list[Hit]:
    return [Hit(chunk(i, i), 0.0) for i in ids]


class TestFusion:
    def test_rrf_scores(self) -> None:
        fused = rrf([hits("a", "b", "c"), hits("c", "a")], k=60)
        scores = {h.chunk.id: h.score for h in fused}
        assert scores["a"] == pytest.approx(1 / 61 + 1 / 62)
        assert scores["c"] == pytest.approx(1 / 63 + 1 / 61)
        assert scores["b"] == pytest.approx(1 / 62)
        assert [h.chunk.id for h in fused] == ["a", "c", "b"]

    def test_rrf_weights(self) -> None:
        fused = rrf([hits("a", "b"), hits("b", "a")], k=1, weights=[1.0, 3.0])
        assert [h.chunk.id for h in fused] == ["b", "a"]
        with pytest.raises(ValueError, match="weights"):
            rrf([hits("a")], weights=[1.0, 2.0])

    def test_mmr_trades_relevance_for_diversity(self) -> None:
        q = [1.0, 0.0, 0.0]
        vecs = [[1.0, 0.1, 0.0], [1.0, 0.12, 0.0], [0.7, 0.0, 0.7]]  # a, its near twin, other
        h = hits("a", "twin", "other")
        assert [x.chunk.id for x in mmr(q, h, vecs, 3, lambda_=1.0)] == ["a", "twin", "other"]
        assert [x.chunk.id for x in mmr(q, h, vecs, 2, lambda_=0.5)] == ["a", "other"]


# -- filters ------------------------------------------------------------------------------------
class TestFilters:
    SOURCES = ["/kb/docs/a.pdf", "/kb/docs/b.md", "/kb/other/c.PDF"]

    def test_parse_errors_are_clear(self) -> None:
        with pytest.raises(ValidationError, match="KEY=VALUE"):
            parse_filters(["page"])
        with pytest.raises(ValidationError, match="letters"):
            parse_filters(["pa ge=2"])
        with pytest.raises(ValidationError, match="twice"):
            parse_filters(["page=1", "page=2"])

    def test_resolve(self) -> None:
        f = resolve(parse_filters(["filetype=pdf", "page=2", "section=Intro"]), self.SOURCES)
        assert f.sources == {"/kb/docs/a.pdf", "/kb/other/c.PDF"}
        assert f.chroma() == {"$and": [{"source": {"$in": ["/kb/docs/a.pdf", "/kb/other/c.PDF"]}},
                                       {"page": 2}, {"section": "Intro"}]}
        sql = f.sql()
        assert sql is not None and sql.params == ["/kb/docs/a.pdf", "/kb/other/c.PDF", 2, "Intro"]
        g = resolve({"source": "*/docs/*"}, self.SOURCES)
        assert g.sources == {"/kb/docs/a.pdf", "/kb/docs/b.md"} and not g.empty
        assert resolve({"source": "*.txt"}, self.SOURCES).empty


# -- the keyword index inside the manifest's transactions ---------------------------------------
class TestKeywordIndex:
    def test_add_replace_remove(self, tmp_path: Path) -> None:
        db = tmp_path / "manifest.sqlite3"
        m = Manifest(db)
        c1 = chunk("c1", "Error E42 on the ZX-9000 pump", source="/d/a.md")
        c2 = chunk("c2", "大熊猫生活在四川的竹林中", source="/d/b.md")
        m.put_many([FileRecord("/d/a.md", 1, 1, "h", "f", ("c1",)),
                    FileRecord("/d/b.md", 1, 1, "h", "f", ("c2",))],
                   index=[(c, terms_of(c.text)) for c in (c1, c2)])
        idx = KeywordIndex(db)
        assert [h.chunk.id for h in idx.search("zx-9000 e42", 5)] == ["c1"]
        assert [h.chunk.id for h in idx.search("熊猫吃竹子吗", 5)] == ["c2"]
        assert idx.search("the of and", 5) == []  # only stopwords: nothing to search
        # a changed file: new chunk in, the old one out, in one transaction
        c3 = chunk("c3", "Error E17 on the ZX-7000", source="/d/a.md")
        m.put_many([FileRecord("/d/a.md", 2, 2, "h2", "f", ("c3",))],
                   index=[(c3, terms_of(c3.text))], unindex=["c1"])
        assert idx.search("E42", 5) == [] and [h.chunk.id for h in idx.search("E17", 5)] == ["c3"]
        m.delete("/d/b.md")
        assert idx.count() == 1 and idx.search("熊猫", 5) == []
        # the hit carries the chunk's metadata
        hit = idx.search("E17", 5)[0]
        assert hit.chunk.source == "/d/a.md" and hit.score > 0

    def test_sync_backfills_and_retokenizes(self, tmp_path: Path) -> None:
        db = tmp_path / "manifest.sqlite3"
        m = Manifest(db)
        stored = {"c1": chunk("c1", "Firmware 3.0.0.4 for the RT-AX58"),
                  "c2": chunk("c2", "vm.swappiness=10")}
        # a knowledge base from before the index: rows, but nothing indexed
        m.put_many([FileRecord("/d/a.md", 1, 1, "h", "f", ("c1", "c2"))])
        fetched: list[list[str]] = []

        def fetch(ids: list[str]) -> list[Chunk]:
            fetched.append(ids)
            return [stored[i] for i in ids]

        def sync() -> int:
            return m.sync_keyword(fetch, terms=terms_of, tokenizer=TOKENIZER_VERSION)

        assert sync() == 2 and fetched == [["c1", "c2"]]
        assert [h.chunk.id for h in KeywordIndex(db).search("swappiness", 5)] == ["c2"]
        assert sync() == 0 and len(fetched) == 1  # consistent: nothing to do
        # another tokenizer version: terms are rebuilt from the stored texts
        with sqlite3.connect(db) as raw:  # terms made by another (here: no) tokenizer
            raw.execute("UPDATE kw_meta SET value='0' WHERE key='tokenizer'")
            raw.execute("UPDATE kw_chunks SET terms=''")
            keyword_record.touch(raw)
        assert KeywordIndex(db).search("swappiness", 5) == []
        assert sync() == 2
        assert [h.chunk.id for h in KeywordIndex(db).search("rt-ax58", 5)] == ["c1"]


# -- with the real model and store --------------------------------------------------------------
def keyword_ids(kb: Path) -> set[str]:
    with sqlite3.connect(kb / "manifest.sqlite3") as db:
        return keyword_record.chunk_ids(db)


class TestModes:
    def test_chinese_question_finds_chinese_sample_with_bm25_and_hybrid(self, sample_kb) -> None:
        for mode in ("bm25", "hybrid"):
            top = sample_kb.retrieve("大熊猫每天吃什么？", k=3, mode=mode)
            assert Path(top[0].chunk.source).name == "giant_panda_zh.md", mode

    def test_exact_term(self, sample_kb) -> None:
        top = sample_kb.retrieve("Mauna Loa", k=3, mode="bm25")
        assert top and Path(top[0].chunk.source).name == "volcanoes.pdf"

    def test_filters_apply_before_the_top_k(self, sample_kb) -> None:
        question = "How heavy is an adult llama?"  # the llama file is the best match overall
        with sqlite3.connect(sample_kb.kb / "manifest.sqlite3") as db:
            pdf_chunks = db.execute(
                "SELECT count(*) FROM kw_chunks WHERE source LIKE '%.pdf'").fetchone()[0]
        assert pdf_chunks >= 2
        for mode in ("dense", "bm25", "hybrid"):
            found = sample_kb.retrieve(question, k=3, mode=mode, filters={"filetype": "pdf"})
            assert all(h.chunk.source.endswith(".pdf") for h in found), mode
            if mode != "bm25":  # BM25 returns only passages sharing a word with the question
                # filtered before the top-k: every PDF chunk can fill the k places
                assert len(found) == min(3, pdf_chunks), mode
        on_page = sample_kb.retrieve("volcano", k=5, mode="hybrid",
                                     filters=["filetype=pdf", "page=2"])
        assert on_page and {h.chunk.page for h in on_page} == {2}
        assert sample_kb.retrieve("llama", mode="hybrid", filters={"source": "*.xyz"}) == []

    def test_mmr_picks_less_redundant_hits(self, sample_kb) -> None:
        import numpy as np

        def redundancy(found: list[Hit]) -> float:
            vecs = sample_kb.store.vectors([h.chunk.id for h in found])
            v = np.array([vecs[h.chunk.id] for h in found])
            sims = v @ v.T
            return float(sims[~np.eye(len(found), dtype=bool)].mean())

        plain = sample_kb.retrieve("llamas", k=4, mode="hybrid")
        diverse = sample_kb.retrieve("llamas", k=4, mode="hybrid", mmr=True)
        pool = {h.chunk.id for h in sample_kb.retrieve("llamas", k=50, mode="hybrid")}
        assert len({h.chunk.id for h in diverse}) == 4 and {h.chunk.id for h in diverse} <= pool
        assert redundancy(diverse) <= redundancy(plain)

    def test_bad_mode(self, sample_kb) -> None:
        with pytest.raises(ValidationError, match="dense, bm25, hybrid"):
            sample_kb.retrieve("llamas", mode="sparse")


class TestConsistency:
    def test_index_follows_ingest_replace_and_remove(self, tmp_path: Path, samples: Path,
                                                     embedder) -> None:
        docs = tmp_path / "docs"
        shutil.copytree(samples, docs)
        kb = tmp_path / "kb"
        rag = make_rag(kb, embedder)
        rag.ingest(docs)
        assert keyword_ids(kb) == rag.store.ids() and rag.store.count() > 0
        (docs / "llamas.md").write_text("# Llamas\n\nLlamas hum when they are anxious.\n")
        (docs / "coffee_notes.txt").unlink()
        report = rag.ingest(docs)
        assert report.removed and report.ingested
        assert keyword_ids(kb) == rag.store.ids()
        assert [Path(h.chunk.source).name for h in rag.retrieve("hum anxious", k=1,
                                                                 mode="bm25")] == ["llamas.md"]

    def test_a_knowledge_base_without_the_index_gets_it_on_the_next_ingest(
        self, tmp_path: Path, samples: Path, embedder
    ) -> None:
        kb = tmp_path / "kb"
        rag = make_rag(kb, embedder)
        rag.ingest(samples)
        with sqlite3.connect(kb / "manifest.sqlite3") as db:  # as before the index existed
            db.executescript("DROP TABLE kw_chunks; DROP TABLE kw_meta; PRAGMA user_version=0;")
        assert make_rag(kb, embedder).retrieve("llama", mode="bm25") == []
        report = make_rag(kb, embedder).ingest(samples)
        assert report.unchanged and not report.ingested
        assert keyword_ids(kb) == rag.store.ids()


class TestRerank:
    def test_cross_encoder_plumbing(self, sample_kb, embedder) -> None:
        from sentence_transformers import CrossEncoder

        from ragkit.backends.cross_encoder import CrossEncoderReranker

        # a real CrossEncoder; its head is untrained (no cross-encoder ships offline), so
        # the test checks the plumbing: every candidate scored by the model, sorted by it
        model = CrossEncoder(embedder.tokenizer_path, num_labels=1, device="cpu")
        reranker = CrossEncoderReranker(model)
        rag = RAG(sample_kb.kb, settings=Settings(candidates=6), embedder=embedder,
                  reranker=reranker)
        result = rag.search("Where do llamas live?", k=3, mode="hybrid")
        found = result.hits
        assert "rerank_ms" in result.timings and len(found) == 3
        pool = RAG(sample_kb.kb, settings=Settings(candidates=6), embedder=embedder).retrieve(
            "Where do llamas live?", k=6, mode="hybrid")
        expected = model.predict([("Where do llamas live?", h.chunk.text) for h in pool])
        best = sorted(zip(expected, (h.chunk.id for h in pool), strict=True), reverse=True)[:3]
        assert [h.chunk.id for h in found] == [cid for _, cid in best]
        assert [h.score for h in found] == pytest.approx([float(s) for s, _ in best], abs=1e-5)

    def test_missing_reranker_is_a_clear_error(self, tmp_path: Path, embedder) -> None:
        from ragkit import BackendError

        rag = RAG(tmp_path / "kb", settings=Settings(reranker=str(tmp_path / "nope")),
                  embedder=embedder)
        with pytest.raises(BackendError, match="reranker"):
            _ = rag.reranker


# -- evaluation on the project's own BEIR-format set -------------------------------------------
@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory, embedder) -> dict:
    folder = retrieval_set.write(tmp_path_factory.mktemp("beir") / "ragkit-mini")
    return evaluate_retrieval(folder, lambda kb: make_rag(kb, embedder))


class TestEval:
    def test_loader(self, tmp_path: Path) -> None:
        ds = load_beir(retrieval_set.write(tmp_path / "set"))
        assert len(ds.corpus) >= 30 and len(ds.queries) >= 15
        (tmp_path / "set" / "qrels" / "test.tsv").write_text("q\td\tx\n")
        with pytest.raises(ValidationError, match="not a number"):
            load_beir(tmp_path / "set")
        with pytest.raises(ValidationError, match="corpus.jsonl is missing"):
            load_beir(tmp_path)

    def test_hybrid_is_at_least_as_good_as_each_mode(self, result: dict) -> None:
        r = result["results"]
        print(json.dumps(result, indent=1))
        assert result["queries"] == len(retrieval_set.QUERIES)
        assert set(r) == {"dense", "bm25", "hybrid"}
        for metric in ("ndcg@10", "recall@10", "mrr@10"):
            assert r["hybrid"][metric] >= r["dense"][metric], metric
            assert r["hybrid"][metric] >= r["bm25"][metric], metric
        # each single mode has its blind spot on this set, so neither is perfect
        assert r["dense"]["ndcg@10"] < 1.0 and r["bm25"]["ndcg@10"] < 1.0

    def test_add_documents_is_idempotent(self, tmp_path: Path, embedder) -> None:
        rag = make_rag(tmp_path / "kb", embedder)
        docs = [Document.from_text("n1", "Returns take 30 days.", title="FAQ")]
        first = rag.add_documents(docs)
        again = rag.add_documents(docs)
        assert first.chunks_added == 1 and again.chunks_added == 0 and again.unchanged == ["n1"]
        changed = rag.add_documents([Document.from_text("n1", "Returns take 14 days.")])
        assert changed.chunks_added == 1 and changed.chunks_removed == 1 and rag.count() == 1
        assert "14 days" in rag.retrieve("returns", k=1, mode="bm25")[0].chunk.text
