"""Answer-quality evaluation (``ragkit eval answers``): the metrics against values worked
out by hand, the SQuAD-format loader, ragkit's two test datasets, and evaluate_answers
end to end with a fake knowledge base (the real-model run is the CLI's test)."""

from __future__ import annotations

import doctest
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from ragkit._types import Document
from ragkit.errors import NotFoundError, ValidationError
from ragkit.quality import answers as answers_module
from ragkit.quality import metrics as metrics_module
from ragkit.quality import squad as squad_module
from ragkit.quality.answers import evaluate_answers
from ragkit.quality.metrics import (
    contains,
    detect_lang,
    exact_match,
    f1,
    is_refusal,
    normalise,
    percentile,
)
from ragkit.quality.squad import load_squad

DATA = Path(__file__).resolve().parent / "data"
DATASETS = {"en": DATA / "squad_en.json", "zh": DATA / "squad_zh.json"}


class TestDoctests:
    @pytest.mark.parametrize("module", [metrics_module, squad_module, answers_module],
                             ids=lambda m: m.__name__)
    def test_examples_hold(self, module: Any) -> None:
        result = doctest.testmod(module)
        assert result.failed == 0


class TestNormalise:
    def test_english_is_squad_normalisation(self) -> None:
        # lower-case, punctuation and articles gone, whitespace collapsed
        assert normalise("The  Eiffel Tower, an icon!") == "eiffel tower icon"
        assert normalise("A-1 and the Theatre") == "a1 and theatre"  # "the" inside a word stays

    def test_chinese_drops_punctuation_and_spaces_and_applies_nfkc(self) -> None:
        assert normalise("紫禁城， 旧称。") == "紫禁城旧称"
        assert normalise("《茶经》“茶圣”") == "茶经茶圣"
        assert normalise("ＡＢＣ１２３年", "zh") == "abc123年"  # full-width -> ASCII

    def test_language_of_a_text(self) -> None:
        assert detect_lang("What is 紫禁城?") == "zh"
        assert detect_lang("What is 1+1?") == "en"


class TestExactMatch:
    def test_equal_after_normalisation(self) -> None:
        assert exact_match("The Eiffel Tower!", ["eiffel tower"]) == 1.0
        assert exact_match("紫禁城。", ["紫禁城"]) == 1.0
        assert exact_match("Mainz [1]", ["Mainz"]) == 1.0  # citation markers are not words

    def test_partial_is_no_match(self) -> None:
        assert exact_match("Eiffel", ["Eiffel Tower"]) == 0.0
        assert exact_match("紫禁", ["紫禁城"]) == 0.0

    def test_best_gold_counts(self) -> None:
        assert exact_match("1420年", ["永乐十八年", "1420年"]) == 1.0


class TestF1:
    def test_english_token_f1(self) -> None:
        # [cat, sat] vs [cat, sat, down] ("the" is dropped): 2 in common,
        # P = 2/2, R = 2/3, F1 = 2*1*(2/3) / (1 + 2/3) = 0.8
        assert f1("the cat sat", ["cat sat down"]) == pytest.approx(0.8)
        # 5 prediction tokens [paris, is, capital, of, france], 1 in common:
        # P = 1/5, R = 1, F1 = 2*0.2 / 1.2 = 1/3
        assert f1("Paris is the capital of France", ["Paris"]) == pytest.approx(1 / 3)

    def test_chinese_character_f1(self) -> None:
        # 北京市 vs 北京: 2 characters in common, P = 2/3, R = 2/2, F1 = (4/3) / (5/3) = 0.8
        assert f1("北京市", ["北京"]) == pytest.approx(0.8)
        # 10 characters 1949年10月1日 vs 5 characters 10月1日; common: 1 twice, 0, 月, 日 = 5,
        # P = 5/10, R = 5/5, F1 = 1 / 1.5 = 2/3
        assert f1("1949年10月1日", ["10月1日"]) == pytest.approx(2 / 3)

    def test_max_over_golds(self) -> None:
        # vs "1889": P = 1/2, R = 1 -> 2/3; vs "in the year 1889" = [in, year, 1889]:
        # P = 2/2, R = 2/3 -> 0.8; the best is 0.8
        assert f1("in 1889", ["1889", "in the year 1889"]) == pytest.approx(0.8)

    def test_repeated_tokens_count_once_each(self) -> None:
        # [cat] vs [cat, cat]: 1 in common, P = 1, R = 1/2, F1 = 2/3
        assert f1("the the cat", ["cat cat"]) == pytest.approx(2 / 3)

    def test_empty_and_disjoint(self) -> None:
        assert f1("", ["Paris"]) == 0.0
        assert f1("London", ["Paris"]) == 0.0
        assert f1("不知道", ["1420年"]) == 0.0

    def test_the_question_language_decides_the_units(self) -> None:
        # a Chinese question whose gold answer has no Han character: characters, not words
        # ("1889" vs "18": P = 2/2, R = 2/4, F1 = 2/3)
        assert f1("18", ["1889"], "zh") == pytest.approx(2 / 3)
        assert f1("18", ["1889"], "en") == 0.0


