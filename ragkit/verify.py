"""Citation verification: is each sentence of an answer backed by the passages it cites?

The answer is split into sentences (:func:`split_sentences`); each sentence is scored
against the passages it cites, or against every passage when it cites none
(:func:`support_score`), and judged supported when the score reaches a threshold measured
on a labelled set (``tests/data/support_pairs.jsonl``, ``bench/verify_bench.py``).

The score is deterministic and needs no model: the share of the sentence's content that the
passage contains. English content is lower-cased words less stop words, lightly stemmed,
names counting double; Han text counts as character bigrams and characters (not jieba's
words: a paraphrase rarely segments the way its source does). A number the passage lacks
makes the score 0; a negation the passage lacks (or the reverse) halves it.

>>> supported_share(verify_answer("Paris has 2 towers [1].", [(1, "In Paris: 2 towers.")]))
1.0
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any

from ragkit._terms import tokenize
from ragkit.errors import ValidationError

__all__ = ["DEFAULT_THRESHOLD", "SentenceSupport", "split_sentences", "support_score",
           "supported_share", "verify_answer"]

#: Chosen on the tuning half of tests/data/support_pairs.jsonl (76 pairs, maximum F1 0.909).
#: Held-out half (68 pairs): precision 0.861, recall 0.861, accuracy 0.853; English P 0.938
#: R 0.833 acc 0.882, Chinese P 0.800 R 0.889 acc 0.824 (bench/verify_bench.py; the
#: figures and the errors are in bench/README.md, "Citation verification (issue 13)").
DEFAULT_THRESHOLD = 0.72

#: factor applied when the sentence and its best-matching passage sentence disagree on
#: negation ("is" / "is not")
NEGATION_FACTOR = 0.5
#: weight of a name (a capitalised word past the first, an acronym) against 1 for another
#: word: "named after Maurice Koechlin" must not pass on "named after" alone
NAME_WEIGHT = 2.0
#: weight of each Han character next to each Han bigram: paraphrases reorder characters
#: (修建长城 / 长城修建) more than they replace them
CHAR_WEIGHT = 1.0

_MARKER = re.compile(r"[\[【]\s*(\d+(?:\s*[,，]\s*\d+)*)\s*[\]】]")
_MARKERS = r"(?:\s*[\[【]\s*\d+(?:\s*[,，]\s*\d+)*\s*[\]】])*"
_END = re.compile(r"(?:[.!?]+|[。！？；]+)[\"'”’」』)）]*" + _MARKERS)
_BULLET = re.compile(r"^\s*(?:[-*•·]|\d{1,2}[.)、]|[（(]\d{1,2}[)）])\s+")
_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_IS_HAN = re.compile(f"[{_HAN}]")
# words that end with a full stop but rarely end a sentence ("e.g." is seen as "e.g")
_ABBREVIATIONS = frozenset(
    "e.g i.e cf vs etc al approx ca fig figs mr mrs ms dr prof st mt jr sr inc ltd "
    "co corp dept est jan feb mar apr jun jul aug sep sept oct nov dec vol pp ed eds".split()
)

_STOPWORDS = frozenset(
    "a about above after again against all also am an and any are as at be because been "
    "before being below between both but by can could did do does doing down during each "
    "few for from further had has have having he her here hers herself him himself his how "
    "i if in into is it its itself just me more most my myself of off on once only or other "
    "our ours out over own same she should so some such than that the their theirs them "
    "then there these they this those through to too under until up very was we were what "
    "when where which while who whom why will with would you your yours yourself s t "
    "d ll m re ve may might must shall within upon via per".split()
)
_NEGATIONS = frozenset(
    "not no never none nor cannot neither t "
    "不 没 没有 未 无 非 别 勿 不是 不会 不能 不要 不用 不必 不需要 无需 无法 未能 从未 "
    "并未 并非 从不 绝不 尚未 未曾 不可 不予 不得".split()
)
_NUMBER_WORDS = {
    w: str(i) for i, w in enumerate(
        "zero _ two three four five six seven eight nine ten eleven twelve".split())
} | {w: str(10 * i) for i, w in enumerate(
    "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()) if w != "_"}
_ZH_DIGITS = {c: i for i, c in enumerate("零一二三四五六七八九")} | {"〇": 0, "两": 2}
_ZH_UNITS = {"十": 10, "百": 100, "千": 1000, "万": 10_000, "亿": 100_000_000}
_ZH_NUMBER = re.compile(
    "[零〇一二两三四五六七八九十百千万亿]+"
    "(?=[个颗次年月日天岁座间名位条种项台件张米公克吨元度倍层分秒周人只辆架艘本首章页级段])"
)
_DIGITS = re.compile(r"\d+(?:[.,]\d+)*")
# capitalised words past a sentence's first word, and acronyms: names, places, models
_NAME = re.compile(r"(?<=[^\s.!?。！？][\s(\"'])[A-Z][A-Za-z]+|\b[A-Z][A-Z0-9]+\b")
# bounds, not negations: "no more than 5" and 不超过5 state a limit, like "at most 5"
_BOUND = re.compile(r"\b(?:no|not) (?:more|less|fewer|later|earlier|longer) than\b|"
                    r"\bnot (?:exceed|exceeding|over|under)\b|"
                    "不(?:超过|超出|高于|低于|少于|多于|大于|小于|到|足)")
_FUNCTION_HAN = re.compile("[的了是在和与及或也都就而之其这那着过吗呢吧啊被把等]")

_NOT_FACTUAL = re.compile(
    r"\bi(?: do not| don['’]t| cannot| can['’]t| am not|['’]m not| could(?: not|n['’]t))\b|"
    r"\b(?:no|not enough) (?:relevant )?information\b|\bunable to (?:answer|find)\b|"
    r"\b(?:passages?|context|sources?|documents?)\b.*(?:\bnot|\bno|n['’]t)\s+(?:say|"
    r"mention|state|provide|contain|include|specify|cover|information|answer)|"
    r"^(?:hello|hi|hey|thanks|thank you|you['’]re welcome)\b|"
    r"^(?:sure|certainly|of course|great question)\W*$|"
    r"\b(?:hope this helps|let me know|feel free)\b|"
    r"无法(?:回答|确定|找到|判断|得知)|不知道|不清楚|不确定|"
    r"(?:没有|未)(?:相关)?(?:信息|资料|提到|提及|说明|涉及|包含)|"
    r"^(?:你好|您好|谢谢|感谢)|请问"
)


@dataclass(frozen=True)
class SentenceSupport:
    """The verdict on one sentence of an answer.

    ``passage`` is the passage that best supports the sentence (for a wrong citation, the
    uncited passage that does, when one does) and ``score`` its support, 0..1.
    ``supported`` means the sentence's own citations back it (uncited: some passage
    does); ``wrong_citation`` that it cites passages none of which backs it;
    ``unsupported`` that it cites nothing and no passage backs it. Non-factual sentences
    (greetings, questions, "I don't know") have ``factual=False`` and all three False.

    >>> verify_answer("Water boils at 100 °C [1].", [(1, "Water boils at 100 °C.")])[0].supported
    True
    """

    text: str
    markers: tuple[int, ...]
    passage: int | None
    score: float
    supported: bool
    factual: bool
    wrong_citation: bool
    unsupported: bool

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (``markers`` as a list).

        >>> SentenceSupport("Hi.", (), None, 0.0, False, False, False, False).to_dict()["text"]
        'Hi.'
        """
        out = asdict(self)
        out["markers"] = list(self.markers)
        return out

    def __repr__(self) -> str:
        short = self.text if len(self.text) <= 40 else self.text[:39] + "…"
        return (f"SentenceSupport({short!r}, markers={self.markers}, passage={self.passage}, "
                f"score={self.score:.2f}, supported={self.supported})")


