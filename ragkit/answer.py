"""The answer pipeline: retrieve → flag → tools → build prompt → generate → cite → log.

Each step is a function of plain data, so a step can be added between two others (answer
verification, best-of-n, a cache) without touching the rest. :class:`AnswerPipeline`
only wires them to the components; it keeps no per-request state, so one pipeline serves
concurrent requests: everything a request produces (timings, prompt, flags) travels in
its :class:`AnswerStream` and ends in its :class:`~ragkit.Answer`.
"""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from ragkit._components import Components, count_messages
from ragkit._types import Answer, Hit
from ragkit.citations import resolve_citations
from ragkit.errors import ValidationError
from ragkit.options import AskOptions
from ragkit.ports import LLM
from ragkit.prompt import Example, ExampleSelector, Prompt, Turn, build_prompt
from ragkit.retrieval.retriever import Retriever
from ragkit.safety import injection_flags
from ragkit.settings import Settings
from ragkit.tool_calls import run_tool_calls
from ragkit.tools import ToolRegistry, ToolResult

MAX_QUESTION_CHARS = 4000


def check_question(question: str) -> str:
    """The question stripped; ValidationError if it is empty or too long."""
    q = question.strip() if isinstance(question, str) else ""
    if not q:
        raise ValidationError("The question is empty; ask something about your documents.")
    if len(q) > MAX_QUESTION_CHARS:
        raise ValidationError(
            f"The question is {len(q)} characters long; keep it under {MAX_QUESTION_CHARS}."
        )
    return q


def ms_since(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 1)


@dataclass(frozen=True)
class AnswerRequest:
    """One question to answer: as asked, as searched, as put in the prompt."""

    question: str
    options: AskOptions = AskOptions()
    search_query: str | None = None  #: what retrieval searches (default: the question)
    prompt_question: str | None = None  #: what the prompt asks (default: the question)
    history: tuple[Turn, ...] = ()
    session_id: str | None = None

    @property
    def query(self) -> str:
        return self.search_query or self.question

    @property
    def asked(self) -> str:
        return self.prompt_question or self.query


class AnswerStream:
    """Iterate for the answer's text pieces; then :attr:`answer` holds the full Answer.

    >>> stream = rag.stream("Where do llamas live?")  # doctest: +SKIP
    >>> text = "".join(stream)  # doctest: +SKIP
    >>> stream.answer.citations[0].source  # doctest: +SKIP
    """

    def __init__(
        self, pieces: Iterator[str], finish: Callable[[str], Answer], prompt: Prompt | None = None
    ) -> None:
        #: the prompt being answered (built before the first piece)
        self.prompt = prompt
        self._pieces = pieces
        self._finish = finish
        self._text: list[str] = []
        self._answer: Answer | None = None

    def __iter__(self) -> Iterator[str]:
        for piece in self._pieces:
            self._text.append(piece)
            yield piece
        if self._answer is None:
            self._answer = self._finish("".join(self._text))

    @property
    def answer(self) -> Answer:
        """The final Answer; reading it first consumes whatever is left of the stream."""
        if self._answer is None:
            for _ in self:
                pass
        assert self._answer is not None
        return self._answer


# -- the steps: plain data in, plain data out ------------------------------------------------
def flag(hits: Sequence[Hit]) -> list[Hit]:
    """``hits`` with the prompt-injection patterns their text matches on ``Hit.flags``."""
    return [dataclasses.replace(h, flags=injection_flags(h.chunk.text)) for h in hits]


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


def cite(request: AnswerRequest, text: str, prompt: Prompt, hits: list[Hit],
         tool_calls: list[ToolResult], timings: dict[str, float]) -> Answer:
    """The Answer: text tidied, ``[n]`` markers resolved to the prompt's passages."""
    text = re.sub(r"[ \t]+\n", "\n", text).strip()
    citations, invalid = resolve_citations(text, prompt.passages)
    return Answer(request.question, text, citations, hits, timings, invalid, prompt.dropped,
                  prompt=prompt, flagged=flagged_items(prompt), tool_calls=tool_calls,
                  standalone_question=request.query if request.session_id else None,
                  session_id=request.session_id)


