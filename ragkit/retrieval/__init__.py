"""Retrieval: dense, BM25 and hybrid search, filters, MMR, reranking, evaluation."""

from ragkit.retrieval.retriever import MODES, Retriever

__all__ = ["MODES", "Retriever"]
