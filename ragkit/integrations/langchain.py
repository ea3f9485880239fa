"""A real ``langchain_core`` retriever over a ragkit knowledge base.

>>> retriever = rag.as_langchain_retriever(k=3)  # doctest: +SKIP
>>> chain = retriever | (lambda docs: "\\n".join(d.page_content for d in docs))  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

try:
    from langchain_core.callbacks import CallbackManagerForRetrieverRun
    from langchain_core.documents import Document as LCDocument
    from langchain_core.retrievers import BaseRetriever
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    from ragkit.errors import ConfigError

    raise ConfigError("LangChain interop needs langchain-core: pip install 'ragkit[langchain]'") \
        from exc

from pydantic import ConfigDict

from ragkit._types import Hit


def to_langchain_document(hit: Hit) -> LCDocument:
    c = hit.chunk
    meta: dict[str, Any] = {"source": c.source, "chunk_id": c.id, "index": c.index,
                            "section": c.section, "score": hit.score, "kind": c.kind}
    if c.page is not None:
        meta["page"] = c.page
    if hit.flags:
        meta["injection_flags"] = list(hit.flags)
    return LCDocument(page_content=c.text, metadata=meta, id=c.id)


class RagkitRetriever(BaseRetriever):
    """``BaseRetriever`` returning ragkit's hits as LangChain ``Document`` objects, with
    ``source``, ``page``, ``section``, ``chunk_id`` and ``score`` in their metadata."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    rag: Any
    k: int | None = None
    mode: str | None = None
    #: ``{"source": "*.pdf"}`` or ``["filetype=pdf"]``, as :meth:`ragkit.RAG.retrieve` takes
    filters: Any = None

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[LCDocument]:
        hits = self.rag.retrieve(query, k=self.k, mode=self.mode, filters=self.filters)
        return [to_langchain_document(h) for h in hits]
