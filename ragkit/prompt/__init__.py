"""The prompt construction layer: templates, few-shot examples, tool results, passages and
chat history, assembled within the model's token budget (see :mod:`ragkit.prompt.build`)."""

from ragkit.prompt.build import (
    MIN_TRUNCATED,
    Passage,
    Prompt,
    Turn,
    build_prompt,
    truncate_to_tokens,
)
from ragkit.prompt.fewshot import Example, ExampleSelector, load_examples
from ragkit.prompt.templates import TEMPLATES, Templates

__all__ = [
    "MIN_TRUNCATED",
    "TEMPLATES",
    "Example",
    "ExampleSelector",
    "Passage",
    "Prompt",
    "Templates",
    "Turn",
    "build_prompt",
    "load_examples",
    "truncate_to_tokens",
]
