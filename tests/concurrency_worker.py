"""Processes for tests/test_concurrency.py and bench/concurrency_bench.py (run as scripts).

``write FOLDER KB ROUNDS``: rewrite every file of FOLDER to revision r and ingest, for
r = 1..ROUNDS; prints one JSON line per round.
``read KB STOP ASKS``: search the knowledge base in a loop (dense and hybrid) until the file
STOP exists (10 minutes at most), then ask ASKS questions with the bundled model; prints one
JSON line: searches, asks, errors, revisions seen, and every hit list that showed one file
in two revisions (a partial document).
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
import traceback
from pathlib import Path

import ragkit
from ragkit import RAG

#: the revision written into every paragraph of a file
REVISION = re.compile(r"revision R(\d+)")
FILES = 6
PARAGRAPHS = 4
SETTINGS = {"chunk_size": 48, "chunk_overlap": 0, "passages": 12, "workers": 0}
QUESTIONS = ["Which revision does the zephyr gadget run?", "How warm does gadget 3 get?"]


def write_revision(folder: Path, revision: int) -> None:
    """Every file of ``folder`` at ``revision``: FILES files, PARAGRAPHS paragraphs each."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(FILES):
        parts = [f"# Zephyr gadget {i}\n"]
        for p in range(PARAGRAPHS):
            parts.append(
                f"Zephyr gadget {i} section {p} runs revision R{revision} of the firmware. "
                f"In revision R{revision} the gadget warms to {20 + p + revision} degrees "
                f"and reports its state every {p + 1} seconds to the controller.\n")
        (folder / f"gadget{i}.md").write_text("\n".join(parts), encoding="utf-8")


def mixed(hits: list[ragkit.Hit]) -> dict[str, list[str]]:
    """The sources whose hits show more than one revision."""
    seen: dict[str, set[str]] = {}
    for h in hits:
        seen.setdefault(h.chunk.source, set()).update(REVISION.findall(h.chunk.text))
    return {src: sorted(revs) for src, revs in seen.items() if len(revs) > 1}


def write(folder: Path, kb: Path, rounds: int) -> None:
    ragkit.apply_offline_defaults()
    rag = RAG(kb, **SETTINGS)
    for r in range(1, rounds + 1):
        write_revision(folder, r)
        t = time.perf_counter()
        report = rag.ingest(folder)
        print(json.dumps({"round": r, "ingested": len(report.ingested),
                          "failures": len(report.failures),
                          "seconds": round(time.perf_counter() - t, 3)}), flush=True)


def read(kb: Path, stop: Path, asks: int) -> None:
    ragkit.apply_offline_defaults()
    out: dict = {"searches": 0, "asks": 0, "errors": [], "mixed": [], "empty": 0}
    revisions: set[str] = set()
    rag = RAG(kb, **SETTINGS)
    rag.retrieve(QUESTIONS[0])  # load the models before saying ready
    (stop.parent / f"ready-{os.getpid()}").touch()
    end = time.monotonic() + 600
    while not stop.exists() and time.monotonic() < end:
        for mode in ("dense", "hybrid"):
            try:
                hits = rag.retrieve(QUESTIONS[0], mode=mode)
            except Exception:  # noqa: BLE001 - every error is a finding, reported
                out["errors"].append(traceback.format_exc(limit=3))
                continue
            out["searches"] += 1
            out["empty"] += not hits
            revisions.update(r for h in hits for r in REVISION.findall(h.chunk.text))
            if bad := mixed(hits):
                out["mixed"].append(bad)
        time.sleep(0.25)  # eight readers must not starve the writer of the CPU
    for n in range(asks):
        try:
            answer = rag.ask(QUESTIONS[n % 2], k=2, generation={"max_tokens": 8})
        except Exception:  # noqa: BLE001
            out["errors"].append(traceback.format_exc(limit=3))
            continue
        out["asks"] += 1
        if bad := mixed(answer.hits):
            out["mixed"].append(bad)
    out["revisions"] = sorted(revisions)
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "write":
        write(Path(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4]))
    else:
        read(Path(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4]))