class TestContains:
    def test_english_on_word_boundaries(self) -> None:
        assert contains("Built in 1889 by Gustave Eiffel.", ["gustave eiffel"])
        assert not contains("It is 1000 metres tall.", ["100"])
        assert contains("the Coral Sea, off Queensland", ["The Coral Sea"])

    def test_chinese_substring(self) -> None:
        assert contains("故宫旧称紫禁城，建成于1420年。", ["1420年"])
        assert contains("历代长城总长度为21196.18千米", ["21196.18千米"])
        assert not contains("故宫旧称紫禁城。", ["1420年"])

    def test_empty_gold_is_never_contained(self) -> None:
        assert not contains("anything", ["the"])  # normalises to ""


class TestRefusal:
    @pytest.mark.parametrize("text", [
        "", "  [1] ", "I don't know.", "I don’t know the answer.", "I do not know.",
        "I cannot answer that from the passages.", "The answer is not in the passages.",
        "The passages do not mention it.", "无法回答。", "我不知道。", "文中没有提到这一点。",
    ])
    def test_refusals(self, text: str) -> None:
        assert is_refusal(text)

    @pytest.mark.parametrize("text", [
        "It opened in 1889 [1].", "Gustave Eiffel", "紫禁城 [1]", "The knowledge of bees.",
    ])
    def test_answers(self, text: str) -> None:
        assert not is_refusal(text)


class TestPercentile:
    def test_linear_interpolation(self) -> None:
        # positions 0..3; p50 at 1.5 -> 20 + 0.5*10 = 25; p95 at 2.85 -> 30 + 0.85*10 = 38.5
        assert percentile([40, 10, 30, 20], 50) == 25
        assert percentile([40, 10, 30, 20], 95) == pytest.approx(38.5)
        assert percentile([7.0], 95) == 7.0
        assert percentile([], 50) is None

    def test_out_of_range(self) -> None:
        with pytest.raises(ValueError, match="outside 0-100"):
            percentile([1.0], 101)


def _write(path: Path, obj: Any) -> Path:
    path.write_text(json.dumps(obj, ensure_ascii=False), encoding="utf-8")
    return path


TINY = {
    "version": "v2.0",
    "data": [
        {"title": "Tower", "paragraphs": [
            {"context": "The tower was finished in 1889 in Paris.", "qas": [
                {"id": "q1", "question": "When was the tower finished?",
                 "answers": [{"text": "1889", "answer_start": 26},
                             {"text": "1889", "answer_start": 26}]},
                {"id": "q2", "question": "Where is the tower?",
                 "answers": [{"text": "Paris", "answer_start": 34}]},
                {"id": "q-none", "question": "Who painted it?", "answers": [],
                 "plausible_answers": [{"text": "Eiffel"}], "is_impossible": True},
            ]}]},
        {"title": "故宫", "paragraphs": [
            {"id": "DRCD-1", "context": "故宫旧称紫禁城，建成于1420年。", "qas": [
                {"id": "q3", "question": "故宫旧称什么？",
                 "answers": [{"id": "1", "text": "紫禁城", "answer_start": 4}]},
                {"question": "故宫哪一年建成？", "answers": [{"text": "1420年"}]},
            ]}]},
    ],
}