@dataclass(frozen=True)
class _Features:
    words: frozenset[str]
    names: frozenset[str]
    grams: frozenset[str]
    chars: frozenset[str]
    numbers: frozenset[str]
    negated: bool


def split_sentences(text: str) -> list[str]:
    """The sentences of ``text``, with their ``[n]`` markers, in order.

    Splits at . ! ? (followed by a space, a Han character or the end) and at 。！？；;
    not at decimals ("3.5") or abbreviations ("e.g."). Markers right after the full stop
    stay with the sentence they follow. Each line is split on its own; list bullets
    ("- ", "1. ") are dropped.

    >>> split_sentences("It is 3.5 m tall [1]. See e.g. Rome.[2] 长城很长。[3]真的吗？")
    ['It is 3.5 m tall [1].', 'See e.g. Rome.[2]', '长城很长。[3]', '真的吗？']
    """
    out: list[str] = []
    for line in text.splitlines():
        line = _BULLET.sub("", line, count=1)
        start = 0
        for m in _END.finditer(line):
            if _is_boundary(line, m):
                _add_sentence(out, line[start:m.end()])
                start = m.end()
        _add_sentence(out, line[start:])
    return out


def _is_boundary(line: str, m: re.Match[str]) -> bool:
    if m.group()[0] in "。！？；" or _MARKER.search(m.group()):
        return True
    after = line[m.end():m.end() + 1]
    if after and not (after.isspace() or _IS_HAN.match(after)):
        return False
    if m.group()[0] != "." or m.group().startswith(".."):
        return True
    before = line[:m.start()].rsplit(None, 1)
    word = before[-1].lower().lstrip("([{\"'“‘") if before else ""
    following = line[m.end():].lstrip()[:1]
    if word in ("etc", "a.m", "p.m", "u.s"):  # end a sentence only if one starts after
        return not following or following.isupper()
    if word in ("no", "nos"):  # "No. 5" is a number, "the answer is no." an end
        return not following.isdigit()
    return word not in _ABBREVIATIONS and not (
        len(word) == 1 and before[-1][-1].isupper())  # an initial: "J. K. Rowling"


