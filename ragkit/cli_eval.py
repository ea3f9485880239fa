"""``ragkit eval retrieval`` and ``ragkit eval answers``: measure a knowledge base's
retrieval and answers on a labelled set (thin: the measuring is in ragkit.evaluation)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from ragkit import (
    RETRIEVAL_MODES,
    AskOptions,
    RagkitError,
    evaluate_answers,
    evaluate_retrieval,
    generate_eval_set,
)

eval_app = typer.Typer(no_args_is_help=True, help="Measure retrieval and answer quality.")

KbKeep = Annotated[Path | None, typer.Option(
    "--kb", help="Keep the knowledge base here (default: a temporary folder, deleted "
    "afterwards).")]
AsJson = Annotated[bool, typer.Option("--json", help="Print one JSON object.")]


def _fail(exc: RagkitError) -> typer.Exit:
    typer.echo(f"Error: {exc}", err=True)
    return typer.Exit(1)


def _table(title: str, rows: dict[str, dict[str, Any]], columns: tuple[str, ...]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    table.add_column("")
    for c in columns:
        table.add_column(c, justify="right")
    for name, values in rows.items():
        table.add_row(name, *("–" if values.get(c) is None else f"{values[c]:.4g}"
                              for c in columns))
    Console().print(table)


@eval_app.command("retrieval")
def eval_retrieval(
    dataset: Annotated[Path, typer.Argument(help="BEIR-format folder: corpus.jsonl, "
                                            "queries.jsonl, qrels/test.tsv.")],
    mode: Annotated[
        list[str] | None, typer.Option("--mode", help="Mode(s) to evaluate (default: all).")
    ] = None,
    k: Annotated[int, typer.Option("--k", min=10, help="Documents ranked per query.")] = 100,
    kb: KbKeep = None,
    as_json: AsJson = False,
) -> None:
    """nDCG@10, Recall@10, Recall@100 and MRR@10 of each retrieval mode on DATASET."""
    modes = mode or list(RETRIEVAL_MODES)
    for m in modes:
        if m not in RETRIEVAL_MODES:
            raise typer.BadParameter(f"use one of {', '.join(RETRIEVAL_MODES)}",
                                     param_hint="--mode")
    try:
        result = evaluate_retrieval(dataset, modes=modes, k=k, kb=kb)
    except RagkitError as exc:
        raise _fail(exc) from exc
    if as_json:
        sys.stdout.write(json.dumps(result, ensure_ascii=False) + "\n")
        return
    _table(f"{result['dataset']}: {result['queries']} queries, {result['documents']} "
           "documents", result["results"], ("ndcg@10", "recall@10", "recall@100", "mrr@10"))


@eval_app.command("answers")
def eval_answers(
    dataset: Annotated[Path, typer.Argument(help="SQuAD-format JSON (SQuAD, XQuAD, "
                                            "CMRC2018, DRCD): data[].paragraphs[].context/qas[].")],
    kb: KbKeep = None,
    n: Annotated[int | None, typer.Option("--n", min=1, help="Ask only the first N "
                                          "questions.")] = None,
    best_of: Annotated[int | None, typer.Option("--best-of", min=1, max=8,
                                                help="Candidates per answer.")] = None,
    reasoning: Annotated[str | None, typer.Option(
        "--reasoning", help="none, cot or least_to_most.")] = None,
    k: Annotated[int | None, typer.Option("--k", min=1, help="Passages per question.")] = None,
    as_json: AsJson = False,
) -> None:
    """Exact match, F1, citation hit rate, supported share, refusals and latency per
    language: DATASET's paragraphs are ingested, its questions asked."""
    try:
        options = AskOptions(k=k, best_of=best_of, reasoning=reasoning, use_cache=False)
        result = evaluate_answers(dataset, n=n, kb=kb, options=options)
    except RagkitError as exc:
        raise _fail(exc) from exc
    if as_json:
        sys.stdout.write(json.dumps(result, ensure_ascii=False) + "\n")
        return
    _table(f"{result['dataset']}: {result['questions']} questions", result["results"],
           ("em", "f1", "citation_hit", "supported_share", "refusals", "ttft_p50",
            "latency_p50", "latency_p95"))


@eval_app.command("generate")
def eval_generate(
    kb: Annotated[Path, typer.Option("--kb", help="Knowledge base to write questions "
                                     "about (already ingested).")],
    out: Annotated[Path, typer.Option("--out", help="Folder for the set: corpus.jsonl, "
                                      "queries.jsonl, qrels/test.tsv, squad.json.")],
    n: Annotated[int, typer.Option("--n", min=1, help="Questions wanted (at most; up to "
                                   "3N are asked of the model).")] = 50,
    seed: Annotated[int, typer.Option("--seed", help="Which chunks and sentences are "
                                      "sampled.")] = 0,
    as_json: AsJson = False,
) -> None:
    """Write an evaluation set from KB's own documents: the LLM writes questions from
    sampled chunks, filtered; measure with `ragkit eval retrieval OUT` and `ragkit eval
    answers OUT/squad.json`."""
    try:
        result = generate_eval_set(kb, out, n=n, seed=seed)
    except RagkitError as exc:
        raise _fail(exc) from exc
    if as_json:
        sys.stdout.write(json.dumps(result, ensure_ascii=False) + "\n")
        return
    langs = ", ".join(f"{lang} {count}" for lang, count in result["languages"].items())
    rejected = ", ".join(f"{r} {c}" for r, c in result["rejected"].items()) or "none"
    typer.echo(f"{result['questions']} questions ({langs}) kept of {result['tried']} asked "
               f"({result['eligible']} of {result['chunks']} chunks long enough), "
               f"{result['seconds']} s; written to {result['out']}")
    typer.echo(f"rejected: {rejected}")
    typer.echo(f"measure: ragkit eval retrieval {result['out']}\n"
               f"         ragkit eval answers {Path(result['out']) / 'squad.json'}")
