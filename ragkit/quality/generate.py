"""``ragkit eval generate``: an evaluation set written by the LLM from a knowledge base's
own chunks, in BEIR format (for ``ragkit eval retrieval``) and SQuAD format (for ``ragkit
eval answers``).

Chunks long enough to ask about are sampled by seed (:func:`plan`); the LLM gets one
sentence of a chunk (``excerpt="sentence"``, the default: the bundled 135M model strays
from the text less with a sentence than with a whole chunk, docs/eval-generate.md) or the
whole chunk, through the ``question_gen.j2`` template, and replies ``Question: ...`` and
``Answer: ...``. A reply is kept only if it passes every check of :func:`judge`; each
rejection's reason is counted. A stage: chunks and a ``complete`` callable in, plain data
out; it never imports the façade (:mod:`ragkit.evaluation` supplies both).

>>> parse_reply("Question: When was it built?\\nAnswer: 1889.")
Reply(question='When was it built?', answer='1889')
"""

from __future__ import annotations

import logging
import random
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal, NamedTuple

from ragkit._types import Chunk
from ragkit.errors import ValidationError
from ragkit.prompt import Templates
from ragkit.quality.metrics import contains, detect_lang, tokens
from ragkit.safety import neutralise

logger = logging.getLogger(__name__)

TEMPLATE = "question_gen.j2"
MIN_WORDS, MIN_HAN = 25, 40  #: shorter chunks are not asked about (too little to ask)
QUESTION_LIMITS = {"en": (4, 30), "zh": (5, 60)}  #: words (en) or characters (zh)
ANSWER_LIMITS = {"en": (1, 8), "zh": (1, 20)}
#: every reason a reply is rejected for, in the order they are checked
REASONS = ("unparsed", "wrong_language", "question_length", "not_a_question",
           "answer_length", "answer_not_in_chunk", "answer_in_question", "answer_type",
           "off_topic", "copies_chunk", "duplicate")

_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN_WORD = re.compile(r"[A-Za-z]+")
_QUESTION_LINE = re.compile(r"^[^\w\n]*(?:question|q|问题)\s*[:：]\s*(.*)$", re.I | re.M)
_ANSWER_LINE = re.compile(r"^[^\w\n]*(?:answer|a|答案|回答)\s*[:：]\s*(.*)$", re.I | re.M)
_INLINE_ANSWER = re.compile(r"\s*(?:\banswer|答案|回答)\s*[:：]\s*", re.I)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|(?<=[。！？；])|\n+")
_EN_OPENING = re.compile(
    r"^(?:(?:in|on|at|for|from|by|to|during|of|with|after|before)\s+(?:which|what|whom|how)\b|"
    r"(?:what|what's|when|where|who|whom|whose|which|why|how|is|are|was|were|do|does|did|"
    r"can|could|will|would|should|has|have|had|name)\b)", re.I)
_EN_WH = re.compile(r"\b(?:what|when|where|who|whom|whose|which|why|how)\b", re.I)
_ZH_QUESTION = re.compile(r"什么|多少|哪|谁|几|怎|如何|为何|为什么|吗|是否|何时|何地")
_NUMBER = re.compile(r"\d|[零一二两三四五六七八九十百千万亿]|\b(?:one|two|three|four|five|six|"
                     r"seven|eight|nine|ten|hundred|thousand|million|billion|dozen)\b", re.I)
_ASKS_NUMBER = re.compile(r"^(?:when|how (?:many|much|old|long|tall|far|big|high|heavy|deep|"
                          r"large|often|fast))\b|\b(?:what|which) (?:year|century|decade|"
                          r"date)\b|多少|几")
_WHEN_WORDS = re.compile(r"\d|\b(?:dynasty|century|centuries|years?|era|period|age)\b|"
                         r"朝|世纪|年", re.I)
_NAMES_QUANTITY = re.compile(r"\b(?:year|century|decade|date|number|age|height|weight|"
                             r"length|size|distance|population|percent|percentage|speed|"
                             r"temperature|depth|area|amount|count|total)s?\b")
_STOP = frozenset("what whats when where who whom whose which why how is are was were do does "
                  "did can could will would should has have had name of in on at to for from "
                  "by with and or it its this that these those there their they them he she "
                  "his her be been being as about into than then so not no many much".split())
