"""One typed request-options object for every way of asking: ``ask``, ``stream``, ``chat``,
``chat_stream``, the CLI and the HTTP server.

>>> AskOptions(k=3, mode="bm25", generation={"temperature": 0.2}).k
3
>>> AskOptions.of(None, {"mode": "dense"}).mode
'dense'

Every field's default (``None``) means "the knowledge base's setting". Options are
validated once, here, when they are made; the answer pipeline trusts them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypedDict

from ragkit.errors import ValidationError
from ragkit.generation import GenerationOptions, renamed_overrides
from ragkit.reasoning import MODES as REASONING
from ragkit.retrieval.filters import parse_filters
from ragkit.retrieval.retriever import check_mode
from ragkit.tools import ToolResult


@dataclass(frozen=True)
class AskOptions:
    """Retrieval, prompt and generation options of one request.

    Retrieval: ``k`` passages (default: setting ``passages``), ``mode`` ('dense', 'bm25',
    'hybrid'), ``filters`` (``{"source": "*.pdf"}`` or ``["filetype=pdf"]``), ``mmr``.
    Prompt: ``tool_results`` the caller already has (``ToolResult`` or ``{"name",
    "output"}``), ``use_tools`` / ``few_shot`` (turn the tool step / examples off or on),
    ``chat_template`` (a LangChain ``ChatPromptTemplate`` for this call).
    Generation: ``generation``, overrides of :class:`~ragkit.generation.GenerationOptions`
    fields (``{"temperature": 0.7, "sampling_top_k": 20}``); ``best_of`` candidates,
    ``reasoning`` ('none', 'cot', 'least_to_most') and ``use_cache`` (False: neither read
    nor write the response cache; True: the ``cache`` setting's mode, 'exact' when it is
    off) override the settings.
    """

    k: int | None = None
    mode: str | None = None
    filters: Iterable[str] | Mapping[str, str] | None = None
    mmr: bool | None = None
    tool_results: Sequence[ToolResult | Mapping[str, Any]] = ()
    use_tools: bool | None = None
    few_shot: bool | None = None
    chat_template: Any = None
    generation: Mapping[str, Any] = field(default_factory=dict)
    best_of: int | None = None
    reasoning: str | None = None
    use_cache: bool | None = None

    def __post_init__(self) -> None:
        if self.k is not None and (not isinstance(self.k, int) or isinstance(self.k, bool)
                                   or self.k < 1):
            raise ValidationError(f"k (passages) must be an integer >= 1, got {self.k!r}")
        if self.mode is not None:
            check_mode(self.mode)
        if self.filters is not None:
            parse_filters(self.filters)  # raises on a malformed filter
        object.__setattr__(self, "tool_results",
                           tuple(ToolResult.coerce(r) for r in self.tool_results or ()))
        if self.best_of is not None and (not isinstance(self.best_of, int)
                                         or not 1 <= self.best_of <= 8):
            raise ValidationError(f"best_of must be an integer in [1, 8], got {self.best_of!r}")
        if self.reasoning is not None and self.reasoning not in REASONING:
            raise ValidationError(f"reasoning {self.reasoning!r}: use one of "
                                  f"{', '.join(REASONING)}")
        generation = renamed_overrides(self.generation or {})
        GenerationOptions().with_overrides(generation)  # unknown names and ranges, now
        object.__setattr__(self, "generation", generation)

    @classmethod
    def of(cls, options: AskOptions | None, overrides: Mapping[str, Any]) -> AskOptions:
        """``options`` (or the defaults) with keyword ``overrides`` applied; unknown keywords
        raise TypeError, as an unknown argument would."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(overrides) - names)
        if unknown:
            raise TypeError(f"Unknown option(s): {', '.join(unknown)}; "
                            f"use {', '.join(sorted(names))}.")
        base = options if options is not None else cls()
        return dataclasses.replace(base, **overrides) if overrides else base

    def generation_options(self, settings: Any) -> GenerationOptions:
        """The sampling options of this request: the settings' defaults, overridden."""
        return GenerationOptions.from_settings(settings, self.generation)


class AskKwargs(TypedDict, total=False):
    """The fields of :class:`AskOptions` as keyword arguments (for type checkers)."""

    k: int | None
    mode: str | None
    filters: Iterable[str] | Mapping[str, str] | None
    mmr: bool | None
    tool_results: Sequence[ToolResult | Mapping[str, Any]]
    use_tools: bool | None
    few_shot: bool | None
    chat_template: Any
    generation: Mapping[str, Any]
    best_of: int | None
    reasoning: str | None
    use_cache: bool | None
