"""The prompt's templates: Jinja2 files shipped in ``ragkit/templates``, any of which a user
replaces by putting a file of the same name in the folder named by ``prompt_dir``."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import jinja2

from ragkit.errors import ConfigError

SHIPPED = Path(__file__).resolve().parents[1] / "templates"

#: file -> what it renders (docs/prompts.md lists the variables of each)
TEMPLATES: dict[str, str] = {
    "system.j2": "the system prompt (rules; few-shot block when few_shot_mode='system')",
    "passages.j2": "the answer-with-passages message: numbered passages, then tool results",
    "acknowledge.j2": "the assistant's short reply after the passages",
    "fewshot.j2": "the few-shot block inside the system prompt",
    "tools.j2": "the tool-results section inside the passages message",
    "condense.j2": "the request to rewrite a chat follow-up as a standalone question",
    "tool_choice.j2": "the system prompt of the tool-call step",
    "reasoning_cot.j2": "after the question when reasoning='cot': think step by step first",
    "reasoning_least_to_most.j2": "after the question when reasoning='least_to_most': "
    "sub-questions first",
    "question_gen.j2": "ragkit eval generate: a question and its answer from a text",
}


class Templates:
    """Renders the named templates; a file in ``folder`` wins over the shipped one.

    >>> Templates().render("acknowledge.j2")
    'I have read the context.'
    """

    def __init__(self, folder: str | Path | None = None) -> None:
        loaders: list[jinja2.BaseLoader] = []
        self.folder = Path(folder).expanduser().resolve() if folder else None
        if self.folder is not None:
            if not self.folder.is_dir():
                raise ConfigError(f"prompt_dir {self.folder} is not a folder.")
            unknown = sorted(p.name for p in self.folder.glob("*.j2") if p.name not in TEMPLATES)
            if unknown:
                raise ConfigError(
                    f"prompt_dir {self.folder} holds {', '.join(unknown)}, which ragkit does not "
                    f"use; the template names are {', '.join(TEMPLATES)}."
                )
            loaders.append(jinja2.FileSystemLoader(self.folder))
        loaders.append(jinja2.FileSystemLoader(SHIPPED))
        self._env = jinja2.Environment(
            loader=jinja2.ChoiceLoader(loaders),
            autoescape=False,  # plain text for a model, not HTML
            trim_blocks=True,
            keep_trailing_newline=False,
            undefined=jinja2.StrictUndefined,
        )

    def path(self, name: str) -> Path:
        """The file that renders ``name``: the user's override or the shipped one."""
        if self.folder is not None and (self.folder / name).is_file():
            return self.folder / name
        return SHIPPED / name

    def render(self, name: str, **values: Any) -> str:
        try:
            return self._env.get_template(name).render(**values).strip()
        except jinja2.TemplateError as exc:
            raise ConfigError(f"Template {self.path(name)} failed: {exc}") from exc

    def render_messages(self, name: str, **values: Any) -> list[dict[str, str]]:
        """Render ``name`` as chat messages: a line ``### system``, ``### user`` or
        ``### assistant`` starts a message; text before any such line is a user message.

        >>> from ragkit.prompt import Turn
        >>> Templates().render_messages("condense.j2", history=[Turn("Q1?", "A1.")],
        ...                             question="And Q2?")[-1]["content"]
        'Previous question: Q1?\\nFollow-up: And Q2?'
        """
        text = self.render(name, **values)
        messages: list[dict[str, str]] = []
        role, lines = "user", list[str]()
        for line in text.splitlines():
            m = _ROLE_LINE.match(line)
            if m:
                if "".join(lines).strip():
                    messages.append({"role": role, "content": "\n".join(lines).strip()})
                role, lines = m.group(1), []
            else:
                lines.append(line)
        if "".join(lines).strip():
            messages.append({"role": role, "content": "\n".join(lines).strip()})
        return messages


_ROLE_LINE = re.compile(r"^###\s*(system|user|assistant)\s*$")
