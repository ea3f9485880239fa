"""What the SQLite and the PostgreSQL manifest do alike, over their keyword-record modules
(:mod:`ragkit.storage.keyword_record`, :mod:`ragkit.storage.pg.record`: the same functions,
each with its own SQL, taking the connection first)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from types import ModuleType
from typing import Any

from ragkit._types import Chunk


class Counted(Iterator[Any]):
    """An iterable that counts what is read from it (``count``), read once."""

    def __init__(self, items: Iterable[Any]) -> None:
        self._it, self.count = iter(items), 0

    def __next__(self) -> Any:
        item = next(self._it)
        self.count += 1
        return item


def sync_record(kw: ModuleType, db: Any, claimed: set[str],
                fetch: Callable[[list[str]], list[Chunk]], terms: Callable[[str], str],
                tokenizer: str) -> int:
    """Inside the caller's transaction: make the record hold exactly the ``claimed`` chunks,
    with terms made by ``tokenizer``; return the number added, removed or re-tokenized (see
    :meth:`ragkit.storage.Manifest.sync_keyword`)."""
    have = kw.chunk_ids(db)
    extra = sorted(have - claimed)
    kw.remove(db, extra)
    missing = sorted(claimed - have)
    fixed = len(extra) + kw.retokenize(db, terms, tokenizer)
    for start in range(0, len(missing), 1000):
        chunks = fetch(missing[start:start + 1000])
        kw.put(db, [(c, terms(c.text)) for c in chunks])
        fixed += len(chunks)
    if fixed:
        kw.touch(db)
    return int(fixed)


def paged_texts(kw: ModuleType, db: Any, lock: threading.RLock | threading.Lock,
                page: int = 2000) -> Iterator[str]:
    """The text of every chunk in the record, read ``page`` at a time under ``lock``."""
    after = 0
    while True:
        with lock:
            rows = kw.texts(db, after, page)
        if not rows:
            return
        after = rows[-1][0]
        yield from (text for _, text in rows)
