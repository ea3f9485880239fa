"""``ragkit ask``, ``chat``, ``retrieve``, ``eval``, ``doctor``, ``serve`` and ``ui``: thin
command-line ways into the :class:`ragkit.RAG` API."""

from __future__ import annotations

import importlib.util
import json
import math
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

import ragkit
from ragkit import (
    RAG,
    RETRIEVAL_MODES,
    AskOptions,
    KnowledgeBase,
    RagkitError,
    ValidationError,
    new_session_id,
    terminal_safe,
)
from ragkit.cli_doctor import doctor
from ragkit.cli_eval import eval_app
from ragkit.cli_serve import serve

MODES = RETRIEVAL_MODES


def _write(text: str) -> None:
    """Print text that may hold a document's words: control characters shown, not obeyed
    (:func:`ragkit.terminal_safe`)."""
    sys.stdout.write(terminal_safe(text))
#: the apps read ./ragkit.toml (before the knowledge base's own); the library alone does not
SETTINGS_FILES = ("ragkit.toml",)


def open_rag(kb: Path) -> RAG:
    """The knowledge base at ``kb`` as the apps open it (working-directory settings too)."""
    return RAG(kb, settings_files=SETTINGS_FILES)

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  context_settings={"help_option_names": ["-h", "--help"]})

KbOption = Annotated[
    Path, typer.Option("--kb", help="Knowledge-base folder.", envvar="RAGKIT_KB")
]