_ZH_STOP = frozenset("什么多少哪里谁几怎样如何为吗是否的了在有和与也都就这那它们他她个")


class Reply(NamedTuple):
    """A parsed reply of the model."""

    question: str
    answer: str


@dataclass(frozen=True)
class Generated:
    """An accepted question: ``answer`` is ``text[answer_start:answer_start + len(answer)]``,
    ``text`` the whole source chunk."""

    question: str
    answer: str
    chunk_id: str
    source: str
    text: str
    lang: str
    answer_start: int

    def __post_init__(self) -> None:
        end = self.answer_start + len(self.answer)
        if not self.answer or self.text[self.answer_start:end] != self.answer:
            raise ValueError(f"answer {self.answer!r} is not at {self.answer_start} of chunk "
                             f"{self.chunk_id!r}")

    def __repr__(self) -> str:
        return f"Generated({self.question!r}, answer={self.answer!r}, chunk={self.chunk_id[:12]})"


@dataclass
class GenerationResult:
    """What :func:`generate_questions` did: the accepted questions, the replies asked for,
    the count of each rejection reason (:data:`REASONS`), the chunks long enough."""

    questions: list[Generated]
    tried: int
    rejected: dict[str, int] = field(default_factory=dict)
    eligible: int = 0


def chunk_lang(text: str) -> str:
    """``"zh"`` if ``text`` has more Han characters than Latin words, else ``"en"``.

    >>> chunk_lang("长城 (Great Wall) 是中国古代的防御工程"), chunk_lang("The 长城 is long.")
    ('zh', 'en')
    """
    return "zh" if len(_HAN.findall(text)) > len(_LATIN_WORD.findall(text)) else "en"


def is_eligible(text: str) -> bool:
    """Whether a chunk is long enough to ask about: MIN_WORDS words or MIN_HAN Han
    characters."""
    return len(text.split()) >= MIN_WORDS or len(_HAN.findall(text)) >= MIN_HAN


def sentences(text: str) -> list[str]:
    """The sentences of ``text`` worth asking about (table rows and fragments left out).

    >>> sentences("Size\\n\\nIt weighs 130 kg at most, we are told by the guide. Short one.")
    ['It weighs 130 kg at most, we are told by the guide.']
    """
    out = []
    for s in (s.strip() for s in _SENTENCE_END.split(text)):
        zh = chunk_lang(s) == "zh"
        if "|" not in s and (len(_HAN.findall(s)) >= 12 if zh else 8 <= len(s.split()) <= 60):
            out.append(s)
    return out


def _clean(text: str) -> str:
    return " ".join(text.split()).strip("\"'“”‘’`* ")


def parse_reply(reply: str) -> Reply | None:
    """The question and answer of ``reply`` (``Question: ...`` and ``Answer: ...``, on two
    lines or one; ``问题：``, ``答案：`` too); None if either is missing or empty."""
    q = _QUESTION_LINE.search(reply)
    if q is None:
        return None
    parts = _INLINE_ANSWER.split(q.group(1), maxsplit=1)
    if len(parts) == 1:
        a = _ANSWER_LINE.search(reply, q.end())
        if a is None:
            return None
        parts.append(a.group(1))
    question, answer = _clean(parts[0]), _clean(parts[1]).rstrip(".。!！,，;；").strip()
    return Reply(question, answer) if question and answer else None


def find_span(text: str, answer: str, near: int = 0) -> tuple[int, int] | None:
    """Where ``answer`` occurs in ``text`` (case and runs of whitespace ignored; English
    words whole): the first occurrence at or after ``near``, else the first; None if absent.

    >>> find_span("Built in 1889. It is 330  metres tall.", "330 Metres")
    (21, 32)
    >>> find_span("It is 1000 m tall.", "100") is None
    True
    """
    words = answer.split()
    if not words:
        return None
    pattern = r"\s+".join(re.escape(w) for w in words)
    if answer[0].isascii() and answer[0].isalnum():
        pattern = r"(?<![A-Za-z0-9])" + pattern
    if answer[-1].isascii() and answer[-1].isalnum():
        pattern += r"(?![A-Za-z0-9])"
    spans = [m.span() for m in re.finditer(pattern, text, re.I)]
    after = [s for s in spans if s[0] >= near]
    return after[0] if after else spans[0] if spans else None


