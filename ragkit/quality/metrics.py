"""Answer-quality metrics of extractive QA (SQuAD, XQuAD, CMRC2018, DRCD): pure functions.

English follows the official SQuAD script: lower-case, strip ASCII punctuation and the
articles a/an/the, collapse whitespace; F1 is over whitespace tokens. Chinese follows
CMRC2018/DRCD: NFKC, lower-case, drop punctuation and whitespace; F1 is over characters.
Scores are the maximum over the gold answers.

>>> exact_match("The Eiffel Tower.", ["eiffel tower"])
1.0
>>> round(f1("the cat sat", ["cat sat down"]), 4)
0.8
>>> round(f1("北京市", ["北京"]), 4)
0.8
"""

from __future__ import annotations

import math
import re
import string
import unicodedata
from collections import Counter
from collections.abc import Sequence

_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_ARTICLES = re.compile(r"\b(a|an|the)\b")
_ASCII_PUNCT = frozenset(string.punctuation)
#: citation markers such as [1] or [2, 3]: part of ragkit's answers, never of a gold answer
_MARKERS = re.compile(r"\[\d+(?:\s*[,，]\s*\d+)*\]")

#: phrases that mean "the passages do not answer this" (matched lower-cased, NFKC)
REFUSALS = (
    "i don't know", "i do not know", "i dont know", "don't know the answer",
    "cannot answer", "can't answer", "can not answer", "unable to answer",
    "not in the passages", "not in the context", "not mentioned", "no information",
    "does not mention", "doesn't mention", "do not mention", "not stated",
    "does not contain the answer", "do not contain the answer", "not provided in",
    "无法回答", "不能回答", "不知道", "没有提到", "未提及", "没有提及", "没有相关信息",
    "无法确定", "未提供",
)


def detect_lang(text: str) -> str:
    """``"zh"`` if ``text`` has a Han character, else ``"en"``.

    >>> detect_lang("长城有多长？"), detect_lang("How long is the Great Wall?")
    ('zh', 'en')
    """
    return "zh" if _HAN.search(text) else "en"


def strip_markers(text: str) -> str:
    """``text`` without citation markers.

    >>> strip_markers("Paris [1] is the capital [2, 3].")
    'Paris  is the capital .'
    """
    return _MARKERS.sub("", text)


def normalise(text: str, lang: str | None = None) -> str:
    """``text`` as compared: SQuAD normalisation for English, punctuation and whitespace
    removed for Chinese (``lang`` None: detected from ``text``).

    >>> normalise("The  Great Wall, of China!")
    'great wall of china'
    >>> normalise("长城，全长 21196 公里。")
    '长城全长21196公里'
    """
    lang = lang or detect_lang(text)
    if lang == "zh":
        text = unicodedata.normalize("NFKC", text).lower()
        return "".join(c for c in text if not c.isspace() and not _is_punct(c))
    text = "".join(c for c in text.lower() if c not in _ASCII_PUNCT)
    return " ".join(_ARTICLES.sub(" ", text).split())


def _is_punct(c: str) -> bool:
    return c in _ASCII_PUNCT or unicodedata.category(c).startswith("P")


def tokens(text: str, lang: str | None = None) -> list[str]:
    """The units F1 counts: words for English, characters for Chinese.

    >>> tokens("The cat sat."), tokens("北京市")
    (['cat', 'sat'], ['北', '京', '市'])
    """
    lang = lang or detect_lang(text)
    norm = normalise(text, lang)
    return list(norm) if lang == "zh" else norm.split()


def _lang(golds: Sequence[str], lang: str | None) -> str:
    return lang or detect_lang("".join(golds))


def exact_match(prediction: str, golds: Sequence[str], lang: str | None = None) -> float:
    """1.0 if the normalised prediction equals a normalised gold answer, else 0.0 (``lang``
    None: detected from the gold answers).

    >>> exact_match("1,200 km", ["1200 km"]), exact_match("天安门。", ["天安门"])
    (1.0, 1.0)
    """
    lang = _lang(golds, lang)
    pred = normalise(strip_markers(prediction), lang)
    return float(any(pred == normalise(g, lang) for g in golds))


def _f1_one(pred: list[str], gold: list[str]) -> float:
    if not pred or not gold:
        return float(pred == gold)
    common = sum((Counter(pred) & Counter(gold)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(pred), common / len(gold)
    return 2 * precision * recall / (precision + recall)


def f1(prediction: str, golds: Sequence[str], lang: str | None = None) -> float:
    """Token F1 (English words, Chinese characters), the best over ``golds``.

    >>> f1("Paris, France [1]", ["Paris"])
    0.6666666666666666
    >>> f1("", ["Paris"])
    0.0
    """
    lang = _lang(golds, lang)
    pred = tokens(strip_markers(prediction), lang)
    return max((_f1_one(pred, tokens(g, lang)) for g in golds), default=0.0)


def contains(passage: str, golds: Sequence[str], lang: str | None = None) -> bool:
    """Whether the normalised ``passage`` holds a normalised gold answer (English: on word
    boundaries, so "100" is not found in "1000").

    >>> contains("Built in 1889 by Gustave Eiffel.", ["Gustave Eiffel"])
    True
    >>> contains("It is 1000 m tall.", ["100"]), contains("建于1889年", ["1889年"])
    (False, True)
    """
    lang = _lang(golds, lang)
    text = normalise(passage, lang)
    for gold in golds:
        g = normalise(gold, lang)
        if g and (g in text if lang == "zh" else f" {g} " in f" {text} "):
            return True
    return False


def is_refusal(text: str) -> bool:
    """Whether an answer declines: empty (markers aside) or saying it does not know.

    >>> is_refusal(""), is_refusal("I don't know."), is_refusal("文中没有提到。")
    (True, True, True)
    >>> is_refusal("It opened in 1889 [1].")
    False
    """
    text = unicodedata.normalize("NFKC", strip_markers(text)).lower().replace("’", "'")
    if not text.strip():
        return True
    return any(phrase in text for phrase in REFUSALS)


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (0-100) with linear interpolation, as numpy's default;
    None for no values.

    >>> percentile([1, 2, 3, 4], 50), percentile([10, 20], 95), percentile([], 50)
    (2.5, 19.5, None)
    """
    if not values:
        return None
    if not 0 <= q <= 100:
        raise ValueError(f"percentile q={q!r} is outside 0-100")
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def mean(values: Sequence[float]) -> float | None:
    """The mean, None for no values.

    >>> mean([1.0, 0.0]), mean([])
    (0.5, None)
    """
    return sum(values) / len(values) if values else None