def _add_sentence(out: list[str], piece: str) -> None:
    piece = piece.strip()
    if not piece:
        return
    if out and not re.search(rf"[0-9A-Za-z{_HAN}]", _MARKER.sub("", piece)):
        out[-1] = f"{out[-1]} {piece}"  # a marker (or stray punctuation) on its own
    else:
        out.append(piece)


def _markers(sentence: str) -> tuple[int, ...]:
    seen: dict[int, None] = {}
    for m in _MARKER.finditer(sentence):
        for n in re.split(r"\s*[,，]\s*", m.group(1)):
            seen[int(n)] = None
    return tuple(seen)


def _is_factual(sentence: str) -> bool:
    """False for a sentence that states nothing checkable: a question, a greeting, a
    refusal, or one without a content word."""
    bare = _MARKER.sub("", unicodedata.normalize("NFKC", sentence)).strip().lower()
    if bare.rstrip("\"'”’」』)） ").endswith(("?", "？")) or _NOT_FACTUAL.search(bare):
        return False
    f = _features(sentence)
    return bool(f.words or f.grams or f.numbers)


@lru_cache(maxsize=65536)
def _stem(word: str) -> str:
    """Light suffix stripping: towers, tower → tow; named, names → nam; studies → study."""
    for suffixes in ((("ies", "y"), ("sses", "ss"), ("es", ""), ("s", "")),
                     (("ing", ""), ("ed", ""), ("er", ""), ("est", ""), ("ly", ""))):
        for suffix, repl in suffixes:
            if word.endswith(suffix) and len(word) - len(suffix) >= 3:
                if suffix != "s" or not word.endswith(("ss", "us", "is")):
                    word = word[: len(word) - len(suffix)] + repl
                break
    return word[:-1] if word.endswith("e") and len(word) > 3 else word


