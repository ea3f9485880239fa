"""Terms for the keyword index, from English, Chinese and mixed text.

Text is NFKC-normalised (full-width letters and digits become ASCII) and lower-cased; runs
of letters and digits are words; runs of Han characters are segmented by jieba in its
search mode, which yields the words and also the shorter words inside long ones (中华人民
共和国 → 中华, 华人, 人民, 共和, 共和国, 中华人民共和国), so a query can match either.
jieba's dictionary ships inside its package: nothing is downloaded.

A leaf module (it imports nothing of ragkit): ingestion makes the terms of each chunk,
retrieval the terms of each question, and :mod:`ragkit.storage` stores the terms it is
given without knowing how they were made.
"""

from __future__ import annotations

import logging
import re
import threading
import unicodedata
from typing import Any

#: bump when :func:`tokenize` changes what a text turns into: stored terms are then rebuilt
#: (``Manifest.sync_keyword``)
TOKENIZER_VERSION = "1"

_WORDS = re.compile(r"[0-9a-z]+|[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_lock = threading.Lock()
_jieba: Any = None


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


def terms_of(text: str) -> str:
    """What the keyword record stores for a chunk's text: its terms, space-joined.

    >>> terms_of("Error E42 on the ZX-9000")
    'error e42 on the zx 9000'
    """
    return " ".join(tokenize(text))