def _version(value: bool) -> None:
    if value:
        typer.echo(f"ragkit {ragkit.__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """ragkit: chat with your own documents, privately, on your own machine."""


ModeOption = Annotated[
    str | None,
    typer.Option("--mode", help="dense, bm25 or hybrid (default: the retrieval_mode setting, "
                 "hybrid)."),
]
FilterOption = Annotated[
    list[str] | None,
    typer.Option("--filter", "-f", help="KEY=VALUE, repeatable: source=GLOB, filetype=pdf, "
                 "or any metadata key (page, section, kind).", metavar="KEY=VALUE"),
]


def _fail(exc: RagkitError) -> typer.Exit:
    typer.echo(f"Error: {terminal_safe(str(exc))}", err=True)
    return typer.Exit(1)


def _check_mode(mode: str | None) -> None:
    if mode is not None and mode not in MODES:
        raise typer.BadParameter(f"use one of {', '.join(MODES)}", param_hint="--mode")


def _need_kb(kb: Path) -> None:
    url = KnowledgeBase(kb).load_settings(files=SETTINGS_FILES).database_url
    if not KnowledgeBase(kb, database_url=url).is_ingested():
        typer.echo(f"Error: {kb} is not a knowledge base yet; run `ragkit-ingest DOCS --kb {kb}`.",
                   err=True)
        raise typer.Exit(1)


@app.command()
def retrieve(
    question: Annotated[str, typer.Argument(help="The question.")],
    kb: KbOption,
    mode: ModeOption = None,
    k: Annotated[int | None, typer.Option("--k", min=1, help="Hits to return.")] = None,
    filters: FilterOption = None,
    mmr: Annotated[bool | None, typer.Option("--mmr/--no-mmr", help="Diversify by MMR.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Show the passages retrieval finds for QUESTION (no model answers)."""
    _check_mode(mode)
    _need_kb(kb)
    try:
        found = open_rag(kb).search(question, k=k, mode=mode, filters=filters, mmr=mmr)
    except RagkitError as exc:
        raise _fail(exc) from exc
    hits = found.hits
    if as_json:
        sys.stdout.write(json.dumps(found.to_dict(), ensure_ascii=False) + "\n")
        return
    if not hits:
        _write("No passage found.\n")
    for n, h in enumerate(hits, 1):
        c = h.chunk
        where = f", page {c.page}" if c.page is not None else ""
        text = " ".join(c.text.split())
        _write(f"[{n}] {h.score:.4f}  {c.source}{where}\n    "
                         f"{text[:200]}{'…' if len(text) > 200 else ''}\n")


def _generation(temperature: float | None, top_p: float | None, sampling_top_k: int | None,
                max_tokens: int | None, repeat_penalty: float | None,
                presence_penalty: float | None, frequency_penalty: float | None,
                seed: int | None, stop: list[str] | None) -> dict[str, object]:
    return {"temperature": temperature, "top_p": top_p, "sampling_top_k": sampling_top_k,
            "max_tokens": max_tokens, "repeat_penalty": repeat_penalty,
            "presence_penalty": presence_penalty, "frequency_penalty": frequency_penalty,
            "seed": seed, "stop": stop or None}


Temperature = Annotated[float | None, typer.Option("--temperature", min=0.0, max=2.0,
                                                   help="Sampling temperature (0: greedy).")]
TopP = Annotated[float | None, typer.Option("--top-p", min=0.001, max=1.0, help="Nucleus mass.")]
SamplingTopK = Annotated[int | None, typer.Option(
    "--sampling-top-k", min=0, help="Sample among the k likeliest tokens (0: all).")]
OldTopK = Annotated[int | None, typer.Option(
    "--top-k", min=0, hidden=True, help="Deprecated name of --sampling-top-k.")]
MaxTokens = Annotated[int | None, typer.Option("--max-tokens", min=1,
                                               help="Most tokens in the answer.")]
RepeatPenalty = Annotated[float | None, typer.Option("--repeat-penalty", min=0.0, max=10.0)]
PresencePenalty = Annotated[float | None, typer.Option("--presence-penalty", min=-2.0, max=2.0)]
FrequencyPenalty = Annotated[float | None, typer.Option("--frequency-penalty", min=-2.0, max=2.0)]
Seed = Annotated[int | None, typer.Option("--seed", help="Sampling seed.")]
Stop = Annotated[list[str] | None, typer.Option("--stop", help="Stop string (repeatable).")]
Tools = Annotated[bool | None, typer.Option("--tools/--no-tools",
                                            help="Let the model call the allowed tools "
                                            "(setting `tools`).")]
FewShot = Annotated[bool | None, typer.Option("--few-shot/--no-few-shot",
                                              help="Use the few-shot examples (setting "
                                              "`few_shot_file`).")]


def _echo(stream: ragkit.AnswerStream, show_prompt: bool) -> ragkit.Answer:
    """Print the prompt (if asked), then the answer as it streams; return the Answer."""
    if show_prompt:
        assert stream.prompt is not None  # RAG.stream builds the prompt before returning
        _write(stream.prompt.render() + "\n\n")
    for piece in stream:
        _write(piece)
        sys.stdout.flush()
    return stream.answer


def _print_sources(answer: ragkit.Answer) -> None:
    _write("\n\nSources:\n")
    for c in answer.citations:
        where = f", page {c.page}" if c.page is not None else ""
        section = f" — {c.section}" if c.section else ""
        mark = (" (given, not cited)" if not c.cited else
                " (matched by ragkit: the model wrote no marker)" if c.attributed else "")
        flag = f"  ⚠ possible prompt injection: {', '.join(c.flags)}" if c.flags else ""
        _write(f"[{c.n}] {c.source}{where}{section}{mark}{flag}\n")
    if answer.invalid_markers:
        _write(f"(markers pointing at no passage: {answer.invalid_markers})\n")
    _print_support(answer)
    for call in answer.tool_calls:
        outcome = f"error: {call.error}" if call.error else call.output
        _write(f"tool {call.name}({call.arguments_json}) -> {outcome}\n")


def _tool_results(items: list[str] | None) -> list[dict[str, str]]:
    given = []
    for item in items or []:
        name, sep, output = item.partition("=")
        if not sep or not name:
            raise typer.BadParameter("use NAME=OUTPUT", param_hint="--tool-result")
        given.append({"name": name.strip(), "output": output})
    return given


def _print_support(answer: ragkit.Answer) -> None:
    """Sentences the passages do not support, marked (verification in ragkit.verify)."""
    weak = [x for x in answer.support if x.factual and not x.supported]
    if answer.supported_share is not None:
        _write(f"supported: {answer.supported_share:.0%} of the answer's "
                         "factual sentences\n")
    for x in weak:
        why = "wrong citation" if x.wrong_citation else "not supported by the passages"
        _write(f"  ✗ {why}: {x.text}\n")


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="The question.")],
    kb: KbOption,
    k: Annotated[int | None, typer.Option("--k", min=1, help="Passages to retrieve.")] = None,
    mode: ModeOption = None,
    filters: FilterOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    show_prompt: Annotated[bool, typer.Option(
        "--show-prompt", help="Show the exact messages sent, tokens per section and what "
        "was dropped (with --json: a \"prompt\" key).")] = False,
    tool_result: Annotated[list[str] | None, typer.Option(
        "--tool-result", metavar="NAME=OUTPUT",
        help="A tool result you already have (repeatable).")] = None,
    tools: Tools = None,
    few_shot: FewShot = None,
    best_of: Annotated[int | None, typer.Option(
        "--best-of", min=1, max=8, help="Generate N answers, keep the best supported one.")
    ] = None,
    reasoning: Annotated[str | None, typer.Option(
        "--reasoning", help="none, cot or least_to_most (default: the setting).")] = None,
    cache: Annotated[bool | None, typer.Option(
        "--cache/--no-cache", help="Use the response cache (the `cache` setting's mode, "
        "or 'exact' when it is off) or not.")] = None,
    temperature: Temperature = None,
    top_p: TopP = None,
    sampling_top_k: SamplingTopK = None,
    top_k: OldTopK = None,
    max_tokens: MaxTokens = None,
    repeat_penalty: RepeatPenalty = None,
    presence_penalty: PresencePenalty = None,
    frequency_penalty: FrequencyPenalty = None,
    seed: Seed = None,
    stop: Stop = None,
) -> None:
    """Answer QUESTION from the knowledge base, streaming, then list the sources."""
    _check_mode(mode)
    _need_kb(kb)
    given = _tool_results(tool_result)
    if top_k is not None:
        typer.echo("Warning: --top-k is deprecated (it read like the passage count); use "
                   "--sampling-top-k. --k is the passage count.", err=True)
        sampling_top_k = top_k if sampling_top_k is None else sampling_top_k
    gen = _generation(temperature, top_p, sampling_top_k, max_tokens, repeat_penalty,
                      presence_penalty, frequency_penalty, seed, stop)
    try:
        options = AskOptions(k=k, mode=mode, filters=filters, tool_results=given,
                             generation={n: v for n, v in gen.items() if v is not None},
                             use_tools=tools, few_shot=few_shot, best_of=best_of,
                             reasoning=reasoning, use_cache=cache)
        stream = open_rag(kb).stream(question, options)
        if as_json:
            out = stream.answer.to_dict(prompt=show_prompt)
            sys.stdout.write(json.dumps(out, ensure_ascii=False) + "\n")
            return
        answer = _echo(stream, show_prompt)
    except RagkitError as exc:
        raise _fail(exc) from exc
    _print_sources(answer)


