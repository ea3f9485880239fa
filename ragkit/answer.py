"""The answer pipeline: retrieve → flag → tools → build prompt → (cache) → generate
(best-of-n) → cite → verify → log.

Each step is a function of plain data (:mod:`ragkit.steps`), so a step can be added
between two others without touching the rest. :class:`AnswerPipeline` only wires them to
the components; it keeps no per-request state, so one pipeline serves concurrent requests:
everything a request produces (timings, prompt, flags, candidates) lives in its own
:class:`_Run` and ends in its :class:`~ragkit.Answer`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from ragkit._components import Components, count_messages
from ragkit._types import Answer, Hit
from ragkit.cache import CachedAnswer, key_of
from ragkit.errors import ValidationError
from ragkit.generation import GenerationOptions
from ragkit.options import AskOptions
from ragkit.ports import LLM
from ragkit.prompt import Prompt, Turn, build_prompt
from ragkit.reasoning import TEMPLATE, ReasoningFilter
from ragkit.retrieval.retriever import Retriever
from ragkit.settings import Settings
from ragkit.steps import (
    Candidate,
    apply_policy,
    attribute,
    choose,
    cite,
    flag,
    generate,
    held_back_notes,
    ms_since,
    score_candidate,
    select_examples,
    supported_share,
    tool_policy,
    verify,
)
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

    def close(self) -> None:
        """Stop generating now (the reader went away): closes the model's stream, which
        releases the llama.cpp lock at once instead of at garbage collection; the answer is
        not finished or logged."""
        close = getattr(self._pieces, "close", None)
        if close is not None:
            close()

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


@dataclass
class _Run:
    """Everything one request produces on its way: its own, never shared."""

    request: AnswerRequest
    settings: Settings
    llm: LLM
    options: GenerationOptions
    started: float
    timings: dict[str, float]
    reasoning_mode: str = "none"
    best_of: int = 1
    cache_mode: str = "off"
    hits: list[Hit] = field(default_factory=list)
    held: list[Hit] = field(default_factory=list)  #: kept out by injection_policy
    held_tools: list[ToolResult] = field(default_factory=list)  #: the same, tool results
    called: list[ToolResult] = field(default_factory=list)
    prompt: Prompt | None = None
    gen_start: float = 0.0
    reasoning: str = ""
    candidates: list[Candidate] = field(default_factory=list)
    cache_key: str = ""
    cache_state: str = ""
    cache_vector: list[float] | None = None
    cached: CachedAnswer | None = None


def _cache_mode(use_cache: bool | None, setting: str) -> str:
    """None: the setting; False: off; True: the setting, or 'exact' when it is off."""
    if use_cache is None:
        return setting
    return ("exact" if setting == "off" else setting) if use_cache else "off"


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
        run = self._start(request, timings, started)
        t = time.perf_counter()
        hits, retrieval_timings = self.retrieve(request.query, request.options)
        run.hits, run.held = apply_policy(hits, run.settings.injection_policy)
        run.timings["retrieve_ms"] = ms_since(t)
        run.timings.update({f"retrieve_{k}": v for k, v in retrieval_timings.items()})
        given = [ToolResult.coerce(r) for r in request.options.tool_results]
        run.called = self._tool_step(run, given)
        t = time.perf_counter()
        results, run.held_tools = tool_policy([*given, *run.called],
                                              run.settings.injection_policy)
        run.prompt = prompt = self._prompt_step(run, results)
        run.timings["prompt_ms"] = ms_since(t)
        run.timings["prompt_tokens"] = prompt.tokens
        self._cache_lookup(run)
        run.gen_start = time.perf_counter()
        if run.cached is not None:
            pieces: Iterator[str] = iter([run.cached.text])
        elif run.best_of > 1:
            pieces = self._best_of(run)
        else:
            pieces = self._generate(run)
        return AnswerStream(pieces, lambda text: self._finish(run, text), prompt)

    def _start(self, request: AnswerRequest, timings: dict[str, float] | None,
               started: float | None) -> _Run:
        c, o = self.components, request.options
        s: Settings = c.settings  # one snapshot for the whole request
        options = o.generation_options(s)
        if (o.mode or s.retrieval_mode) != "bm25" or s.cache == "semantic":
            c.get("store")  # load the embedding model and the store before the clock starts
        llm: LLM = c.get("llm")
        if options.max_tokens >= llm.n_ctx:
            raise ValidationError(f"max_tokens ({options.max_tokens}) must be smaller than the "
                                  f"model's context window ({llm.n_ctx}).")
        return _Run(request, s, llm, options,
                    started if started is not None else time.perf_counter(),
                    dict(timings or {}), reasoning_mode=o.reasoning or s.reasoning,
                    best_of=o.best_of or s.best_of,
                    cache_mode=_cache_mode(o.use_cache, s.cache))

    def _tool_step(self, run: _Run, given: list[ToolResult]) -> list[ToolResult]:
        s = run.settings
        if run.request.options.use_tools is False or not s.tools:
            return []
        t = time.perf_counter()
        called = run_tool_calls(run.llm, self.tools, s.tools, run.request.asked,
                                templates=self.components.get("templates"),
                                max_calls=s.max_tool_calls, options=run.options, given=given)
        run.timings["tools_ms"] = ms_since(t)
        return called

    def _prompt_step(self, run: _Run, tool_results: list[ToolResult]) -> Prompt:
        c, o, s, llm = self.components, run.request.options, run.settings, run.llm
        examples = [] if o.few_shot is False else select_examples(
            c.get("examples"), run.request.asked, lambda q: c.get("embedder").embed_query(q))
        templates = c.get("templates")
        mode = run.reasoning_mode
        return build_prompt(
            run.request.asked, run.hits, count=llm.count_tokens,
            budget=llm.n_ctx - run.options.max_tokens, templates=templates,
            examples=examples, few_shot_mode=s.few_shot_mode, few_shot_share=s.few_shot_share,
            history=run.request.history, history_turns=s.history_turns,
            history_share=s.history_share, tool_results=tool_results,
            tool_result_tokens=s.tool_result_tokens, count_messages=count_messages(llm),
            chat_template=o.chat_template if o.chat_template is not None
            else self.chat_template,
            instruction=templates.render(TEMPLATE[mode]) if mode in TEMPLATE else "",
        )

    def _generate(self, run: _Run) -> Iterator[str]:
        assert run.prompt is not None
        pieces = generate(run.llm, run.prompt, run.options.to_params(), run.timings,
                          run.started)
        if run.reasoning_mode == "none":
            yield from pieces
            return
        f = ReasoningFilter()
        yield from f.feed(pieces)
        run.reasoning = f.reasoning

    def _best_of(self, run: _Run) -> Iterator[str]:
        """n candidates (the configured one, then others sampled with seeds seed+1...): the
        prompt is the same, so llama.cpp evaluates it once. Yields the best, whole."""
        assert run.prompt is not None
        s, base = run.settings, run.options.to_params()
        for i in range(run.best_of):
            params = base if i == 0 else base | {
                "seed": run.options.seed + i,
                "temperature": max(run.options.temperature, s.best_of_temperature)}
            raw = "".join(generate(run.llm, run.prompt, params, run.timings, run.started))
            run.candidates.append(score_candidate(raw, run.prompt, s.support_threshold,
                                                  params["seed"], run.reasoning_mode != "none"))
        best, _ = choose(run.candidates)
        run.reasoning = best.reasoning
        run.timings["first_token_ms"] = ms_since(run.started)  # the answer comes out whole
        yield best.text

    def _cache_lookup(self, run: _Run) -> None:
        if run.cache_mode == "off":
            return
        assert run.prompt is not None
        c = self.components
        t = time.perf_counter()
        run.cache_state = c.get("kb_state").version()
        what = [c.get("model_key"), run.options.to_dict(), run.reasoning_mode, run.best_of]
        if run.cache_mode == "exact":
            run.cache_key = key_of("exact", run.prompt.messages, *what)
        else:
            run.cache_key = key_of("semantic", [h.chunk.id for h in run.hits], *what)
            run.cache_vector = c.get("embedder").embed_query(run.request.asked)
        run.cached = c.get("cache").get(run.cache_key, run.cache_state, run.request.asked,
                                        run.cache_vector)
        run.timings["cache_ms"] = ms_since(t)
        run.timings["cache_hit"] = 1 if run.cached is not None else 0
        if run.cached is not None:
            run.reasoning = run.cached.reasoning
            run.timings["first_token_ms"] = ms_since(run.started)

    def _finish(self, run: _Run, text: str) -> Answer:
        assert run.prompt is not None
        r, s = run.request, run.settings
        run.timings["generate_ms"] = ms_since(run.gen_start)
        run.timings["total_ms"] = ms_since(run.started)
        answer = cite(r.question, text, run.prompt, run.hits, run.called, run.timings)
        answer.dropped = list(answer.dropped)
        held_back_notes(answer, run.held, s.injection_policy, run.held_tools)
        answer.standalone_question = r.query if (r.session_id or r.history) else None
        answer.session_id = r.session_id
        answer.reasoning = run.reasoning or None
        t = time.perf_counter()
        answer.support = verify(answer.text, run.prompt, s.support_threshold)
        answer.supported_share = supported_share(answer.support)
        attribute(answer)
        run.timings["verify_ms"] = ms_since(t)
        if run.candidates:
            _, others = choose(run.candidates)
            answer.candidates = [c.to_dict() for c in others]
        if run.cache_mode != "off" and run.cached is None and answer.text:
            self.components.get("cache").put(run.cache_key, run.cache_state, r.asked,
                                             answer.text, run.reasoning, run.cache_vector)
        return self._log_step(answer)

    def _log_step(self, answer: Answer) -> Answer:
        history = self.components.get("history")
        if self.components.settings.log_asks:
            answer.id = history.log_ask(answer)
        if answer.session_id is not None:
            history.add_turn(answer.session_id, answer)
        return answer
