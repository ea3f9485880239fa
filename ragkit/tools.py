"""Tools (function calling): a registry of Python functions with JSON-Schema parameters.

The model asks for a call as JSON. With llama.cpp the output is constrained by a grammar
built from the schema of every allowed tool, so even the 135M model writes well-formed
calls; the *values* can still be nonsense, so arguments are validated against the tool's
schema before the function runs. A rejected call, or a tool that raises, becomes a
:class:`ToolResult` with ``error`` set, which the prompt shows as such.

>>> registry = ToolRegistry()
>>> _ = registry.register(calculator_tool())
>>> registry.call("calculator", {"expression": "17 * 23"}).output
'391'
>>> registry.call("calculator", {"expression": "import os"}).error.split(" does not")[0]
"invalid arguments: 'import os'"
"""

from __future__ import annotations

import ast
import json
import math
import operator
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import jsonschema

from ragkit.errors import ConfigError, ValidationError
from ragkit.safety import injection_flags


@dataclass(frozen=True)
class Tool:
    """A callable the model may use: ``fn(**arguments) -> str`` (other results are
    turned into JSON text)."""

    name: str
    description: str
    parameters: dict[str, Any]  #: JSON Schema of the arguments object
    fn: Callable[..., Any]

    @property
    def parameters_json(self) -> str:
        return json.dumps(self.parameters, ensure_ascii=False, separators=(",", ":"))


@dataclass(frozen=True)
class ToolResult:
    """A tool call and what came of it. Callers who already have results pass these to
    ``rag.ask(q, tool_results=[...])`` (or plain ``{"name", "output"}`` dicts)."""

    name: str
    arguments: dict[str, Any] = field(default_factory=dict)
    output: str = ""
    error: str | None = None
    flags: tuple[str, ...] = ()

    @property
    def arguments_json(self) -> str:
        return json.dumps(self.arguments, ensure_ascii=False, separators=(",", ":"))

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["flags"] = list(self.flags)
        return d

    @classmethod
    def coerce(cls, value: ToolResult | Mapping[str, Any]) -> ToolResult:
        if isinstance(value, ToolResult):
            return value
        if isinstance(value, Mapping) and isinstance(value.get("name"), str):
            output = value.get("output", "")
            text = output if isinstance(output, str) else json.dumps(output, ensure_ascii=False)
            return cls(value["name"], dict(value.get("arguments") or {}), text,
                       value.get("error"), injection_flags(text))
        raise ValidationError(
            f"A tool result must be a ToolResult or a mapping with 'name' and 'output', got "
            f"{value!r}"
        )


class ToolRegistry:
    """Tools by name. ``allowed`` (the ``tools`` setting) decides which the model sees."""

    def __init__(self, tools: Iterable[Tool] = ()) -> None:
        self._tools: dict[str, Tool] = {}
        for t in tools:
            self.register(t)

    def register(self, tool: Tool) -> Tool:
        if not tool.name.isidentifier() or tool.name == "none":
            raise ConfigError(f"Tool name {tool.name!r} must be an identifier other than 'none'.")
        try:
            jsonschema.Draft202012Validator.check_schema(tool.parameters)
        except jsonschema.SchemaError as exc:
            raise ConfigError(f"Tool {tool.name!r} has an invalid JSON Schema: {exc.message}") \
                from exc
        if tool.parameters.get("type") != "object":
            raise ConfigError(f"Tool {tool.name!r}: parameters must be a JSON Schema object.")
        self._tools[tool.name] = tool
        return tool

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    def names(self) -> list[str]:
        return sorted(self._tools)

    def allowed(self, names: Sequence[str]) -> list[Tool]:
        unknown = [n for n in names if n not in self._tools]
        if unknown:
            raise ConfigError(f"Unknown tool(s) {', '.join(unknown)} in the allow-list; "
                              f"registered: {', '.join(self.names()) or 'none'}.")
        return [self._tools[n] for n in names]

    def choice_schema(self, tools: Sequence[Tool]) -> dict[str, Any]:
        """The JSON Schema of one model reply: a call of an allowed tool, or ``none``.

        A ``pattern`` holding a backslash, and ``format``, are left out: llama.cpp's
        schema-to-grammar converter crashed the process (a segfault, llama-cpp-python
        0.3.36) on ``[\\s\\-]``. They are still enforced, by :meth:`call`'s validation.
        Plain patterns stay: they keep a small model's strings on track.
        """
        options: list[dict[str, Any]] = [
            {"type": "object",
             "properties": {"tool": {"const": t.name}, "arguments": _structural(t.parameters)},
             "required": ["tool", "arguments"]}
            for t in tools
        ]
        options.append({"type": "object", "properties": {"tool": {"const": "none"}},
                        "required": ["tool"]})
        return {"anyOf": options}

    def call(self, name: str, arguments: Any) -> ToolResult:
        """Validate ``arguments`` against the tool's schema, then run it. Never raises for a
        bad call or a failing tool: the error is in the result."""
        tool = self._tools.get(name)
        if tool is None:
            return ToolResult(name, {}, error=f"unknown tool {name!r}")
        if not isinstance(arguments, dict):
            return ToolResult(name, {}, error=f"arguments must be an object, got {arguments!r}")
        problems = sorted(jsonschema.Draft202012Validator(tool.parameters).iter_errors(arguments),
                          key=lambda e: list(e.path))
        if problems:
            e = problems[0]
            where = "/".join(map(str, e.path)) or "arguments"
            return ToolResult(name, arguments, error=f"invalid arguments: {e.message} (at {where})")
        try:
            out = tool.fn(**arguments)
        except Exception as exc:  # a tool's failure is data for the prompt, not a crash
            return ToolResult(name, arguments, error=f"{type(exc).__name__}: {exc}")
        text = out if isinstance(out, str) else json.dumps(out, ensure_ascii=False, default=str)
        return ToolResult(name, arguments, text, None, injection_flags(text))


