"""The answer pipeline's steps, each a function of plain data (see :mod:`ragkit.answer`):
flag → (tools, prompt) → generate → cite → verify → choose (best-of-n)."""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from ragkit._types import Answer, Hit
from ragkit.citations import resolve_citations
from ragkit.ports import LLM
from ragkit.prompt import Example, ExampleSelector, Prompt
from ragkit.reasoning import split_reasoning
from ragkit.safety import injection_flags
from ragkit.tools import ToolResult
from ragkit.verify import SentenceSupport, supported_share, verify_answer


def ms_since(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 1)


def flag(hits: Sequence[Hit]) -> list[Hit]:
    """``hits`` with the prompt-injection patterns their text matches on ``Hit.flags``."""
    return [dataclasses.replace(h, flags=injection_flags(h.chunk.text)) for h in hits]


def apply_policy(hits: list[Hit], policy: str) -> tuple[list[Hit], list[Hit]]:
    """(hits for the prompt, hits held back) under ``injection_policy``: 'flag' keeps
    every hit; 'drop' and 'quarantine' hold back the flagged ones."""
    if policy == "flag":
        return hits, []
    return [h for h in hits if not h.flags], [h for h in hits if h.flags]


def tool_policy(results: list[ToolResult], policy: str
                ) -> tuple[list[ToolResult], list[ToolResult]]:
    """(tool results for the prompt, held back) under ``injection_policy``, as
    :func:`apply_policy` does for passages: a tool's output (a web page, an e-mail) can
    carry an injection too."""
    if policy == "flag":
        return results, []
    return [r for r in results if not r.flags], [r for r in results if r.flags]


def held_back_notes(answer: Answer, held: list[Hit], policy: str,
                    held_tools: Sequence[ToolResult] = ()) -> None:
    """Record on ``answer`` the passages and tool results the policy held back: 'drop' in
    ``dropped``, 'quarantine' also in ``flagged`` with ``quarantined: True`` for the user to
    review."""
    for r in held_tools:
        if policy == "quarantine":
            answer.flagged.append({"kind": "tool_result", "name": r.name, "flags": list(r.flags),
                                   "quarantined": True})
        answer.dropped.append(f"tool result {r.name}: held back as a likely prompt injection "
                              f"({', '.join(r.flags)}; injection_policy={policy!r})")
    for h in held:
        where = f"{h.chunk.source}#{h.chunk.index}"
        if policy == "quarantine":
            answer.flagged.append({"kind": "passage", "n": None, "chunk_id": h.chunk.id,
                                   "source": h.chunk.source, "flags": list(h.flags),
                                   "quarantined": True})
        answer.dropped.append(f"passage {where}: held back as a likely prompt injection "
                              f"({', '.join(h.flags)}; injection_policy={policy!r})")


def flagged_items(prompt: Prompt) -> list[dict[str, Any]]:
    """The passages and tool results of ``prompt`` that look like prompt injections."""
    out = [{"kind": "passage", "n": p.n, "chunk_id": p.hit.chunk.id,
            "source": p.hit.chunk.source, "flags": list(p.hit.flags)}
           for p in prompt.passages if p.hit.flags]
    out += [{"kind": "tool_result", "name": r.name, "flags": list(r.flags)}
            for r in prompt.tool_results if r.flags]
    return out


def select_examples(selector: ExampleSelector | None, question: str,
                    embed_query: Callable[[str], list[float]]) -> list[Example]:
    """The few-shot examples for ``question`` (none without a selector)."""
    if selector is None:
        return []
    return selector.select(question, embed_query(question) if selector.k else None)


def generate(llm: LLM, prompt: Prompt, params: dict[str, Any], timings: dict[str, float],
             started: float) -> Iterator[str]:
    """The model's answer in pieces; notes the time to the first piece in ``timings``."""
    first = True
    for piece in llm.stream(prompt.messages, **params):
        if first:
            timings["first_token_ms"] = ms_since(started)
            first = False
        yield piece


def tidy(text: str) -> str:
    return re.sub(r"[ \t]+\n", "\n", text).strip()


def cite(question: str, text: str, prompt: Prompt, hits: list[Hit],
         tool_calls: list[ToolResult], timings: dict[str, float]) -> Answer:
    """The Answer: text tidied, ``[n]`` markers resolved to the prompt's passages."""
    text = tidy(text)
    citations, invalid = resolve_citations(text, prompt.passages)
    return Answer(question, text, citations, hits, timings, invalid, prompt.dropped,
                  prompt=prompt, flagged=flagged_items(prompt), tool_calls=tool_calls)


def verify(text: str, prompt: Prompt, threshold: float) -> list[SentenceSupport]:
    """Each sentence of ``text`` scored against the passages it cites (or the best one)."""
    return verify_answer(text, [(p.n, p.text) for p in prompt.passages], threshold=threshold)


def attribute(answer: Answer) -> None:
    """When the model wrote no valid marker, cite the passages that verification found
    supporting the answer's sentences (``Citation.attributed``), so sources point at what
    backs the answer rather than at everything given."""
    if any(c.cited for c in answer.citations):
        return
    backing = {s.passage for s in answer.support if s.supported and s.passage is not None}
    if backing:
        answer.citations = sorted(
            (dataclasses.replace(c, cited=True, attributed=True) if c.n in backing else c
             for c in answer.citations), key=lambda c: (not c.cited, c.n))


@dataclasses.dataclass(frozen=True)
class Candidate:
    """One of best-of-n's answers and how well the passages support it."""

    text: str
    reasoning: str
    seed: int
    supported_share: float | None
    score: float

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def score_candidate(raw: str, prompt: Prompt, threshold: float, seed: int,
                    reasoning: bool) -> Candidate:
    """A candidate's score: the share of its factual sentences the passages support, plus a
    little for citing at all (a tie-breaker); an empty answer scores -1."""
    thinking, text = split_reasoning(raw) if reasoning else ("", tidy(raw))
    support = verify(text, prompt, threshold)
    share = supported_share(support)
    cited = any(s.markers for s in support)
    score = -1.0 if not text else (share or 0.0) + (0.01 if cited else 0.0)
    return Candidate(text, thinking, seed, share, round(score, 4))


def choose(candidates: Sequence[Candidate]) -> tuple[Candidate, list[Candidate]]:
    """The best-scored candidate (the first on a tie) and the others, in order."""
    best = max(range(len(candidates)), key=lambda i: (candidates[i].score, -i))
    return candidates[best], [c for i, c in enumerate(candidates) if i != best]