@app.command()
def chat(
    kb: KbOption,
    session: Annotated[str | None, typer.Option(
        "--session", help="Chat session id to continue or start (default: a new one).")] = None,
    list_sessions: Annotated[bool, typer.Option("--list", help="List the sessions.")] = False,
    show_prompt: Annotated[bool, typer.Option("--show-prompt",
                                              help="Show each prompt sent.")] = False,
    temperature: Temperature = None,
    max_tokens: MaxTokens = None,
    seed: Seed = None,
) -> None:
    """Chat with the knowledge base: one question a line on stdin, answers streamed;
    follow-ups are condensed into standalone questions; the session is kept in
    chat.sqlite3. `/exit` or end of input quits."""
    _need_kb(kb)
    try:
        rag = open_rag(kb)
        if list_sessions:
            for sess in rag.sessions():
                _write(f"{sess.id}\t{sess.turns} turns\t{sess.title}\n")
            return
        sid = session or new_session_id()
        gen = _generation(temperature, None, None, max_tokens, None, None, None, seed, None)
        options = AskOptions(generation={n: v for n, v in gen.items() if v is not None})
        interactive = sys.stdin.isatty()
        typer.echo(f"session {sid} (/exit to quit)", err=True)
        while True:
            if interactive:
                _write("> ")
                sys.stdout.flush()
            line = sys.stdin.readline()
            if not line or line.strip() in ("/exit", "/quit"):
                break
            if not line.strip():
                continue
            try:
                answer = _echo(rag.chat_stream(sid, line.strip(), options), show_prompt)
            except ValidationError as exc:  # a bad question: say so, keep the session
                typer.echo(f"Error: {terminal_safe(str(exc))}", err=True)
                continue
            if answer.standalone_question and answer.standalone_question != answer.question:
                _write(f"\n(searched for: {answer.standalone_question})")
            _print_sources(answer)
            _write("\n")
    except RagkitError as exc:
        raise _fail(exc) from exc


app.add_typer(eval_app, name="eval")
app.command("doctor")(doctor)
app.command("serve")(serve)


def ui_script() -> Path:
    """Path of the Streamlit app installed with ragkit (the ``ui/`` folder)."""
    spec = importlib.util.find_spec("ragkit_ui")
    if spec is None or spec.origin is None:
        raise RagkitError("The chat UI is not installed; run `pip install 'ragkit[ui]'`.")
    return Path(spec.origin).parent / "app.py"


@app.command()
def ui(
    kb: KbOption,
    port: Annotated[
        int, typer.Option("--port", min=1, max=65535, help="Port on localhost.")
    ] = 8501,
    root: Annotated[Path | None, typer.Option(
        "--root", help="Folder whose knowledge bases the UI offers (default: KB's parent).")
    ] = None,
) -> None:
    """Serve the Streamlit chat on http://localhost:PORT for the knowledge base KB."""
    if importlib.util.find_spec("streamlit") is None:
        typer.echo("Error: the chat UI needs Streamlit; run `pip install 'ragkit[ui]'`.", err=True)
        raise typer.Exit(1)
    try:
        script = ui_script()
        settings = KnowledgeBase(kb).load_settings(files=SETTINGS_FILES)
        upload_mb = math.ceil(settings.upload_max_mb)
    except RagkitError as exc:
        raise _fail(exc) from exc
    extra = ["--root", str(root.resolve())] if root else []
    cmd = [
        sys.executable, "-m", "streamlit", "run", str(script),
        "--server.address", "127.0.0.1", "--server.port", str(port),
        "--server.headless", "true", "--browser.gatherUsageStats", "false",
        "--global.developmentMode", "false", "--client.toolbarMode", "minimal",
        "--server.maxUploadSize", str(upload_mb),
        "--", "--kb", str(kb.resolve()), *extra,
    ]
    typer.echo(f"ragkit chat on http://localhost:{port}  (knowledge base {kb})", err=True)
    sys.stderr.flush()
    # Become the Streamlit server (no parent left behind): a signal sent to `ragkit ui`,
    # from Ctrl-C to a test's terminate(), reaches the server itself.
    os.execv(sys.executable, cmd)


def main() -> None:
    ragkit.apply_offline_defaults()  # the app owns its process (see ragkit._offline)
    app()
