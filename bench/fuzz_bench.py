"""Parser fuzzing at scale: mutated and random files of every supported type (issue 14).

    python bench/fuzz_bench.py [--per-type N] [--seed S] [--timeout SECONDS] [--no-e2e]

Seeds are written by tests/fuzzfiles.py (a small valid file per type); each fuzzed file is
random bytes, a mutated seed, a mutated member of an Office zip, or two seeds spliced.

1. **Per file, in this process**: each file through ``ragkit.ingestion.workers.process`` (parse,
   chunk, keyword terms; the real tokenizer counts), with a wall-clock alarm. A file ends
   *ingested* (chunks), *reported* (a one-line reason), a *crash* (an exception escaped
   ``process``: it would stop an ingest with a traceback) or a *timeout*.
2. **End to end**: ``ragkit-ingest`` over all of them plus good control files, with parser
   workers: the exit code must be 0 or 1, stderr free of tracebacks, and every file must be
   accounted for (ingested, failed or skipped), the controls ingested.

Prints a table by type, each crash with its file and exception, and the times.
"""

from __future__ import annotations

import argparse
import collections
import json
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path
from types import FrameType

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
BIN = Path(sys.executable).parent

from tests.fuzzfiles import fuzzed, seeds  # noqa: E402


class _Timeout(Exception):
    pass


def _alarm(signum: int, frame: FrameType | None) -> None:
    raise _Timeout


def write_corpus(folder: Path, per_type: int, seed: int) -> dict[Path, str]:
    """``per_type`` fuzzed files of each type in ``folder``; returns path → type."""
    rnd = random.Random(seed)
    base = seeds()
    folder.mkdir(parents=True)
    out = {}
    for suffix in sorted(base):
        for i in range(per_type):
            path = folder / f"f{suffix[1:]}{i:04d}{suffix}"
            path.write_bytes(fuzzed(suffix, base, rnd))
            out[path] = suffix
    return out


def per_file(files: dict[Path, str], timeout: float) -> tuple[dict, list, tuple[float, str]]:
    """Phase 1. Returns counts by type, the crashes, and the slowest file (seconds, name)."""
    import ragkit
    from ragkit.backends.sentence_transformers import SentenceTransformerEmbedder
    from ragkit.ingestion.parse import file_hash
    from ragkit.ingestion.workers import ChunkConfig, Job, process

    ragkit.apply_offline_defaults()
    emb = SentenceTransformerEmbedder("bundled:all-MiniLM-L6-v2")
    config = ChunkConfig(languages=["eng", "zho"], max_tokens=200, overlap=32,
                         fingerprint="{}", tokenizer="")
    counts: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    crashes: list[tuple[str, str]] = []
    slowest = (0.0, "")
    signal.signal(signal.SIGALRM, _alarm)
    for path, suffix in files.items():
        st = path.stat()
        job = Job(path, st.st_size, st.st_mtime_ns, file_hash(path), ())
        t = time.perf_counter()
        signal.setitimer(signal.ITIMER_REAL, timeout)
        try:
            result = process(job, config, emb.count_tokens)
            kind = "reported" if result.error else "ingested"
            if result.error and ("\n" in result.error or not result.error.strip()):
                crashes.append((path.name, f"reason not one line: {result.error[:200]!r}"))
        except _Timeout:
            kind = "timeout"
        except BaseException as exc:  # noqa: BLE001 - what we are looking for
            kind = "crash"
            where = traceback.extract_tb(exc.__traceback__)[-1]
            crashes.append((path.name, f"{type(exc).__name__}: {str(exc)[:200]} "
                            f"({Path(where.filename).name}:{where.lineno})"))
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        slowest = max(slowest, (time.perf_counter() - t, path.name))
        counts[suffix]["tried"] += 1
        counts[suffix][kind] += 1
    return counts, crashes, slowest


def end_to_end(folder: Path, files: dict[Path, str], timeout: float) -> dict:
    """Phase 2: one ragkit-ingest run over the folder (with good controls added)."""
    controls = folder / "controls"
    shutil.copytree(ROOT / "docs" / "samples", controls)
    kb = folder.parent / "kb"
    t = time.perf_counter()
    try:
        out = subprocess.run([str(BIN / "ragkit-ingest"), str(folder), "--kb", str(kb), "--json"],
                             capture_output=True, text=True, timeout=timeout,
                             stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return {"status": f"did not finish in {timeout:.0f} s"}
    wall = time.perf_counter() - t
    res: dict = {"exit": out.returncode, "seconds": round(wall, 1),
                 "traceback": "Traceback" in out.stderr or "Traceback" in out.stdout}
    try:
        report = json.loads(out.stdout)
    except ValueError:
        res["status"] = f"no JSON report; stderr tail: {out.stderr[-1500:]}"
        return res
    ingested = {Path(p).name for p in _ingested(kb)}
    failed = {Path(f["path"]).name for f in report["failures"]}
    skipped = {Path(s["path"]).name for s in report["skipped"]}
    every = {p.name for p in files} | {p.name for p in controls.iterdir()}
    res.update(files=report["files"], unaccounted=sorted(every - ingested - failed - skipped),
               controls_ingested=all(p.name in ingested for p in controls.iterdir()),
               parse_workers=report["parse_workers"])
    res["status"] = "ok" if (out.returncode in (0, 1) and not res["traceback"]
                             and not res["unaccounted"] and res["controls_ingested"]) else "FAIL"
    return res


def _ingested(kb: Path) -> list[str]:
    from ragkit.storage import Manifest

    manifest = Manifest(kb / "manifest.sqlite3")
    try:
        return [r.source for r in manifest.records()]
    finally:
        manifest.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--per-type", type=int, default=60, help="fuzzed files per file type")
    ap.add_argument("--seed", type=int, default=14)
    ap.add_argument("--timeout", type=float, default=60.0, help="seconds allowed per file")
    ap.add_argument("--no-e2e", action="store_true", help="skip the ragkit-ingest run")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="ragkit-fuzz-"))
    try:
        files = write_corpus(work / "docs", args.per_type, args.seed)
        t = time.perf_counter()
        counts, crashes, slowest = per_file(files, args.timeout)
        phase1 = time.perf_counter() - t
        cols = ("tried", "ingested", "reported", "crash", "timeout")
        print(f"{'type':<10}" + "".join(f"{c:>10}" for c in cols))
        total: collections.Counter = collections.Counter()
        for suffix in sorted(counts):
            total.update(counts[suffix])
            print(f"{suffix:<10}" + "".join(f"{counts[suffix][c]:>10}" for c in cols))
        print(f"{'all':<10}" + "".join(f"{total[c]:>10}" for c in cols))
        print(f"per-file pass: {phase1:.1f} s, slowest file {slowest[0]:.2f} s ({slowest[1]}) "
              f"(seed {args.seed}, {args.per_type} per type)")
        for name, what in crashes:
            print(f"crash: {name}: {what}")
        if not args.no_e2e:
            res = end_to_end(work / "docs", files, timeout=max(900.0, 2 * phase1))
            print("ragkit-ingest end to end:", json.dumps(res, ensure_ascii=False))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