def _is_question(question: str, lang: str) -> bool:
    if lang == "zh":
        return question.endswith(("？", "?")) or bool(_ZH_QUESTION.search(question))
    return bool(_EN_OPENING.match(question)) or (
        question.endswith(("?", "？")) and bool(_EN_WH.search(question)))


def _size(text: str, lang: str) -> int:
    return len("".join(text.split())) if lang == "zh" else len(text.split())


def _longest_run(a: Sequence[str], b: Sequence[str]) -> int:
    """The length of the longest run of items ``a`` and ``b`` share."""
    best, prev = 0, [0] * (len(b) + 1)
    for x in a:
        cur = [0] * (len(b) + 1)
        for j, y in enumerate(b, 1):
            if x == y:
                cur[j] = prev[j - 1] + 1
                best = max(best, cur[j])
        prev = cur
    return best


def copies(question: str, text: str, lang: str) -> bool:
    """Whether ``question`` copies ``text`` rather than asks about it: it shares a long run
    of words (zh: characters) with it, or holds nearly every word of one of its sentences.

    >>> copies("An adult llama weighs between 130 and 200 kg?",
    ...        "Size. An adult llama weighs between 130 and 200 kg.", "en")
    True
    >>> copies("How much does an adult llama weigh?",
    ...        "Size. An adult llama weighs between 130 and 200 kg.", "en")
    False
    """
    q = tokens(question, lang)
    run = _longest_run(q, tokens(text, lang))
    # a Chinese statement ending in ？ reads as a question: a shorter share of it suffices
    long_run, share_run, share = (12, 8, 0.75) if lang == "zh" else (8, 5, 0.9)
    if run >= long_run or (run >= share_run and run >= share * len(q)):
        return True
    words = set(q)
    for s in _SENTENCE_END.split(text):
        sent = set(tokens(s, lang))
        if len(sent) >= 4 and len(sent & words) >= 0.9 * len(sent):
            return True
    return False


def on_topic(question: str, text: str, lang: str) -> bool:
    """Whether the question has content words (zh: characters) and at least half of them
    occur in ``text`` (English words compared by their first five letters).

    >>> on_topic("When did Dutch traders bring tea?", "Dutch traders brought tea.", "en")
    True
    >>> on_topic("How tall is the Eiffel Tower?", "Llamas live in the Andes.", "en")
    False
    """
    if lang == "zh":
        content = [c for c in tokens(question, "zh") if _HAN.match(c) and c not in _ZH_STOP]
        found = set(tokens(text, "zh"))
        hits = sum(c in found for c in content)
    else:
        content = [w for w in tokens(question, "en") if w not in _STOP]
        stems = {w[:5] for w in tokens(text, "en")}
        hits = sum(w[:5] in stems for w in content)
    return bool(content) and hits >= 0.5 * len(content)


def answer_fits(question: str, answer: str, lang: str) -> bool:
    """Whether ``answer`` is of the kind ``question`` asks for: a number for "when", "how
    many/much/old/...", "what year", 多少, 几; no date for "who", 谁; not a bare number for
    another "what"/"which" question, unless it names a quantity ("what percentage").

    >>> answer_fits("When did tea reach Europe?", "the early 1600s", "en")
    True
    >>> answer_fits("Who was Shen Nong?", "2737 BC", "en")
    False
    >>> answer_fits("Who wrote it?", "the Tang dynasty", "en")
    False
    >>> answer_fits("What is the largest moon?", "95", "en")
    False
    """
    q = question.lower()
    if _ASKS_NUMBER.search(q):
        return bool(_NUMBER.search(answer))
    if re.match(r"(?:who|whom|whose)\b", q) or "谁" in q:
        return not _WHEN_WORDS.search(answer)
    if re.match(r"(?:what|which)\b", q) and not _NAMES_QUANTITY.search(q):
        return bool(re.sub(r"[\d\s.,%]", "", answer))
    return True


