"""The terms of a question: :func:`ragkit._terms.tokenize` less the stopwords.

How texts become terms is :mod:`ragkit._terms` (shared with ingestion, which makes the
terms of each chunk); what is left out of *questions* is decided here.
"""

from __future__ import annotations

from ragkit._terms import tokenize

__all__ = ["STOPWORDS", "query_terms", "tokenize"]

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


def query_terms(text: str) -> list[str]:
    """The distinct terms of a question worth searching for, in order (no stopwords).

    >>> query_terms("What is the ZX-9000's error E42?")
    ['zx', '9000', 's', 'error', 'e42']
    """
    seen: dict[str, None] = {}
    for word in tokenize(text):
        if word not in STOPWORDS:
            seen.setdefault(word)
    return list(seen)