class TestLoadSquad:
    def test_tiny_file(self, tmp_path: Path) -> None:
        ds = load_squad(_write(tmp_path / "tiny.json", TINY))
        assert ds.name == "tiny" and ds.version == "v2.0"
        assert ds.paragraphs == [("Tower#0", "Tower", "The tower was finished in 1889 in Paris."),
                                 ("故宫#1", "故宫", "故宫旧称紫禁城，建成于1420年。")]
        assert [q.id for q in ds.questions] == ["q1", "q2", "q3", "故宫#1/1"]  # q-none skipped
        assert ds.questions[0].answers == ["1889"]  # duplicates dropped
        assert [q.lang for q in ds.questions] == ["en", "en", "zh", "zh"]
        assert [q.source_id for q in ds.questions] == ["Tower#0", "Tower#0", "故宫#1", "故宫#1"]

    def test_missing_file(self, tmp_path: Path) -> None:
        with pytest.raises(NotFoundError, match="nope.json does not exist"):
            load_squad(tmp_path / "nope.json")

    @pytest.mark.parametrize(("content", "message"), [
        ("{not json", r"bad\.json:1:2: not JSON"),
        ("[]", r"bad\.json: the top level must be an object"),
        ('{"data": {}}', r"bad\.json: no \"data\" list"),
        ('{"data": [{"paragraphs": {}}]}', r"data\[0\]: 'paragraphs' must be a list"),
        ('{"data": [{"paragraphs": [{"qas": []}]}]}',
         r"data\[0\]\.paragraphs\[0\]: \"context\" must be non-empty"),
        ('{"data": [{"paragraphs": [{"context": "x", "qas": [{"answers": []}]}]}]}',
         r"qas\[0\]: \"question\" must be non-empty"),
        ('{"data": [{"paragraphs": [{"context": "x", "qas": [{"question": "q?", '
         '"answers": [{"answer_start": 0}]}]}]}]}', r"qas\[0\]\.answers\[0\]: expected"),
        ('{"data": [{"paragraphs": [{"context": "x", "qas": [{"question": "q?", '
         '"answers": []}]}]}]}', r"qas\[0\]: no answers\[\]\.text"),
        ('{"data": []}', r"bad\.json: no answerable question"),
    ])
    def test_malformed_files_name_the_place(self, tmp_path: Path, content: str,
                                            message: str) -> None:
        path = tmp_path / "bad.json"
        path.write_text(content, encoding="utf-8")
        with pytest.raises(ValidationError, match=message):
            load_squad(path)

    def test_not_utf8(self, tmp_path: Path) -> None:
        path = tmp_path / "gbk.json"
        path.write_bytes('{"data": "长城"}'.encode("gbk"))
        with pytest.raises(ValidationError, match="gbk.json: not UTF-8"):
            load_squad(path)