def _number(s: str) -> str:
    if re.fullmatch(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?", s):
        s = s.replace(",", "")
    if re.fullmatch(r"\d+\.\d+", s):
        s = s.rstrip("0").rstrip(".")
    if s.isdigit():
        s = s.lstrip("0") or "0"
    return s


def _zh_number(s: str) -> int:
    if not any(c in _ZH_UNITS for c in s):  # 一八八九 → 1889
        return int("".join(str(_ZH_DIGITS[c]) for c in s))
    total = section = digit = 0
    for c in s:
        if c in _ZH_DIGITS:
            digit = _ZH_DIGITS[c]
        elif _ZH_UNITS[c] >= 10_000:
            total += (section + digit) * _ZH_UNITS[c]
            section = digit = 0
        else:
            section += (digit or 1) * _ZH_UNITS[c]
            digit = 0
    return total + section + digit


def _numbers(text: str, words: list[str]) -> frozenset[str]:
    found = {_number(m.group()) for m in _DIGITS.finditer(text)}
    found |= {_NUMBER_WORDS[w] for w in words if w in _NUMBER_WORDS}
    found |= {str(_zh_number(m.group())) for m in _ZH_NUMBER.finditer(text)
              if m.group() != "一"}  # 一个, 一种: an article, not a count
    return frozenset(found)


@lru_cache(maxsize=4096)
def _features(text: str) -> _Features:
    text = _MARKER.sub(" ", unicodedata.normalize("NFKC", text))
    names = frozenset(_stem(m.group().lower()) for m in _NAME.finditer(text))
    text = text.lower()
    latin = [w for w in tokenize(re.sub(f"[{_HAN}]+", " ", text)) if not w.isdigit()]
    words = frozenset(_stem(w) for w in latin if len(w) > 1 and w not in _STOPWORDS
                      and w not in _NUMBER_WORDS and w not in _NEGATIONS)
    runs = re.findall(f"[{_HAN}]+", _FUNCTION_HAN.sub(" ", text))
    grams = frozenset(r[i:i + 2] for r in runs for i in range(max(len(r) - 1, 1)))
    negated = _negated(_BOUND.sub(" ", text))
    return _Features(words, names & words, grams, frozenset("".join(runs)),
                     _numbers(text, latin), negated)


def _negated(text: str) -> bool:
    # jieba tells 不 (not) from 不同 (different); it only sees the runs that may negate
    runs = " ".join(re.findall(f"[{_HAN}]*[不没未无非别勿][{_HAN}]*", text))
    words = re.findall(r"[0-9a-z]+", text) + (tokenize(runs) if runs else [])
    return any(w in _NEGATIONS for w in words)


@lru_cache(maxsize=256)
def _parts(passage: str) -> tuple[_Features, ...]:
    return tuple(_features(x) for x in split_sentences(passage))


def _coverage(s: _Features, p: _Features) -> float:
    total = (len(s.words) + (NAME_WEIGHT - 1) * len(s.names) + len(s.grams)
             + CHAR_WEIGHT * len(s.chars))
    if not total:
        return 1.0 if s.numbers else 0.0
    return (len(s.words & p.words) + (NAME_WEIGHT - 1) * len(s.names & p.words)
            + len(s.grams & p.grams) + CHAR_WEIGHT * len(s.chars & p.chars)) / total


def _score(s: _Features, passage: str, p: _Features) -> float:
    if not s.numbers <= p.numbers:
        return 0.0
    score = _coverage(s, p)
    if score and (s.negated or p.negated):
        # compare with the passage sentence the claim comes from, not the whole passage
        best = max(_parts(passage), key=lambda f: _coverage(s, f), default=p)
        if s.negated != best.negated:
            score *= NEGATION_FACTOR
    return round(score, 4)


def support_score(sentence: str, passage: str) -> float:
    """How well ``passage`` supports ``sentence``, 0..1 (``[n]`` markers are ignored).

    The share of the sentence's content words (names count double; Han: character bigrams
    and characters) found in the passage; 0 if the sentence has a number the passage
    lacks; halved if one of them is negated and the other is not.

    >>> support_score("The tower is 330 metres tall.", "The tower is 330 metres tall.")
    1.0
    >>> support_score("The tower is 300 metres tall.", "The tower is 330 metres tall.")
    0.0
    """
    return _score(_features(sentence), passage, _features(passage))


def verify_answer(text: str, passages: Sequence[tuple[int, str]], *,
                  threshold: float = DEFAULT_THRESHOLD) -> list[SentenceSupport]:
    """Judge every sentence of ``text`` against the numbered ``passages`` it cites.

    Args:
        text: the generated answer, with ``[n]`` markers.
        passages: ``(n, text)`` for each passage the prompt gave the model.
        threshold: the score from which a passage supports a sentence.

    Returns:
        One :class:`SentenceSupport` per sentence, in order.

    Raises:
        ValidationError: ``threshold`` is outside 0..1.

    >>> [s.wrong_citation for s in verify_answer("It is 5 m [2].", [(1, "5 m"), (2, "x")])]
    [True]
    """
    if not 0.0 <= threshold <= 1.0:
        raise ValidationError(
            f"verify_answer: threshold must be within 0..1, got {threshold!r}; "
            f"use DEFAULT_THRESHOLD ({DEFAULT_THRESHOLD}) unless you measured another.")
    given = [(n, p, _features(p)) for n, p in passages]
    return [_judge(s, given, threshold) for s in split_sentences(text)]


def _judge(sentence: str, given: list[tuple[int, str, _Features]],
           threshold: float) -> SentenceSupport:
    markers = _markers(sentence)
    if not _is_factual(sentence):
        return SentenceSupport(sentence, markers, None, 0.0, False, False, False, False)
    f = _features(sentence)
    scores = {n: _score(f, p, pf) for n, p, pf in given}
    cited = {n: scores.get(n, 0.0) for n in markers}
    pool = cited if markers else scores
    best = max(pool, key=lambda n: pool[n], default=None)
    supported = best is not None and pool[best] >= threshold
    if markers and not supported and scores:  # point at the passage that does back it
        other = max(scores, key=lambda n: scores[n])
        if scores[other] >= threshold:
            best = other
    score = (cited | scores)[best] if best is not None else 0.0
    return SentenceSupport(sentence, markers, best if best in scores else None, score,
                           supported, True, bool(markers) and not supported,
                           not markers and not supported)


def supported_share(support: Sequence[SentenceSupport]) -> float | None:
    """The share of factual sentences that are supported; None if none is factual.

    >>> supported_share(verify_answer("I don't know.", [(1, "text")])) is None
    True
    """
    factual = [s for s in support if s.factual]
    if not factual:
        return None
    return sum(s.supported for s in factual) / len(factual)
