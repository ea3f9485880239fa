"""``ragkit ask`` and ``ragkit ui``: thin command-line ways into the :class:`ragkit.RAG` API."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Annotated

import typer

import ragkit
from ragkit import RAG, RagkitError

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


def _fail(exc: RagkitError) -> typer.Exit:
    typer.echo(f"Error: {exc}", err=True)
    return typer.Exit(1)


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="The question.")],
    kb: KbOption,
    k: Annotated[int | None, typer.Option("--k", min=1, help="Passages to retrieve.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Answer QUESTION from the knowledge base, streaming, then list the sources."""
    if not (kb / "manifest.sqlite3").exists():
        typer.echo(f"Error: {kb} is not a knowledge base yet; run `ragkit-ingest DOCS --kb {kb}`.",
                   err=True)
        raise typer.Exit(1)
    try:
        stream = RAG(kb).stream(question, k=k)
        if as_json:
            answer = stream.answer
            sys.stdout.write(json.dumps(answer.to_dict(), ensure_ascii=False) + "\n")
            return
        for piece in stream:
            sys.stdout.write(piece)
            sys.stdout.flush()
        answer = stream.answer
    except RagkitError as exc:
        raise _fail(exc) from exc
    sys.stdout.write("\n\nSources:\n")
    for c in answer.citations:
        where = f", page {c.page}" if c.page is not None else ""
        section = f" — {c.section}" if c.section else ""
        mark = "" if c.cited else " (given, not cited)"
        sys.stdout.write(f"[{c.n}] {c.source}{where}{section}{mark}\n")
    if answer.invalid_markers:
        sys.stdout.write(f"(markers pointing at no passage: {answer.invalid_markers})\n")


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
) -> None:
    """Serve the Streamlit chat on http://localhost:PORT for the knowledge base KB."""
    if importlib.util.find_spec("streamlit") is None:
        typer.echo("Error: the chat UI needs Streamlit; run `pip install 'ragkit[ui]'`.", err=True)
        raise typer.Exit(1)
    try:
        script = ui_script()
    except RagkitError as exc:
        raise _fail(exc) from exc
    cmd = [
        sys.executable, "-m", "streamlit", "run", str(script),
        "--server.address", "127.0.0.1", "--server.port", str(port),
        "--server.headless", "true", "--browser.gatherUsageStats", "false",
        "--global.developmentMode", "false", "--client.toolbarMode", "minimal",
        "--", "--kb", str(kb.resolve()),
    ]
    typer.echo(f"ragkit chat on http://localhost:{port}  (knowledge base {kb})", err=True)
    try:
        raise typer.Exit(subprocess.call(cmd, env=os.environ.copy()))
    except KeyboardInterrupt:
        raise typer.Exit(130) from None


def main() -> None:
    app()
