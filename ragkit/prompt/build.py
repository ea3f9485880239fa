"""Assemble the prompt: templates, few-shot examples, chat history, tool results and numbered
passages, within the token budget, counted with the LLM's own tokenizer.

Messages, in order (the first ones do not change between questions, so llama.cpp reuses
their evaluation; see :class:`ragkit.backends.llama_cpp.LlamaCppLLM`):

1. system: ``system.j2`` (rules), with the few-shot block (``fewshot.j2``) when
   ``few_shot_mode`` is ``'system'``;
2. few-shot examples as user/assistant turns when ``few_shot_mode`` is ``'turns'``;
3. earlier chat turns (question, answer);
4. user: ``passages.j2``, the numbered passages and the tool results (``tools.j2``);
5. assistant: ``acknowledge.j2``;
6. user: the question.

Giving the question a turn of its own measured best with the bundled 135M model, which
otherwise tends to copy the context or the rules back (docs/architecture.md).

Budget = the model's context window minus ``max_tokens``. The rules, in order:

* the fixed parts (rules, question, template text, role markers) are never cut; if they
  alone exceed the budget, the question is refused with a ValidationError;
* each tool result is cut to ``tool_result_tokens``; results that still do not fit are
  dropped, last first;
* chat history keeps the newest turns, at most ``history_turns`` of them and at most
  ``history_share`` of the budget;
* few-shot examples are kept in their order (most similar first when ``few_shot_k`` is
  set), at most ``few_shot_share`` of the budget;
* passages take the rest, best-ranked first; the first that does not fit is truncated if
  at least ``MIN_TRUNCATED`` tokens remain, else dropped, and every lower-ranked one is
  dropped.

Every cut is listed in :attr:`Prompt.dropped` with its reason.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ragkit._types import Hit
from ragkit.errors import ValidationError
from ragkit.prompt.fewshot import Example
from ragkit.prompt.templates import Templates
from ragkit.safety import neutralise
from ragkit.tools import ToolResult

#: tokens a message costs beyond its content (role markers), when the LLM cannot count
#: whole prompts itself; llama.cpp can, and then the total is exact
PER_MESSAGE = 6
#: smallest part of a passage worth keeping when it has to be truncated
MIN_TRUNCATED = 48


@dataclass(frozen=True)
class Passage:
    n: int
    hit: Hit
    text: str
    truncated: bool = False

    @property
    def label(self) -> str:
        c = self.hit.chunk
        parts = [Path(c.source).name]
        if c.page is not None:
            parts.append(f"page {c.page}")
        if c.section:
            parts.append(f"section: {c.section}")
        return ", ".join(parts)


@dataclass(frozen=True)
class Turn:
    """One earlier exchange of a chat."""

    question: str
    answer: str


@dataclass
class Prompt:
    """The messages sent to the model and how the budget was spent.

    ``sections``: tokens per part (system, few_shot, history, tool_results, passages,
    question, overhead); ``dropped``: what was cut and why.
    """

    messages: list[dict[str, str]]
    passages: list[Passage]
    tokens: int
    budget: int = 0
    sections: dict[str, int] = field(default_factory=dict)
    dropped: list[str] = field(default_factory=list)
    tool_results: list[ToolResult] = field(default_factory=list)
    examples: list[Example] = field(default_factory=list)

    @property
    def hash(self) -> str:
        """SHA-256 of the messages (the ask log keys prompts by it)."""
        raw = json.dumps(self.messages, ensure_ascii=False, sort_keys=True)
        return hashlib.sha256(raw.encode("utf-8")).hexdigest()

    def to_dict(self) -> dict[str, Any]:
        return {"messages": self.messages, "tokens": self.tokens, "budget": self.budget,
                "sections": self.sections, "dropped": self.dropped, "hash": self.hash}

    def render(self) -> str:
        """A plain-text view for ``ragkit ask --show-prompt``."""
        lines = [f"prompt: {self.tokens} tokens of a {self.budget}-token budget; "
                 + ", ".join(f"{k} {v}" for k, v in self.sections.items())]
        for m in self.messages:
            lines.append(f"--- {m['role']} ---")
            lines.append(m["content"])
        lines.append("--- end of prompt ---")
        lines.extend(f"dropped: {d}" for d in self.dropped)
        return "\n".join(lines)


def truncate_to_tokens(text: str, limit: int, count: Callable[[str], int]) -> str:
    """The longest prefix of ``text`` (cut at a character) that takes at most ``limit``
    tokens, with an ellipsis; binary search, so about log2(len) calls to ``count``."""
    if count(text) <= limit:
        return text
    lo, hi = 0, len(text)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if count(text[:mid] + "…") <= limit:
            lo = mid
        else:
            hi = mid - 1
    return text[:lo].rstrip() + "…" if lo else ""


class _Budget:
    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.left = budget

    def take(self, cost: int, cap: float | None = None, spent: int = 0) -> bool:
        if cost > self.left or (cap is not None and spent + cost > cap):
            return False
        self.left -= cost
        return True


def build_prompt(
    question: str,
    hits: Sequence[Hit],
    *,
    count: Callable[[str], int],
    budget: int,
    templates: Templates | None = None,
    examples: Sequence[Example] = (),
    few_shot_mode: str = "system",
    few_shot_share: float = 0.25,
    history: Sequence[Turn] = (),
    history_turns: int = 4,
    history_share: float = 0.25,
    tool_results: Sequence[ToolResult] = (),
    tool_result_tokens: int = 256,
    count_messages: Callable[[list[dict[str, str]]], int] | None = None,
    chat_template: Any = None,
    instruction: str = "",
) -> Prompt:
    """Return the messages for ``question`` within ``budget`` tokens; see the module doc.

    ``chat_template``: a LangChain ``ChatPromptTemplate`` to use instead of the Jinja2
    message layout; it may use the variables ``system``, ``examples``, ``history``,
    ``context`` and ``question``. ``instruction``: trusted text put after the question in
    its turn (a reasoning template's request), never cut.
    """
    asked = neutralise(question) + (f"\n\n{instruction}" if instruction else "")
    layout = _Layout(templates or Templates(), asked, few_shot_mode,
                     chat_template, count, count_messages)
    dropped: list[str] = []
    results = _cut_tool_results(tool_results, tool_result_tokens, count, dropped)
    fixed = layout.fixed_cost(results, budget, dropped)
    b = _Budget(budget - fixed)
    turns = _fit_history(history, history_turns, history_share * budget, b, count, dropped)
    shots = _fit_examples(examples, few_shot_mode, few_shot_share * budget, b, count, dropped)
    passages = _fit_passages(hits, b, count, dropped)
    messages = layout.assemble(passages, shots, turns, results)
    total = layout.measure(messages)
    while total > budget and passages:  # the per-item estimate was short: cut more
        last = passages.pop()
        dropped.append(f"passage {last.hit.chunk.source}#{last.hit.chunk.index} "
                       f"(rank {last.n}): over the token budget (exact count)")
        messages = layout.assemble(passages, shots, turns, results)
        total = layout.measure(messages)
    sections = layout.sections(shots, turns, results, passages, total)
    return Prompt(messages, passages, total, budget, sections, dropped, results, shots)


class _Layout:
    """How the parts become messages, and what the messages cost."""

    def __init__(self, templates: Templates, question: str, few_shot_mode: str,
                 chat_template: Any, count: Callable[[str], int],
                 count_messages: Callable[[list[dict[str, str]]], int] | None) -> None:
        self.t, self.question, self.mode = templates, question, few_shot_mode
        self.chat_template, self.count, self.count_messages = chat_template, count, \
            count_messages

    def measure(self, messages: list[dict[str, str]]) -> int:
        if self.count_messages is not None:
            return self.count_messages(messages)
        return sum(self.count(m["content"]) + PER_MESSAGE for m in messages) + PER_MESSAGE

    def assemble(self, passages: list[Passage], shots: list[Example], turns: list[Turn],
                 tools: list[ToolResult]) -> list[dict[str, str]]:
        t = self.t
        block = t.render("fewshot.j2", examples=shots) if shots and self.mode == "system" \
            else ""
        system = t.render("system.j2", few_shot=block)
        tools_block = t.render("tools.j2", results=tools) if tools else ""
        context = t.render("passages.j2", passages=passages, tool_results=tools_block)
        if self.chat_template is not None:
            return _langchain_messages(self.chat_template, system=system, examples=block,
                                       history=turns, context=context, question=self.question)
        messages = [{"role": "system", "content": system}]
        if self.mode == "turns":
            for e in shots:
                q = f"Context: {e.context}\n\n{e.question}" if e.context else e.question
                messages += [{"role": "user", "content": q},
                             {"role": "assistant", "content": e.answer}]
        for turn in turns:
            messages += [{"role": "user", "content": neutralise(turn.question)},
                         {"role": "assistant", "content": neutralise(turn.answer)}]
        messages += [{"role": "user", "content": context},
                     {"role": "assistant", "content": t.render("acknowledge.j2")},
                     {"role": "user", "content": self.question}]
        return messages

    def fixed_cost(self, results: list[ToolResult], budget: int, dropped: list[str]) -> int:
        """Tokens of the parts never cut; tool results that do not fit go, last first."""
        fixed = self.measure(self.assemble([], [], [], results))
        while fixed > budget and results:
            gone = results.pop()
            dropped.append(f"tool result {gone.name}: over the token budget")
            fixed = self.measure(self.assemble([], [], [], results))
        if fixed > budget:
            raise ValidationError(
                f"The question and the prompt's fixed parts take {fixed} tokens, more than "
                f"the {budget}-token budget (n_ctx minus max_tokens); shorten the question "
                "or raise n_ctx."
            )
        return fixed

    def sections(self, shots: list[Example], turns: list[Turn], results: list[ToolResult],
                 passages: list[Passage], total: int) -> dict[str, int]:
        """Tokens per part of the prompt; ``overhead`` is the rest (markers, templates)."""
        t, count = self.t, self.count
        system_alone = count(t.render("system.j2", few_shot=""))
        if self.mode == "system":  # the whole block, its headings included
            shots_cost = (count(t.render("system.j2", few_shot=t.render(
                "fewshot.j2", examples=shots))) - system_alone) if shots else 0
        else:
            shots_cost = sum(count(e.question) + count(e.answer) + count(e.context)
                             for e in shots)
        sections = {
            "system": system_alone,
            "few_shot": shots_cost,
            "history": sum(count(x.question) + count(x.answer) for x in turns),
            "tool_results": sum(count(r.output) + count(r.error or "") for r in results),
            "passages": sum(count(p.text) for p in passages),
            "question": count(self.question),
        }
        sections["overhead"] = max(0, total - sum(sections.values()))
        return sections


def _cut_tool_results(tool_results: Sequence[ToolResult], limit: int,
                      count: Callable[[str], int], dropped: list[str]) -> list[ToolResult]:
    """Tool results neutralised, each cut to ``limit`` tokens."""
    results: list[ToolResult] = []
    for r in tool_results:
        text = neutralise(r.output)
        cut = truncate_to_tokens(text, limit, count)
        if cut != text:
            dropped.append(f"tool result {r.name}: truncated to {limit} tokens")
        results.append(ToolResult(r.name, r.arguments, cut, r.error, r.flags))
    return results


def _fit_history(history: Sequence[Turn], turns: int, cap: float, b: _Budget,
                 count: Callable[[str], int], dropped: list[str]) -> list[Turn]:
    """The newest turns, at most ``turns`` of them and ``cap`` tokens."""
    kept: list[Turn] = []
    spent = 0
    recent = list(history)[-turns:] if turns else []
    if len(history) > len(recent):
        dropped.append(f"history: {len(history) - len(recent)} older turn(s) beyond "
                       f"history_turns ({turns})")
    for age, turn in enumerate(reversed(recent)):
        cost = count(turn.question) + count(turn.answer) + 2 * PER_MESSAGE
        if not b.take(cost, cap, spent):
            dropped.extend(f"history: turn {len(recent) - a} of {len(recent)} "
                           "(oldest first) over the history share of the budget"
                           for a in range(age, len(recent)))
            break
        spent += cost
        kept.insert(0, turn)
    return kept


def _fit_examples(examples: Sequence[Example], mode: str, cap: float, b: _Budget,
                  count: Callable[[str], int], dropped: list[str]) -> list[Example]:
    """The examples in order, at most ``cap`` tokens."""
    kept: list[Example] = []
    spent = 0
    for i, e in enumerate(examples):
        cost = count(f"Question: {e.question}\nContext: {e.context}\nAnswer: {e.answer}\n")
        cost += 2 * PER_MESSAGE if mode == "turns" else 0
        if not b.take(cost, cap, spent):
            dropped.extend(f"few-shot example {j + 1}: over the few-shot share of the budget"
                           for j in range(i, len(examples)))
            break
        spent += cost
        kept.append(e)
    return kept


def _fit_passages(hits: Sequence[Hit], b: _Budget, count: Callable[[str], int],
                  dropped: list[str]) -> list[Passage]:
    """Passages best first in what is left; the first that does not fit is truncated (if
    ``MIN_TRUNCATED`` tokens remain) and every lower-ranked one dropped."""
    passages: list[Passage] = []
    for rank, hit in enumerate(hits):
        n = len(passages) + 1
        text = neutralise(hit.chunk.text)
        where = f"{hit.chunk.source}#{hit.chunk.index}"
        if len(passages) < rank:  # an earlier one was dropped: so is every lower-ranked one
            dropped.append(f"passage {where} (rank {rank + 1}): over the token budget")
            continue
        if b.take(count(f"[{n}] {text}\n")):
            passages.append(Passage(n, hit, text))
            continue
        room = b.left - count(f"[{n}] \n")
        if room >= MIN_TRUNCATED:
            cut = truncate_to_tokens(text, room, count)
            b.take(count(f"[{n}] {cut}\n"))
            passages.append(Passage(n, hit, cut, truncated=True))
            dropped.append(f"passage {where} (rank {rank + 1}): truncated to {room} tokens")
        else:
            dropped.append(f"passage {where} (rank {rank + 1}): over the token budget")
    return passages


def _langchain_messages(template: Any, **values: Any) -> list[dict[str, str]]:
    """Format a LangChain ``ChatPromptTemplate`` with the variables it declares."""
    history = values["history"]
    values["history"] = "\n".join(f"User: {h.question}\nAssistant: {h.answer}" for h in history)
    wanted = list(getattr(template, "input_variables", []))
    missing = [v for v in wanted if v not in values]
    if missing:
        raise ValidationError(
            f"The ChatPromptTemplate needs {', '.join(missing)}; ragkit provides "
            f"{', '.join(values)}."
        )
    roles = {"system": "system", "human": "user", "ai": "assistant"}
    out = []
    for m in template.format_messages(**{k: values[k] for k in wanted}):
        role = roles.get(m.type)
        if role is None:
            raise ValidationError(f"The ChatPromptTemplate has a {m.type!r} message; use "
                                  "system, human or ai messages.")
        out.append({"role": role, "content": str(m.content)})
    return out
