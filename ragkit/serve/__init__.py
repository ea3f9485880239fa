"""``ragkit serve``: an OpenAI-compatible HTTP API over :class:`ragkit.RAG` (FastAPI).

>>> from ragkit import RAG
>>> from ragkit.serve import ServeConfig, create_app
>>> app = create_app(RAG("kb"), ServeConfig(api_key="a-long-random-key-0123"))  # doctest: +SKIP

Modules: ``app`` (the factory and the small endpoints), ``completions`` (chat, streamed or
not), ``answering`` (messages to question, history and options), ``documents`` (upload,
list, delete), ``auth`` (size, rate, key), ``limits`` (rate limiter, generation queue),
``metrics`` (Prometheus text), ``schemas``, ``errors``. docs/serve.md describes the API.
Needs the ``serve`` extra: ``pip install 'ragkit[serve]'``.
"""

from ragkit.serve.app import ServeConfig, create_app, openapi_document

__all__ = ["ServeConfig", "create_app", "openapi_document"]