def _structural(schema: Any) -> Any:
    """``schema`` without the string-content keywords the grammar cannot take safely."""
    if isinstance(schema, dict):
        return {k: _structural(v) for k, v in schema.items()
                if not (k == "format" or (k == "pattern" and "\\" in str(v)))}
    if isinstance(schema, list):
        return [_structural(v) for v in schema]
    return schema


# -- the two shipped tools ----------------------------------------------------------------

_BINARY: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.Div: operator.truediv, ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNARY: dict[type, Callable[[Any], Any]] = {ast.UAdd: operator.pos, ast.USub: operator.neg}


def calculate(expression: str) -> str:
    """Evaluate arithmetic: numbers, + - * / // % ** (or ^), parentheses. No names, no calls.

    >>> calculate("(2 + 3) * 4 ^ 2")
    '80'
    >>> calculate("1 / 3")
    '0.333333333333'
    """
    tree = ast.parse(expression.replace("^", "**").replace(",", ""), mode="eval")

    def ev(node: ast.AST) -> float | int:
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, int | float) \
                and not isinstance(node.value, bool):
            return node.value
        if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
            left, right = ev(node.left), ev(node.right)
            if isinstance(node.op, ast.Pow) and abs(right) > 100:
                raise ValueError("exponent too large")
            return _BINARY[type(node.op)](left, right)
        if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
            return _UNARY[type(node.op)](ev(node.operand))
        raise ValueError(f"not arithmetic: {ast.unparse(node)}")

    value = ev(tree)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("the result is not a finite number")
        if value.is_integer():
            return str(int(value))
        return f"{value:.12g}"
    return str(value)


def calculator_tool() -> Tool:
    return Tool(
        "calculator",
        "Evaluates an arithmetic expression of numbers, + - * / ^ and parentheses.",
        {"type": "object",
         "properties": {"expression": {"type": "string",
                                       "pattern": "^[0-9+*/%().,^ -]{1,200}$"}},
         "required": ["expression"], "additionalProperties": False},
        calculate,
    )


def search_kb_tool(search: Callable[[str, int], list[dict[str, Any]]]) -> Tool:
    """A knowledge-base search: ``search(query, k)`` returns passages as dicts."""

    def run(query: str, k: int = 3) -> str:
        hits = search(query, k)
        if not hits:
            return "no passage found"
        return "\n".join(f"{h['source']}: {h['text']}" for h in hits)

    return Tool(
        "search_kb",
        "Searches the documents for a query and returns the best passages.",
        {"type": "object",
         "properties": {"query": {"type": "string", "minLength": 2, "maxLength": 200},
                        "k": {"type": "integer", "minimum": 1, "maximum": 5}},
         "required": ["query"], "additionalProperties": False},
        run,
    )
