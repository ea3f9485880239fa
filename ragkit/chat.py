"""Chat: a session's history, the follow-up condensed into a search query, then the
answer pipeline with the history in the prompt; the turn is kept in ``chat.sqlite3``."""

from __future__ import annotations

import time
from collections.abc import Sequence

from ragkit.answer import AnswerPipeline, AnswerRequest, AnswerStream, check_question, ms_since
from ragkit.condense import condense_question
from ragkit.generation import GenerationOptions
from ragkit.history import ChatStore, check_session_id
from ragkit.options import AskOptions
from ragkit.prompt import Turn


class Chat:
    """Chat sessions over one answer pipeline."""

    def __init__(self, pipeline: AnswerPipeline) -> None:
        self.pipeline = pipeline

    @property
    def store(self) -> ChatStore:
        store: ChatStore = self.pipeline.components.get("history")
        return store

    def condense(self, history: Sequence[Turn], question: str) -> tuple[str, bool]:
        """(search query, rewritten?) for a follow-up after ``history``; the rules are in
        :mod:`ragkit.condense`."""
        c = self.pipeline.components
        q = check_question(question)
        turns = list(history)[-max(1, c.settings.history_turns):]
        return condense_question(c.get("llm"), c.get("templates"),
                                 GenerationOptions.from_settings(c.settings), turns, q)

    def stream(self, session_id: str, message: str, options: AskOptions) -> AnswerStream:
        """Answer ``message`` in session ``session_id`` (created on first use), streaming."""
        check_session_id(session_id)
        q = check_question(message)
        started = time.perf_counter()
        history = self.store.turns(session_id)
        if not history:
            self.store.ensure_session(session_id, q)
        return self.stream_turns(history, q, options, session_id=session_id, started=started)

    def stream_turns(self, history: Sequence[Turn], message: str, options: AskOptions, *,
                     session_id: str | None = None, started: float | None = None
                     ) -> AnswerStream:
        """Answer ``message`` after the turns ``history`` (given, not read from a session;
        saved to ``session_id`` if one is given), streaming: a follow-up is condensed into
        a standalone search query first."""
        q = check_question(message)
        started = time.perf_counter() if started is None else started
        if not history:
            return self.pipeline.run(AnswerRequest(q, options, session_id=session_id),
                                     started=started)
        self.pipeline.components.get("llm")  # load outside the timings
        t = time.perf_counter()
        standalone, rewritten = self.condense(history, q)
        timings = {"condense_ms": ms_since(t)}
        request = AnswerRequest(q, options, search_query=standalone,
                                prompt_question=standalone if rewritten else q,
                                history=tuple(history), session_id=session_id)
        return self.pipeline.run(request, timings=timings, started=started)