class TestDatasets:
    @pytest.mark.parametrize("lang", ["en", "zh"])
    def test_sizes_and_language(self, lang: str) -> None:
        ds = load_squad(DATASETS[lang])
        assert ds.version == "ragkit-1.0"  # written for ragkit's tests, not a public set
        assert len(ds.questions) >= 30 and len(ds.paragraphs) >= 10
        assert {q.lang for q in ds.questions} == {lang}
        assert len({q.id for q in ds.questions}) == len(ds.questions)
        assert len({p.source_id for p in ds.paragraphs}) == len(ds.paragraphs)

    @pytest.mark.parametrize("lang", ["en", "zh"])
    def test_every_answer_is_in_its_context(self, lang: str) -> None:
        ds = load_squad(DATASETS[lang])
        contexts = {p.source_id: p.context for p in ds.paragraphs}
        for q in ds.questions:
            for gold in q.answers:
                assert gold in contexts[q.source_id], (q.id, gold)
        raw = json.loads(DATASETS[lang].read_text(encoding="utf-8"))
        for article in raw["data"]:
            for para in article["paragraphs"]:
                for qa in para["qas"]:
                    for ans in qa["answers"]:
                        start = ans["answer_start"]
                        assert para["context"][start:start + len(ans["text"])] == ans["text"]


@dataclass
class FakeCitation:
    text: str
    cited: bool = True


@dataclass
class FakeAnswer:
    text: str
    citations: list[FakeCitation] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    supported_share: float | None = None


TOWER = "The tower was finished in 1889 in Paris."
PALACE = "故宫旧称紫禁城，建成于1420年。"
SCRIPT = {
    # EM 0; F1: [it, was, finished, in, 1889] vs [1889]: P = 1/5, R = 1 -> 1/3; cites TOWER
    "When was the tower finished?": FakeAnswer(
        "It was finished in 1889 [1].", [FakeCitation(TOWER)],
        {"first_token_ms": 100, "total_ms": 1000}, 1.0),
    # EM 1, F1 1; the cited passage lacks "Paris" (no citation hit), the uncited one has it
    "Where is the tower?": FakeAnswer(
        "Paris", [FakeCitation(PALACE), FakeCitation(TOWER, cited=False)],
        {"first_token_ms": 200, "total_ms": 2000}),
    # EM 1, F1 1, citation hit
    "故宫旧称什么？": FakeAnswer(
        "紫禁城 [1]", [FakeCitation(PALACE)], {"first_token_ms": 300, "total_ms": 3000}, 0.5),
    # a refusal: EM 0, F1 0, nothing cited
    "故宫哪一年建成？": FakeAnswer("我不知道。", [], {"first_token_ms": 400, "total_ms": 4000}),
}


class FakeRag:
    """add_documents/ask, like ``ragkit.RAG``; answers from a script (or the first gold)."""

    def __init__(self, kb: Path, script: dict[str, FakeAnswer] | None = None) -> None:
        self.kb, self.script = kb, script
        self.documents: list[Document] = []
        self.asked: list[tuple[str, Any]] = []

    def add_documents(self, documents: Iterable[Document]) -> None:
        self.documents.extend(documents)

    def ask(self, question: str, options: Any = None) -> FakeAnswer:
        self.asked.append((question, options))
        if self.script is not None:
            return self.script[question]
        return self._oracle(question)

    def _oracle(self, question: str) -> FakeAnswer:
        """Answer with the gold answer of the question's own dataset, citing its context."""
        for ds in map(load_squad, DATASETS.values()):
            for q in ds.questions:
                if q.question == question:
                    context = next(p.context for p in ds.paragraphs
                                   if p.source_id == q.source_id)
                    return FakeAnswer(f"{q.answers[0]} [1]", [FakeCitation(context)],
                                      {"first_token_ms": 50.0, "total_ms": 500.0}, 1.0)
        raise AssertionError(question)


