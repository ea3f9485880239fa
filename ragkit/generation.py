"""Generation options: the sampling parameters of one answer.

Defaults come from :class:`~ragkit.settings.Settings`; any of them can be overridden per
call (``rag.ask(q, generation={"temperature": 0.7})``) or on the command line
(``ragkit ask --temperature 0.7``). The sampling top-k is ``sampling_top_k`` everywhere
(settings, options, ``--sampling-top-k``); the passage count is ``passages`` (setting) and
``k`` (per call, ``--k``). The old per-call name ``top_k`` still works, with a
DeprecationWarning. Backends receive :meth:`GenerationOptions.to_params`, where the
sampling top-k is ``top_k`` as llama.cpp and OpenAI-compatible servers name it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from ragkit._renamed import renamed
from ragkit.errors import ValidationError
from ragkit.settings import Settings


@dataclass(frozen=True)
class GenerationOptions:
    """Sampling parameters passed to the LLM port, as the OpenAI and llama.cpp APIs name them."""

    max_tokens: int = 256
    temperature: float = 0.0
    top_p: float = 0.95
    sampling_top_k: int = 40
    repeat_penalty: float = 1.1
    presence_penalty: float = 0.0
    frequency_penalty: float = 0.0
    seed: int = 0
    stop: tuple[str, ...] = field(default_factory=tuple)

    @classmethod
    def from_settings(
        cls, settings: Settings, overrides: Mapping[str, Any] | None = None
    ) -> GenerationOptions:
        """The settings' defaults with ``overrides`` applied (``None`` values are ignored).

        >>> GenerationOptions.from_settings(Settings(), {"temperature": 0.5}).temperature
        0.5
        """
        s = settings
        base = cls(s.max_tokens, s.temperature, s.top_p, s.sampling_top_k, s.repeat_penalty,
                   s.presence_penalty, s.frequency_penalty, s.seed, tuple(s.stop))
        return base.with_overrides(overrides or {})

    def with_overrides(self, overrides: Mapping[str, Any]) -> GenerationOptions:
        overrides = renamed_overrides(overrides)
        names = {f.name for f in fields(self)}
        unknown = sorted(set(overrides) - names)
        if unknown:
            raise ValidationError(
                f"Unknown generation option(s) {', '.join(unknown)}; "
                f"use {', '.join(sorted(names))}."
            )
        values = {k: v for k, v in overrides.items() if v is not None}
        if "stop" in values:
            stop = values["stop"]
            values["stop"] = (stop,) if isinstance(stop, str) else tuple(stop)
        out = replace(self, **values)
        out._check()
        return out

    def _check(self) -> None:
        problems = []
        if not (isinstance(self.max_tokens, int) and self.max_tokens >= 1):
            problems.append(f"max_tokens must be a positive integer, got {self.max_tokens!r}")
        for name, lo, hi in (("temperature", 0.0, 2.0), ("top_p", 1e-9, 1.0),
                             ("presence_penalty", -2.0, 2.0), ("frequency_penalty", -2.0, 2.0),
                             ("repeat_penalty", 0.0, 10.0)):
            v = getattr(self, name)
            if not isinstance(v, int | float) or math.isnan(v) or not lo <= v <= hi:
                problems.append(f"{name} must be within [{lo:g}, {hi:g}], got {v!r}")
        if not (isinstance(self.sampling_top_k, int) and self.sampling_top_k >= 0):
            problems.append(f"sampling_top_k must be an integer >= 0, got "
                            f"{self.sampling_top_k!r}")
        if not isinstance(self.seed, int):
            problems.append(f"seed must be an integer, got {self.seed!r}")
        if problems:
            raise ValidationError("; ".join(problems))

    def to_dict(self) -> dict[str, Any]:
        """The options by their own names (``sampling_top_k``)."""
        d = asdict(self)
        d["stop"] = list(self.stop)
        return d

    def to_params(self) -> dict[str, Any]:
        """The LLM port's parameters: the sampling top-k is ``top_k`` there, as llama.cpp
        and OpenAI-compatible servers name it."""
        d = self.to_dict()
        d["top_k"] = d.pop("sampling_top_k")
        return d


#: old option names -> new ones; the old names keep working with a DeprecationWarning
RENAMED = {"top_k": "sampling_top_k"}


def renamed_overrides(overrides: Mapping[str, Any]) -> dict[str, Any]:
    """``overrides`` with deprecated names replaced (warning once per call).

    >>> import warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     renamed_overrides({"top_k": 5})
    {'sampling_top_k': 5}
    """
    return renamed(overrides, RENAMED, "generation option",
                   " (top_k alone read like the passage count)")
