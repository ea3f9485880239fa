"""Words for the keyword index, from English, Chinese and mixed text.

Text is NFKC-normalised (full-width letters and digits become ASCII) and lower-cased; runs
of letters and digits are words; runs of Han characters are segmented by jieba in its
search mode, which yields the words and also the shorter words inside long ones (中华人民
共和国 → 中华, 华人, 人民, 共和, 共和国, 中华人民共和国), so a query can match either.
jieba's dictionary ships inside its package: nothing is downloaded.
"""

from __future__ import annotations

import logging
import re
import threading
import unicodedata
from typing import Any

_WORDS = re.compile(r"[0-9a-z]+|[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_lock = threading.Lock()
_jieba: Any = None

#: left out of queries (not of the index): they match nearly every passage and only slow
#: the search down; BM25 would weigh them near zero anyway
STOPWORDS = frozenset(
    "a about above after again all also am an and any are as at be because been before being "
    "between both but by can could did do does doing down during each few for from further "
    "had has have having he her here hers him his how i if in into is it its itself just me "
    "more most my no nor not now of off on once only or other our out over own same she "
    "should so some such than that the their them then there these they this those through "
    "to too under until up very was we were what when where which while who whom why will "
    "with would you your "
    "的 了 是 在 和 与 及 或 也 都 就 而 之 其 这 那 这个 那个 一个 "
    "什么 哪些 哪个 怎么 如何 为什么 吗 呢 吧 啊 "
    "我 你 他 她 它 我们 你们 他们 有 没有 被 把 对 从 到 为 以 于 上 中 下".split()
)


def _segmenter() -> Any:
    global _jieba
    with _lock:
        if _jieba is None:
            import jieba

            logging.getLogger("jieba").setLevel(logging.WARNING)
            jieba.setLogLevel(logging.WARNING)
            jieba.initialize()
            _jieba = jieba
    return _jieba


def tokenize(text: str) -> list[str]:
    """The index terms of ``text``, in order.

    >>> tokenize("The X-42 pump, 长城的历史")
    ['the', 'x', '42', 'pump', '长城', '的', '历史']
    """
    out: list[str] = []
    for m in _WORDS.finditer(unicodedata.normalize("NFKC", text).lower()):
        word = m.group()
        if word[0] < "\u3400":
            out.append(word)
        else:
            out.extend(w for w in _segmenter().cut_for_search(word) if w.strip())
    return out


def query_terms(text: str) -> list[str]:
    """The distinct terms of a question worth searching for, in order (no stopwords)."""
    seen: dict[str, None] = {}
    for word in tokenize(text):
        if word not in STOPWORDS:
            seen.setdefault(word)
    return list(seen)
