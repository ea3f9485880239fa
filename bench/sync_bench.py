"""Sync property at scale (issue 14): hundreds of random edit / ingest / SIGKILL sequences.

    python bench/sync_bench.py [--sequences 200] [--steps 10] [--batch 25]
                               [--workers 0,2] [--no-delays] [--work DIR]

Runs the state machine of tests/sync_machine.py (add, change, rename and delete files in a
documents folder; ingest; SIGKILL an ingest at a hook or after a random delay, then run it
again; after every completed ingest the knowledge base must equal a clean ingest of the
folder) in hypothesis runs of ``--batch`` sequences each, with fresh random seeds and no
example database, until ``--sequences`` sequences have run. A run that fails prints
hypothesis's shrunk sequence and counts as one failure found; the next run goes on.

Prints one line per run, then: sequences run (shrinking included), steps, ingests
compared, kills (and how many landed before the run finished), failures found, time.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests/sync_machine.py

from hypothesis import HealthCheck, settings  # noqa: E402
from hypothesis.stateful import run_state_machine_as_test  # noqa: E402

from tests.sync_machine import Config, SyncEnv, SyncMachine  # noqa: E402


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sequences", type=int, default=200, help="stop after this many")
    p.add_argument("--steps", type=int, default=10, help="most steps per sequence")
    p.add_argument("--batch", type=int, default=25, help="sequences per hypothesis run")
    p.add_argument("--workers", default="0,0,0,2",
                   help="parser workers an ingest draws from (a pool needs 8+ files)")
    p.add_argument("--no-delays", action="store_true",
                   help="kill only at hooks (reproducible), not after random delays")
    p.add_argument("--work", type=Path, default=None, help="work folder (default: a temp one)")
    return p.parse_args()


def main() -> int:
    args = parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="sync-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    config = Config(workers=tuple(int(w) for w in args.workers.split(",")),
                    delays=not args.no_delays)
    env = SyncEnv(work, config)
    print(f"fork server ready in {time.perf_counter() - started:.1f} s; work folder {work}",
          flush=True)
    SyncMachine.env = env
    failures, runs = 0, 0
    run_settings = settings(max_examples=args.batch, stateful_step_count=args.steps,
                            deadline=None, database=None, derandomize=False,
                            suppress_health_check=list(HealthCheck), print_blob=True)
    try:
        while env.stats["sequences"] < args.sequences:
            runs += 1
            t = time.perf_counter()
            try:
                run_state_machine_as_test(SyncMachine, settings=run_settings)
                outcome = "passed"
            except Exception:  # noqa: BLE001 - a failure found: print it, go on
                failures += 1
                outcome = "FAILED"
                traceback.print_exc()
            print(f"run {runs}: {outcome} in {time.perf_counter() - t:.0f} s; "
                  f"{dict(sorted(env.stats.items()))}", flush=True)
    finally:
        env.close()
    s = env.stats
    print(f"sequences run: {s['sequences']} (shrinking included), steps: {s['steps']}, "
          f"ingests compared: {s['ingests']} ({s['pooled ingests']} with parser workers), "
          f"clean ingests: {s['clean ingests']}, kills: {s['kills']} "
          f"({s['kills that landed']} landed before the run finished), "
          f"failures found: {failures} in {runs} runs, "
          f"time: {time.perf_counter() - started:.0f} s")
    print(f"leftovers (not compared): ingests leaving bm25/.tmp-*: "
          f"{s['ingests leaving bm25/.tmp-*']}, leaving an older bm25 scorer: "
          f"{s['ingests leaving an older bm25 scorer']}")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