class AnswerPipeline:
    """Runs the steps for one :class:`AnswerRequest` on the components of a knowledge base."""

    def __init__(self, components: Components, tools: ToolRegistry,
                 chat_template: Any = None) -> None:
        self.components = components
        self.tools = tools
        self.chat_template = chat_template

    def retrieve(self, query: str, options: AskOptions) -> tuple[list[Hit], dict[str, float]]:
        """Retrieve and flag: the hits for ``query`` and this call's retrieval timings."""
        retriever: Retriever = self.components.get("retriever")
        found = retriever.search(query, k=options.k, mode=options.mode,
                                 filters=options.filters, mmr=options.mmr)
        return flag(found.hits), found.timings

    def run(self, request: AnswerRequest, *, timings: dict[str, float] | None = None,
            started: float | None = None) -> AnswerStream:
        """Answer ``request``, streaming. ``timings``/``started``: a chat's condense step
        already measured (the clock then started before it)."""
        c, o = self.components, request.options
        s: Settings = c.settings
        options = o.generation_options(s)
        if (o.mode or s.retrieval_mode) != "bm25":
            c.get("store")  # load the embedding model and the store before the clock starts
        llm: LLM = c.get("llm")
        if options.max_tokens >= llm.n_ctx:
            raise ValidationError(f"max_tokens ({options.max_tokens}) must be smaller than the "
                                  f"model's context window ({llm.n_ctx}).")
        timings = dict(timings or {})
        started = started if started is not None else time.perf_counter()
        t = time.perf_counter()
        hits, retrieval_timings = self.retrieve(request.query, o)
        timings["retrieve_ms"] = ms_since(t)
        timings.update({f"retrieve_{k}": v for k, v in retrieval_timings.items()})
        given = list(o.tool_results)
        called = self._tool_step(llm, request, options, given, timings)
        t = time.perf_counter()
        prompt = self._prompt_step(llm, request, hits, [*given, *called], options.max_tokens)
        timings["prompt_ms"] = ms_since(t)
        timings["prompt_tokens"] = prompt.tokens
        gen_start = time.perf_counter()

        def finish(text: str) -> Answer:
            timings["generate_ms"] = ms_since(gen_start)
            timings["total_ms"] = ms_since(started)
            answer = cite(request, text, prompt, hits, called, timings)
            return self._log_step(answer)

        pieces = generate(llm, prompt, options.to_params(), timings, started)
        return AnswerStream(pieces, finish, prompt)

    def _tool_step(self, llm: LLM, request: AnswerRequest, options: Any,
                   given: list[ToolResult], timings: dict[str, float]) -> list[ToolResult]:
        s = self.components.settings
        if request.options.use_tools is False or not s.tools:
            return []
        t = time.perf_counter()
        called = run_tool_calls(llm, self.tools, s.tools, request.asked,
                                templates=self.components.get("templates"),
                                max_calls=s.max_tool_calls, options=options, given=given)
        timings["tools_ms"] = ms_since(t)
        return called

    def _prompt_step(self, llm: LLM, request: AnswerRequest, hits: list[Hit],
                     tool_results: list[ToolResult], max_tokens: int) -> Prompt:
        c, o = self.components, request.options
        s = c.settings
        examples = [] if o.few_shot is False else select_examples(
            c.get("examples"), request.asked, lambda q: c.get("embedder").embed_query(q))
        return build_prompt(
            request.asked, hits, count=llm.count_tokens, budget=llm.n_ctx - max_tokens,
            templates=c.get("templates"), examples=examples, few_shot_mode=s.few_shot_mode,
            few_shot_share=s.few_shot_share, history=request.history,
            history_turns=s.history_turns, history_share=s.history_share,
            tool_results=tool_results, tool_result_tokens=s.tool_result_tokens,
            count_messages=count_messages(llm),
            chat_template=o.chat_template if o.chat_template is not None
            else self.chat_template,
        )

    def _log_step(self, answer: Answer) -> Answer:
        history = self.components.get("history")
        if self.components.settings.log_asks:
            answer.id = history.log_ask(answer)
        if answer.session_id is not None:
            history.add_turn(answer.session_id, answer)
        return answer