class TestEvaluateAnswers:
    def test_shape_and_hand_computed_scores(self, tmp_path: Path) -> None:
        rags: list[FakeRag] = []

        def make_rag(kb: Path) -> FakeRag:
            rags.append(FakeRag(kb, SCRIPT))
            return rags[-1]

        out = evaluate_answers(_write(tmp_path / "tiny.json", TINY), make_rag)
        assert json.loads(json.dumps(out)) == out  # --json prints it as is
        assert out["dataset"] == "tiny" and out["questions"] == 4 and out["paragraphs"] == 2
        assert set(out["seconds"]) == {"ingest", "ask"}
        assert set(out["results"]) == {"en", "zh", "all"}
        contract = {"em", "f1", "citation_hit", "supported_share", "refusals", "ttft_p50",
                    "latency_p50", "latency_p95"}
        for metrics in out["results"].values():
            assert contract <= set(metrics)
        en, zh, all_ = (out["results"][k] for k in ("en", "zh", "all"))
        # en: EM (0 + 1)/2; F1 (1/3 + 1)/2; one of two cited passages holds its answer;
        # supported share only from the verified answer (1.0); times [100, 200], [1000, 2000]:
        # p50 = 150 and 1500, p95 = 1000 + 0.95*1000 = 1950
        assert en == {**en, "questions": 2, "em": 0.5, "f1": 0.6667, "citation_hit": 0.5,
                      "passage_hit": 1.0, "supported_share": 1.0, "refusals": 0.0,
                      "ttft_p50": 150.0, "latency_p50": 1500.0, "latency_p95": 1950.0}
        # zh: EM (1 + 0)/2, F1 (1 + 0)/2, one refusal of two; totals [3000, 4000]
        assert zh == {**zh, "questions": 2, "em": 0.5, "f1": 0.5, "citation_hit": 0.5,
                      "supported_share": 0.5, "refusals": 0.5, "ttft_p50": 350.0,
                      "latency_p50": 3500.0, "latency_p95": 3950.0}
        # all: F1 (1/3 + 1 + 1 + 0)/4 = 0.58333; supported (1.0 + 0.5)/2; totals 1000..4000:
        # p95 at position 3*0.95 = 2.85 -> 3000 + 0.85*1000 = 3850
        assert all_ == {**all_, "questions": 4, "em": 0.5, "f1": 0.5833, "citation_hit": 0.5,
                        "supported_share": 0.75, "refusals": 0.25, "ttft_p50": 250.0,
                        "latency_p50": 2500.0, "latency_p95": 3850.0}
        rag = rags[0]
        assert [d.source for d in rag.documents] == ["Tower#0", "故宫#1"]
        assert rag.documents[1].blocks[0].kind == "Title"
        assert rag.documents[1].blocks[0].text == "故宫"  # titles kept
        assert [q for q, _ in rag.asked] == list(SCRIPT)

    def test_oracle_on_both_datasets(self) -> None:
        for lang, path in DATASETS.items():
            out = evaluate_answers(path, FakeRag, n=5)
            assert out["questions"] == 5 and set(out["results"]) == {lang, "all"}
            metrics = out["results"][lang]
            assert metrics["em"] == metrics["f1"] == metrics["citation_hit"] == 1.0
            assert metrics["refusals"] == 0.0 and metrics["latency_p95"] == 500.0

    def test_kb_and_ask_options_are_passed_on(self, tmp_path: Path) -> None:
        rags: list[FakeRag] = []

        def make_rag(kb: Path) -> FakeRag:
            rags.append(FakeRag(kb))
            return rags[-1]

        marker = object()
        out = evaluate_answers(DATASETS["en"], make_rag, n=2, kb=tmp_path / "kb",
                               ask_options=marker)
        assert out["questions"] == 2
        assert rags[0].kb == tmp_path / "kb"
        assert [o for _, o in rags[0].asked] == [marker, marker]
        assert len(rags[0].documents) == out["paragraphs"]  # every context, not only n's

    def test_missing_timings_and_support_give_none(self, tmp_path: Path) -> None:
        script = {q: FakeAnswer("") for q in SCRIPT}
        out = evaluate_answers(_write(tmp_path / "tiny.json", TINY),
                               lambda kb: FakeRag(kb, script))
        all_ = out["results"]["all"]
        assert all_["refusals"] == 1.0 and all_["f1"] == 0.0
        assert all_["supported_share"] is None and all_["ttft_p50"] is None

    def test_n_must_be_positive(self) -> None:
        with pytest.raises(ValueError, match="n=0"):
            evaluate_answers(DATASETS["en"], FakeRag, n=0)
