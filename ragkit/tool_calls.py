"""The tool step of an ask: let the model call allowed tools, at most ``max_calls`` times.

Each round sends the ``tool_choice.j2`` system prompt (the tools, their JSON Schemas and the
results so far) and the question, and asks for one JSON reply constrained to the schema of
"a call of an allowed tool, or none" (:meth:`ToolRegistry.choice_schema`). The reply is
parsed and its arguments validated before the tool runs. The step ends when the model
says ``none``, repeats a call, replies with something that is not a valid call, or the
limit is reached.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from ragkit.errors import BackendError
from ragkit.generation import GenerationOptions
from ragkit.ports import LLM, CompletesJSON
from ragkit.prompt.templates import Templates
from ragkit.safety import neutralise
from ragkit.tools import Tool, ToolRegistry, ToolResult

log = logging.getLogger(__name__)

#: most tokens a tool-call reply may take
CALL_TOKENS = 128


def run_tool_calls(
    llm: LLM,
    registry: ToolRegistry,
    allowed: Sequence[str],
    question: str,
    *,
    templates: Templates,
    max_calls: int,
    options: GenerationOptions,
    given: Sequence[ToolResult] = (),
) -> list[ToolResult]:
    """Return the results of the calls the model made (``given`` ones are context only)."""
    tools: list[Tool] = registry.allowed(allowed)
    if not tools or max_calls <= 0:
        return []
    if not isinstance(llm, CompletesJSON):
        raise BackendError(f"The LLM {llm.name!r} cannot make constrained tool calls "
                           "(it has no complete_json); set tools = [] to turn the step off.")
    schema = registry.choice_schema(tools)
    # greedy and unpenalised: a JSON call repeats its own tokens (quotes, digits), and a
    # repeat penalty measurably bent the bundled model's "17 * 23" into other numbers
    params: dict[str, Any] = options.to_params() | {
        "max_tokens": CALL_TOKENS, "stop": [], "temperature": 0.0, "repeat_penalty": 1.0,
        "presence_penalty": 0.0, "frequency_penalty": 0.0}
    results: list[ToolResult] = []
    seen: set[str] = set()
    for _ in range(max_calls):
        shown = [replace(r, output=neutralise(r.output)) for r in (*given, *results)]
        system = templates.render("tool_choice.j2", tools=tools, results=shown)
        raw = llm.complete_json([{"role": "system", "content": system},
                        {"role": "user", "content": neutralise(question)}], schema, **params)
        try:
            reply = json.loads(raw)
        except json.JSONDecodeError:
            results.append(ToolResult("invalid_call", {},
                                      error=f"the model's reply is not JSON: {raw[:200]!r}"))
            break
        name = reply.get("tool") if isinstance(reply, dict) else None
        if name == "none" or name is None:
            break
        arguments = reply.get("arguments", {})
        key = json.dumps([name, arguments], sort_keys=True)
        if key in seen:  # the model repeats itself: it has nothing new to ask
            break
        seen.add(key)
        if name not in allowed:
            results.append(ToolResult(str(name), {}, error=f"tool {name!r} is not allowed"))
            break
        result = registry.call(name, arguments)
        log.info("tool %s(%s) -> %s", name, result.arguments_json, result.error or "ok")
        results.append(result)
    return results
