"""Which files of a real folder get in, by extension, and why the others do not (issue 15).

    python bench/formats_bench.py [FOLDER] [--ingest] [--json]

FOLDER defaults to ../shared/data/unstructured-example-docs (246 files in 40-odd formats,
from unstructured's own test set). Files are found as ``ragkit-ingest`` finds them
(``discover`` with the default include/exclude: hidden files left out), then:

1. **Per file, in this process** (the default): a file whose type ragkit cannot read, or
   whose external tool is missing, is *skipped* with the reason ingest gives
   (``parse.unavailable``); every other file goes through ``ragkit.ingestion.workers.process``
   (parse, chunk, keyword terms; the bundled model's tokenizer counts), as an ingest worker
   does, and ends *ingested* (at least one chunk) or *failed* (its one-line reason).
2. ``--ingest``: also one real ``ragkit-ingest FOLDER --kb TMP --json`` (bundled embedding
   model, parser workers) and its counts, to check that phase 1 is what ingest does.

Prints, per extension: files, ingested, skipped, failed, seconds; then each reason with
its count and an example file.
"""

from __future__ import annotations

import argparse
import collections
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
DEFAULT = ROOT.parent / "shared" / "data" / "unstructured-example-docs"


def _ext(path: Path) -> str:
    return path.suffix.lower() or "(none)"


def _skip_reason(path: Path) -> str | None:
    from ragkit.ingestion import parse

    unavailable = getattr(parse, "unavailable", None)  # absent before issue 15
    if unavailable is not None:
        reason: str | None = unavailable(path)
        return reason
    if path.suffix.lower() not in set(parse.supported()):
        return f"unsupported file type {path.suffix or '(none)'!r}"
    return None


def per_file(files: list[Path]) -> list[dict[str, Any]]:
    """Phase 1: one row per file: path, ext, outcome, reason, seconds, chunks."""
    import ragkit
    from ragkit.backends.sentence_transformers import SentenceTransformerEmbedder
    from ragkit.ingestion.parse import file_hash
    from ragkit.ingestion.workers import ChunkConfig, Job, process
    from ragkit.settings import Settings

    ragkit.apply_offline_defaults()
    emb = SentenceTransformerEmbedder("bundled:all-MiniLM-L6-v2")
    config = ChunkConfig(languages=Settings().languages, max_tokens=200, overlap=32,
                         fingerprint="{}", tokenizer="")
    rows = []
    for path in files:
        row: dict[str, Any] = {"path": str(path), "ext": _ext(path), "seconds": 0.0, "chunks": 0}
        if (why := _skip_reason(path)) is not None:
            rows.append({**row, "outcome": "skipped", "reason": why})
            continue
        st = path.stat()
        job = Job(path, st.st_size, st.st_mtime_ns, file_hash(path), ())
        t = time.perf_counter()
        result = process(job, config, emb.count_tokens)
        row["seconds"] = time.perf_counter() - t
        if result.error is not None:
            rows.append({**row, "outcome": "failed", "reason": result.error})
        else:
            rows.append({**row, "outcome": "ingested", "reason": "", "chunks": len(result.chunks)})
    return rows


def print_table(rows: list[dict[str, Any]]) -> None:
    by_ext: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    seconds: collections.Counter[str] = collections.Counter()
    for r in rows:
        by_ext[r["ext"]][r["outcome"]] += 1
        seconds[r["ext"]] += r["seconds"]
    print(f"{'ext':<8} {'files':>5} {'ingested':>8} {'skipped':>7} {'failed':>6} {'seconds':>8}")
    total: collections.Counter[str] = collections.Counter()
    for ext in sorted(by_ext, key=lambda e: (-sum(by_ext[e].values()), e)):
        c = by_ext[ext]
        n = sum(c.values())
        total.update(c)
        print(f"{ext:<8} {n:>5} {c['ingested']:>8} {c['skipped']:>7} {c['failed']:>6} "
              f"{seconds[ext]:>8.1f}")
    print(f"{'all':<8} {sum(total.values()):>5} {total['ingested']:>8} {total['skipped']:>7} "
          f"{total['failed']:>6} {sum(seconds.values()):>8.1f}")
    reasons: dict[tuple[str, str, str], list[str]] = collections.defaultdict(list)
    for r in rows:
        if r["outcome"] != "ingested":
            reasons[(r["outcome"], r["ext"], r["reason"])].append(Path(r["path"]).name)
    print("\nnot in, and why:")
    for (outcome, ext, reason), names in sorted(reasons.items()):
        print(f"  {outcome} {ext} x{len(names)}: {reason[:160]}  (e.g. {names[0]})")
    slow = sorted(rows, key=lambda r: -r["seconds"])[:5]
    print("\nslowest: " + ", ".join(f"{Path(r['path']).name} {r['seconds']:.1f} s" for r in slow))


def ingest(folder: Path) -> dict[str, Any]:
    """Phase 2: a real ragkit-ingest run over ``folder`` into a temporary knowledge base."""
    with tempfile.TemporaryDirectory(prefix="formats-bench-") as tmp:
        t = time.perf_counter()
        out = subprocess.run([str(BIN / "ragkit-ingest"), str(folder), "--kb", f"{tmp}/kb",
                              "--json", "--quiet"], capture_output=True, text=True,
                             stdin=subprocess.DEVNULL, check=False)
        wall = time.perf_counter() - t
    try:
        report: dict[str, Any] = json.loads(out.stdout)
    except ValueError:
        return {"exit": out.returncode, "stderr": out.stderr[-1500:]}
    return {"exit": out.returncode, "seconds": round(wall, 1), "files": report["files"],
            "chunks": report["chunks"]["total"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("folder", nargs="?", type=Path, default=DEFAULT)
    ap.add_argument("--ingest", action="store_true", help="also run a real ragkit-ingest")
    ap.add_argument("--json", action="store_true", help="print the per-file rows as JSON")
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    from ragkit.ingestion.discover import discover
    from ragkit.settings import Settings

    s = Settings()
    found = discover([args.folder], s.include, s.exclude)
    t = time.perf_counter()
    rows = per_file(found.files)
    print(f"folder: {args.folder}: {len(found.files)} files "
          f"({time.perf_counter() - t:.1f} s in phase 1)\n")
    if args.json:
        print(json.dumps(rows, indent=1, ensure_ascii=False))
    print_table(rows)
    if args.ingest:
        print(f"\nragkit-ingest: {ingest(args.folder)}")


if __name__ == "__main__":
    main()
