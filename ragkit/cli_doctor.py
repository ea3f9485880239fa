"""``ragkit doctor``: check a knowledge base, say what to do, and with ``--repair`` fix what
can be fixed (thin: the checks are :func:`ragkit.check_knowledge_base`).

Exit codes: 0 healthy (after ``--repair``: everything found was repaired), 1 problems left,
2 bad usage. ``--json`` prints ``{"kb", "healthy", "checks": [{"name", "status", "message",
"fix", "repaired"}]}``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from ragkit import Diagnosis, RagkitError, check_knowledge_base

#: as ragkit.cli: the apps read ./ragkit.toml before the knowledge base's own
SETTINGS_FILES = ("ragkit.toml",)
_STYLE = {"ok": "green", "warn": "yellow", "problem": "bold red"}


def doctor(
    kb: Annotated[Path, typer.Option("--kb", help="Knowledge-base folder.", envvar="RAGKIT_KB")],
    repair: Annotated[bool, typer.Option(
        "--repair", help="Fix what can be fixed: store, manifest and keyword record made to "
        "agree (as after a crash), older manifest migrated, stale temporary files removed."
    )] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Check the knowledge base KB and say what to do. Exit 0 healthy, 1 problems found
    (with --repair: problems left unrepaired)."""
    try:
        if sys.stderr.isatty() and not as_json:
            typer.echo(f"Checking {kb} (loading the embedding model)…", err=True)
        diagnosis = check_knowledge_base(kb, repair=repair, settings_files=SETTINGS_FILES)
    except RagkitError as exc:
        typer.echo(f"Error: {exc}", err=True)
        raise typer.Exit(1) from exc
    if as_json:
        sys.stdout.write(json.dumps(diagnosis.to_dict(), ensure_ascii=False) + "\n")
    else:
        _print(diagnosis)
    raise typer.Exit(0 if diagnosis.healthy else 1)


def _print(diagnosis: Diagnosis) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=f"ragkit doctor: {diagnosis.kb}", title_justify="left")
    for column in ("check", "status", "finding", "what to do"):
        table.add_column(column, overflow="fold")
    for c in diagnosis.checks:
        status = f"[{_STYLE[c.status]}]{c.status}[/]" + (" [green](repaired)[/]"
                                                          if c.repaired else "")
        table.add_row(c.name, status, escape(c.message), escape("" if c.repaired else c.fix))
    console = Console()
    console.print(table)
    left = [c.name for c in diagnosis.checks if c.status == "problem" and not c.repaired]
    console.print("healthy" if diagnosis.healthy else
                  f"{len(left)} problem(s): {', '.join(left)}", markup=False)
