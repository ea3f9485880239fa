"""Chat follow-ups: turn "And where do they live?" into something retrieval can use.

The model rewrites the follow-up with the ``condense.j2`` template (greedy, unpenalised: a
rewrite repeats words). The rewrite is kept only if it is new (neither question) and keeps
every content word of the follow-up: the bundled 135M model often answers with the previous
question, or drops the new subject. Otherwise a follow-up that leans on the conversation (a
pronoun such as "it"/"they"/"它", or an opening such as "and"/"what about") is searched for
joined to the previous question, and any other follow-up is taken as standalone.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

from ragkit.errors import BackendError
from ragkit.generation import GenerationOptions
from ragkit.ports import LLM
from ragkit.prompt import Templates, Turn
from ragkit.retrieval.tokenize import query_terms

log = logging.getLogger(__name__)

#: a follow-up that needs the conversation to be understood (English and Chinese)
LEANS_ON_CONTEXT = re.compile(
    r"\b(it|its|they|them|their|theirs|this|that|these|those|there|he|she|him|her|his|"
    r"one|ones)\b|^\s*(and|but|also|so|what about|how about|why|why not)\b|"
    r"[它他她其该此这那]", re.IGNORECASE)
_LABEL = re.compile(r"^(standalone|rewritten)?\s*question\s*:\s*", re.IGNORECASE)


def condense_question(
    llm: LLM, templates: Templates, options: GenerationOptions, history: Sequence[Turn],
    question: str,
) -> tuple[str, bool]:
    """Return (search query, whether it is the model's rewrite) for ``question`` after the
    turns ``history`` (the last one matters most; empty history: the question itself)."""
    if not history:
        return question, False
    messages = templates.render_messages("condense.j2", history=list(history),
                                         question=question)
    params = options.to_params() | {"max_tokens": 64, "temperature": 0.0, "stop": ["\n"],
                                  "repeat_penalty": 1.0, "presence_penalty": 0.0,
                                  "frequency_penalty": 0.0}
    try:
        text = "".join(llm.stream(messages, **params))
    except BackendError as exc:
        log.warning("condensing the follow-up failed (%s)", exc)
        text = ""
    text = _LABEL.sub("", text.strip()).strip().strip('"“”')
    previous = history[-1].question
    wanted = set(query_terms(question))
    if (text and len(text) <= max(300, 3 * len(question)) and text not in (previous, question)
            and wanted <= set(query_terms(text))):
        return text, True
    if LEANS_ON_CONTEXT.search(question):
        return f"{previous} {question}", False
    return question, False
