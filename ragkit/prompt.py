"""Build the prompt: system template, numbered passages and question, within the budget.

Templates are Jinja2 files in ``ragkit/templates``. The messages are: system (rules),
user (the numbered context), assistant (an acknowledgement), user (the question). Giving
the question a turn of its own measured best with the bundled 135M model, which otherwise
tends to copy the context or the rules back (docs/architecture.md). The budget is the
model's context window minus ``max_tokens`` (room for the answer), counted with the LLM's
own tokenizer. Passages are added best-ranked first; one that does not fit is dropped with
every lower ranked one, and :attr:`Prompt.dropped` says so.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import jinja2

from ragkit._types import Hit

_TEMPLATES = Path(__file__).parent / "templates"
#: tokens kept free for the chat template's role markers
_CHAT_OVERHEAD = 32


@cache
def _env() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(_TEMPLATES),
        autoescape=False,  # plain text for a model, not HTML
        keep_trailing_newline=False,
        undefined=jinja2.StrictUndefined,
    )


@dataclass(frozen=True)
class Passage:
    n: int
    hit: Hit

    @property
    def label(self) -> str:
        c = self.hit.chunk
        parts = [Path(c.source).name]
        if c.page is not None:
            parts.append(f"page {c.page}")
        if c.section:
            parts.append(f"section: {c.section}")
        return ", ".join(parts)

    @property
    def text(self) -> str:
        return self.hit.chunk.text


@dataclass
class Prompt:
    messages: list[dict[str, str]]
    passages: list[Passage]
    tokens: int
    dropped: list[str] = field(default_factory=list)


def render(name: str, **values: object) -> str:
    return _env().get_template(name).render(**values).strip()


def build_prompt(
    question: str, hits: list[Hit], *, count: Callable[[str], int], budget: int
) -> Prompt:
    """Return the chat messages for ``question`` with as many passages as ``budget`` allows."""
    system = render("system.j2")
    ack = render("acknowledge.j2")
    used = count(system) + count(ack) + count(question) + count(render("context.j2", passages=[]))
    used += _CHAT_OVERHEAD
    passages: list[Passage] = []
    dropped: list[str] = []
    for hit in hits:
        candidate = Passage(len(passages) + 1, hit)
        cost = count(f"[{candidate.n}] {candidate.text}\n")
        if dropped or used + cost > budget:
            dropped.append(f"{hit.chunk.source}#{hit.chunk.index}: over the token budget")
            continue
        passages.append(candidate)
        used += cost
    context = render("context.j2", passages=passages)
    messages = [
        {"role": "system", "content": system},
        {"role": "user", "content": context},
        {"role": "assistant", "content": ack},
        {"role": "user", "content": question},
    ]
    tokens = sum(count(m["content"]) for m in messages)
    return Prompt(messages, passages, tokens, dropped)
