"""Reasoning templates: ``reasoning = "none" | "cot" | "least_to_most"``.

With ``cot`` or ``least_to_most`` the question's turn ends with the template's request
(``reasoning_cot.j2``, ``reasoning_least_to_most.j2``, overridable in ``prompt_dir``): reason
after ``Reasoning:``, answer after ``Answer:``. The reasoning is kept out of the answer's
text (it is in ``Answer.reasoning`` and shown in the prompt inspector); a reply without the
``Answer:`` label is taken whole as the answer.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

MODES = ("none", "cot", "least_to_most")
TEMPLATE = {"cot": "reasoning_cot.j2", "least_to_most": "reasoning_least_to_most.j2"}

#: the label that starts the final answer (English and Chinese, bold or not)
_ANSWER = re.compile(r"(?:^|\n)\s*\**\s*(?:final answer|answer|答案|回答)\s*\**\s*[:：]\s*\**",
                     re.IGNORECASE)
_REASONING = re.compile(r"^\s*\**\s*(?:reasoning|推理|思考)\s*\**\s*[:：]\s*\**\s*",
                        re.IGNORECASE)


def split_reasoning(text: str) -> tuple[str, str]:
    """(reasoning, answer) of a reply; the last ``Answer:`` label splits them.

    >>> split_reasoning("Reasoning: [1] says 5 moons.\\nAnswer: Five [1].")
    ('[1] says 5 moons.', 'Five [1].')
    >>> split_reasoning("Just an answer [2].")
    ('', 'Just an answer [2].')
    """
    matches = list(_ANSWER.finditer(text))
    if not matches:
        return "", text.strip()
    last = matches[-1]
    reasoning = _REASONING.sub("", text[: last.start()]).strip()
    return reasoning, text[last.end():].strip()


class ReasoningFilter:
    """Passes a streamed reply through, holding back everything up to the ``Answer:``
    label; :attr:`reasoning` holds what came before it once the stream ends.

    >>> f = ReasoningFilter()
    >>> "".join(f.feed(iter(["Reasoning: x.\\nAns", "wer: Y [1]."])))
    'Y [1].'
    >>> f.reasoning
    'x.'
    """

    #: longest label, so a label split across pieces is still found
    _HOLD = 24

    def __init__(self) -> None:
        self.reasoning = ""

    def feed(self, pieces: Iterator[str]) -> Iterator[str]:
        buffer = ""
        answering = False
        for piece in pieces:
            if answering:
                yield piece
                continue
            buffer += piece
            match = list(_ANSWER.finditer(buffer))
            if match and match[-1].end() < len(buffer):
                answering = True
                self.reasoning = _REASONING.sub("", buffer[: match[-1].start()]).strip()
                rest = buffer[match[-1].end():].lstrip()
                if rest:
                    yield rest
        if not answering:  # no label: the whole reply is the answer
            self.reasoning, answer = split_reasoning(buffer)
            if answer:
                yield answer
