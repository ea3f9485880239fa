"""``ragkit-ingest PATH... --kb DIR``: ingest folders of documents into a knowledge base.

Thin: arguments, a progress bar, a summary. The work is ``ragkit.RAG.ingest``.
Exit codes: 0 every file went in; 1 some files failed (the rest are ingested) or a
ragkit error stopped the run (a full disk among them: one line naming "no space left on
device"); 2 usage error, or another process is writing to the
knowledge base (nothing changed); 130 interrupted.
"""

from __future__ import annotations

import errno
import json
import logging
import shutil
import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

import ragkit
from ragkit import RAG, IngestReport, LockedError, RagkitError

app = typer.Typer(add_completion=False, context_settings={"help_option_names": ["-h", "--help"]})


def _version(value: bool) -> None:
    if value:
        typer.echo(f"ragkit-ingest {ragkit.__version__}")
        raise typer.Exit()


#: what errors on a full disk say (OS, SQLite, Chroma's Rust core)
_FULL_WORDS = ("no space left on device", "disk is full", "disk quota exceeded")


def _disk_full(exc: Exception, kb: Path) -> bool:
    """Whether ``exc`` (or one it came from) is a full disk: ENOSPC/EDQUOT, a message saying
    so, or less than a megabyte left on the knowledge base's device (a store error that does
    not name the cause, e.g. Chroma's "Failed to apply logs to the metadata segment")."""
    seen: BaseException | None = exc
    for _ in range(20):  # the chain of causes (bounded: chains can loop)
        if seen is None:
            break
        if isinstance(seen, OSError) and seen.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        if any(w in str(seen).lower() for w in _FULL_WORDS):
            return True
        seen = seen.__cause__ or seen.__context__
    try:
        return shutil.disk_usage(kb if kb.exists() else kb.parent).free < 1024 * 1024
    except OSError:
        return False


def _one_line(exc: Exception) -> str:
    return " ".join(f"{type(exc).__name__}: {exc}".split())[:300]


def _summary(report: IngestReport, console: Console) -> None:
    d = report.to_dict()
    title = "Dry run (nothing written)" if report.dry_run else (
        f"Ingested in {report.seconds:.1f} s")
    table = Table(title=title, title_justify="left")
    cols = ("seen", "ingested", "unchanged", "removed", "skipped", "failed")
    for col in cols:
        table.add_column(col, justify="right")
    table.add_row(*(str(d["files"][k]) for k in cols))
    console.print(table)
    c = d["chunks"]
    if report.dry_run:
        console.print(f"{c['total']} chunks in the knowledge base", highlight=False)
    else:
        rate = c["added"] / report.seconds if report.seconds else 0.0
        console.print(f"chunks: +{c['added']} −{c['removed']}, {c['total']} in the knowledge "
                      f"base ({rate:.0f} chunks/s)", highlight=False)
    for note in report.notes:
        console.print(f"note: {note}", markup=False, highlight=False)
    if report.dry_run:
        for path in report.ingested:
            console.print(f"would ingest {path}", markup=False, highlight=False)
        for path in report.removed:
            console.print(f"would remove {path}", markup=False, highlight=False)
    for s in report.skipped:
        console.print(f"skipped {s.path}: {s.reason}", markup=False, highlight=False,
                      soft_wrap=True)
    for f in report.failures:
        console.print(f"failed {f.path}: {f.error}", markup=False, highlight=False,
                      soft_wrap=True)


@app.command()
def ingest(
    paths: Annotated[
        list[Path], typer.Argument(help="Files or folders to ingest.", exists=True)
    ],
    kb: Annotated[
        Path, typer.Option("--kb", help="Knowledge-base folder (created if missing).",
                           envvar="RAGKIT_KB")
    ],
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object with the results to stdout.")
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    workers: Annotated[
        int | None,
        typer.Option("--workers", "-w", min=0,
                     help="Parser processes (default: CPU count, at most 4; 0: parse in-process)."),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would change; write nothing.")
    ] = False,
    verbose: Annotated[
        int, typer.Option("--verbose", "-v", count=True, help="-v info, -vv debug.")
    ] = 0,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """Ingest documents (md, txt, html, docx, pdf) into the knowledge base KB.

    Unchanged files are skipped; a file that cannot be parsed is reported and the rest go in.
    """
    if verbose:
        logging.basicConfig(level=logging.DEBUG if verbose > 1 else logging.INFO)
    err = Console(stderr=True)
    show_bar = not quiet and err.is_terminal
    try:
        # the app reads ./ragkit.toml too (the library alone reads only the kb's own)
        rag = RAG(kb, settings_files=["ragkit.toml"], workers=workers)
        with Progress(
            TextColumn("[progress.description]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("files · {task.fields[chunks]} chunks · {task.fields[rate]} chunks/s"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=err,
            disable=not show_bar,
        ) as bar:
            task = bar.add_task("ingesting", total=None, chunks=0, rate="–")
            started = time.perf_counter()

            def on_progress(p: ragkit.Progress) -> None:
                rate = p.chunks / max(time.perf_counter() - started, 1e-6)
                bar.update(task, completed=p.done, total=p.total, chunks=p.chunks,
                           rate=f"{rate:.0f}", description=Path(p.path).name[:24])

            report = rag.ingest(*paths, progress=on_progress, dry_run=dry_run)
    except LockedError as exc:  # another writer: nothing was changed; exit 2 (a contract)
        err.print(f"Error: {exc}", highlight=False, markup=False, soft_wrap=True)
        raise typer.Exit(2) from exc
    except RagkitError as exc:  # DiskFullError too: "no space left on device ..."
        err.print(f"Error: {exc}", highlight=False, markup=False, soft_wrap=True)
        raise typer.Exit(1) from exc
    except Exception as exc:  # a full disk that reached here undiagnosed: one line, no trace
        if not _disk_full(exc, kb):
            raise
        err.print(f"Error: no space left on device for {kb}: {_one_line(exc)}. Free some "
                  "space and run again (if the store then fails to open, run `ragkit doctor "
                  f"--kb {kb}`).", highlight=False, markup=False, soft_wrap=True)
        raise typer.Exit(1) from exc
    except KeyboardInterrupt:
        err.print("Interrupted; what was committed is consistent. Run again to finish.")
        raise typer.Exit(130) from None
    if as_json:
        sys.stdout.write(json.dumps(report.to_dict(), ensure_ascii=False) + "\n")
    elif not quiet:
        _summary(report, Console())
    elif report.failures:
        for f in report.failures:
            err.print(f"failed {f.path}: {f.error}", highlight=False, markup=False)
    raise typer.Exit(0 if report.ok else 1)


def main() -> None:
    ragkit.apply_offline_defaults()  # the app owns its process (see ragkit._offline)
    app()


if __name__ == "__main__":
    main()