def judge(reply: Reply | None, text: str, lang: str, near: int = 0) -> str | tuple[int, int]:
    """The first reason (:data:`REASONS`) to reject ``reply`` about chunk ``text`` in
    language ``lang``, or, if it passes, its answer's span in ``text`` (the first at or
    after ``near``). ``duplicate`` is the caller's to check."""
    if reply is None:
        return "unparsed"
    question, answer = reply
    if detect_lang(question) != lang:
        return "wrong_language"
    lo, hi = QUESTION_LIMITS[lang]
    if not lo <= _size(question, lang) <= hi:
        return "question_length"
    if not _is_question(question, lang):
        return "not_a_question"
    lo, hi = ANSWER_LIMITS[lang]
    if not lo <= _size(answer, lang) <= hi:
        return "answer_length"
    span = find_span(text, answer, near)
    checks = (("answer_not_in_chunk", span is not None),
              ("answer_in_question", not contains(question, [answer], lang)),
              ("answer_type", answer_fits(question, answer, lang)),
              ("off_topic", on_topic(question, text, lang)),
              ("copies_chunk", not copies(question, text, lang)))
    failed = next((reason for reason, ok in checks if not ok), None)
    return failed or span or "answer_not_in_chunk"


def plan(chunks: Sequence[Chunk], n: int, seed: int,
         excerpt: str = "sentence") -> list[tuple[Chunk, str]]:
    """The (chunk, excerpt) pairs to ask about, at most ``n * 3``, drawn by ``seed`` from
    the chunks long enough (:func:`is_eligible`): a sentence of each chunk in turn, then a
    second of each, and so on (so a small knowledge base still gives ``n * 3`` tries); with
    ``excerpt="chunk"``, or for a chunk with no sentence worth asking about, the whole text.
    """
    rng = random.Random(seed)
    # sorted by place, not id: ids hash the path, and a copied knowledge base should draw
    # the same sample
    eligible = sorted((c for c in chunks if is_eligible(c.text)),
                      key=lambda c: (c.source, c.index, c.id))
    rng.shuffle(eligible)
    ranked: list[tuple[int, int, Chunk, str]] = []  # (round, place of the chunk, ...)
    for k, chunk in enumerate(eligible):
        shown = sentences(chunk.text) if excerpt == "sentence" else []
        rng.shuffle(shown)
        ranked += [(r, k, chunk, text) for r, text in enumerate(shown or [chunk.text])]
    return [(chunk, text) for _, _, chunk, text in sorted(ranked, key=lambda x: x[:2])][:n * 3]


def generate_questions(
    chunks: Sequence[Chunk],
    complete: Callable[[list[dict[str, str]]], str],
    *,
    templates: Templates | None = None,
    n: int = 50,
    seed: int = 0,
    excerpt: Literal["sentence", "chunk"] = "sentence",
) -> GenerationResult:
    """Ask ``complete`` (chat messages in, the model's reply out) for a question about each
    excerpt of :func:`plan` in turn; keep those :func:`judge` passes, stopping at ``n``.

    ``templates`` renders ``question_gen.j2`` (default: the shipped one) with ``text``, the
    excerpt (neutralised), and ``lang``, the chunk's (:func:`chunk_lang`).
    """
    if n < 1:
        raise ValidationError(f"n={n!r}: generate at least one question")
    templates = templates or Templates()
    accepted: list[Generated] = []
    rejected: Counter[str] = Counter()
    seen: set[str] = set()
    tried = 0
    for chunk, shown in plan(chunks, n, seed, excerpt):
        if len(accepted) == n:
            break
        tried += 1
        lang = chunk_lang(chunk.text)
        messages = templates.render_messages(TEMPLATE, text=neutralise(shown), lang=lang)
        reply = parse_reply(complete(messages))
        verdict = judge(reply, chunk.text, lang, max(chunk.text.find(shown), 0))
        key = "" if reply is None else "".join(tokens(reply.question, lang))
        if not isinstance(verdict, str) and key in seen:
            verdict = "duplicate"
        if isinstance(verdict, str) or reply is None:
            rejected[str(verdict)] += 1
            logger.debug("chunk %s: rejected (%s)", chunk.id, verdict)
            continue
        seen.add(key)
        start, end = verdict
        accepted.append(Generated(reply.question, chunk.text[start:end], chunk.id,
                                  chunk.source, chunk.text, lang, start))
    eligible = sum(is_eligible(c.text) for c in chunks)
    logger.info("generated %d questions in %d tries (%d chunks eligible)", len(accepted),
                tried, eligible)
    return GenerationResult(accepted, tried, dict(sorted(rejected.items())), eligible)
